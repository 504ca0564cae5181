"""BatchJob and AsyncBatchJob: a job of image generations run through the Batch API, kept in a journal.

Every request goes through the client's public request primitive (`ImagesClient.request` and
`ImagesClient.stream`: its route, auth, retries, deadline and caps), with the generated ``Operation``
records of the files and batches operations, so a job runs on Azure OpenAI as it does on the public API.
What is not I/O (the journal, the input files, reading result lines, naming and saving images) is shared
in ``_JobBase``.
"""

from __future__ import annotations

import binascii
import contextlib
import dataclasses
import hashlib
import itertools
import json
import math
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Protocol, Self, TypeVar

import httpx

from .._errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    InvalidParameterError,
    OAIImagesError,
)
from .._files import lock_folder, slug, write_image
from .._operations import operations
from .._retries import is_transient, retry_delay
from .._uploads import Upload
from .._wire import request_id
from ..bulk._journal import canonical_json
from ..pricing import Cost, check_budget, total
from ._journal import BatchInfo, Journal, LineOutcome
from ._jsonl import (
    MAX_BYTES,
    MAX_LINES,
    LineResult,
    LineSplitter,
    Part,
    PartWriter,
    TooLong,
    custom_id_in,
    parse_result_line,
    request_line,
)

if TYPE_CHECKING:
    from oai_images_api.api import Operation
    from oai_images_api.models import Batch, Image, ListBatchesResponse

    from .._client import AsyncImagesClient, ImagesClient

__all__ = ["AsyncBatchJob", "BatchJob", "CollectReport", "ProgressCallback"]

#: Called after every round of polling with the job's batches.
ProgressCallback = Callable[[list[BatchInfo]], None]
#: The name of the journal file in the output folder when none is given (the bulk engine's).
JOURNAL_NAME = ".oai-images.sqlite"
#: How long `wait` waits at most by default: the Batch API's completion window (24 h), and an hour more.
#: A batch that has not ended by then (an unknown status, one long past its expiry) will not end by waiting.
DEFAULT_WAIT_SECONDS = 25 * 3600.0
#: How many pages of 100 batches (newest first) a lost creation is looked for in.
_LIST_PAGES = 10
#: Results are committed to the journal in groups of this many lines (and at the end of each file).
_COMMIT_EVERY = 100
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def _answer_images(body: Mapping[str, Any] | None) -> list[Image] | None:
    """The images of a Batch API line's answer, or None when it holds none that can be read."""
    model = operations().create_image.response
    assert model is not None  # generations document a JSON answer
    if body is None:
        return None
    try:
        data = model.from_dict(body).data
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return list(data) if isinstance(data, list) else None


def image_stem(custom_id: str) -> str:
    """The file name stem of a line's images: the custom id when it is a safe file name, else a slug
    of it and a short hash (two ids never share a stem)."""  # noqa: D205, D209 - one sentence over two lines
    if _SAFE_NAME.fullmatch(custom_id):
        return custom_id
    digest = hashlib.sha256(custom_id.encode()).hexdigest()[:10]
    return f"{slug(custom_id)}-{digest}"


@dataclasses.dataclass
class CollectReport:
    """What one `collect` did.

    Attributes:
        images_saved: Image files written.
        lines_done: Lines whose images were saved by this collect.
        lines_failed: Lines recorded as failed by this collect (with the server's error).
        lines_skipped: Lines already saved by an earlier collect, not written again.
        batches_collected: Batches whose results are now all saved (not downloaded again).
        batches_running: Batches not ended yet, left for a later collect.
        lines_unreadable: Result lines that named no custom id this job knows (not JSON, say): skipped.
    """

    images_saved: int = 0
    lines_done: int = 0
    lines_failed: int = 0
    lines_skipped: int = 0
    batches_collected: int = 0
    batches_running: int = 0
    lines_unreadable: int = 0


_ClientT = TypeVar("_ClientT", "ImagesClient", "AsyncImagesClient")


class _Model(Protocol):
    """A generated model: read from a JSON object."""

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self: ...


#: The generated model an operation's answer is read as.
_Answer = TypeVar("_Answer", bound=_Model)


