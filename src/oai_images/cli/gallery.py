"""``oai-images gallery [FOLDER]``: a static page of a run's images, or of the history, to look through."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import click

from ._common import Failure, InvalidInput

__all__ = ["gallery"]

NO_PILLOW = (
    "the gallery needs Pillow for its thumbnails, which is not installed: pip install 'oai-images[gallery]' "
    "(installed with pipx: pipx install --force 'oai-images[gallery]')"
)


@click.command()
@click.argument("folder", required=False, type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option(
    "--out",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the page. Default: gallery.html in FOLDER, or in the history's folder.",
)
@click.option(
    "--limit",
    "-l",
    type=click.IntRange(min=1),
    help="The history page: only the newest N generations (default: all). Not with FOLDER.",
)
@click.option("--open", "open_page", is_flag=True, help="Open the page in the default browser.")
def gallery(*, folder: Path | None, out: Path | None, limit: int | None, open_page: bool) -> None:
    """Write a page of thumbnails to look through: a run's FOLDER, or (without it) the history.

    FOLDER is the --out of `oai-images batch` (a live run or a Batch API job): every line gets a card from
    the folder's journal, failed lines with their error. Without FOLDER, the page shows the generations in
    the history, newest first; a file that no longer exists gets a card that says so.

    Each card shows the prompt, the revised prompt, model, size, quality, cost (when it was recorded), date
    and request id, and links to the full image and its folder. The page works from file:// with no server;
    search it and filter it by model, state and date. Thumbnails are made once, into .oai-images-thumbs
    beside the page, and made again only for an image that changed. Only files inside FOLDER are linked.
    """
    if folder is not None and limit is not None:
        message = "--limit applies to the history page (no FOLDER); a run's page shows every line"
        raise click.UsageError(message)
    try:
        import PIL  # noqa: F401, PLC0415 - only to say clearly that the extra is missing
    except ImportError:
        raise InvalidInput(NO_PILLOW) from None
    from ..gallery import build_gallery  # noqa: PLC0415 - Pillow and the page only for this command

    try:
        report = build_gallery(folder, out=out, limit=limit)
    except FileNotFoundError as exc:
        raise InvalidInput(str(exc)) from None
    except sqlite3.DatabaseError as exc:
        source = f"the journal of {folder}" if folder is not None else "the history"
        raise Failure(f"cannot read {source}: {exc}") from None
    except OSError as exc:
        raise Failure(f"cannot write the gallery: {exc}") from None
    summary = f"{report.images} images"
    if report.failed:
        summary += f", {report.failed} failed lines"
    summary += (
        f"; thumbnails: {report.thumbnails_made} made, {report.thumbnails_cached} cached"
        f"{f', {len(report.unreadable)} unreadable' if report.unreadable else ''}"
        f" ({report.seconds:.1f} s)"
    )
    click.echo(summary, err=True)
    click.echo(str(report.page))
    if open_page:
        click.launch(str(report.page))
