"""``oai-images batch``: a file of requests, generated at the server's rate limit, resumable after any crash.

The engine (`oai_images.bulk`) sends and saves; this module reads the options, renders the engine's
progress events (a rich progress bar on a terminal, else one line per image, or JSON lines with
``--json``), records each line in the history, and turns the summary into an exit status. How the lines
are run is one choice: ``_live`` (the default), or ``_batch_api`` (``--via batch-api``), which hands the
same checked lines to `oai_images.batchapi.BatchJob` and collects whatever has ended each time it runs.
"""

from __future__ import annotations

import contextlib
import json
import shlex
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ._common import (
    Failure,
    Interrupted,
    InvalidInput,
    azure_deployment,
    azure_options,
    client_options,
    default_model,
    make_client,
    max_cost_option,
    translated_errors,
)
from ._fields import FieldsCommand, field_values
from ._output import emit, shown_path
from .history import History, history_enabled, no_history_option, record_generation

if TYPE_CHECKING:
    from .._client import ImagesClient
    from ..batchapi import BatchInfo, BatchJob, LineOutcome
    from ..bulk import BulkEvent, BulkRequest, BulkSummary, RunStopping
    from ..pricing import Cost

__all__ = ["batch"]

_EXAMPLES = """\b
Examples:
  # One prompt a line, against the offline emulator
  oai-images batch prompts.txt --out renders --emulator
  # JSON lines: {"id": "hero", "prompt": "...", "model": "gpt-image-1.5", "size": "1536x1024"}
  oai-images batch requests.jsonl --out renders --concurrency 16
  # Interrupted or crashed? The same command resumes: saved lines are skipped
  oai-images batch requests.jsonl --out renders
  # The Batch API: half the price, results within 24 h. Submit, then run it again to collect
  oai-images batch prompts.txt --out renders --via batch-api
  # ... or wait for the batches to end and collect in one go
  oai-images batch prompts.txt --out renders --via batch-api --wait
  # What would it cost? Every line checked, nothing sent: lines, images, live vs Batch API
  oai-images batch requests.jsonl --out renders --dry-run
  # Never spend more than $5 on this folder's lines (earlier runs included)
  oai-images batch requests.jsonl --out renders --max-cost 5
"""


def _operation() -> Any:
    from oai_images_api.api.images import CREATE_IMAGE  # noqa: PLC0415 -- loads the models: only when needed

    return CREATE_IMAGE


