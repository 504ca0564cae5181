"""The gallery: a static HTML page of a run's images, or of the history, to look at and search.

``oai-images gallery [FOLDER]`` (and `build_gallery`) read a run's journal (``FOLDER/.oai-images.sqlite``,
live or Batch API) or the history, make a thumbnail of each image once (`_thumbs`), and write one page that
works from ``file://`` with no server: a card per image with its prompt, revised prompt, model, size,
quality, cost, date and request id, and a card for each failed or unfinished line with its error.

- `_model`: the cards, as plain data, and which files may be linked (only those inside the run's folder;
  for the history, those that still exist);
- `_thumbs`: the thumbnail cache beside the page;
- `_page`: the HTML (escaped text, relative percent-encoded links, an inline script for search and filters).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from ._model import Card, Cost, cards_from_history, cards_from_journal, history_costs
from ._page import render_page
from ._thumbs import THUMB_FOLDER, make_thumbnails, write_atomic

__all__ = ["PAGE_NAME", "THUMB_FOLDER", "Card", "Cost", "GalleryReport", "build_gallery"]

#: The page's default name, in the run's folder (or the history's).
PAGE_NAME = "gallery.html"


@dataclass(frozen=True, slots=True)
class GalleryReport:
    """What `build_gallery` wrote.

    Attributes:
        page: The page.
        cards: The cards on it.
        images: How many cards show an image.
        failed: How many cards are failed lines.
        thumbnails_made: Thumbnails made by this build.
        thumbnails_cached: Thumbnails found in the cache.
        unreadable: Images Pillow could not read (their cards say so), by path.
        seconds: How long the build took.
    """

    page: Path
    cards: int
    images: int
    failed: int
    thumbnails_made: int
    thumbnails_cached: int
    unreadable: dict[Path, str]
    seconds: float


def build_gallery(
    folder: Path | None = None,
    *,
    out: Path | None = None,
    limit: int | None = None,
    history_folder: Path | None = None,
) -> GalleryReport:
    """Write the gallery page of a run's output folder, or of the history.

    Args:
        folder: A run's output folder (``oai-images batch --out``, live or Batch API); None for the history.
        out: The page to write; ``gallery.html`` in ``folder`` (or in the history's folder) when None. The
            thumbnails go in a ``.oai-images-thumbs`` folder beside it.
        limit: For the history: the newest ``limit`` generations only.
        history_folder: The history's folder; the user's (``$OAI_IMAGES_HOME``) when None.

    Raises:
        FileNotFoundError: The folder has no journal, or there is no history yet.
        sqlite3.DatabaseError: The journal or the history is not a database.
        OSError: The page or the thumbnails cannot be written.
    """
    started = time.perf_counter()
    if folder is not None:
        cards = cards_from_journal(folder)
        title = f"oai-images: {folder.resolve().name or folder.resolve()}"
        default_home = folder
    else:
        from ..cli.history import HISTORY_NAME, History, history_home  # noqa: PLC0415 - the history page only

        home = history_folder if history_folder is not None else history_home()
        database = home / HISTORY_NAME
        if not database.is_file():
            raise FileNotFoundError(f"there is no history yet ({database})")
        store = History(home)
        try:
            cards = cards_from_history(store.entries(limit=limit), history_costs(database))
        finally:
            store.close()
        title = "oai-images: history" + (f" (newest {limit})" if limit is not None else "")
        default_home = home
    page = (out if out is not None else default_home / PAGE_NAME).resolve()
    page.parent.mkdir(parents=True, exist_ok=True)
    images = [card.image for card in cards if card.image is not None]
    thumbs = make_thumbnails(images, page.parent / THUMB_FOLDER)
    text = render_page(
        cards, title=title, page_folder=page.parent, thumbnails=thumbs.thumbnails, failed=thumbs.failed
    )
    # "replace": a lone surrogate that a damaged journal's JSON escapes decode to cannot stop the page.
    write_atomic(page, text.encode("utf-8", "replace"))
    return GalleryReport(
        page=page,
        cards=len(cards),
        images=len(images),
        failed=sum(1 for card in cards if card.state == "failed"),
        thumbnails_made=thumbs.made,
        thumbnails_cached=thumbs.cached,
        unreadable=thumbs.failed,
        seconds=time.perf_counter() - started,
    )
