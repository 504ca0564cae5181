"""The page model: one card per image, or per failed or unfinished line, as plain data.

The cards are built from a run's journal or from the history. No HTML here (that is `_page`), no Pillow
(that is `_thumbs`).

Everything read is treated as untrusted: a journal may be damaged or written by hand, so a column that does
not parse gives an empty value, never an exception, and a recorded path is linked only when it is safe
(`locate`).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sqlite3
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..bulk._journal import JOURNAL_NAME

if TYPE_CHECKING:
    from ..cli.history import HistoryEntry

__all__ = [
    "IMAGE_SUFFIXES",
    "NO_COST",
    "Card",
    "Cost",
    "Located",
    "cards_from_history",
    "cards_from_journal",
    "cost_label",
    "history_costs",
    "locate",
    "parse_cost",
    "relative_url",
]

#: What a card shows when no cost is known (the pricing may not have recorded one).
NO_COST = "—"
#: The files a card links to and makes a thumbnail of: the formats the API returns.
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".gif"})


@dataclass(frozen=True, slots=True)
class Cost:
    """What a line or generation cost, as the pricing recorded it (a ``cost`` column of JSON).

    Attributes:
        usd: The amount in US dollars.
        exact: Computed from the answer's ``usage`` (True), or estimated (False).
    """

    usd: float
    exact: bool


def parse_cost(value: object) -> Cost | None:
    """The cost in a ``cost`` column (``{"usd": 0.042, "exact": true, ...}``), or None when there is none or
    it does not parse (a journal written before the pricing, or by hand)."""  # noqa: D205, D209
    if not isinstance(value, str | bytes) or not value:
        return None
    try:
        document = json.loads(value)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    usd = document.get("usd")
    if isinstance(usd, bool) or not isinstance(usd, int | float) or not math.isfinite(usd) or usd < 0:
        return None
    return Cost(float(usd), document.get("exact") is not False)


def cost_label(cost: Cost | None) -> str:
    """``$0.042``, ``≈$0.042`` for an estimate, or `NO_COST`."""
    if cost is None:
        return NO_COST
    return f"{'' if cost.exact else '≈'}${cost.usd:,.3f}"


@dataclass(frozen=True, slots=True)
class Located:
    """Where a recorded image is, if it may be linked.

    Attributes:
        path: The file (resolved), when it is an image file that may be linked; else None.
        problem: Why it is not linked (gone, outside the folder, not an image file), when ``path`` is None.
    """

    path: Path | None
    problem: str | None = None


def _resolve(path: Path) -> Path | None:
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        return None


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:
        return False


def locate(recorded: str, root: Path | None) -> Located:
    """Whether a path a journal or the history recorded may be linked, and where it is.

    Args:
        recorded: The path as recorded: absolute (a live run, the history), or relative to the folder the
            job ran from (a Batch API job given a relative ``--out``).
        root: The run's folder, resolved: only files inside it are linked, whatever symlinks say. A folder
            moved since the run (or a relative path) still works: a recorded path that is not there is
            looked for by its name in the folder. None for the history, whose files may be anywhere: they
            must only still exist.
    """
    if not recorded or "\0" in recorded:
        return Located(None, "no file was recorded")
    given = Path(recorded)
    if root is None:
        resolved = _resolve(given)
        if resolved is None or not _is_file(resolved):
            return Located(None, f"the file is gone: {recorded}")
    else:
        candidates = [given if given.is_absolute() else root / given, root / given.name]
        inside = (
            path
            for path in map(_resolve, candidates)
            if path is not None and root in path.parents and _is_file(path)
        )
        found = next(inside, None)
        if found is None:
            first = _resolve(candidates[0])
            if first is not None and root not in first.parents and _is_file(first):
                return Located(None, f"outside the folder, not linked: {recorded}")
            return Located(None, f"the file is gone: {recorded}")
        resolved = found
    if resolved.suffix.lower() not in IMAGE_SUFFIXES:
        return Located(None, f"not an image file, not linked: {recorded}")
    return Located(resolved)


def relative_url(target: Path, page_folder: Path, *, folder: bool = False) -> str:
    """A URL for ``target`` relative to the page's folder, every segment percent-encoded (spaces, ``#``,
    ``?``, ``%``, quotes, non-ASCII), so that it works from ``file://``; a file URL where no relative path
    exists (another drive on Windows)."""  # noqa: D205, D209
    try:
        relative = Path(os.path.relpath(target, page_folder)).as_posix()
    except ValueError:
        return target.as_uri() + ("/" if folder else "")
    # surrogateescape: a file name that is not UTF-8 (POSIX) is encoded as its own bytes, as the browser
    # will look it up.
    quoted = urllib.parse.quote(relative, safe="/", errors="surrogateescape")
    url = "./" + quoted if relative != "." else "./"
    return url + "/" if folder and not url.endswith("/") else url


@dataclass(frozen=True, slots=True)
class Card:
    """One card of the page: an image, or a line that has none (failed, not finished, file gone).

    Attributes:
        prompt: The prompt sent.
        revised_prompt: The prompt the model used, when it rewrote it.
        model: The model, when the request named one.
        size: The size asked for.
        quality: The quality asked for.
        cost: The cost of this image: the line's, shared among its images; None when not recorded.
        time: When it was made (or last tried), seconds since the epoch; None when unknown.
        request_id: The answer's request id.
        state: ``saved``, ``failed`` or ``pending`` (sent, with no outcome yet).
        source: How it was made: ``batch`` (a live bulk run), ``batch-api``, ``generate``, ``edit``, ...
        label: The line's id or number in its run (``line 3``, ``fox-1``), or the history row's.
        image: The image file, when it may be linked.
        problem: Why there is no image (the error of a failed line, a gone file, a refused path).
    """

    prompt: str
    revised_prompt: str | None
    model: str | None
    size: str | None
    quality: str | None
    cost: Cost | None
    time: float | None
    request_id: str | None
    state: str
    source: str
    label: str
    image: Path | None
    problem: str | None


def _json(value: object, kind: type[Any]) -> Any:
    """A JSON column's value if it parses to ``kind``, else None."""
    if not isinstance(value, str | bytes) or not value:
        return None
    try:
        parsed = json.loads(value)
    except ValueError:
        return None
    return parsed if isinstance(parsed, kind) else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _share(cost: Cost | None, count: int) -> Cost | None:
    return cost if cost is None or count <= 1 else Cost(cost.usd / count, cost.exact)