@click.command(
    cls=FieldsCommand,
    epilog=_EXAMPLES,
    operation=_operation,
    skip=frozenset({"stream", "partial_images"}),  # each line's images come in one answer
)
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
    "--via",
    type=click.Choice(["live", "batch-api"]),
    default="live",
    show_default=True,
    help="live: send the requests now, at the rate limit. batch-api: OpenAI's Batch API, half the price, "
    "results within 24 h (run the same command again to collect them, or add --wait).",
)
@click.option(
    "--wait",
    is_flag=True,
    help="With --via batch-api: poll until every batch has ended, then save the images.",
)
@click.option(
    "--cancel",
    is_flag=True,
    help="With --via batch-api: cancel the job's batches still running (what completed stays collectable).",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print JSON lines: one per line saved, skipped or failed."
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Check every line and print the lines, images and estimated cost, live and through the Batch API "
    "(an upper bound); send nothing.",
)
@max_cost_option
@no_history_option
@client_options
@azure_options
def batch(
    file: Path,
    *,
    out: Path,
    concurrency: int,
    resume: bool,
    retry_failed: bool,
    via: str,
    wait: bool,
    cancel: bool,
    as_json: bool,
    dry_run: bool,
    max_cost: float | None,
    emulator: bool,
    base_url: str | None,
    timeout: float | None,
    max_retries: int,
    no_validate: bool,
    debug: bool,
    **options: Any,
) -> None:
    """Generate the images of every request in FILE, at the server's rate limit; resumable.

    The API options (-m, -s, -q, ...) apply to every line that does not set that field itself; with no -m
    and no model in a line, the default model (OAI_IMAGES_MODEL, or model in the config file) applies.

    FILE is .txt (one prompt a line), .jsonl (one JSON object a line: "prompt", any generate field, an
    optional "id") or .csv (a header row of field names). Every line is checked before anything is sent.
    Each image is saved the moment it arrives, as <id or line number>-<prompt>.<ext> in --out, and recorded
    in the journal there: running the same command again (after Ctrl-C, a crash, kill -9) skips every line
    already saved and sends only the others. Changing a line's fields makes it a new line.

    With --via batch-api the lines go to OpenAI's Batch API instead (half the price, results within 24 h;
    up to 50,000 lines / 200 MB a batch, more make more batches): the command submits the lines not yet
    submitted, prints each batch's status and saves the images of every batch that has ended, as
    <id or line number>-<prompt>.<ext>, as a live run names them. Run it again to collect; --wait polls
    until every batch has ended;
    --cancel cancels the batches still running. With --emulator it always waits (the in-process
    emulator's batches end with the process).

    --dry-run checks every line and prints what the run would send: lines (those already saved in --out
    left out), images, and the estimated cost live and through the Batch API, an upper bound from the price
    table. --max-cost USD is a budget for the lines of FILE in --out, what earlier runs spent included: a
    run whose estimate is over it sends nothing (exit 2); a live run stops sending before it could pass it
    (exit 1; run again with a higher --max-cost to resume).

    Exit status: 0 every line done (batch-api: or still running), 1 some line failed, in this run or an
    earlier one (see the summary; --retry-failed sends them again), or the run stopped at --max-cost, 2 an
    invalid line or an estimate over --max-cost (nothing is sent), 130 interrupted (run the command again
    to resume).
    """
    del resume  # every run resumes: the option says so explicitly for scripts and readers
    out = out.expanduser()
    defaults = _line_defaults(options)
    if dry_run:
        if cancel or retry_failed:
            raise InvalidInput("--dry-run sends nothing: it does not go with --cancel or --retry-failed")
        with translated_errors(debug=debug):
            from ..bulk import load  # noqa: PLC0415 -- loads the generated models: only when run

            lines = load(file, validate=not no_validate, defaults=defaults)
            _dry_run(lines, out=out, as_json=as_json, max_cost=max_cost, via=via)
        return
    if via == "batch-api":
        _batch_api_command(
            file,
            defaults=defaults,
            field_flags=_field_flags(options),
            out=out,
            wait=wait,
            cancel=cancel,
            retry_failed=retry_failed,
            as_json=as_json,
            emulator=emulator,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            no_validate=no_validate,
            debug=debug,
            max_cost=max_cost,
        )
        return
    if cancel:
        raise InvalidInput("--cancel needs --via batch-api (a live run stops with Ctrl-C)")
    # --wait alone is what a live run does anyway: nothing to refuse.
    with translated_errors(debug=debug):
        from ..bulk import load  # noqa: PLC0415 -- loads the generated models: only when run

        lines = load(file, validate=not no_validate, defaults=defaults)
        client = make_client(
            emulator=emulator,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            no_validate=no_validate,
        )
        with client, _renderer(as_json=as_json) as render:
            summary = _live(
                client,
                lines,
                out=out,
                concurrency=concurrency,
                retry_failed=retry_failed,
                render=render,
                max_cost=max_cost,
            )
    _finish(summary, file=file, out=out, as_json=as_json)


def _spent_text(summary: BulkSummary) -> str:
    """``$0.266 spent`` (``, $0.532 with earlier runs``, ``, 2 of unknown cost``)."""
    from ..pricing import format_usd  # noqa: PLC0415 -- loaded with the engine anyway

    text = f"{format_usd(summary.spent)} spent"
    if summary.spent_before:
        text += f" ({format_usd(summary.total_spent)} with earlier runs)"
    if summary.unknown_costs:
        text += f", {summary.unknown_costs} of unknown cost"
    return text