class _JobBase(Generic[_ClientT]):
    """The journal, the input files and the reading of results; no network."""

    def __init__(
        self,
        client: _ClientT,
        out: str | Path,
        *,
        journal: str | Path | None = None,
        max_lines: int = MAX_LINES,
        max_bytes: int = MAX_BYTES,
        metadata: Mapping[str, str] | None = None,
        max_cost: float | None = None,
    ) -> None:
        """Open (or create) a job.

        Args:
            client: The client whose configuration, retries and connections the job uses.
            out: The folder the images are saved to (created when needed).
            journal: The SQLite file that remembers the job; ``<out>/.oai-images.sqlite`` when None. The same
                journal makes every later call pick the same job up (submit nothing twice, collect only
                what is new).
            max_lines: Lines per batch at most (the API's limit, 50,000, unless smaller).
            max_bytes: Bytes per input file at most (the API's limit, 200 MB, unless smaller).
            metadata: Key-value pairs attached to every batch (at most 16, as the API allows).
            max_cost: A budget in USD for the whole job (Batch API prices: half the live ones): `submit`
                and `retry_failed` refuse, before anything is sent, lines whose estimate (an upper bound)
                would take the job past it, with what its done lines cost and its waiting lines may cost.

        Raises:
            ValueError: A limit outside the API's.
            InvalidParameterError: A ``max_cost`` that is not a number of USD of 0 or more.
            OAIImagesError: Another run (live or Batch API, in this process or another) uses ``out``.
        """
        if not 1 <= max_lines <= MAX_LINES:
            raise ValueError(f"max_lines must be 1 to {MAX_LINES}")
        if not 1 <= max_bytes <= MAX_BYTES:
            raise ValueError(f"max_bytes must be 1 to {MAX_BYTES}")
        if max_cost is not None and (
            isinstance(max_cost, bool)
            or not isinstance(max_cost, int | float)
            or not 0 <= max_cost < math.inf
        ):
            message = f"max_cost {max_cost!r} is not valid; allowed: a number of USD, 0 or more"
            raise InvalidParameterError("max_cost", max_cost, ("a number of USD, 0 or more",), message)
        self.max_cost = max_cost
        self._client: _ClientT = client
        self.out = Path(out).expanduser()
        self.out.mkdir(parents=True, exist_ok=True)
        # One run per folder, live or Batch API: two jobs in one folder would submit every line twice.
        self._lock = lock_folder(self.out)
        try:
            self.journal = Journal(journal if journal is not None else self.out / JOURNAL_NAME)
        except BaseException:
            self._lock.close()
            raise
        self._max_lines = max_lines
        self._max_bytes = max_bytes
        self._uncommitted = 0  # result lines recorded since the last commit
        self._metadata = dict(metadata) if metadata else None

    @property
    def max_line_bytes(self) -> int:
        """The longest result line read (the client's ``max_download_bytes``); a longer one fails alone."""
        return self._client.config.limits.max_body_bytes

    def close(self) -> None:
        """Close the journal and let another run use the folder (the client is the caller's)."""
        self.journal.close()
        self._lock.close()

    def batches(self) -> list[BatchInfo]:
        """The job's batches as last seen, without asking the server."""
        return self.journal.batches()

    def lines(self, state: str | None = None) -> list[LineOutcome]:
        """What became of each line, from the journal (no request): all, or those in ``state``
        (``submitted``, ``done``, ``failed``), in the order they were submitted."""  # noqa: D205, D209
        return list(self.journal.outcomes(state))

    def counts(self) -> dict[str, int]:
        """How many lines are ``submitted`` (no result yet), ``done`` and ``failed``."""
        return self.journal.counts()

    def estimate(self, bodies: Iterable[Mapping[str, object]]) -> list[Cost]:
        """The most each body will cost as a line of this job (Batch API prices; an upper bound)."""
        return [self._client.estimate_cost(body, batch=True) for body in bodies]

    def spent(self) -> tuple[float, int]:
        """What the job's done lines cost (USD, the discount applied), and how many of them cost unknown."""
        return total(cost for _, _, cost in self.journal.bodies("done"))

    def _check_budget(self, new: list[Cost], what: str) -> None:
        """Refuse (before anything is sent) lines that would take the job past ``max_cost``: what its done
        lines cost, what its waiting lines may cost, and ``new``.

        Raises:
            BudgetExceededError: The estimate is over the budget, or unknown.
        """  # noqa: D205
        if self.max_cost is None:
            return
        spent, _ = self.spent()
        waiting: list[Cost] = self.estimate(
            json.loads(body) for _, body, _ in self.journal.bodies("submitted")
        )
        check_budget([*waiting, *new], self.max_cost, spent=spent, what=what)

    # --- requests (through the generated operation records) ---------------------------------------------

    @staticmethod
    def _upload_fields(part: Part) -> dict[str, object]:
        """The multipart fields of an input file's upload (``purpose=batch``): the client's one multipart
        path streams the file from disk, anew on each attempt."""  # noqa: D205, D209
        name = f"oai-images-part-{part.number}.jsonl"
        upload = Upload.document("file", part.path, "application/jsonl")
        upload.filename = name
        return {"file": upload, "purpose": "batch"}

    def _url_of(self, body_json: str) -> str:
        """A line's ``url`` (its batch's endpoint): image edits or generations, from its body."""
        return self._client.batch_endpoint_for(json.loads(body_json))

    def _create_fields(self, part: int, input_file_id: str) -> dict[str, object]:
        # Every line of a part goes to one endpoint (the parts are written per endpoint).
        first = next(iter(self.journal.lines(part)), None)
        endpoint = self._client.batch_endpoint if first is None else self._url_of(first[1])
        fields: dict[str, object] = {
            "input_file_id": input_file_id,
            "endpoint": endpoint,
            "completion_window": "24h",
        }
        if self._metadata:
            fields["metadata"] = self._metadata
        return fields

    @staticmethod
    def _on_page(page: ListBatchesResponse, file_id: str) -> tuple[Batch | None, str | None]:
        """The batch made from ``file_id`` on a page of the batch list (or None), and the id to list the next
        page after (None on the last page)."""  # noqa: D205, D209
        from oai_images_api.types import Unset  # noqa: PLC0415 - loaded with the first answer

        for batch in page.data:
            if batch.input_file_id == file_id:
                return batch, None
        last = page.last_id
        more = page.has_more is True and isinstance(last, str) and not isinstance(last, Unset)
        return None, str(last) if more else None

    def _read(self, response: httpx.Response, operation: Operation[Any, _Answer]) -> _Answer:
        """The generated model of a 2xx answer."""
        model = operation.response
        assert model is not None  # every operation read this way documents a JSON answer
        try:
            answer: _Answer = model.from_dict(response.json())
            return answer
        except (ValueError, KeyError, TypeError, AttributeError):
            raise APIResponseValidationError(
                f"the server answered {response.status_code} with a body that is not a {model.__name__}",
                status_code=response.status_code,
                request_id=request_id(response),
                body=self._client.redact(response.text[:500]),
            ) from None

    # --- submitting -----------------------------------------------------------------------------------------

    def _prepare(self, lines: Iterable[tuple[str, Mapping[str, object]]]) -> list[Part]:
        """Check every new line and write the input files; nothing is sent. Lines already in the job are
        skipped. The lines are in the journal when this returns, and in no part if it raises."""  # noqa: D205, D209
        seen: set[str] = set()
        live = self.journal.saved_live()  # lines a live run already saved here are done
        writers = _EndpointParts(self.journal.new_part, self._max_lines, self._max_bytes)
        # Per endpoint, the lines of its current part not yet in the journal.
        pending: dict[str, tuple[int, list[tuple[str, str]]]] = {}
        self.journal.begin()
        try:
            for custom_id, body in lines:
                if not isinstance(custom_id, str) or not custom_id:
                    raise InvalidParameterError(
                        "custom_id",
                        custom_id,
                        ("a non-empty string",),
                        "every line needs a non-empty custom_id",
                    )
                if custom_id in seen:
                    raise InvalidParameterError(
                        "custom_id",
                        custom_id,
                        ("a custom_id used once",),
                        f"custom_id {custom_id!r} is used by more than one line; each must be unique",
                    )
                seen.add(custom_id)
                if self.journal.known(custom_id):
                    continue
                fields = {name: value for name, value in dict(body).items() if value is not None}
                if canonical_json(fields) in live:
                    continue
                try:
                    if fields.get("stream"):
                        raise InvalidParameterError(
                            "stream", True, ("false",), "stream True is not accepted in a batch"
                        )
                    checked = self._client.batch_body(fields)  # as the client names its model
                except InvalidParameterError as exc:
                    raise InvalidParameterError(
                        exc.param, exc.value, exc.allowed, f"line {custom_id!r}: {exc}"
                    ) from exc
                body_json = json.dumps(checked, separators=(",", ":"), ensure_ascii=False)
                url = self._client.batch_endpoint_for(checked)
                try:
                    part = writers.add(url, request_line(custom_id, body_json, url))
                except ValueError as exc:  # one line larger than an input file may be
                    raise InvalidParameterError(
                        "body", custom_id, (f"at most {self._max_bytes} bytes",), f"line {custom_id!r}: {exc}"
                    ) from exc
                current = pending.get(url)
                if current is not None and current[0] != part:
                    self.journal.add_lines(*current)
                    current = None
                if current is None:
                    current = pending[url] = (part, [])
                current[1].append((custom_id, body_json))
            for part_lines in pending.values():
                self.journal.add_lines(*part_lines)
            # The new lines wait in the journal now (uncommitted): the check counts them with the others.
            self._check_budget([], "the job's lines")
            parts = writers.close()
        except BaseException:
            self.journal.rollback()
            writers.discard()
            raise
        self.journal.commit()
        return parts

    def _unsent_parts(self, written: list[Part]) -> list[Part]:
        """Every part without a batch: those just written, and those an interrupted submit left (their
        file is written again from the journal)."""  # noqa: D205, D209
        fresh = {part.number: part for part in written}
        parts: list[Part] = []
        for info in self.journal.batches():
            if info.batch_id is not None or info.ended:  # created, or refused for good
                continue
            if info.part in fresh:
                parts.append(fresh[info.part])
                continue
            writer = PartWriter(
                itertools.repeat(info.part).__next__, max_bytes=MAX_BYTES, max_lines=MAX_LINES
            )
            for custom_id, body_json in self.journal.lines(info.part):
                writer.add(request_line(custom_id, body_json, self._url_of(body_json)))
            parts.extend(writer.close())
        return parts

    def _retry_parts(self) -> list[Part]:
        """Write the failed lines into new parts; nothing is sent."""
        failed = self.journal.failed_lines()
        if not failed:
            return []
        if self.max_cost is not None:
            retried = self.estimate(json.loads(body) for _, body, _ in self.journal.bodies("failed"))
            self._check_budget(retried, f"the job with its {len(failed)} failed lines again")
        writers = _EndpointParts(self.journal.new_part, self._max_lines, self._max_bytes)
        self.journal.begin()
        try:
            moved: dict[int, list[str]] = {}
            for custom_id in failed:
                record = self.journal.line(custom_id)
                assert record is not None  # listed by the journal a moment ago
                body_json = str(record["body"])
                url = self._url_of(body_json)
                number = writers.add(url, request_line(custom_id, body_json, url))
                moved.setdefault(number, []).append(custom_id)
            for number, custom_ids in moved.items():
                self.journal.move_lines(number, custom_ids)
            parts = writers.close()
        except BaseException:
            self.journal.rollback()
            writers.discard()
            raise
        self.journal.commit()
        return parts

    def _record_batch(self, part: int, batch: Batch) -> BatchInfo:
        """Write what the server said of a batch into the journal."""
        from oai_images_api.types import Unset  # noqa: PLC0415 - loaded with the first answer

        def value(item: object) -> Any:
            return None if isinstance(item, Unset) else item

        owner = self.journal.part_of_batch(str(batch.id))
        if owner is not None and owner != part:
            # A server that answers a create with another part's batch: recording it would tie two input
            # files to one batch, and creating again could run (and bill) lines twice. The part ends failed,
            # its lines for `retry_failed` once collected, and nothing more is sent now.
            message = (
                f"the server answered the creation of part {part}'s batch with batch {batch.id}, which is "
                f"part {owner}'s; nothing more was sent (its lines count as failed once collected: "
                "retry_failed submits them again)"
            )
            self.journal.refuse_part(part, message)
            raise APIResponseValidationError(message, status_code=200)
        counts = value(batch.request_counts)
        errors = value(batch.errors)
        messages = []
        if errors is not None:
            for error in value(errors.data) or []:
                line = value(error.line)
                text = value(error.message) or value(error.code) or "error"
                messages.append(f"line {line}: {text}" if line is not None else str(text))
        self.journal.update_batch(
            part,
            batch_id=batch.id,
            status=str(batch.status),
            total=counts.total if counts is not None else 0,
            completed=counts.completed if counts is not None else 0,
            failed=counts.failed if counts is not None else 0,
            output_file_id=value(batch.output_file_id),
            error_file_id=value(batch.error_file_id),
            errors=messages,
        )
        return next(info for info in self.journal.batches() if info.part == part)

    # --- collecting -------------------------------------------------------------------------------------

    def _to_collect(self, info: BatchInfo) -> list[tuple[str, str]]:
        """The (which, file id) of an ended batch's files still to read."""
        output_done, error_done = self.journal.collected(info.part)
        files = []
        if info.output_file_id and not output_done:
            files.append(("output", info.output_file_id))
        if info.error_file_id and not error_done:
            files.append(("error", info.error_file_id))
        return files

    def _line_images(  # noqa: PLR0911 - one return per outcome of a line
        self, part: int, pending: list[str | TooLong], report: CollectReport
    ) -> tuple[LineResult, list[Any]] | None:
        """Take the first of ``pending`` result lines: its result and its generated ``Image`` models, or
        None when there is nothing to save (blank, another part's line, already saved, failed: a failed
        line is recorded here). The line's text is dropped once parsed, before its images are decoded.

        One bad line never blocks the others: a line that is not a result (not JSON, over the size cap)
        is recorded failed under the custom id it names, or counted unreadable, and reading goes on.
        """  # noqa: D205
        self._tick()
        text = pending.pop(0)
        if isinstance(text, TooLong):
            cap = self._client.config.limits.max_body_bytes
            reason = f"its result line is {text.size:,} bytes, over the {cap:,}-byte cap (max_download_bytes)"
            self._unreadable(part, custom_id_in(text.head), "line_too_long", reason, report)
            return None
        try:
            result = parse_result_line(text)
        except ValueError as exc:
            self._unreadable(part, custom_id_in(text[:4096]), "invalid_result_line", str(exc), report)
            return None
        del text  # the parsed line holds the base64 text; the raw line can go now
        if result is None:
            return None
        where = self.journal.line_part(result.custom_id)
        if where is None or where[0] != part:
            return None  # not this job's line, or one given to a later retry
        if where[1] == "done":
            report.lines_skipped += 1
            return None
        if not result.ok:
            self.journal.record_failed(
                result.custom_id, result.status_code, result.error_code, result.error_message or "failed"
            )
            report.lines_failed += 1
            return None
        images = _answer_images(result.body)
        if images is None:
            self.journal.record_failed(
                result.custom_id,
                result.status_code,
                "invalid_response",
                "the answer holds no readable images",
            )
            report.lines_failed += 1
            return None
        return result, images

    def _line_cost(self, custom_id: str, usage: object, images: int) -> Cost:
        """What a done line cost: its answer's usage (or images) at Batch API prices."""
        record = self.journal.line(custom_id)
        try:
            body = json.loads(str(record["body"])) if record is not None else {}
        except ValueError:
            body = {}
        return self._client.cost_of(body if isinstance(body, dict) else {}, usage, images, batch=True)

    def _unreadable(
        self, part: int, custom_id: str | None, code: str, reason: str, report: CollectReport
    ) -> None:
        """A result line that cannot be read: failed under its custom id when it is this part's line."""
        where = self.journal.line_part(custom_id) if custom_id is not None else None
        if custom_id is None or where is None or where[0] != part or where[1] == "done":
            report.lines_unreadable += 1
            return
        self.journal.record_failed(custom_id, None, code, f"the result could not be read: {reason}")
        report.lines_failed += 1

    def _bad_image(
        self, custom_id: str, saved: list[Path], exc: OAIImagesError, report: CollectReport
    ) -> None:
        """A line whose image cannot be decoded or downloaded: failed, with what was saved of it named."""
        kept = f" ({', '.join(path.name for path in saved)} saved)" if saved else ""
        self.journal.record_failed(custom_id, None, "invalid_image", f"{exc.message}{kept}")
        report.lines_failed += 1

    def _tick(self) -> None:
        """Count a result line; commit the journal every `_COMMIT_EVERY` of them."""
        self._uncommitted += 1
        if self._uncommitted >= _COMMIT_EVERY:
            self.journal.commit()
            self.journal.begin()
            self._uncommitted = 0

    @staticmethod
    def _decoded(image: Image) -> bytes | str:
        """An image's bytes, or its URL when it came as one."""
        b64 = image.b64_json
        if isinstance(b64, str):
            try:
                # binascii reads an ASCII str in place; base64.b64decode would copy it to bytes first,
                # which for a 30 MB image is 30 MB more at the peak.
                return binascii.a2b_base64(b64, strict_mode=True)
            except (binascii.Error, ValueError) as exc:
                raise APIResponseValidationError(
                    "an image of a batch result is not valid base64", status_code=200
                ) from exc
        url = image.url
        if isinstance(url, str):
            return url
        raise APIResponseValidationError(
            "an image of a batch result has neither b64_json nor url", status_code=200
        )

    def _save(self, custom_id: str, index: int, count: int, data: bytes) -> Path:
        """Save one image of a line, named as a live run names it: ``<custom id>-<prompt slug>``, with
        ``-1``, ``-2``, ... (from 1) when the line has several images."""  # noqa: D205, D209
        record = self.journal.line(custom_id)
        prompt = ""
        if record is not None:
            with contextlib.suppress(ValueError, TypeError):
                prompt = str(json.loads(str(record["body"])).get("prompt") or "")
        stem = f"{image_stem(custom_id)}-{slug(prompt)}" if prompt else image_stem(custom_id)
        name = stem if count == 1 else f"{stem}-{index + 1}"
        # Overwrite: the name is this line's own, and a file of that name can only be a copy written
        # before an interruption kept the journal from recording it.
        return write_image(data, self.out / name, overwrite=True)

    def _finish_batch(self, info: BatchInfo, report: CollectReport) -> None:
        """After an ended batch's files are read: lines with no result never ran; the batch is done."""
        status = info.status
        reason = (
            "; ".join(info.errors) if info.errors else f"the batch ended ({status}) before this request ran"
        )
        report.lines_failed += self.journal.fail_unanswered(info.part, f"batch_{status}", reason)
        self.journal.set_collected(info.part, "output")
        self.journal.set_collected(info.part, "error")
        report.batches_collected += 1


