"""The job's memory: which lines went into which batch, and what became of each, in SQLite.

Two tables, prefixed ``batchapi_`` so that they can share one journal file with other tables (the bulk
engine's ``<out>/.oai-images.sqlite``):

- ``batchapi_batches``: one row per part of the job, i.e. per input file and batch. A part is written
  before anything is sent (``status`` 'pending', no ids), gains ``input_file_id`` when uploaded and
  ``batch_id`` when created, then follows the batch's status, counts and result files.
- ``batchapi_lines``: one row per request line: its ``custom_id``, its part, its JSON body (so that a part
  can be written again, and a failed line retried, without the original input), and its outcome: 'submitted',
  'done' (with the saved files) or 'failed' (with the status code, error code and message).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..bulk._journal import add_missing_columns, open_journal, recorded_cost, saved_live
from ..pricing import Cost

__all__ = ["ENDED_STATUSES", "BatchInfo", "Journal", "LineOutcome"]

#: Batch statuses that do not change any more.
ENDED_STATUSES = frozenset({"completed", "failed", "expired", "cancelled"})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS batchapi_batches (
    part INTEGER PRIMARY KEY AUTOINCREMENT,
    status TEXT NOT NULL DEFAULT 'pending',
    input_file_id TEXT,
    batch_id TEXT UNIQUE,
    lines INTEGER NOT NULL DEFAULT 0,
    total INTEGER NOT NULL DEFAULT 0,
    completed INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    output_file_id TEXT,
    error_file_id TEXT,
    output_collected INTEGER NOT NULL DEFAULT 0,
    error_collected INTEGER NOT NULL DEFAULT 0,
    output_offset INTEGER NOT NULL DEFAULT 0,
    error_offset INTEGER NOT NULL DEFAULT 0,
    errors TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS batchapi_lines (
    custom_id TEXT PRIMARY KEY,
    part INTEGER NOT NULL REFERENCES batchapi_batches(part),
    state TEXT NOT NULL DEFAULT 'submitted',
    body TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 1,
    files TEXT,
    status_code INTEGER,
    error_code TEXT,
    error_message TEXT,
    request_id TEXT,
    usage TEXT,
    cost TEXT                      -- JSON object: oai_images.pricing.Cost.to_dict() of the line's answer
);
CREATE INDEX IF NOT EXISTS batchapi_lines_by_part ON batchapi_lines (part, state);
"""


@dataclasses.dataclass(frozen=True, slots=True)
class BatchInfo:
    """One batch of a job, as the journal last saw it.

    Attributes:
        part: The part's number in the job (1, 2, … in submission order).
        batch_id: The batch's id, or None while the part is not yet created on the server.
        status: The batch's status (``validating``, ``in_progress``, ``finalizing``, ``completed``,
            ``failed``, ``expired``, ``cancelling``, ``cancelled``), or ``pending`` before it exists.
        lines: The request lines of the part.
        total: ``request_counts.total``: the requests the server counted.
        completed: ``request_counts.completed``.
        failed: ``request_counts.failed``.
        output_file_id: The file of the successful lines, once the batch has ended.
        error_file_id: The file of the failed lines, once the batch has ended.
        collected: Every result of the batch is saved and recorded (it will not be downloaded again).
        errors: Why the batch failed, for a batch whose input file was refused.
    """

    part: int
    batch_id: str | None
    status: str
    lines: int
    total: int
    completed: int
    failed: int
    output_file_id: str | None
    error_file_id: str | None
    collected: bool
    errors: tuple[str, ...] = ()

    @property
    def ended(self) -> bool:
        """The batch will not change any more (completed, failed, expired or cancelled)."""
        return self.status in ENDED_STATUSES


@dataclasses.dataclass(frozen=True, slots=True)
class LineOutcome:
    """What became of one request line of a job.

    Attributes:
        custom_id: The line's custom id.
        state: ``submitted`` (no result yet), ``done`` (images saved) or ``failed``.
        files: The saved images, for a done line.
        status_code: The status of the line's answer, when it had one.
        error_code: The error's code, for a failed line (``batch_expired``, ``batch_cancelled``,
            ``batch_failed`` for a line whose batch ended before it ran).
        error_message: The error's message, for a failed line.
        attempts: How many times the line was submitted (more than 1 after `retry_failed`).
        cost: What a done line cost (the Batch API discount applied), from its answer's usage.
    """

    custom_id: str
    state: str
    files: tuple[Path, ...]
    status_code: int | None
    error_code: str | None
    error_message: str | None
    attempts: int
    cost: Cost | None = None