def _dry_run(lines: list[BulkRequest], *, out: Path, as_json: bool, max_cost: float | None, via: str) -> None:
    """Print what a run would send and its estimated cost, live and through the Batch API; send nothing.

    Raises:
        BudgetExceededError: With --max-cost, when the estimate of the --via chosen is over it.
    """
    from ..pricing import check_budget, estimate, format_usd, load_prices, total  # noqa: PLC0415

    saved, spent = _saved_before(out)
    pending = [line for line in lines if line.key not in saved]
    live: list[Cost] = []
    batch_api: list[Cost] = []
    for line in pending:
        params = {key: value for key, value in line.fields.items() if key != "prompt"}
        live.append(estimate("generate", line.prompt, **params))
        batch_api.append(estimate("generate", line.prompt, batch=True, **params))
        if as_json:
            document = {
                "event": "estimate",
                "line": line.number,
                "id": line.id,
                "images": live[-1].images,
                "live": live[-1].to_dict(),
                "batch_api": batch_api[-1].to_dict(),
            }
            emit(json.dumps(document))
    images = sum(cost.images for cost in live)
    live_usd, unknown = total(live)
    batch_usd, _ = total(batch_api)
    checked = load_prices().checked
    if as_json:
        document = {
            "event": "summary",
            "dry_run": True,
            "lines": len(lines),
            "already_saved": len(lines) - len(pending),
            "to_send": len(pending),
            "images": images,
            "live_usd": live_usd,
            "batch_api_usd": batch_usd,
            "unknown": unknown,
            "spent_before": spent,
            "prices_checked": checked,
        }
        emit(json.dumps(document))
    else:
        already = (
            f" ({len(lines) - len(pending)} already saved in {out})" if len(pending) < len(lines) else ""
        )
        emit(f"{len(lines)} lines{already}: {len(pending)} to send, {images} images")
        unpriced = (
            f"; {unknown} lines of unknown cost (no price for their model) not counted" if unknown else ""
        )
        emit(
            f"estimated cost, at most: {format_usd(live_usd)} live, {format_usd(batch_usd)} through the "
            f"Batch API (prices checked {checked}){unpriced}"
        )
        if spent:
            emit(f"already spent on these lines by earlier runs: {format_usd(spent)}")
        emit("nothing was sent (--dry-run)")
    if max_cost is not None:
        check_budget(batch_api if via == "batch-api" else live, max_cost, spent=spent, what="the run")


def _saved_before(out: Path) -> tuple[set[str], float]:
    """The keys of the lines a live run saved in ``out`` and what they cost, read from its journal without
    changing anything (none when there is no journal)."""  # noqa: D205, D209
    import sqlite3  # noqa: PLC0415 -- only for --dry-run

    from ..bulk import JOURNAL_NAME  # noqa: PLC0415 -- loaded with the command
    from ..pricing import Cost, total  # noqa: PLC0415 -- as above

    path = out / JOURNAL_NAME
    if not path.is_file():
        return set(), 0.0
    try:
        with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as db:
            rows = db.execute("SELECT key, cost FROM lines WHERE state = 'saved'").fetchall()
    except sqlite3.Error:  # no live run has used the folder, or an older journal without costs
        return set(), 0.0
    spent, _ = total(Cost.from_dict(json.loads(cost)) if cost else None for _, cost in rows)
    return {str(key) for key, _ in rows}, spent


def _line_defaults(options: dict[str, Any]) -> dict[str, Any]:
    """The fields every line gets unless it sets them: the command line's API options, and the configured
    default model when -m is not given (a line's own fields win)."""  # noqa: D205, D209
    fields = dict(field_values(options))
    azure = azure_deployment() is not None
    if "model" not in fields and not azure and (model := default_model()) is not None:
        fields["model"] = model
    return fields


