"""``oai-images history``, and the history every command-line generation is recorded in.

Each generation the command line makes (``generate``, ``edit``, each line of ``batch``) gets a row in
``history.sqlite`` in the user's data folder (``platformdirs.user_data_dir("oai-images")``, or
``$OAI_IMAGES_HOME``): prompt, model, size, the fields sent, request id, usage, cost and the files. The API
key is never part of a request's fields, so it is never recorded. ``--no-history`` or
``OAI_IMAGES_NO_HISTORY=1`` turns the recording off. A history that cannot be written never fails a
generation: it warns, once.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from ..pricing import Cost

__all__ = [
    "HISTORY_NAME",
    "History",
    "HistoryEntry",
    "history",
    "history_enabled",
    "history_home",
    "no_history_option",
    "record_generation",
]

HISTORY_NAME = "history.sqlite"
HOME_ENV = "OAI_IMAGES_HOME"
OFF_ENV = "OAI_IMAGES_NO_HISTORY"
_OFF_KEY = "oai_images.no_history"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS generations (
    id INTEGER PRIMARY KEY,
    time REAL NOT NULL,
    kind TEXT NOT NULL,         -- generate | edit | batch
    prompt TEXT NOT NULL,
    model TEXT,
    size TEXT,
    fields TEXT NOT NULL,       -- the request's fields, as JSON (never the key: it is no field)
    request_id TEXT,
    usage TEXT,                 -- JSON, as the API reported it
    paths TEXT NOT NULL,        -- JSON list of the saved files
    revised_prompts TEXT,       -- JSON list
    cost TEXT                   -- JSON object: oai_images.pricing.Cost.to_dict()
)
"""


def history_home() -> Path:
    """The folder the history lives in: ``$OAI_IMAGES_HOME``, else the platform's user data folder."""
    home = os.environ.get(HOME_ENV, "").strip()
    if home:
        return Path(home).expanduser()
    import platformdirs  # noqa: PLC0415 - only when a generation is recorded or listed

    return Path(platformdirs.user_data_dir("oai-images", appauthor=False))


def history_enabled() -> bool:
    """Whether generations are recorded: not with ``--no-history`` nor ``OAI_IMAGES_NO_HISTORY=1``."""
    if os.environ.get(OFF_ENV, "").strip().lower() in ("1", "true", "yes", "on"):
        return False
    context = click.get_current_context(silent=True)
    return not (context is not None and context.find_root().meta.get(_OFF_KEY))


_F = TypeVar("_F", bound=Callable[..., Any])


def _turn_off(context: click.Context, parameter: click.Parameter, value: bool) -> None:
    if value:
        context.find_root().meta[_OFF_KEY] = True


def no_history_option(function: _F) -> _F:
    """The ``--no-history`` option of a command that generates (it sets no parameter of the command)."""
    return click.option(
        "--no-history",
        is_flag=True,
        expose_value=False,
        is_eager=True,
        callback=_turn_off,
        help=f"Do not record this generation in the history (also: {OFF_ENV}=1).",
    )(function)


