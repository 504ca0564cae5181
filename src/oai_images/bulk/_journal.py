"""The journal of a bulk run: one SQLite row per line, so any run can be resumed without paying twice.

It lives beside the images (``<out>/.oai-images.sqlite``): the output folder describes itself. A line's row
is written (and committed) before its request is sent, and again when its images are saved; WAL mode makes
each commit durable the moment it returns, whatever happens to the process next. So after a crash, a
``kill -9`` or Ctrl-C, a line is either ``saved`` (its files are whole: they are written atomically before
the row says so) or it is re-sent by the next run, and only the requests that were in flight are re-sent.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._errors import OAIImagesError
from .._files import LOCK_NAME, lock_folder
from ..pricing import Cost

__all__ = [
    "JOURNAL_NAME",
    "LOCK_NAME",
    "Journal",
    "JournalEntry",
    "JournalError",
    "OutputFolderGone",
    "add_missing_columns",
    "open_journal",
    "recorded_cost",
]

JOURNAL_NAME = ".oai-images.sqlite"
#: A temporary file of an atomic write older than this was left by a killed process (a write takes far less).
_STALE_PART_SECONDS = 60.0
_SCHEMA = """
CREATE TABLE IF NOT EXISTS lines (
    key TEXT PRIMARY KEY,          -- sha256 of the canonical JSON of the fields sent (and the copy number)
    line INTEGER NOT NULL,         -- the line number in the input, when last run
    line_id TEXT,                  -- the line's own id, if it has one
    fields TEXT NOT NULL,          -- the fields sent, as canonical JSON
    state TEXT NOT NULL,           -- sent | saved | failed
    attempts INTEGER NOT NULL DEFAULT 0,
    request_id TEXT,
    revised_prompts TEXT,          -- JSON list, one per image
    usage TEXT,                    -- JSON object, as the API reported it
    paths TEXT,                    -- JSON list of the saved files
    error TEXT,                    -- why the line failed
    cost TEXT,                     -- JSON object: oai_images.pricing.Cost.to_dict() of the saved answer
    created REAL NOT NULL,
    updated REAL NOT NULL
)
"""


class JournalError(OAIImagesError):
    """An output folder's journal cannot be used: corrupt, unreadable, read-only, or on a full disk.

    The message names the file and what to do. Nothing was sent: a run checks its journal first.
    """


def canonical_json(fields: Mapping[str, Any]) -> str:
    """The canonical JSON of a request's fields: sorted keys, no spaces, UTF-8 as is (a line's identity,
    whichever way it is sent)."""  # noqa: D205, D209
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def saved_live(db: sqlite3.Connection) -> set[str]:
    """The canonical fields of the lines a live run saved (its table is ``lines``), from any connection to
    the folder's journal."""  # noqa: D205, D209
    try:
        return {str(fields) for (fields,) in db.execute("SELECT fields FROM lines WHERE state = 'saved'")}
    except sqlite3.OperationalError:  # no live run has used this folder
        return set()


def add_missing_columns(db: sqlite3.Connection, table: str, columns: Mapping[str, str]) -> None:
    """Add the ``columns`` (name: SQL type) a table of an older journal lacks (``ALTER TABLE ADD COLUMN``).

    Raises:
        JournalError: The journal cannot be changed (read-only, a full disk).
    """
    present = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
    for name, kind in columns.items():
        if name not in present:
            try:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
            except sqlite3.Error as exc:
                raise JournalError(f"the journal cannot be brought up to date ({exc})") from None