def _field_flags(options: dict[str, Any]) -> list[str]:
    """The API options given, as flags again: the follow-up command must make the very same lines."""
    context = click.get_current_context()
    flags: list[str] = []
    for param in context.command.get_params(context):
        value = options.get(param.name or "")
        if isinstance(param, click.Option) and value is not None:
            flag = next((opt for opt in param.opts if opt.startswith("--")), param.opts[0])
            flags += [flag, str(value).lower() if isinstance(value, bool) else str(value)]
    return flags


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
                cost=event.cost,
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
    before = len(summary.failed_before)
    parts = [
        f"{summary.done} done",
        f"{summary.skipped} skipped (already done)"
        if not before
        else f"{summary.skipped} skipped ({summary.skipped - before} already done, {before} failed before)",
        f"{len(summary.failed)} failed",
    ]
    if summary.unfinished:
        parts.append(f"{summary.unfinished} not sent")
    parts.append(f"{summary.retries} retries ({summary.rate_limited} rate limited)")
    if usage is not None:
        parts.append(f"{usage} tokens")
    parts.append(_spent_text(summary))
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
            "failed_before": [
                {"line": request.number, "id": request.id, "error": error}
                for request, error in summary.failed_before
            ],
            "unfinished": summary.unfinished,
            "retries": summary.retries,
            "rate_limited": summary.rate_limited,
            "usage": summary.usage,
            "seconds": round(summary.elapsed, 3),
            "interrupted": summary.interrupted,
            "journal": str(summary.journal),
            "cost": {
                "usd": summary.spent,
                "usd_with_earlier_runs": summary.total_spent,
                "unknown": summary.unknown_costs,
                "max_cost": summary.max_cost,
                "budget_stopped": summary.budget_stopped,
            },
        }
        emit(json.dumps(document))
    click.echo(f"{', '.join(parts)} in {summary.elapsed:.1f} s; journal: {summary.journal}", err=True)
    for request, error in summary.failed:
        click.echo(f"  line {request.number}{f' ({request.id})' if request.id else ''}: {error}", err=True)
    command = shlex.join(["oai-images", "batch", str(file), "--out", str(out)])
    if summary.interrupted:
        raise Interrupted(f"interrupted; every image received is saved. Resume with: {command}")
    if summary.budget_stopped:
        from ..pricing import format_usd  # noqa: PLC0415 -- only when a budget stopped the run

        raise Failure(
            f"stopped at the budget: {format_usd(summary.total_spent)} spent of --max-cost "
            f"{format_usd(summary.max_cost)} (earlier runs included), and the next line could pass it; "
            f"{summary.unfinished} lines not sent. Resume with a higher budget: {command} --max-cost USD"
        )
    failed = len(summary.failed) + before
    if failed:
        # Until they succeed (or the input drops them), the folder lacks their images: never a clean exit.
        message = f"{failed} of {summary.total} lines failed; send them again with: {command} --retry-failed"
        raise Failure(message)


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
            emit(shown_path(path))
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
            "paths": [shown_path(path) for path in event.paths],
            "request_id": event.request_id,
            "revised_prompts": list(event.revised_prompts),
            "usage": event.usage,
            "cost": None if event.cost is None else event.cost.to_dict(),
        }
    elif isinstance(event, LineSkipped):
        paths = [shown_path(path) for path in event.paths]
        document = {"event": "skipped", "state": event.state, "paths": paths}
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
    emit(json.dumps(document))


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


# --- --via batch-api ----------------------------------------------------------------------------------------

#: Seconds before the second poll of --wait (then half as long again each round, up to a minute).
_POLL_INTERVAL = 2.0
_MAX_POLL_INTERVAL = 60.0


def _batch_api_command(
    file: Path,
    *,
    defaults: dict[str, Any],
    field_flags: list[str],
    out: Path,
    wait: bool,
    cancel: bool,
    retry_failed: bool,
    as_json: bool,
    emulator: bool,
    base_url: str | None,
    timeout: float | None,
    max_retries: int,
    no_validate: bool,
    debug: bool,
    max_cost: float | None = None,
) -> None:
    """Submit the file's new lines as Batch API batches, show their status, and collect what has ended."""
    context = click.get_current_context()
    source = context.get_parameter_source("concurrency")
    if source is not None and source is not click.core.ParameterSource.DEFAULT:
        # The server decides how fast a batch runs: a pace the user asked for could not be honoured.
        raise InvalidInput(
            "--concurrency does not apply to --via batch-api (the Batch API sets its own pace)"
        )
    if cancel and retry_failed:
        raise InvalidInput("--cancel and --retry-failed contradict each other: give one of them")
    follow_up = ["oai-images", "batch", str(file), "--out", str(out), "--via", "batch-api", *field_flags]
    if base_url is not None:
        follow_up += ["--base-url", base_url]
    if no_validate:
        follow_up.append("--no-validate")  # else the follow-up refuses the lines this run accepted
    if emulator:
        follow_up.append("--emulator")
        if not wait:
            click.echo(
                "note: the --emulator's batches live only as long as this process: "
                "waiting for them (as --wait)",
                err=True,
            )
            wait = True
    if wait:
        follow_up.append("--wait")
    command = shlex.join(follow_up)
    run = _BatchApiRun(as_json=as_json, emulator=emulator, max_cost=max_cost)
    with translated_errors(debug=debug):
        try:
            lines = None
            if not cancel:
                from ..bulk import load  # noqa: PLC0415 -- loads the generated models: only when run

                lines = load(file, validate=not no_validate, defaults=defaults)
            client = make_client(
                emulator=emulator,
                base_url=base_url,
                timeout=timeout,
                max_retries=max_retries,
                no_validate=no_validate,
            )
            with client:
                run.run(client, lines, out=out, wait=wait, cancel=cancel, retry_failed=retry_failed)
        except KeyboardInterrupt:
            raise Interrupted(
                "interrupted; nothing is lost: submitted batches keep running on the server and every image "
                f"saved is recorded. Follow up with: {command}"
            ) from None
    run.finish(command=command, wait=wait, cancel=cancel)