@dataclass(frozen=True)
class HistoryEntry:
    """One recorded generation."""

    id: int
    time: float
    kind: str
    prompt: str
    model: str | None
    size: str | None
    fields: dict[str, Any]
    request_id: str | None
    usage: dict[str, Any] | None
    paths: list[str]
    revised_prompts: list[str | None]
    cost: dict[str, Any] | None = None

    def document(self) -> dict[str, Any]:
        """The entry as JSON, its time as ISO 8601 UTC."""
        document = asdict(self)
        document["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.time))
        return document


class History:
    """The history database; safe to use from several threads (a bulk run records from its own).

    Args:
        folder: Where ``history.sqlite`` is (created if missing); `history_home()` when None.
    """

    def __init__(self, folder: Path | None = None) -> None:
        folder = folder if folder is not None else history_home()
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / HISTORY_NAME
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(generations)")}
        if "cost" not in columns:  # a history written before costs were recorded
            self._db.execute("ALTER TABLE generations ADD COLUMN cost TEXT")

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def record(
        self,
        kind: str,
        fields: Mapping[str, Any],
        *,
        model: str | None,
        request_id: str | None,
        usage: Mapping[str, Any] | None,
        paths: Sequence[Path | str],
        revised_prompts: Sequence[str | None] = (),
        cost: Cost | None = None,
    ) -> None:
        """Add one generation (``fields`` holds the prompt and everything sent) and what it cost."""
        size = fields.get("size")
        row = (
            time.time(),
            kind,
            str(fields.get("prompt", "")),
            model,
            size if isinstance(size, str) else None,
            json.dumps(dict(fields), default=str),
            request_id,
            None if usage is None else json.dumps(dict(usage)),
            json.dumps([str(Path(path).resolve()) for path in paths]),
            json.dumps(list(revised_prompts)),
            None if cost is None else json.dumps(cost.to_dict()),
        )
        with self._lock:
            self._db.execute(
                "INSERT INTO generations (time, kind, prompt, model, size, fields, request_id, usage, paths, "
                "revised_prompts, cost) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )

    def entries(self, *, limit: int | None = None, search: str | None = None) -> Iterator[HistoryEntry]:
        """The recorded generations, newest first; ``search`` matches the prompt (case-insensitive)."""
        # The columns by name: a history that a newer version extended still reads.
        query = (
            "SELECT id, time, kind, prompt, model, size, fields, request_id, usage, paths, revised_prompts, "
            "cost FROM generations"
        )
        parameters: list[object] = []
        if search:
            escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query += " WHERE prompt LIKE ? ESCAPE '\\' OR fields LIKE ? ESCAPE '\\'"
            parameters += [f"%{escaped}%", f"%{escaped}%"]
        query += " ORDER BY time DESC, id DESC"
        if limit is not None:
            query += " LIMIT ?"
            parameters.append(limit)
        with self._lock:
            rows = self._db.execute(query, parameters).fetchall()
        for row in rows:
            number, when, kind, prompt, model, size, fields, request_id, usage, paths, revised, cost = row
            yield HistoryEntry(
                number,
                when,
                kind,
                prompt,
                model,
                size,
                json.loads(fields),
                request_id,
                None if usage is None else json.loads(usage),
                json.loads(paths),
                json.loads(revised or "[]"),
                _json_object(cost),
            )


def _json_object(text: object) -> dict[str, Any] | None:
    if not isinstance(text, str):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


_warned = False


def record_generation(
    kind: str,
    fields: Mapping[str, Any],
    *,
    model: str | None,
    request_id: str | None,
    usage: object,
    paths: Sequence[Path | str],
    revised_prompts: Sequence[str | None] = (),
    history: History | None = None,
    cost: Cost | None = None,
) -> None:
    """Record a command-line generation, unless the history is turned off; never raises.

    Args:
        kind: ``generate``, ``edit``, ``vary``, ``batch`` (a live bulk run) or ``batch-api``.
        fields: The request's fields, the prompt among them.
        model: The model used, if known.
        request_id: The answer's request id.
        usage: The usage (a generated model or a mapping), or None.
        paths: The files saved.
        revised_prompts: The revised prompts, one per image.
        history: The history to write to (a bulk run keeps one open); the user's when None.
        cost: What it cost.
    """
    global _warned  # noqa: PLW0603 - one warning per process is enough
    if not history_enabled():
        return
    to_dict = getattr(usage, "to_dict", None)
    plain_usage = to_dict() if callable(to_dict) else usage if isinstance(usage, Mapping) else None
    try:
        store = history if history is not None else History()
        try:
            store.record(
                kind,
                fields,
                model=model,
                request_id=request_id,
                usage=plain_usage,
                paths=paths,
                revised_prompts=revised_prompts,
                cost=cost,
            )
        finally:
            if history is None:
                store.close()
    except (OSError, sqlite3.Error) as exc:
        if not _warned:
            _warned = True
            click.echo(f"warning: could not record the history ({exc}); the images are saved", err=True)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines, one generation a line.")
@click.option(
    "--limit",
    "-l",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Show at most this many (the newest).",
)
@click.option("--search", "-s", help="Only generations whose prompt or fields contain TEXT.")
@click.option("--all", "show_all", is_flag=True, help="Show every recorded generation (no --limit).")
@click.option(
    "--cost",
    "by_cost",
    is_flag=True,
    help="Sum what the generations cost by day (UTC) and model, newest day first (every generation, or "
    "those --search matches; --limit does not apply).",
)
def history(*, as_json: bool, limit: int, search: str | None, show_all: bool, by_cost: bool) -> None:
    """List the generations made from the command line, newest first.

    Every `generate` and every line of `batch` is recorded in the user's data folder (OAI_IMAGES_HOME
    overrides it): prompt, model, size, time, request id, usage, cost and the files. --no-history on a
    command, or OAI_IMAGES_NO_HISTORY=1, turns the recording off. --cost sums the costs by day and model.
    """
    if search is not None:
        try:
            search.encode("utf-8")
        except UnicodeEncodeError:  # bytes of another encoding on the command line
            raise click.BadParameter("is not UTF-8 text", param_hint="--search") from None
    folder = history_home()
    if not (folder / HISTORY_NAME).exists():
        if not as_json:
            click.echo(f"no history yet ({folder / HISTORY_NAME})", err=True)
        return
    try:
        store = History(folder)
    except (OSError, sqlite3.Error) as exc:
        raise click.ClickException(f"cannot read the history at {folder}: {exc}") from exc
    try:
        if by_cost:
            _show_costs(store.entries(search=search), as_json=as_json)
            return
        _show_entries(store.entries(limit=None if show_all else limit, search=search), as_json=as_json)
    finally:
        store.close()


def _cost_text(cost: Mapping[str, Any]) -> str:
    """A recorded cost as the listing shows it: ``$0.042``, ``≈ $0.042`` (estimated) or ``cost unknown``."""
    from ..pricing import format_usd  # noqa: PLC0415 -- only when a cost is shown

    usd = cost.get("usd")
    if not isinstance(usd, int | float):
        return "cost unknown"
    return format_usd(usd) if cost.get("exact") else f"≈ {format_usd(usd)}"


def _show_costs(entries: Iterator[HistoryEntry], *, as_json: bool) -> None:
    """The costs summed by day (UTC) and model: one line (or JSON line) each, then the total."""
    from ..pricing import format_usd  # noqa: PLC0415 -- only with --cost

    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for entry in entries:
        day = time.strftime("%Y-%m-%d", time.gmtime(entry.time))
        group = groups.setdefault(
            (day, entry.model or "default model"),
            {"generations": 0, "images": 0, "usd": 0.0, "unknown": 0, "estimated": 0},
        )
        group["generations"] += 1
        group["images"] += len(entry.paths)
        usd = (entry.cost or {}).get("usd")
        if isinstance(usd, int | float):
            group["usd"] += usd
            group["estimated"] += not (entry.cost or {}).get("exact")
        else:
            group["unknown"] += 1
    ordered = sorted(groups.items(), key=lambda item: (item[0][0], item[0][1]), reverse=True)
    grand = {"generations": 0, "images": 0, "usd": 0.0, "unknown": 0, "estimated": 0}
    for (day, model), group in ordered:
        for key in grand:
            grand[key] += group[key]
        group["usd"] = round(group["usd"], 9)
        if as_json:
            click.echo(json.dumps({"day": day, "model": model, **group}))
            continue
        unknown = f", {group['unknown']} of unknown cost" if group["unknown"] else ""
        images = f"{group['images']} image{'s' if group['images'] != 1 else ''}"
        click.echo(f"{day}  {model:<24} {format_usd(group['usd']):>10}  {images}{unknown}")
    grand["usd"] = round(grand["usd"], 9)
    if as_json:
        click.echo(json.dumps({"total": True, **grand}))
        return
    unknown = f" ({grand['unknown']} generations of unknown cost not counted)" if grand["unknown"] else ""
    click.echo(f"total {format_usd(grand['usd'])} for {grand['generations']} generations{unknown}")


def _show_entries(entries: Iterator[HistoryEntry], *, as_json: bool) -> None:
    """Each generation: two lines and its files, or a JSON line."""
    for entry in entries:
        if as_json:
            click.echo(json.dumps(entry.document()))
            continue
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(entry.time))
        tokens = (entry.usage or {}).get("total_tokens")
        details = [entry.kind, entry.model or "default model", entry.size or "default size"]
        if entry.request_id:
            details.append(entry.request_id)
        if tokens is not None:
            details.append(f"{tokens} tokens")
        if entry.cost is not None:
            details.append(_cost_text(entry.cost))
        click.echo(f"{when}  {entry.prompt}")
        click.echo(f"    {' · '.join(details)}")
        for path in entry.paths:
            click.echo(f"    {path}")
