"""``oai-images batch``: a file of requests, generated at the server's rate limit, resumable after any crash.

The engine (`oai_images.bulk`) sends and saves; this module reads the options, renders the engine's
progress events (a rich progress bar on a terminal, else one line per image, or JSON lines with
``--json``), records each line in the history, and turns the summary into an exit status. How the lines
are run is one choice (``_live``): a later ``--via batch-api`` adds another beside it.
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ._common import Failure, Interrupted, client_options, make_client, translated_errors
from .history import History, history_enabled, no_history_option, record_generation

if TYPE_CHECKING:
    from ..bulk import BulkEvent, BulkSummary, RunStopping

__all__ = ["batch"]

_EXAMPLES = """\b
Examples:
  # One prompt a line, against the offline emulator
  oai-images batch prompts.txt --out renders --emulator
  # JSON lines: {"id": "hero", "prompt": "...", "model": "gpt-image-1.5", "size": "1536x1024"}
  oai-images batch requests.jsonl --out renders --concurrency 16
  # Interrupted or crashed? The same command resumes: saved lines are skipped
  oai-images batch requests.jsonl --out renders
"""


@click.command(epilog=_EXAMPLES)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("images"),
    show_default=True,
    help="The folder the images and the run's journal (.oai-images.sqlite) go in.",
)
@click.option(
    "-c",
    "--concurrency",
    type=click.IntRange(min=1, max=512),
    default=8,
    show_default=True,
    help="The most requests in flight; fewer while the server's rate limit says so.",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Resume an earlier run into --out (what running the same command again does anyway).",
)
@click.option("--retry-failed", is_flag=True, help="Send again the lines an earlier run gave up on.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print JSON lines: one per line saved, skipped or failed."
)
@no_history_option
@client_options
def batch(
    file: Path,
    *,
    out: Path,
    concurrency: int,
    resume: bool,
    retry_failed: bool,
    as_json: bool,
    emulator: bool,
    base_url: str | None,
    timeout: float | None,
    max_retries: int,
    no_validate: bool,
    debug: bool,
) -> None:
    """Generate the images of every request in FILE, at the server's rate limit; resumable.

    FILE is .txt (one prompt a line), .jsonl (one JSON object a line: "prompt", any generate field, an
    optional "id") or .csv (a header row of field names). Every line is checked before anything is sent.
    Each image is saved the moment it arrives, as <id or line number>-<prompt>.<ext> in --out, and recorded
    in the journal there: running the same command again (after Ctrl-C, a crash, kill -9) skips every line
    already saved and sends only the others. Changing a line's fields makes it a new line.

    Exit status: 0 every line done, 1 some line failed (see the summary; --retry-failed sends them again),
    2 an invalid line (nothing is sent), 130 interrupted (run the command again to resume).
    """
    del resume  # every run resumes: the option says so explicitly for scripts and readers
    out = out.expanduser()
    with translated_errors(debug=debug):
        from ..bulk import load  # noqa: PLC0415 -- loads the generated models: only when run

        lines = load(file, validate=not no_validate)
        client = make_client(
            emulator=emulator,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            no_validate=no_validate,
        )
        with client, _renderer(as_json=as_json) as render:
            summary = _live(
                client, lines, out=out, concurrency=concurrency, retry_failed=retry_failed, render=render
            )
    _finish(summary, file=file, out=out, as_json=as_json)


def _live(client: Any, lines: Any, *, render: Callable[[BulkEvent], None], **options: Any) -> BulkSummary:
    """Run the lines as live requests, recording each saved line in the history."""
    from ..bulk import BulkInterrupted, LineSaved  # noqa: PLC0415 -- loaded with the engine

    store: History | None = None
    if history_enabled():
        try:
            store = History()
        except Exception:
            store = None

    def on_event(event: BulkEvent) -> None:
        render(event)
        if store is not None and isinstance(event, LineSaved):
            fields = dict(event.request.fields)
            model = fields.get("model")
            record_generation(
                "batch",
                fields,
                model=model if isinstance(model, str) else None,
                request_id=event.request_id,
                usage=event.usage,
                paths=event.paths,
                revised_prompts=event.revised_prompts,
                history=store,
            )

    try:
        summary: BulkSummary = client.generate_many(lines, on_event=on_event, **options)
    except BulkInterrupted as stopped:
        summary = stopped.summary
    finally:
        if store is not None:
            store.close()
    return summary


def _finish(summary: BulkSummary, *, file: Path, out: Path, as_json: bool) -> None:
    """The summary on stderr (or as the last JSON line), then the exit status."""
    usage = summary.usage.get("total_tokens")
    parts = [
        f"{summary.done} done",
        f"{summary.skipped} skipped (already done)",
        f"{len(summary.failed)} failed",
    ]
    if summary.unfinished:
        parts.append(f"{summary.unfinished} not sent")
    parts.append(f"{summary.retries} retries ({summary.rate_limited} rate limited)")
    if usage is not None:
        parts.append(f"{usage} tokens")
    if as_json:
        document = {
            "event": "summary",
            "total": summary.total,
            "done": summary.done,
            "skipped": summary.skipped,
            "failed": [
                {"line": request.number, "id": request.id, "error": error}
                for request, error in summary.failed
            ],
            "unfinished": summary.unfinished,
            "retries": summary.retries,
            "rate_limited": summary.rate_limited,
            "usage": summary.usage,
            "seconds": round(summary.elapsed, 3),
            "interrupted": summary.interrupted,
            "journal": str(summary.journal),
        }
        click.echo(json.dumps(document))
    click.echo(f"{', '.join(parts)} in {summary.elapsed:.1f} s; journal: {summary.journal}", err=True)
    for request, error in summary.failed:
        click.echo(f"  line {request.number}{f' ({request.id})' if request.id else ''}: {error}", err=True)
    command = shlex.join(["oai-images", "batch", str(file), "--out", str(out)])
    if summary.interrupted:
        raise Interrupted(f"interrupted; every image received is saved. Resume with: {command}")
    if summary.failed:
        raise Failure(
            f"{len(summary.failed)} of {summary.total} lines failed; "
            f"send them again with: {command} --retry-failed"
        )


@contextmanager
def _renderer(*, as_json: bool) -> Iterator[Callable[[BulkEvent], None]]:
    """How events are shown: JSON lines, a rich progress bar on a terminal, or one line per image."""
    if as_json:
        yield _json_event
        return
    if sys.stderr.isatty():
        try:
            import rich.progress  # noqa: PLC0415, F401 -- optional (the `cli` extra)
        except ImportError:
            pass
        else:
            with _ProgressBar() as bar:
                yield bar.render
            return
    yield _plain_event


def _plain_event(event: BulkEvent) -> None:
    """One line per saved image on stdout; skips, retries and failures on stderr."""
    from ..bulk import LineFailed, LineRetrying, LineSaved, LineSkipped, RunStarted, RunStopping  # noqa: PLC0415

    if isinstance(event, LineSaved):
        for path in event.paths:
            click.echo(str(path))
        if event.rescued:
            click.echo(
                f"warning: line {event.request.number} saved in a rescue folder: {event.paths[0].parent}",
                err=True,
            )
    elif isinstance(event, LineFailed):
        click.echo(f"line {event.request.number} failed: {event.error}", err=True)
    elif isinstance(event, LineRetrying):
        click.echo(
            f"line {event.request.number}: {event.reason}, sending again in {event.delay:.1f} s", err=True
        )
    elif isinstance(event, RunStarted):
        progress = event.progress
        click.echo(
            f"{progress.total} lines: {progress.skipped} already done, {event.pending} to send", err=True
        )
    elif isinstance(event, RunStopping):
        click.echo(_stopping(event), err=True)
    elif isinstance(event, LineSkipped) and event.state == "failed":
        click.echo(f"line {event.request.number} failed before, skipped: {event.error}", err=True)


def _stopping(event: RunStopping) -> str:
    in_flight = event.progress.in_flight
    return (
        f"stopping: nothing more is sent; waiting up to {event.grace:.0f} s for {in_flight} request(s) in "
        "flight to land and be saved (Ctrl-C again to leave them for the next run)"
    )


def _json_event(event: BulkEvent) -> None:
    """One JSON line per line saved, skipped or failed (retries and the start are left out)."""
    from ..bulk import LineFailed, LineSaved, LineSkipped  # noqa: PLC0415

    document: dict[str, Any]
    if isinstance(event, LineSaved):
        document = {
            "event": "saved",
            "paths": [str(path) for path in event.paths],
            "request_id": event.request_id,
            "revised_prompts": list(event.revised_prompts),
            "usage": event.usage,
        }
    elif isinstance(event, LineSkipped):
        document = {"event": "skipped", "state": event.state, "paths": [str(path) for path in event.paths]}
    elif isinstance(event, LineFailed):
        document = {"event": "failed", "error": event.error}
    else:
        return
    document = {
        **document,
        "line": event.request.number,
        "id": event.request.id,
        "prompt": event.request.prompt,
    }
    click.echo(json.dumps(document))


class _ProgressBar:
    """A rich progress bar on stderr: done/total, images a minute, ETA, retries, concurrency, tokens."""

    def __enter__(self) -> _ProgressBar:
        from rich.console import Console  # noqa: PLC0415 -- optional (the `cli` extra)
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn  # noqa: PLC0415

        self.progress = Progress(
            TextColumn("[bold]batch"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:.1f}/min"),
            TimeRemainingColumn(),
            TextColumn(
                "retries {task.fields[retries]} · concurrency {task.fields[concurrency]} · "
                "{task.fields[tokens]} tokens"
            ),
            console=Console(stderr=True),
        )
        self.progress.__enter__()
        self.task = self.progress.add_task("batch", total=None, rate=0.0, retries=0, concurrency=0, tokens=0)
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(None, None, None)

    def render(self, event: BulkEvent) -> None:
        from ..bulk import LineFailed, LineSaved, RunStopping  # noqa: PLC0415

        progress = event.progress
        self.progress.update(
            self.task,
            total=progress.total,
            completed=progress.done + progress.skipped + progress.failed,
            rate=progress.images_per_minute,
            retries=progress.retries,
            concurrency=progress.concurrency,
            tokens=progress.tokens,
        )
        if isinstance(event, RunStopping):
            self.progress.console.print(_stopping(event), markup=False, highlight=False)
        elif isinstance(event, LineFailed):
            self.progress.console.print(
                f"line {event.request.number} failed: {event.error}", markup=False, highlight=False
            )
        elif isinstance(event, LineSaved) and event.rescued:
            self.progress.console.print(
                f"warning: line {event.request.number} saved in a rescue folder: {event.paths[0].parent}",
                markup=False,
                highlight=False,
            )