class _BatchApiRun:
    """One run of ``--via batch-api``: what it submitted, saved and saw, and how it is shown."""

    def __init__(self, *, as_json: bool, emulator: bool, max_cost: float | None = None) -> None:
        self.as_json = as_json
        self.emulator = emulator
        self.max_cost = max_cost
        self.spent: tuple[float, int] = (0.0, 0)
        self.created: list[str] = []
        self.retried: list[str] = []
        self.new_lines = 0
        self.infos: list[BatchInfo] = []
        self.counts: dict[str, int] = {}
        self.journal: Path | None = None
        self.numbers: dict[str, int] = {}  # custom id -> line number in the file

    def run(
        self,
        client: ImagesClient,
        lines: list[BulkRequest] | None,
        *,
        out: Path,
        wait: bool,
        cancel: bool,
        retry_failed: bool,
    ) -> None:
        from ..batchapi import BatchJob  # noqa: PLC0415 -- loaded with the command

        with BatchJob(client, out, max_cost=self.max_cost) as job:
            self.journal = job.journal.path
            seen = {line.custom_id: (line.state, line.attempts) for line in job.lines()}
            try:
                self._run(job, lines, wait=wait, cancel=cancel, retry_failed=retry_failed)
            except Exception as exc:
                from .._errors import NotFoundError  # noqa: PLC0415 -- only on this failure

                if self.emulator and isinstance(exc, NotFoundError):
                    raise Failure(
                        f"{exc}: the journal in {out} names batches of an earlier --emulator process, "
                        "which ended with it; use another --out (or `oai-images serve` for batches that "
                        "outlive a run)"
                    ) from None
                raise
            finally:
                self.counts = job.counts()
                self.infos = job.batches()
                self.spent = job.spent()
                self._report(job, seen)

    def _run(
        self, job: BatchJob, lines: list[BulkRequest] | None, *, wait: bool, cancel: bool, retry_failed: bool
    ) -> None:
        if lines is not None:
            pairs = list(self._job_lines(job, lines))
            before = job.counts()
            self.created = job.submit(pairs)
            self.new_lines = sum(job.counts().values()) - sum(before.values())
            if self.new_lines:
                click.echo(
                    f"submitted {_plural(self.new_lines, 'new line')} in "
                    f"{_plural(len(self.created), 'batch', 'batches')}",
                    err=True,
                )
        if cancel:
            if not any(info.batch_id is not None and not info.ended for info in job.batches()):
                click.echo("no batch of this job is running: nothing to cancel", err=True)
            else:
                job.cancel()
        job.collect()  # what has ended is saved now, before a retry or a long wait
        if retry_failed:
            self.retried = job.retry_failed()
            if not self.retried:
                click.echo("no failed line to submit again", err=True)
            else:
                batches = _plural(len(self.retried), "new batch", "new batches")
                click.echo(f"submitted the failed lines again in {batches}", err=True)
        if wait and any(info.batch_id is not None and not info.ended for info in job.batches()):
            with _progress_renderer(as_json=self.as_json) as on_progress:
                job.wait(
                    on_progress=on_progress,
                    poll_interval=_POLL_INTERVAL,
                    max_poll_interval=_MAX_POLL_INTERVAL,
                )
            job.collect()

    def _job_lines(self, job: BatchJob, lines: list[BulkRequest]) -> Iterator[tuple[str, dict[str, Any]]]:
        """Each line as ``(custom_id, body)``: its id or zero-padded number, as a live run names it.

        A line changed since it was submitted (its body differs from the journal's) is a new line, with a
        ``-v2`` (``-v3`` …) custom id: its earlier images are kept, and the change is not silently ignored.
        """
        from .._wire import request_body  # noqa: PLC0415 -- loaded with the command

        for request in lines:
            fields = {name: value for name, value in request.fields.items() if value is not None}
            body = json.dumps(request_body(fields), separators=(",", ":"), ensure_ascii=False)
            custom_id, version = request.label, 1
            while (record := job.journal.line(custom_id)) is not None and record["body"] != body:
                version += 1
                custom_id = f"{request.label}-v{version}"
            self.numbers[custom_id] = request.number
            yield custom_id, fields

    def _report(self, job: BatchJob, seen: dict[str, tuple[str, int]]) -> None:
        """Print the lines this run saved or saw fail, and record the saved ones in the history."""
        store: History | None = None
        if history_enabled():
            try:
                store = History()
            except Exception:
                store = None
        try:
            for line in job.lines():
                if seen.get(line.custom_id) == (line.state, line.attempts) or line.state == "submitted":
                    continue
                if line.state == "done":
                    self._saved(job, line, store)
                elif line.state == "failed":
                    self._failed(line)
        finally:
            if store is not None:
                store.close()

    def _saved(self, job: BatchJob, line: LineOutcome, store: History | None) -> None:
        number = self.numbers.get(line.custom_id)
        if self.as_json:
            document = {
                "event": "saved",
                "id": line.custom_id,
                "line": number,
                "paths": [shown_path(path) for path in line.files],
                "cost": None if line.cost is None else line.cost.to_dict(),
            }
            emit(json.dumps(document))
        else:
            for path in line.files:
                emit(shown_path(path))
        if store is None:
            return
        record = job.journal.line(line.custom_id)
        fields = json.loads(str(record["body"])) if record is not None else {}
        model = fields.get("model")
        record_generation(
            "batch-api",
            fields,
            model=model if isinstance(model, str) else None,
            request_id=str(record["request_id"]) if record is not None and record.get("request_id") else None,
            usage=record.get("usage") if record is not None else None,
            paths=line.files,
            history=store,
            cost=line.cost,
        )

    def _failed(self, line: LineOutcome) -> None:
        number = self.numbers.get(line.custom_id)
        error = line.error_message or line.error_code or "failed"
        if self.as_json:
            document = {
                "event": "failed",
                "id": line.custom_id,
                "line": number,
                "status_code": line.status_code,
                "code": line.error_code,
                "error": error,
            }
            emit(json.dumps(document))
        else:
            where = f"line {number} ({line.custom_id})" if number is not None else line.custom_id
            click.echo(f"{where} failed: {error}", err=True)

    def finish(self, *, command: str, wait: bool, cancel: bool) -> None:
        """Each batch's status, the job's counts, and the exit status."""
        running = [info for info in self.infos if not info.ended]
        for info in self.infos:
            if self.as_json:
                emit(json.dumps({"event": "batch", **_batch_document(info)}))
            click.echo(
                f"{info.batch_id or f'part {info.part} (not created yet)'}: {_batch_line(info)}", err=True
            )
        counts = self.counts
        if self.as_json:
            document = {
                "event": "summary",
                "via": "batch-api",
                "submitted_lines": self.new_lines,
                "created": self.created,
                "retried": self.retried,
                "lines": counts,
                "running": [info.batch_id for info in running],
                "journal": str(self.journal),
                "cost": {"usd": self.spent[0], "unknown": self.spent[1], "max_cost": self.max_cost},
            }
            emit(json.dumps(document))
        click.echo(
            f"{_plural(sum(counts.values()), 'line')} in the job: {counts.get('done', 0)} saved, "
            f"{counts.get('failed', 0)} failed, {counts.get('submitted', 0)} waiting for their batch; "
            f"{_batch_spent(self.spent)}; journal: {self.journal}",
            err=True,
        )
        if running and wait and all(info.batch_id is not None for info in running):
            statuses = ", ".join(f"{info.batch_id} {info.status!r}" for info in running)
            raise Failure(
                f"gave up waiting after the Batch API's 24 h window and an hour more: {statuses}; "
                f"run the same command again to collect what ends later: {command}"
            )
        if running:
            if any(info.batch_id is None for info in running):
                click.echo(f"a batch could not be created yet: run again to create it: {command}", err=True)
            else:
                click.echo(
                    f"{_plural(len(running), 'batch', 'batches')} still running (the Batch API takes up "
                    "to 24 h); "
                    f"run the same command again to collect them: {command}",
                    err=True,
                )
        failed = counts.get("failed", 0)
        if failed and not cancel:
            raise Failure(
                f"{failed} of {sum(counts.values())} lines failed; "
                f"submit them again with: {command} --retry-failed"
            )