class Journal:
    """The ``batchapi_`` tables of one SQLite file; one job per file.

    Args:
        path: The journal file; created, with its folder, when missing.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: transactions are explicit (`transaction`), so a submit that fails
        # validation leaves no trace and results are committed in groups.
        self._db = open_journal(self.path, _SCHEMA, timeout=5.0)
        self._in_transaction = False
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(batchapi_batches)")}
        for column in ("output_offset", "error_offset"):  # journals written before collects resumed
            if column not in columns:
                self._db.execute(
                    f"ALTER TABLE batchapi_batches ADD COLUMN {column} INTEGER NOT NULL DEFAULT 0"
                )
        # Journals written before lines kept their answer's request id, usage and cost.
        add_missing_columns(
            self._db, "batchapi_lines", {"request_id": "TEXT", "usage": "TEXT", "cost": "TEXT"}
        )

    def close(self) -> None:
        """Close the database connection."""
        self._db.close()

    # --- transactions --------------------------------------------------------------------------------

    def begin(self) -> None:
        """Start a transaction (nothing is visible to another reader until `commit`)."""
        if not self._in_transaction:
            self._db.execute("BEGIN IMMEDIATE")
            self._in_transaction = True

    def commit(self) -> None:
        """Commit the open transaction, if any."""
        if self._in_transaction:
            self._db.execute("COMMIT")
            self._in_transaction = False

    def rollback(self) -> None:
        """Forget the open transaction, if any."""
        if self._in_transaction:
            self._db.execute("ROLLBACK")
            self._in_transaction = False

    # --- parts and lines ------------------------------------------------------------------------------

    def new_part(self) -> int:
        """A new, empty part; its number."""
        now = time.time()
        cursor = self._db.execute(
            "INSERT INTO batchapi_batches (created_at, updated_at) VALUES (?, ?)", (now, now)
        )
        assert cursor.lastrowid is not None  # an INSERT into a rowid table has one
        return cursor.lastrowid

    def add_lines(self, part: int, lines: Iterable[tuple[str, str]]) -> None:
        """Record request lines (custom id, JSON body) as submitted in a part."""
        self._db.executemany(
            "INSERT INTO batchapi_lines (custom_id, part, body) VALUES (?, ?, ?)",
            ((custom_id, part, body) for custom_id, body in lines),
        )
        self._recount(part)

    def move_lines(self, part: int, custom_ids: Iterable[str]) -> None:
        """Give lines to another part (a retry), as submitted again."""
        self._db.executemany(
            "UPDATE batchapi_lines SET part = ?, state = 'submitted', attempts = attempts + 1, files = NULL, "
            "status_code = NULL, error_code = NULL, error_message = NULL WHERE custom_id = ?",
            ((part, custom_id) for custom_id in custom_ids),
        )
        self._recount(part)

    def _recount(self, part: int) -> None:
        self._db.execute(
            "UPDATE batchapi_batches SET lines = (SELECT COUNT(*) FROM batchapi_lines WHERE part = ?) "
            "WHERE part = ?",
            (part, part),
        )

    def known(self, custom_id: str) -> bool:
        """Whether a line with this custom id is already in the job."""
        row = self._db.execute("SELECT 1 FROM batchapi_lines WHERE custom_id = ?", (custom_id,)).fetchone()
        return row is not None

    def lines(self, part: int) -> Iterator[tuple[str, str]]:
        """The (custom id, JSON body) of a part's lines, in the order they were added."""
        cursor = self._db.execute(
            "SELECT custom_id, body FROM batchapi_lines WHERE part = ? ORDER BY rowid", (part,)
        )
        yield from cursor

    def failed_lines(self) -> list[str]:
        """The custom ids of every failed line, in the order they were added."""
        cursor = self._db.execute(
            "SELECT custom_id FROM batchapi_lines WHERE state = 'failed' ORDER BY rowid"
        )
        return [row[0] for row in cursor]

    def line_part(self, custom_id: str) -> tuple[int, str] | None:
        """A line's part and state, or None for a custom id that is not in the job."""
        row = self._db.execute(
            "SELECT part, state FROM batchapi_lines WHERE custom_id = ?", (custom_id,)
        ).fetchone()
        return (int(row[0]), str(row[1])) if row is not None else None

    def line(self, custom_id: str) -> dict[str, object] | None:
        """Everything recorded of a line, or None."""
        cursor = self._db.execute("SELECT * FROM batchapi_lines WHERE custom_id = ?", (custom_id,))
        row = cursor.fetchone()
        if row is None:
            return None
        record = dict(zip([column[0] for column in cursor.description], row, strict=True))
        record["files"] = json.loads(str(record["files"])) if record["files"] else []
        record["usage"] = json.loads(str(record["usage"])) if record.get("usage") else None
        record["cost"] = recorded_cost(record.get("cost"))
        return record

    def record_done(
        self,
        custom_id: str,
        files: Iterable[Path],
        *,
        request_id: str | None = None,
        usage: object = None,
        cost: Cost | None = None,
    ) -> None:
        """A line's images are saved (with its answer's request id, usage and cost, when it had them)."""
        self._db.execute(
            "UPDATE batchapi_lines SET state = 'done', files = ?, status_code = 200, error_code = NULL, "
            "error_message = NULL, request_id = ?, usage = ?, cost = ? WHERE custom_id = ?",
            (
                json.dumps([str(path) for path in files]),
                request_id,
                json.dumps(usage) if isinstance(usage, dict) else None,
                None if cost is None else json.dumps(cost.to_dict()),
                custom_id,
            ),
        )

    def record_failed(self, custom_id: str, status_code: int | None, code: str | None, message: str) -> None:
        """A line failed, with the status, code and message the server gave."""
        self._db.execute(
            "UPDATE batchapi_lines SET state = 'failed', status_code = ?, error_code = ?, error_message = ? "
            "WHERE custom_id = ? AND state != 'done'",
            (status_code, code, message, custom_id),
        )

    def fail_unanswered(self, part: int, code: str, message: str) -> int:
        """Every line of an ended batch that has no outcome failed (it never ran); how many."""
        cursor = self._db.execute(
            "UPDATE batchapi_lines SET state = 'failed', error_code = ?, error_message = ? "
            "WHERE part = ? AND state = 'submitted'",
            (code, message, part),
        )
        return cursor.rowcount

    def outcomes(self, state: str | None = None) -> Iterator[LineOutcome]:
        """Every line (or those in ``state``), in the order they were added."""
        query = (
            "SELECT custom_id, state, files, status_code, error_code, error_message, attempts, cost "
            "FROM batchapi_lines"
        )
        cursor = (
            self._db.execute(query + " WHERE state = ? ORDER BY rowid", (state,))
            if state is not None
            else self._db.execute(query + " ORDER BY rowid")
        )
        for custom_id, line_state, files, status_code, code, message, attempts, cost in cursor:
            yield LineOutcome(
                custom_id=custom_id,
                state=line_state,
                files=tuple(Path(name) for name in json.loads(files)) if files else (),
                status_code=status_code,
                error_code=code,
                error_message=message,
                attempts=attempts,
                cost=recorded_cost(cost),
            )

    def bodies(self, state: str) -> Iterator[tuple[str, str, Cost | None]]:
        """The (custom id, JSON body, recorded cost) of every line in ``state``, in the order added."""
        cursor = self._db.execute(
            "SELECT custom_id, body, cost FROM batchapi_lines WHERE state = ? ORDER BY rowid", (state,)
        )
        for custom_id, body, cost in cursor:
            yield custom_id, body, recorded_cost(cost)

    def counts(self) -> dict[str, int]:
        """How many lines are submitted, done and failed."""
        counts = {"submitted": 0, "done": 0, "failed": 0}
        for state, count in self._db.execute("SELECT state, COUNT(*) FROM batchapi_lines GROUP BY state"):
            counts[str(state)] = int(count)
        return counts

    # --- batches --------------------------------------------------------------------------------------

    def saved_live(self) -> set[str]:
        """The canonical fields of the lines a live run saved into this folder (same journal file)."""
        return saved_live(self._db)

    def part_status(self, part: int) -> str | None:
        """A part's status as last recorded (``pending``, ``creating``, or the batch's)."""
        row = self._db.execute("SELECT status FROM batchapi_batches WHERE part = ?", (part,)).fetchone()
        return None if row is None else str(row[0])

    def set_creating(self, part: int, creating: bool) -> None:
        """Record, before its request goes out, that a part's batch may be being created (or that it was
        not: the server refused the creation)."""  # noqa: D205, D209
        self._db.execute(
            "UPDATE batchapi_batches SET status = ?, updated_at = ? WHERE part = ? AND batch_id IS NULL",
            ("creating" if creating else "pending", time.time(), part),
        )

    def set_uploaded(self, part: int, input_file_id: str) -> None:
        """A part's input file is uploaded."""
        self._db.execute(
            "UPDATE batchapi_batches SET input_file_id = ?, updated_at = ? WHERE part = ?",
            (input_file_id, time.time(), part),
        )

    def update_batch(
        self,
        part: int,
        *,
        batch_id: str,
        status: str,
        total: int,
        completed: int,
        failed: int,
        output_file_id: str | None,
        error_file_id: str | None,
        errors: Iterable[str] = (),
    ) -> None:
        """What the server said of a part's batch."""
        self._db.execute(
            "UPDATE batchapi_batches SET batch_id = ?, status = ?, total = ?, completed = ?, failed = ?, "
            "output_file_id = ?, error_file_id = ?, errors = ?, updated_at = ? WHERE part = ?",
            (
                batch_id,
                status,
                total,
                completed,
                failed,
                output_file_id,
                error_file_id,
                json.dumps(list(errors)),
                time.time(),
                part,
            ),
        )

    def part_of_batch(self, batch_id: str) -> int | None:
        """The part a batch id is recorded for, if any."""
        row = self._db.execute("SELECT part FROM batchapi_batches WHERE batch_id = ?", (batch_id,)).fetchone()
        return None if row is None else int(row[0])

    def refuse_part(self, part: int, reason: str) -> None:
        """End a part that has no batch of its own as failed, with the reason (it is not submitted again)."""
        self._db.execute(
            "UPDATE batchapi_batches SET status = 'failed', errors = ?, updated_at = ? WHERE part = ?",
            (json.dumps([reason]), time.time(), part),
        )

    def offset(self, part: int, which: str) -> int:
        """How many bytes of a part's output or error file are read and recorded (where a collect resumes)."""
        column = {"output": "output_offset", "error": "error_offset"}[which]
        query = f"SELECT {column} FROM batchapi_batches WHERE part = ?"  # noqa: S608 - one of two fixed names
        row = self._db.execute(query, (part,)).fetchone()
        return int(row[0]) if row is not None else 0

    def set_offset(self, part: int, which: str, offset: int) -> None:
        """Where a part's output or error file is read to (in the transaction of the lines it holds)."""
        column = {"output": "output_offset", "error": "error_offset"}[which]
        query = f"UPDATE batchapi_batches SET {column} = ? WHERE part = ?"  # noqa: S608 - one of two fixed names
        self._db.execute(query, (offset, part))

    def set_collected(self, part: int, which: str) -> None:
        """A part's output or error file is read to its end (``which``: 'output' or 'error')."""
        column = {"output": "output_collected", "error": "error_collected"}[which]
        self._db.execute(f"UPDATE batchapi_batches SET {column} = 1 WHERE part = ?", (part,))  # noqa: S608 - the column is one of two fixed names

    def input_file(self, part: int) -> str | None:
        """The id of a part's uploaded input file, if it was uploaded."""
        row = self._db.execute(
            "SELECT input_file_id FROM batchapi_batches WHERE part = ?", (part,)
        ).fetchone()
        return str(row[0]) if row is not None and row[0] is not None else None

    def collected(self, part: int) -> tuple[bool, bool]:
        """Whether a part's output file and its error file are read to their end."""
        row = self._db.execute(
            "SELECT output_collected, error_collected FROM batchapi_batches WHERE part = ?", (part,)
        ).fetchone()
        return bool(row[0]), bool(row[1])

    def batches(self) -> list[BatchInfo]:
        """Every part of the job, in order."""
        cursor = self._db.execute(
            "SELECT part, batch_id, status, lines, total, completed, failed, output_file_id, error_file_id, "
            "output_collected, error_collected, errors FROM batchapi_batches WHERE lines > 0 ORDER BY part"
        )
        infos = []
        for row in cursor:
            ended = row[2] in ENDED_STATUSES
            infos.append(
                BatchInfo(
                    part=row[0],
                    batch_id=row[1],
                    status=row[2],
                    lines=row[3],
                    total=row[4],
                    completed=row[5],
                    failed=row[6],
                    output_file_id=row[7],
                    error_file_id=row[8],
                    collected=ended and bool(row[9]) and bool(row[10]),
                    errors=tuple(json.loads(row[11])) if row[11] else (),
                )
            )
        return infos