class _EndpointParts:
    """Input files written per endpoint: a batch runs the lines of one endpoint (generations or edits)."""

    def __init__(self, new_part: Callable[[], int], max_lines: int, max_bytes: int) -> None:
        self._new_part = new_part
        self._max_lines = max_lines
        self._max_bytes = max_bytes
        self._writers: dict[str, PartWriter] = {}

    def add(self, url: str, line: bytes) -> int:
        """Add a line to the current part of its endpoint; the part's number."""
        if url not in self._writers:
            self._writers[url] = PartWriter(
                self._new_part, max_lines=self._max_lines, max_bytes=self._max_bytes
            )
        return self._writers[url].add(line)

    def close(self) -> list[Part]:
        """Every part written, in the order they were started."""
        parts = [part for writer in self._writers.values() for part in writer.close()]
        return sorted(parts, key=lambda part: part.number)

    def discard(self) -> None:
        """Remove every part's file."""
        for writer in self._writers.values():
            writer.discard()


class BatchJob(_JobBase["ImagesClient"]):
    """A job of image generations and edits run through the Batch API: half the price, results within 24 h.

    The job lives in its journal (``<out>/.oai-images.sqlite`` unless told otherwise): every method can be
    called again, from another process too, and picks the job up where it stands::

        with ImagesClient() as client, BatchJob(client, "out/") as job:
            job.submit([("fox-1", {"prompt": "a fox", "model": "gpt-image-1"}), ...])
            job.wait(on_progress=print)
            report = job.collect()   # images saved as out/fox-1-0.png, ...
            if report.lines_failed:
                job.retry_failed()
    """

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def submit(self, lines: Iterable[tuple[str, Mapping[str, object]]]) -> list[str]:
        """Send request lines as batches: write the input files, upload them, create the batches.

        Every line is checked (``custom_id`` unique and non-empty, the body valid for image generation)
        before anything is sent; lines already in the job (by custom id) are skipped, so submitting the same
        lines again sends nothing. An input file holds at most 50,000 lines and 200 MB: more lines make
        more batches. A submit interrupted between upload and creation is finished by the next one.

        Args:
            lines: ``(custom_id, body)`` pairs; a body is the JSON body of ``POST /images/generations``
                (``{"prompt": ..., "model": ..., ...}``), or, with ``images``, of a JSON ``POST
                /images/edits`` (``{"prompt": ..., "images": [{"image_url": ...} or {"file_id": ...}]}``).
                Generations and edits go in batches of their own endpoint.

        Returns:
            The ids of the batches this call created (empty when every line was already in the job).

        Raises:
            InvalidParameterError: A line is invalid (the message names its custom id); nothing is sent.
            APIStatusError: The server refused an upload or a batch (lines already sent stay recorded).
            APIConnectionError: No answer, after the retries.
        """
        parts = self._unsent_parts(self._prepare(lines))
        created = []
        for part in parts:
            try:
                created.append(self._send_part(part))
            finally:
                part.path.unlink(missing_ok=True)
        return created

    def _send_part(self, part: Part) -> str:
        file_id = self.journal.input_file(part.number)
        if file_id is None:
            upload = operations().create_file
            uploaded = self._read(self._client.request(upload, self._upload_fields(part)), upload)
            file_id = str(uploaded.id)
            self.journal.set_uploaded(part.number, file_id)
        batch = self._create(part.number, file_id)
        return self._record_batch(part.number, batch).batch_id or ""

    def _create(self, part: int, file_id: str) -> Batch:
        """Create a part's batch, or find the one an earlier create made whose answer was lost: never two.

        The journal says ``creating`` before the request goes out, so a run killed meanwhile looks first. A
        creation that may have reached the server (no answer, a 5xx) is never blindly sent again: the batch
        list is searched for the input file's batch, and only when it is not there is the creation retried.
        """
        create = operations().create_batch
        if self.journal.part_status(part) == "creating" and (found := self._find(file_id)) is not None:
            return found
        self.journal.set_creating(part, True)
        once = self._client.with_options(max_retries=0)
        config = self._client.config
        sleep = config.sleep or time.sleep
        for attempt in itertools.count():
            try:
                return self._read(once.request(create, self._create_fields(part, file_id)), create)
            except OAIImagesError as exc:
                if not is_transient(exc):
                    self.journal.set_creating(part, False)  # refused: nothing was created
                    raise
                if (found := self._find(file_id)) is not None:
                    return found
                if attempt >= config.max_retries:
                    raise
                sleep(retry_delay(attempt, None, jitter=config.jitter))
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _find(self, file_id: str) -> Batch | None:
        """The batch made from an input file, from the batch list (newest first), or None."""
        listing = operations().list_batches
        after: str | None = None
        for _ in range(_LIST_PAGES):
            query: dict[str, str | int] = {"limit": 100} if after is None else {"limit": 100, "after": after}
            page = self._read(self._client.request(listing, query=query), listing)
            found, after = self._on_page(page, file_id)
            if found is not None or after is None:
                return found
        return None

    def status(self) -> list[BatchInfo]:
        """Ask the server about every batch not ended yet, record what it says, and return all the batches."""
        for info in self.journal.batches():
            if info.batch_id is not None and not info.ended:
                self._refresh(info)
        return self.journal.batches()

    def _refresh(self, info: BatchInfo) -> BatchInfo:
        assert info.batch_id is not None
        operation = operations().retrieve_batch
        batch = self._read(self._client.request(operation, path={"batch_id": info.batch_id}), operation)
        return self._record_batch(info.part, batch)

    def wait(
        self,
        *,
        on_progress: ProgressCallback | None = None,
        poll_interval: float = 5.0,
        max_poll_interval: float = 60.0,
        timeout: float | None = DEFAULT_WAIT_SECONDS,
    ) -> list[BatchInfo]:
        """Poll until every batch has ended (or ``timeout`` passes), reporting each round.

        The interval grows by half each round up to ``max_poll_interval``. A poll that fails for a reason
        that passes (no answer, a rate limit, a server error — after the client's own retries, which honour
        ``retry-after``) is waited out at the longest interval instead of ending a wait of hours.

        Args:
            on_progress: Called after each round with every batch (``request_counts`` as ``completed``,
                ``failed``, ``total``).
            poll_interval: Seconds before the second poll.
            max_poll_interval: The longest wait between polls.
            timeout: Give up waiting after this many seconds (the batches keep running; wait again later):
                25 h by default, the completion window and an hour, so that a batch in a status that never
                ends (an unknown one, or one long past its expiry) cannot hold a wait for ever. The seconds
                slept count, even with a ``sleep`` that does not really wait. None waits without end.

        Returns:
            The job's batches as last seen; check ``ended`` when a timeout was given.

        Raises:
            APIStatusError: The server refused a poll for a reason that does not pass (a 401, a 404).
        """
        waited = _Waited()
        interval = poll_interval
        sleep = self._client.config.sleep or time.sleep
        while True:
            try:
                infos = self.status()
            except OAIImagesError as exc:
                if not is_transient(exc):
                    raise
                infos, interval = self.journal.batches(), max_poll_interval
            if on_progress is not None:
                on_progress(infos)
            if all(info.ended for info in infos if info.batch_id is not None):
                return infos
            if timeout is not None and waited.seconds() + interval > timeout:
                return infos
            sleep(interval)
            waited.slept(interval)
            interval = min(interval * 1.5, max_poll_interval)

    def cancel(self) -> list[BatchInfo]:
        """Cancel every batch of the job that has not ended; what completed stays collectable.

        Returns:
            The job's batches (cancelling ones become ``cancelled`` within minutes; collect them then).
        """
        operation = operations().cancel_batch
        for info in self.journal.batches():
            if info.batch_id is None or info.ended or info.status == "cancelling":
                continue
            try:
                batch = self._read(
                    self._client.request(operation, path={"batch_id": info.batch_id}), operation
                )
            except APIStatusError as exc:
                if exc.status_code not in (400, 409):  # it ended meanwhile: see below
                    raise
                self._refresh(info)
            else:
                self._record_batch(info.part, batch)
        return self.journal.batches()

    def retry_failed(self) -> list[str]:
        """Submit every failed line again, as new batches (lines of expired or cancelled batches that never
        ran count as failed once collected).

        Returns:
            The ids of the new batches (empty when no line failed).
        """  # noqa: D205
        parts = self._retry_parts()
        created = []
        for part in parts:
            try:
                created.append(self._send_part(part))
            finally:
                part.path.unlink(missing_ok=True)
        return created

    def collect(self) -> CollectReport:
        """Save the images of every ended batch, and record each line's outcome.

        The output and error files are read as streams, line by line: each line's images are decoded
        straight to files (``<custom_id>-<prompt slug>[-<k>].<ext>`` in ``out``, as a live run names
        them), so memory stays within a few images however large the file. Lines already saved are
        skipped, and a batch fully collected is not downloaded again. Expired and cancelled batches give
        what completed; their other lines are recorded as failed, for `retry_failed`.

        Returns:
            What was saved, failed and skipped.

        Raises:
            APIStatusError: The server refused a download.
            APIConnectionError: A download broke; what was saved stays saved, and collecting again resumes.
            OSError: An image could not be written.
        """
        report = CollectReport()
        for info in self.status():
            if not info.ended:
                report.batches_running += info.batch_id is not None
                continue
            if info.collected:
                continue
            for which, file_id in self._to_collect(info):
                self._collect_file(info.part, which, file_id, report)
                self.journal.set_collected(info.part, which)
            self._finish_batch(info, report)
        return report

    def _collect_file(self, part: int, which: str, file_id: str, report: CollectReport) -> None:
        """Read a result file from where the last read stopped, line by line, resuming while it progresses.

        The byte offset of the last whole line is recorded with the lines' outcomes, so a download cut by
        its attempt's deadline (a file of gigabytes), a broken connection or a killed process goes on from
        there (an HTTP range; a server that ignores it is skipped forward), never from byte 0.
        """
        download = operations().download_file
        while True:
            start = self.journal.offset(part, which)
            try:
                with self._client.stream(
                    download, path={"file_id": file_id}, headers=_range(start)
                ) as response:
                    reader = _ResultReader(self, part, which, start, response.status_code)
                    self.journal.begin()
                    try:
                        for chunk in response.iter_bytes():
                            for pending in reader.feed(chunk):
                                while pending:
                                    self._collect_line(part, pending, report)
                                reader.done()
                        pending = reader.flush()
                        while pending:
                            self._collect_line(part, pending, report)
                    finally:
                        self.journal.commit()  # what was saved stays recorded, even when the stream broke
                return
            except APIConnectionError:
                if self.journal.offset(part, which) == start:
                    raise  # no progress at all: collecting again later resumes from here

    def _collect_line(self, part: int, pending: list[str | TooLong], report: CollectReport) -> None:
        found = self._line_images(part, pending, report)
        if found is None:
            return
        result, images = found
        saved: list[Path] = []
        try:
            for index, image in enumerate(images):
                data = self._decoded(image)
                if isinstance(data, str):
                    data = self._client.download(data)
                saved.append(self._save(result.custom_id, index, len(images), data))
        except (APIResponseValidationError, APIStatusError) as exc:
            self._bad_image(result.custom_id, saved, exc, report)
            return
        usage = result.body.get("usage") if result.body is not None else None
        cost = self._line_cost(result.custom_id, usage, len(images))
        self.journal.record_done(
            result.custom_id, saved, request_id=result.request_id, usage=usage, cost=cost
        )
        report.lines_done += 1
        report.images_saved += len(saved)