def _batch_spent(spent: tuple[float, int]) -> str:
    """``$0.133 spent (Batch API prices)``, with how many saved lines cost unknown."""
    from ..pricing import format_usd  # noqa: PLC0415 -- loaded with the job anyway

    unknown = f", {spent[1]} of unknown cost" if spent[1] else ""
    return f"{format_usd(spent[0])} spent (Batch API prices){unknown}"


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else many or one + 's'}"


def _batch_document(info: BatchInfo) -> dict[str, Any]:
    return {
        "id": info.batch_id,
        "status": info.status,
        "lines": info.lines,
        "completed": info.completed,
        "failed": info.failed,
        "total": info.total,
        "errors": list(info.errors),
    }


def _batch_line(info: BatchInfo) -> str:
    total = info.total or info.lines
    text = f"{info.status}, {info.completed}/{total} done, {info.failed} failed"
    if info.errors:
        text += f" ({'; '.join(info.errors)})"
    return text


@contextmanager
def _progress_renderer(*, as_json: bool) -> Iterator[Callable[[list[BatchInfo]], None]]:
    """How --wait shows each poll: JSON lines, a rich progress bar on a terminal, or a line per change."""
    if as_json:

        def json_progress(infos: list[BatchInfo]) -> None:
            completed, failed, total = _totals(infos)
            document = {
                "event": "progress",
                "completed": completed,
                "failed": failed,
                "total": total,
                "batches": [{"id": info.batch_id, "status": info.status} for info in infos],
            }
            emit(json.dumps(document))

        yield json_progress
        return
    if sys.stderr.isatty():
        try:
            import rich.progress  # noqa: PLC0415, F401 -- optional (the `cli` extra)
        except ImportError:
            pass
        else:
            with _BatchProgressBar() as bar:
                yield bar.render
            return
    last: list[str] = []

    def plain_progress(infos: list[BatchInfo]) -> None:
        completed, failed, total = _totals(infos)
        text = f"{_statuses(infos)}: {completed}/{total} done, {failed} failed"
        if last != [text]:  # a poll that changed nothing is not worth a line
            last[:] = [text]
            click.echo(text, err=True)

    yield plain_progress