def _cards(
    fields: Mapping[str, Any],
    *,
    state: str,
    paths: Sequence[object],
    revised: Sequence[object],
    error: str | None,
    cost: Cost | None,
    when: float | None,
    request_id: str | None,
    source: str,
    label: str,
    root: Path | None,
) -> Iterator[Card]:
    """The cards of one line or generation: one per image, or one saying why there is none."""

    def card(image: Path | None, problem: str | None, revised_prompt: object, share: Cost | None) -> Card:
        return Card(
            prompt=str(fields.get("prompt") or ""),
            revised_prompt=_text(revised_prompt),
            model=_text(fields.get("model")),
            size=_text(fields.get("size")),
            quality=_text(fields.get("quality")),
            cost=share,
            time=when,
            request_id=request_id,
            state=state,
            source=source,
            label=label,
            image=image,
            problem=problem,
        )

    if state != "saved" or not paths:
        problem = error or ("not finished yet (sent, no answer recorded)" if state != "saved" else None)
        yield card(None, problem or "no file was recorded", None, cost)
        return
    for index, recorded in enumerate(paths):
        located = locate(str(recorded), root) if isinstance(recorded, str) else Located(None, "no file")
        yield card(
            located.path,
            located.problem,
            revised[index] if index < len(revised) else None,
            _share(cost, len(paths)),
        )