class AsyncBatchJob(_JobBase["AsyncImagesClient"]):
    """The awaited twin of :class:`BatchJob`, for an :class:`AsyncImagesClient`: same methods, awaited.

    The journal and the image files are written from the event loop (small, local writes).
    """

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def submit(self, lines: Iterable[tuple[str, Mapping[str, object]]]) -> list[str]:
        """As :meth:`BatchJob.submit`."""
        parts = self._unsent_parts(self._prepare(lines))
        created = []
        for part in parts:
            try:
                created.append(await self._send_part(part))
            finally:
                part.path.unlink(missing_ok=True)
        return created

    async def _send_part(self, part: Part) -> str:
        file_id = self.journal.input_file(part.number)
        if file_id is None:
            upload = operations().create_file
            uploaded = self._read(await self._client.request(upload, self._upload_fields(part)), upload)
            file_id = str(uploaded.id)
            self.journal.set_uploaded(part.number, file_id)
        batch = await self._create(part.number, file_id)
        return self._record_batch(part.number, batch).batch_id or ""

    async def _create(self, part: int, file_id: str) -> Batch:
        """As :meth:`BatchJob._create`: one batch per input file, whatever answer was lost."""
        create = operations().create_batch
        if self.journal.part_status(part) == "creating" and (found := await self._find(file_id)) is not None:
            return found
        self.journal.set_creating(part, True)
        once = self._client.with_options(max_retries=0)
        config = self._client.config
        sleep: Callable[[float], Awaitable[None]] = config.sleep or _async_sleep
        for attempt in itertools.count():
            try:
                return self._read(await once.request(create, self._create_fields(part, file_id)), create)
            except OAIImagesError as exc:
                if not is_transient(exc):
                    self.journal.set_creating(part, False)
                    raise
                if (found := await self._find(file_id)) is not None:
                    return found
                if attempt >= config.max_retries:
                    raise
                await sleep(retry_delay(attempt, None, jitter=config.jitter))
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    async def _find(self, file_id: str) -> Batch | None:
        """As :meth:`BatchJob._find`."""
        listing = operations().list_batches
        after: str | None = None
        for _ in range(_LIST_PAGES):
            query: dict[str, str | int] = {"limit": 100} if after is None else {"limit": 100, "after": after}
            page = self._read(await self._client.request(listing, query=query), listing)
            found, after = self._on_page(page, file_id)
            if found is not None or after is None:
                return found
        return None

    async def status(self) -> list[BatchInfo]:
        """As :meth:`BatchJob.status`."""
        for info in self.journal.batches():
            if info.batch_id is not None and not info.ended:
                await self._refresh(info)
        return self.journal.batches()

    async def _refresh(self, info: BatchInfo) -> BatchInfo:
        assert info.batch_id is not None
        operation = operations().retrieve_batch
        response = await self._client.request(operation, path={"batch_id": info.batch_id})
        batch = self._read(response, operation)
        return self._record_batch(info.part, batch)

    async def wait(
        self,
        *,
        on_progress: ProgressCallback | None = None,
        poll_interval: float = 5.0,
        max_poll_interval: float = 60.0,
        timeout: float | None = None,
    ) -> list[BatchInfo]:
        """As :meth:`BatchJob.wait`."""
        waited = _Waited()
        interval = poll_interval
        sleep: Callable[[float], Awaitable[None]] = self._client.config.sleep or _async_sleep
        while True:
            try:
                infos = await self.status()
            except OAIImagesError as exc:
                if not is_transient(exc):
                    raise
                infos, interval = self.journal.batches(), max_poll_interval
            if on_progress is not None:
                on_progress(infos)
            if all(info.ended for info in infos if info.batch_id is not None):
                return infos
            if timeout is not None and waited.seconds() + interval > timeout:
                return infos
            await sleep(interval)
            waited.slept(interval)
            interval = min(interval * 1.5, max_poll_interval)

    async def cancel(self) -> list[BatchInfo]:
        """As :meth:`BatchJob.cancel`."""
        operation = operations().cancel_batch
        for info in self.journal.batches():
            if info.batch_id is None or info.ended or info.status == "cancelling":
                continue
            try:
                response = await self._client.request(operation, path={"batch_id": info.batch_id})
                batch = self._read(response, operation)
            except APIStatusError as exc:
                if exc.status_code not in (400, 409):  # it ended meanwhile
                    raise
                await self._refresh(info)
            else:
                self._record_batch(info.part, batch)
        return self.journal.batches()

    async def retry_failed(self) -> list[str]:
        """As :meth:`BatchJob.retry_failed`."""
        parts = self._retry_parts()
        created = []
        for part in parts:
            try:
                created.append(await self._send_part(part))
            finally:
                part.path.unlink(missing_ok=True)
        return created

    async def collect(self) -> CollectReport:
        """As :meth:`BatchJob.collect`."""
        report = CollectReport()
        for info in await self.status():
            if not info.ended:
                report.batches_running += info.batch_id is not None
                continue
            if info.collected:
                continue
            for which, file_id in self._to_collect(info):
                await self._collect_file(info.part, which, file_id, report)
                self.journal.set_collected(info.part, which)
            self._finish_batch(info, report)
        return report

    async def _collect_file(self, part: int, which: str, file_id: str, report: CollectReport) -> None:
        """As :meth:`BatchJob._collect_file`."""
        download = operations().download_file
        while True:
            start = self.journal.offset(part, which)
            try:
                async with self._client.stream(
                    download, path={"file_id": file_id}, headers=_range(start)
                ) as response:
                    reader = _ResultReader(self, part, which, start, response.status_code)
                    self.journal.begin()
                    try:
                        async for chunk in response.aiter_bytes():
                            for pending in reader.feed(chunk):
                                while pending:
                                    await self._collect_line(part, pending, report)
                                reader.done()
                        pending = reader.flush()
                        while pending:
                            await self._collect_line(part, pending, report)
                    finally:
                        self.journal.commit()
                return
            except APIConnectionError:
                if self.journal.offset(part, which) == start:
                    raise

    async def _collect_line(self, part: int, pending: list[str | TooLong], report: CollectReport) -> None:
        found = self._line_images(part, pending, report)
        if found is None:
            return
        result, images = found
        saved: list[Path] = []
        try:
            for index, image in enumerate(images):
                data = self._decoded(image)
                if isinstance(data, str):
                    data = await self._client.download(data)
                saved.append(self._save(result.custom_id, index, len(images), data))
        except (APIResponseValidationError, APIStatusError) as exc:
            self._bad_image(result.custom_id, saved, exc, report)
            return
        usage = result.body.get("usage") if result.body is not None else None
        cost = self._line_cost(result.custom_id, usage, len(images))
        self.journal.record_done(
            result.custom_id, saved, request_id=result.request_id, usage=usage, cost=cost
        )
        report.lines_done += 1
        report.images_saved += len(saved)