def _totals(infos: list[BatchInfo]) -> tuple[int, int, int]:
    """Completed, failed and total requests over the batches (a batch not counted yet: its lines)."""
    created = [info for info in infos if info.batch_id is not None]
    return (
        sum(info.completed for info in created),
        sum(info.failed for info in created),
        sum(info.total or info.lines for info in created),
    )


def _statuses(infos: list[BatchInfo]) -> str:
    """``2 in_progress, 1 completed``: how many batches are in each status."""
    counted: dict[str, int] = {}
    for info in infos:
        counted[info.status] = counted.get(info.status, 0) + 1
    return ", ".join(f"{count} {status}" for status, count in counted.items())


class _BatchProgressBar:
    """A rich progress bar on stderr for --wait: requests done of the total, the batches' statuses."""

    def __enter__(self) -> _BatchProgressBar:
        from rich.console import Console  # noqa: PLC0415 -- optional (the `cli` extra)
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: PLC0415

        self.progress = Progress(
            TextColumn("[bold]batch-api"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[failed]} failed · {task.fields[statuses]}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
        )
        self.progress.__enter__()
        self.task = self.progress.add_task("batch-api", total=None, failed=0, statuses="")
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(None, None, None)

    def render(self, infos: list[BatchInfo]) -> None:
        completed, failed, total = _totals(infos)
        self.progress.update(
            self.task, total=total, completed=completed + failed, failed=failed, statuses=_statuses(infos)
        )