def recorded_cost(text: object) -> Cost | None:
    """A cost as a journal column holds it (JSON of `Cost.to_dict`), or None."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return Cost.from_dict(json.loads(text))
    except (ValueError, TypeError):
        return None


def open_journal(path: Path, schema: str, *, timeout: float = 30.0) -> sqlite3.Connection:
    """Open (or create) a journal in autocommit mode, WAL, with ``schema`` applied.

    Raises:
        JournalError: The file is not a database, cannot be opened or written (the message says how to
            recover: move the file away, and the next run starts a new journal, re-sending what it lacks).
    """
    try:
        db = sqlite3.connect(path, isolation_level=None, timeout=timeout)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            db.executescript(schema)
        except BaseException:
            db.close()
            raise
    except (sqlite3.Error, OSError) as exc:
        message = (
            f"the journal {path} cannot be used ({exc}); if it is damaged, move it away and run again: a new "
            "journal starts, and the lines whose images are not in the folder are sent again"
        )
        raise JournalError(message) from None
    return db


class OutputFolderGone(JournalError):
    """The output folder was deleted or replaced during a run: the run stopped sending.

    Attributes:
        summary: What the run did (``BulkSummary``); images that landed after the folder went are in the
            rescue folders its ``paths`` name.
    """

    def __init__(self, message: str, summary: Any) -> None:
        super().__init__(message)
        self.summary = summary


def _identity(stat: os.stat_result) -> tuple[int, int]:
    return stat.st_dev, stat.st_ino


def _sweep(folder: Path) -> None:
    """Remove the temporary files of atomic writes that a killed run left behind (they are hidden)."""
    now = time.time()
    for part in folder.glob(".oai-images-*.part"):
        with contextlib.suppress(OSError):
            if now - part.stat().st_mtime > _STALE_PART_SECONDS:
                part.unlink()


@dataclass(frozen=True)
class JournalEntry:
    """What the journal knows of one line."""

    key: str
    state: str
    attempts: int
    paths: tuple[str, ...]
    error: str | None


class Journal:
    """The journal of the bulk runs into one output folder.

    Args:
        folder: The output folder (created if missing); the journal is its ``.oai-images.sqlite``.
    """

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self._lock = lock_folder(folder)
        _sweep(folder)
        self.path = folder / JOURNAL_NAME
        self.folder = folder
        # Autocommit: every statement is its own transaction, committed (and, in WAL mode, safe from a
        # crash of this process) when it returns.
        try:
            self._db = open_journal(self.path, _SCHEMA)
            add_missing_columns(self._db, "lines", {"cost": "TEXT"})  # journals written before costs
        except BaseException:
            self._lock.close()
            raise
        self._identity = (_identity(os.stat(folder)), _identity(os.stat(self.path)))

    def done_through_batch_api(self) -> dict[str, tuple[str, ...]]:
        """The lines a Batch API job saved into this folder, by the canonical JSON of their body, with their
        files: a line done either way is done (the job's table is ``batchapi_lines``, in the same file)."""  # noqa: D205, D209
        try:
            rows = self._db.execute("SELECT body, files FROM batchapi_lines WHERE state = 'done'").fetchall()
        except sqlite3.OperationalError:  # no Batch API job has used this folder
            return {}
        done: dict[str, tuple[str, ...]] = {}
        for body, files in rows:
            try:
                done[canonical_json(json.loads(body))] = tuple(json.loads(files or "[]"))
            except (ValueError, TypeError):
                continue
        return done

    def intact(self) -> bool:
        """Whether the folder and the journal file are still the ones this journal opened.

        A folder deleted (or replaced) during a run would otherwise be recreated by the next image
        written, without the journal that knows what it holds: a rerun would pay for every line again.
        """
        try:
            folder, database = os.stat(self.folder), os.stat(self.path)
        except OSError:
            return False
        return _identity(folder) == self._identity[0] and _identity(database) == self._identity[1]

    def close(self) -> None:
        """Close the database and let another run use the folder."""
        self._db.close()
        self._lock.close()  # closing the file releases its lock

    def entries(self, keys: Sequence[str]) -> dict[str, JournalEntry]:
        """The entries of these lines that the journal holds, by key."""
        rows = self._rows_of("SELECT key, state, attempts, paths, error FROM lines WHERE key IN ({})", keys)
        return {
            key: JournalEntry(key, state, attempts, tuple(json.loads(paths or "[]")), error)
            for key, state, attempts, paths, error in rows
        }

    def sending(self, key: str, *, line: int, line_id: str | None, fields: str) -> None:
        """Record, before it goes out, that a line's request is being sent."""
        now = time.time()
        self._db.execute(
            "INSERT INTO lines (key, line, line_id, fields, state, attempts, created, updated) "
            "VALUES (?, ?, ?, ?, 'sent', 1, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET state='sent', attempts=attempts+1, line=excluded.line, "
            "line_id=excluded.line_id, error=NULL, updated=excluded.updated",
            (key, line, line_id, fields, now, now),
        )

    def saved(
        self,
        key: str,
        *,
        paths: Sequence[Path],
        request_id: str | None,
        revised_prompts: Sequence[str | None],
        usage: Mapping[str, Any] | None,
        cost: Cost | None = None,
    ) -> None:
        """Record that a line's images are all saved (with what they cost)."""
        self._db.execute(
            "UPDATE lines SET state='saved', paths=?, request_id=?, revised_prompts=?, usage=?, cost=?, "
            "error=NULL, updated=? WHERE key=?",
            (
                json.dumps([str(path.resolve()) for path in paths]),
                request_id,
                json.dumps(list(revised_prompts)),
                None if usage is None else json.dumps(usage),
                None if cost is None else json.dumps(cost.to_dict()),
                time.time(),
                key,
            ),
        )

    def costs(self, keys: Sequence[str]) -> dict[str, Cost | None]:
        """The recorded cost of each saved line among ``keys`` (None for a line saved without one)."""
        rows = self._rows_of("SELECT key, cost FROM lines WHERE state = 'saved' AND key IN ({})", keys)
        return {key: recorded_cost(cost) for key, cost in rows}

    def _rows_of(self, query: str, keys: Sequence[str]) -> Iterator[Any]:
        """The rows of ``query`` for these keys (its ``{}`` takes their marks), asked 500 keys at a time:
        SQLite caps the parameters of one statement."""  # noqa: D205, D209
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            yield from self._db.execute(query.format(",".join("?" * len(chunk))), chunk)

    def owned_by_other(self, path: Path, key: str) -> bool:
        """Whether a line other than ``key`` has ``path`` among its saved images."""
        needle = json.dumps(str(path.resolve()))
        row = self._db.execute(
            "SELECT 1 FROM lines WHERE state='saved' AND key != ? AND instr(paths, ?) > 0 LIMIT 1",
            (key, needle),
        ).fetchone()
        return row is not None

    def failed(self, key: str, error: str) -> None:
        """Record that a line failed for good (the server refused it, or the retries ran out)."""
        self._db.execute(
            "UPDATE lines SET state='failed', error=?, updated=? WHERE key=?", (error, time.time(), key)
        )