async def _async_sleep(seconds: float) -> None:
    import anyio  # noqa: PLC0415 - only async jobs need it

    await anyio.sleep(seconds)


class _Waited:
    """How long a wait has taken: the time that passed, or the sleeps it asked for when they add up to more
    (a testing seam's sleep returns at once, and a wait bounded by the clock alone would never end)."""  # noqa: D205, D209

    def __init__(self) -> None:
        self._started = time.monotonic()
        self._slept = 0.0

    def slept(self, seconds: float) -> None:
        self._slept += seconds

    def seconds(self) -> float:
        return max(time.monotonic() - self._started, self._slept)


def _range(start: int) -> dict[str, str] | None:
    """The headers that ask for a file from byte ``start`` on (none from the start)."""
    return {"Range": f"bytes={start}-"} if start else None


class _ResultReader:
    """A result file's bytes as lines, from a recorded offset: it skips what a server that ignored the
    range sent again, and records the offset of the last whole line once its lines are handled."""  # noqa: D205, D209

    def __init__(self, job: _JobBase[Any], part: int, which: str, start: int, status: int) -> None:
        self._journal = job.journal
        self._part = part
        self._which = which
        self._start = start
        # 206: the answer starts at ``start``; 200: at byte 0, so its first ``start`` bytes were read before.
        self._skip = start if start and status != 206 else 0
        self._splitter = LineSplitter(job.max_line_bytes)

    def feed(self, chunk: bytes) -> list[list[str | TooLong]]:
        """The lines ``chunk`` completes, as one batch to handle before `done` (none while skipping)."""
        if self._skip:
            taken = min(self._skip, len(chunk))
            self._skip -= taken
            chunk = chunk[taken:]
            if not chunk:
                return []
        return [self._splitter.feed(chunk)]

    def done(self) -> None:
        """The lines fed so far are handled: record where the file is read to."""
        self._journal.set_offset(self._part, self._which, self._start + self._splitter.consumed)

    def flush(self) -> list[str | TooLong]:
        """The last line, when the file does not end with a newline."""
        return self._splitter.flush()
