"""Very large jobs through OpenAI's Batch API: half the price, results within 24 hours.

A job is a set of image generation and edit requests, each a ``(custom_id, body)`` pair, kept in a SQLite
journal (a body with ``images`` is a JSON edit, its images by URL or file id):

- `BatchJob.submit` writes them as JSON Lines (several input files past 50,000 lines or 200 MB, and one set
  per endpoint), uploads each and creates its batch (``/v1/images/generations`` or ``/v1/images/edits``,
  window ``24h``);
- `BatchJob.wait` polls until every batch has ended, reporting ``request_counts``;
- `BatchJob.collect` streams the output and error files, saves every image as
  ``<custom_id>-<prompt slug>[-<k>].<ext>`` (as a live run names it) and records each line's outcome;
  `BatchJob.cancel` and `BatchJob.retry_failed` do what they say.

Every call may be repeated with the same journal (from another process, after a crash): nothing is
submitted twice, and nothing already saved is downloaded again. `AsyncBatchJob` is the awaited twin.

    from oai_images import ImagesClient
    from oai_images.batchapi import BatchJob

    with ImagesClient() as client, BatchJob(client, "out/") as job:
        job.submit((f"fox-{i}", {"prompt": f"a fox, take {i}", "model": "gpt-image-1"}) for i in range(1000))
        job.wait(on_progress=lambda batches: print(sum(b.completed for b in batches)))
        print(job.collect())
"""

from __future__ import annotations

from ._job import (
    DEFAULT_WAIT_SECONDS,
    JOURNAL_NAME,
    AsyncBatchJob,
    BatchJob,
    CollectReport,
    ProgressCallback,
    image_stem,
)
from ._journal import ENDED_STATUSES, BatchInfo, LineOutcome
from ._jsonl import MAX_BYTES, MAX_LINES

__all__ = [
    "DEFAULT_WAIT_SECONDS",
    "ENDED_STATUSES",
    "JOURNAL_NAME",
    "MAX_BYTES",
    "MAX_LINES",
    "AsyncBatchJob",
    "BatchInfo",
    "BatchJob",
    "CollectReport",
    "LineOutcome",
    "ProgressCallback",
    "image_stem",
]
