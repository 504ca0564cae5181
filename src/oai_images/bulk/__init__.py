"""Bulk generation: thousands of prompts at the server's rate limit, resumable after any crash.

`ImagesClient.generate_many` and `AsyncImagesClient.generate_many` (and ``oai-images batch``) read the
requests (`_input`), skip what the journal in the output folder says is done (`_journal`), send the rest
paced by the server's rate-limit headers (`_pacing`, pure), save each image at once and report progress as
typed events (`_engine`, `_events`).
"""

from __future__ import annotations

from ._engine import check_run, load, run_bulk, run_bulk_sync
from ._events import (
    BulkEvent,
    BulkInterrupted,
    BulkProgress,
    BulkSummary,
    LineFailed,
    LineRetrying,
    LineSaved,
    LineSkipped,
    RunStarted,
    RunStopping,
)
from ._input import BulkRequest, InvalidLineError, read_requests
from ._journal import JOURNAL_NAME, Journal, JournalError, OutputFolderGone
from ._pacing import Pacer

__all__ = [
    "JOURNAL_NAME",
    "BulkEvent",
    "BulkInterrupted",
    "BulkProgress",
    "BulkRequest",
    "BulkSummary",
    "InvalidLineError",
    "Journal",
    "JournalError",
    "LineFailed",
    "LineRetrying",
    "LineSaved",
    "LineSkipped",
    "OutputFolderGone",
    "Pacer",
    "RunStarted",
    "RunStopping",
    "check_run",
    "load",
    "read_requests",
    "run_bulk",
    "run_bulk_sync",
]
