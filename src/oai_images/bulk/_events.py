"""What a bulk run tells its caller as it goes (typed events), and what it did in the end (the summary).

The engine emits the events; the command line renders them (a progress bar, or one line per image).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._input import BulkRequest

if TYPE_CHECKING:
    from ..pricing import Cost

__all__ = [
    "BulkEvent",
    "BulkInterrupted",
    "BulkProgress",
    "BulkSummary",
    "LineFailed",
    "LineRetrying",
    "LineSaved",
    "LineSkipped",
    "RunStarted",
    "RunStopping",
]


@dataclass(frozen=True)
class BulkProgress:
    """Where a run stands.

    Attributes:
        total: Lines in the input.
        done: Lines whose images this run saved.
        skipped: Lines not sent: saved by an earlier run (or failed then, without ``retry_failed``).
        failed: Lines that failed for good in this run.
        in_flight: Requests sent and not yet answered.
        retries: Requests sent again (after a 429, a 5xx or a connection error).
        rate_limited: 429 answers received.
        concurrency: How many requests the pacing allows in flight now.
        tokens: Tokens used so far, as the API reported them.
        elapsed: Seconds since the run started.
        spent: USD spent on the lines so far (their known costs), earlier runs' included.
    """

    total: int
    done: int
    skipped: int
    failed: int
    in_flight: int
    retries: int
    rate_limited: int
    concurrency: int
    tokens: int
    elapsed: float
    spent: float = 0.0

    @property
    def remaining(self) -> int:
        """Lines neither done, skipped nor failed."""
        return self.total - self.done - self.skipped - self.failed

    @property
    def images_per_minute(self) -> float:
        """Lines saved per minute in this run."""
        return self.done * 60 / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds until every line is done at the current pace, or None before the first is."""
        if not self.done or self.elapsed <= 0:
            return None
        return self.remaining * self.elapsed / self.done


@dataclass(frozen=True)
class RunStarted:
    """The run read its journal; ``pending`` lines will be sent."""

    progress: BulkProgress
    pending: int
    journal: Path


@dataclass(frozen=True)
class LineSkipped:
    """A line an earlier run finished: ``state`` ``saved`` (see ``paths``) or ``failed`` (see ``error``)."""

    request: BulkRequest
    state: str
    paths: tuple[Path, ...]
    error: str | None
    progress: BulkProgress


@dataclass(frozen=True)
class LineSaved:
    """A line's images are saved (``rescued``: in a rescue folder, as its folder could not take them), and
    what they cost (``cost``)."""  # noqa: D205, D209

    request: BulkRequest
    paths: tuple[Path, ...]
    request_id: str | None
    revised_prompts: tuple[str | None, ...]
    usage: dict[str, Any] | None
    progress: BulkProgress
    rescued: bool = False
    cost: Cost | None = None


@dataclass(frozen=True)
class LineRetrying:
    """A line's request will be sent again after ``delay`` seconds, for ``reason``."""

    request: BulkRequest
    reason: str
    delay: float
    progress: BulkProgress


@dataclass(frozen=True)
class LineFailed:
    """A line failed for good in this run (the journal keeps the reason)."""

    request: BulkRequest
    error: str
    progress: BulkProgress


@dataclass(frozen=True)
class RunStopping:
    """The run was told to stop: nothing more is sent; the requests in flight get ``grace`` seconds."""

    progress: BulkProgress
    grace: float


BulkEvent = RunStarted | LineSkipped | LineSaved | LineRetrying | LineFailed | RunStopping


@dataclass(frozen=True)
class BulkSummary:
    """What a bulk run did.

    Attributes:
        total: Lines in the input.
        done: Lines saved by this run.
        skipped: Lines an earlier run had finished (saved, or given up on), not sent again.
        failed: The lines that failed in this run, with the reason, in input order.
        retries: Requests sent again.
        rate_limited: 429 answers received.
        usage: The token usage of this run, added up.
        elapsed: Seconds the run took.
        interrupted: The run was stopped before every line was sent; running it again resumes it.
        journal: The journal's path.
        failed_before: Of the skipped lines, those an earlier run gave up on, with its reason: the folder
            still lacks their images (``retry_failed`` sends them again).
        unsaved: Paid images that no folder would take (a full disk): the line, the file name it was to
            have, and its bytes, to be written elsewhere by the caller. The run stopped sending then.
        spent: USD this run spent (the known costs of its answers; an unknown one counts at its estimate).
        spent_before: USD earlier runs spent on these lines, from the journal.
        unknown_costs: Answers of this run whose cost is unknown (no price for the model).
        max_cost: The budget, if one was given.
        budget_stopped: The run stopped sending because the next line could pass ``max_cost``; running
            again with a higher budget resumes it.
    """

    total: int
    done: int
    skipped: int
    failed: list[tuple[BulkRequest, str]]
    retries: int
    rate_limited: int
    usage: dict[str, Any]
    elapsed: float
    interrupted: bool
    journal: Path
    paths: list[Path] = field(default_factory=list, repr=False)
    failed_before: list[tuple[BulkRequest, str]] = field(default_factory=list)
    unsaved: list[tuple[BulkRequest, str, bytes]] = field(default_factory=list, repr=False)
    spent: float = 0.0
    spent_before: float = 0.0
    unknown_costs: int = 0
    max_cost: float | None = None
    budget_stopped: bool = False

    @property
    def total_spent(self) -> float:
        """USD spent on these lines, by this run and the earlier ones."""
        return round(self.spent + self.spent_before, 9)

    @property
    def unfinished(self) -> int:
        """Lines neither saved, skipped nor failed: an interrupted run leaves these to the next one."""
        return self.total - self.done - self.skipped - len(self.failed)


class BulkInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a bulk run (after its in-flight requests landed); ``summary`` says what it did."""

    def __init__(self, summary: BulkSummary) -> None:
        super().__init__("bulk run interrupted")
        self.summary = summary