def _read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection: a gallery never changes a journal, and works while a run writes to it."""
    uri = "file:" + urllib.parse.quote(str(path)) + "?mode=ro"
    db = sqlite3.connect(uri, uri=True, timeout=10)
    db.row_factory = sqlite3.Row
    return db


def _tables(db: sqlite3.Connection) -> set[str]:
    return {str(row[0]) for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def cards_from_journal(folder: Path) -> list[Card]:
    """The cards of a run's output folder, from its journal: the live run's lines in input order, then the
    Batch API job's in the order they were submitted.

    Raises:
        FileNotFoundError: The folder has no journal (it is no run's output folder).
        sqlite3.DatabaseError: The journal is not a database.
    """  # noqa: D205
    root = folder.resolve()
    journal = root / JOURNAL_NAME
    if not journal.is_file():
        raise FileNotFoundError(f"{folder} has no journal ({JOURNAL_NAME}): it is not the --out of a run")
    with contextlib.closing(_read_only(journal)) as db:
        tables = _tables(db)
        cards: list[Card] = []
        if "lines" in tables:
            cards += _live_cards(db.execute("SELECT * FROM lines ORDER BY line, created"), root)
        if "batchapi_lines" in tables:
            joined = "batchapi_batches" in tables
            query = (
                "SELECT l.*, b.updated_at AS part_updated FROM batchapi_lines l "
                "LEFT JOIN batchapi_batches b ON b.part = l.part ORDER BY l.rowid"
                if joined
                else "SELECT * FROM batchapi_lines ORDER BY rowid"
            )
            cards += _batch_api_cards(db.execute(query), root)
    return cards


def _column(row: sqlite3.Row, name: str) -> object:
    """A column's value, or None for a column this journal does not have (``cost`` before the pricing)."""
    return row[name] if name in row.keys() else None  # noqa: SIM118 - a Row is no dict: keys() is its API


def _live_cards(rows: Iterable[sqlite3.Row], root: Path) -> Iterator[Card]:
    for row in rows:
        state = str(_column(row, "state") or "")
        line_id = _text(_column(row, "line_id"))
        number = _column(row, "line")
        yield from _cards(
            _json(_column(row, "fields"), dict) or {},
            state=state if state in ("saved", "failed") else "pending",
            paths=_json(_column(row, "paths"), list) or [],
            revised=_json(_column(row, "revised_prompts"), list) or [],
            error=_text(_column(row, "error")),
            cost=parse_cost(_column(row, "cost")),
            when=_number(_column(row, "updated")),
            request_id=_text(_column(row, "request_id")),
            source="batch",
            label=line_id or f"line {number}",
            root=root,
        )


def _batch_api_cards(rows: Iterable[sqlite3.Row], root: Path) -> Iterator[Card]:
    for row in rows:
        state = str(_column(row, "state") or "")
        code, message = _text(_column(row, "error_code")), _text(_column(row, "error_message"))
        error = f"{code}: {message}" if code and message else code or message
        yield from _cards(
            _json(_column(row, "body"), dict) or {},
            state={"done": "saved", "failed": "failed"}.get(state, "pending"),
            paths=_json(_column(row, "files"), list) or [],
            revised=[],
            error=error,
            cost=parse_cost(_column(row, "cost")),
            when=_number(_column(row, "part_updated")),
            request_id=_text(_column(row, "request_id")),
            source="batch-api",
            label=str(_column(row, "custom_id") or ""),
            root=root,
        )


def history_costs(database: Path) -> dict[int, Cost]:
    """The cost of each history row that has one, by its id (empty while the history has no ``cost``)."""
    with contextlib.closing(_read_only(database)) as db:
        columns = {str(row[1]) for row in db.execute("PRAGMA table_info(generations)")}
        if "cost" not in columns:
            return {}
        costs = {}
        for number, text in db.execute("SELECT id, cost FROM generations WHERE cost IS NOT NULL"):
            cost = parse_cost(text)
            if cost is not None:
                costs[int(number)] = cost
        return costs


def cards_from_history(entries: Iterable[HistoryEntry], costs: Mapping[int, Cost]) -> list[Card]:
    """The cards of recorded generations (in the order given: the history's is newest first)."""
    cards: list[Card] = []
    for entry in entries:
        fields = dict(entry.fields)
        fields.setdefault("prompt", entry.prompt)
        fields.setdefault("model", entry.model)
        fields.setdefault("size", entry.size)
        cards += _cards(
            fields,
            state="saved",
            paths=entry.paths,
            revised=entry.revised_prompts,
            error=None,
            cost=costs.get(entry.id),
            when=entry.time,
            request_id=entry.request_id,
            source=entry.kind,
            label=f"#{entry.id}",
            root=None,
        )
    return cards
