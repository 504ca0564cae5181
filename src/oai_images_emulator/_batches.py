"""The Batch API in the emulator: ``/v1/files`` and ``/v1/batches`` for image generations and edits.

A batch moves through the real statuses (validating → in_progress → finalizing → completed; failed for an
input file that is not a valid batch file; expired when its window ends first; cancelling → cancelled),
at a pace set by ``EmulatorConfig.batch_seconds`` and measured on ``EmulatorConfig.clock``, so a test with
a fake clock decides when a batch is done.

A batch is advanced when it is looked at (retrieved, listed or cancelled), not by a background task: its
lines whose time has come are answered then, from a worker thread, each by the app's own route for the
batch's endpoint (`post_json`: generations, or JSON edits), so a line gets exactly the images and the error
envelope a request would. That works the same over a socket and in-process, where no event loop outlives a
request.

Uploaded and produced files live on disk, in a temporary folder of the app's own (removed when the app is
collected or the process ends), bounded by ``EmulatorConfig.max_batch_store_bytes``.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import secrets
import shutil
import tempfile
import threading
import weakref
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import anyio.from_thread
import anyio.to_thread
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Scope

from . import _protocol as protocol
from ._bodies import BodyTooLarge
from ._config import EmulatorConfig

__all__ = ["BATCHES_PATH", "FILES_API_PATH", "BatchHooks", "BatchService", "batch_routes", "post_json"]

FILES_API_PATH = "/v1/files"
BATCHES_PATH = "/v1/batches"
#: The endpoints a batch may name: the image ones of the spec's ``CreateBatchRequest.endpoint``. An edit line
#: is a JSON edit (images by URL or file id): a batch input file is JSON Lines, with no room for an upload.
_ENDPOINTS = ("/v1/images/generations", "/v1/images/edits")
#: Every endpoint the spec's ``CreateBatchRequest.endpoint`` names (the API takes them all).
_SPEC_ENDPOINTS = (
    "/v1/responses",
    "/v1/chat/completions",
    "/v1/embeddings",
    "/v1/completions",
    "/v1/moderations",
    "/v1/images/generations",
    "/v1/images/edits",
    "/v1/videos",
)
#: The API's limits on a batch input file.
MAX_BATCH_LINES = 50_000
MAX_BATCH_FILE_BYTES = 200 * 1024 * 1024
#: The largest upload the API takes.
MAX_UPLOAD_BYTES = 512 * 1024 * 1024
_PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
#: How long a batch input file lives unless the upload says otherwise (the API's default).
_BATCH_FILE_DAYS = 30
#: The range of ``expires_after[seconds]`` (the spec's FileExpirationAfter): an hour to 30 days.
_EXPIRY_RANGE = (3600, 2592000)
#: Statuses a batch does not leave.
ENDED = frozenset({"completed", "failed", "expired", "cancelled"})
#: Shares of ``batch_seconds``: validating, then the lines one after another, then finalizing.
_VALIDATING_SHARE = 0.1
_RUNNING_SHARE = 0.8
#: At most this many validation errors are listed in a failed batch.
_MAX_LISTED_ERRORS = 20
_COPY_CHUNK = 1024 * 1024

#: Answers one request body sent to an endpoint: (endpoint, body, base URL) → (status code, body bytes). Given
#: by the app, which owns the image routes.
Respond = Callable[[str, object, str], Coroutine[Any, Any, tuple[int, bytes]]]
#: Builds an error envelope answer: (status, message, code, param).
ErrorAnswer = Callable[..., JSONResponse]


@dataclasses.dataclass(frozen=True)
class BatchHooks:
    """What the batch routes borrow from the app, passed in so that this module does not import it.

    Attributes:
        respond: Answers one request body, as ``POST`` to the batch's endpoint does (awaited on the event
            loop; the batch clockwork calls it from its worker thread).
        error: Builds the API's error envelope answer.
        check_auth: The answer to a request without a usable key, or None.
        cleanups: Clean-ups the app runs as it stops.
    """

    respond: Respond
    error: ErrorAnswer
    check_auth: Callable[[Request], Response | None]
    #: Where the routes register what the app must run as it stops (their files' folder's removal).
    cleanups: list[Callable[[], None]] = dataclasses.field(default_factory=list)


async def post_json(app: ASGIApp, path: str, body: bytes, base_url: str) -> tuple[int, bytes]:
    """POST a JSON body to an ASGI app in-process, as if to ``base_url``; its status and body.

    How a batch line is answered: by the very route a request goes to.
    """
    parts = urlsplit(base_url)
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": parts.scheme or "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", parts.netloc.encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"authorization", b"Bearer batch"),
        ],
        "server": (parts.hostname or "127.0.0.1", parts.port or 80),
        "client": ("127.0.0.1", 0),
    }
    delivered = False
    status = 500
    chunks: list[bytes] = []

    async def receive() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])
        elif message["type"] == "http.response.body":
            chunks.append(bytes(message.get("body", b"")))

    await app(scope, receive, send)
    return status, b"".join(chunks)


@dataclasses.dataclass
class _File:
    id: str
    filename: str
    purpose: str
    path: Path
    bytes: int
    created_at: int
    expires_at: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "file",
            "bytes": self.bytes,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
            "status_details": None,
        }


@dataclasses.dataclass
class _Batch:
    id: str
    input_file: _File
    endpoint: str
    metadata: object
    created_at: float
    window: float
    pace: float
    status: str = "validating"
    total: int = 0
    completed: int = 0
    failed: int = 0
    errors: list[dict[str, Any]] | None = None
    #: Byte offset in the input file of the next line to answer.
    offset: int = 0
    output: Path | None = None
    error: Path | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    times: dict[str, int] = dataclasses.field(default_factory=dict)
    cancel_at: float | None = None
    #: Seconds the output and error files live (``output_expires_after``); None: no expiry.
    output_lifetime: int | None = None

    @property
    def done_lines(self) -> int:
        return self.completed + self.failed

    def to_json(self) -> dict[str, Any]:
        def at(name: str) -> int | None:
            return self.times.get(name)

        return {
            "id": self.id,
            "object": "batch",
            "endpoint": self.endpoint,
            "errors": {"object": "list", "data": self.errors} if self.errors else None,
            "input_file_id": self.input_file.id,
            "completion_window": "24h",
            "status": self.status,
            "output_file_id": self.output_file_id,
            "error_file_id": self.error_file_id,
            "created_at": int(self.created_at),
            "in_progress_at": at("in_progress"),
            "expires_at": int(self.created_at + self.window),
            "finalizing_at": at("finalizing"),
            "completed_at": at("completed"),
            "failed_at": at("failed"),
            "expired_at": at("expired"),
            "cancelling_at": at("cancelling"),
            "cancelled_at": at("cancelled"),
            "request_counts": {"total": self.total, "completed": self.completed, "failed": self.failed},
            "metadata": self.metadata,
        }


class BatchService:
    """The files and batches of one emulator app, and the clockwork that moves the batches on."""

    def __init__(self, config: EmulatorConfig, hooks: BatchHooks) -> None:
        self.config = config
        self.hooks = hooks
        self.files: dict[str, _File] = {}
        self.batches: dict[str, _Batch] = {}
        self._lock = threading.Lock()
        self._folder: Path | None = None
        self._serial = itertools.count()

    # --- storage -------------------------------------------------------------------------------------

    @property
    def folder(self) -> Path:
        """The app's file folder, made at the first file and removed with the service."""
        if self._folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix="oai-images-emulator-"))
            weakref.finalize(self, shutil.rmtree, self._folder, ignore_errors=True)
        return self._folder

    def close(self) -> None:
        """Remove the file folder now (a server stopping by a signal skips the finalizer at exit)."""
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None
            self.files.clear()

    def stored_bytes(self) -> int:
        """The bytes of every file the app holds."""
        return sum(file.bytes for file in self.files.values())

    def _new_path(self) -> Path:
        return self.folder / f"{next(self._serial):06d}-{secrets.token_hex(4)}.jsonl"

    def add_file(
        self, source: IO[bytes], filename: str, purpose: str, expires_after: int | None = None
    ) -> _File | str:
        """Copy an upload to disk, in chunks; the file, or why it was refused. A batch input file expires
        after 30 days unless ``expires_after`` (seconds) says otherwise, as the API's do."""  # noqa: D205, D209
        path = self._new_path()
        size = 0
        limit = min(MAX_UPLOAD_BYTES, self.config.max_batch_store_bytes - self.stored_bytes())
        with path.open("wb") as target:
            while chunk := source.read(_COPY_CHUNK):
                size += len(chunk)
                if size > limit:
                    target.close()
                    path.unlink(missing_ok=True)
                    return "the file is too large for the emulator's file store (max_batch_store_bytes)"
                target.write(chunk)
        now = int(self.config.clock())
        lifetime = (
            expires_after
            if expires_after is not None
            else (_BATCH_FILE_DAYS * 86400 if purpose == "batch" else None)
        )
        file = _File(
            f"file-{secrets.token_hex(12)}", filename, purpose, path, size, now,
            None if lifetime is None else now + lifetime,
        )  # fmt: skip
        self.files[file.id] = file
        return file

    def live_file(self, file_id: str) -> _File | None:
        """A file that exists and has not expired (an expired one is deleted, as the API deletes them)."""
        file = self.files.get(file_id)
        if file is not None and file.expires_at is not None and self.config.clock() >= file.expires_at:
            self.delete_file(file_id)
            return None
        return file

    def _register(self, path: Path, filename: str, lifetime: int | None = None) -> _File:
        now = int(self.config.clock())
        file = _File(
            f"file-{secrets.token_hex(12)}",
            filename,
            "batch_output",
            path,
            path.stat().st_size,
            now,
            None if lifetime is None else now + lifetime,
        )
        self.files[file.id] = file
        return file

    def delete_file(self, file_id: str) -> bool:
        """Forget a file and remove it from disk; False when there is no such file."""
        file = self.files.pop(file_id, None)
        if file is None:
            return False
        file.path.unlink(missing_ok=True)
        return True

    # --- the clockwork -------------------------------------------------------------------------------

    def create(
        self, input_file: _File, endpoint: str, metadata: object, output_lifetime: int | None = None
    ) -> _Batch:
        """A new batch, validating; its output and error files expire ``output_lifetime`` seconds after they
        are made (None: never)."""  # noqa: D205, D209
        batch = _Batch(
            output_lifetime=output_lifetime,
            id=f"batch_{secrets.token_hex(12)}",
            input_file=input_file,
            endpoint=endpoint,
            metadata=metadata,
            created_at=self.config.clock(),
            window=self.config.batch_window_seconds,
            pace=self.config.batch_seconds,
        )
        self.batches[batch.id] = batch
        return batch

    def advance(self, batch: _Batch, base_url: str) -> None:
        """Bring a batch up to the present: answer the lines whose time has come, change status."""
        with self._lock:
            self._advance(batch, base_url, self.config.clock())

    def cancel(self, batch: _Batch, base_url: str) -> None:
        """Start cancelling: no line is answered after now; the batch ends a moment later."""
        with self._lock:
            now = self.config.clock()
            self._advance(batch, base_url, now)
            if batch.status in ENDED or batch.status == "cancelling":
                return
            batch.cancel_at = now
            batch.status = "cancelling"
            batch.times["cancelling"] = int(now)
            self._advance(batch, base_url, now)

    def _advance(self, batch: _Batch, base_url: str, now: float) -> None:
        if batch.status in ENDED:
            return
        start = batch.created_at
        validated = start + batch.pace * _VALIDATING_SHARE
        stop = start + batch.window
        if batch.cancel_at is not None:
            stop = min(stop, batch.cancel_at)
        if batch.status == "validating" and stop > validated:
            if now < validated or not self._validate(batch, validated):
                return
            batch.status = "in_progress"
            batch.times["in_progress"] = int(validated)
        if batch.status in ("in_progress", "cancelling"):
            self._run_lines(batch, base_url, min(now, stop), validated)
        ran_all = batch.status not in ("validating", "cancelling") and batch.done_lines >= batch.total
        if not ran_all and now < stop:
            return
        # Every line ran, or the batch was stopped (cancelled, or out of time): write its files, then end.
        if batch.cancel_at is not None:
            ended, status = batch.cancel_at + batch.pace * _VALIDATING_SHARE, "cancelled"
        elif not ran_all:
            ended, status = stop, "expired"
        else:
            finished = start + batch.pace * (_VALIDATING_SHARE + _RUNNING_SHARE)
            batch.status = "finalizing"
            batch.times.setdefault("finalizing", int(max(finished, validated)))
            ended, status = start + batch.pace, "completed"
        if now < ended:
            return
        self._finish(batch)
        batch.status = status
        batch.times[status] = int(max(ended, start))

    def _validate(self, batch: _Batch, when: float) -> bool:
        """Check the input file; a batch whose file is not a batch file fails. True when it may run."""
        errors: list[dict[str, Any]] = []
        seen: set[str] = set()

        def problem(code: str, message: str, line: int | None = None, param: str | None = None) -> None:
            if len(errors) < _MAX_LISTED_ERRORS:
                errors.append({"code": code, "message": message, "param": param, "line": line})

        file = batch.input_file
        if file.purpose != "batch":
            problem("invalid_purpose", f"The input file must have purpose 'batch', not '{file.purpose}'.")
        if file.bytes > MAX_BATCH_FILE_BYTES:
            problem("file_too_large", f"The input file is larger than {MAX_BATCH_FILE_BYTES} bytes.")
        count = 0
        with file.path.open("rb") as source:
            for number, raw in enumerate(source, start=1):
                if not raw.strip():
                    continue
                count += 1
                try:
                    line = json.loads(raw)
                except (ValueError, RecursionError):
                    problem("invalid_json_line", "This line is not parseable as valid JSON.", number)
                    continue
                if not isinstance(line, dict):
                    problem("invalid_request", "Each line must be a JSON object.", number)
                    continue
                for code, message, param in _line_problems(line, batch.endpoint, seen):
                    problem(code, message, number, param)
        if count == 0:
            problem("empty_file", "The input file holds no requests.")
        if count > MAX_BATCH_LINES:
            problem("too_many_requests", f"The input file holds more than {MAX_BATCH_LINES} requests.")
        if errors:
            batch.errors = errors
            batch.status = "failed"
            batch.times["failed"] = int(when)
            return False
        batch.total = count
        return True

    def _run_lines(self, batch: _Batch, base_url: str, until: float, validated: float) -> None:
        """Answer, in input order, every line due by ``until``."""
        if batch.total == 0:
            return
        step = batch.pace * _RUNNING_SHARE / batch.total
        due = batch.total if step <= 0 else min(batch.total, int((until - validated) / step))
        if due <= batch.done_lines:
            return
        batch.output = batch.output or self._new_path()
        batch.error = batch.error or self._new_path()
        with (
            batch.input_file.path.open("rb") as source,
            batch.output.open("ab") as output,
            batch.error.open("ab") as error,
        ):
            source.seek(batch.offset)
            while batch.done_lines < due:
                raw = source.readline()
                if not raw:
                    break
                if not raw.strip():
                    continue
                line = json.loads(raw)
                status, body = self._respond(batch.endpoint, line["body"], base_url)
                answer = {
                    "id": f"batch_req_{secrets.token_hex(12)}",
                    "custom_id": line["custom_id"],
                    "response": {
                        "status_code": status,
                        "request_id": f"req_{secrets.token_hex(16)}",
                        "body": body,
                    },
                    "error": None,
                }
                target = output if 200 <= status < 300 else error
                encoded = json.dumps(answer, separators=(",", ":")).encode() + b"\n"
                room = self.config.max_batch_store_bytes - self.stored_bytes() - output.tell() - error.tell()
                if len(encoded) > room:
                    # The store is full (max_batch_store_bytes): the line fails, its answer is not kept.
                    answer = {
                        "id": answer["id"],
                        "custom_id": line["custom_id"],
                        "response": None,
                        "error": {
                            "code": "file_store_full",
                            "message": "The emulator's file store is full (max_batch_store_bytes); the "
                            "answer of this request was not kept.",
                        },
                    }
                    target = error
                    encoded = json.dumps(answer, separators=(",", ":")).encode() + b"\n"
                target.write(encoded)
                if target is output:
                    batch.completed += 1
                else:
                    batch.failed += 1
            batch.offset = source.tell()

    def _respond(self, endpoint: str, body: dict[str, Any], base_url: str) -> tuple[int, object]:
        """A line's answer, from the endpoint's route (on the event loop; this runs in a worker thread)."""
        if body.get("stream") is True:
            return 400, {
                "error": {
                    "message": "Streaming is not supported in a batch.",
                    "type": "invalid_request_error",
                    "param": "stream",
                    "code": "invalid_value",
                }
            }
        status, raw = anyio.from_thread.run(self.hooks.respond, endpoint, body, base_url)
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode("utf-8", errors="replace")

    def _finish(self, batch: _Batch) -> None:
        """Publish the output and error files (an empty one is not published, as the API does)."""
        for path, kind in ((batch.output, "output"), (batch.error, "error")):
            if path is None:
                continue
            if path.stat().st_size == 0:
                path.unlink(missing_ok=True)
                continue
            file = self._register(path, f"{batch.id}_{kind}.jsonl", batch.output_lifetime)
            if kind == "output":
                batch.output_file_id = file.id
            else:
                batch.error_file_id = file.id


def _line_problems(line: dict[str, Any], endpoint: str, seen: set[str]) -> list[tuple[str, str, str]]:
    """What is wrong with a line of an input file, as (code, message, param); adds its custom_id to seen."""
    problems = []
    custom_id = line.get("custom_id")
    if not isinstance(custom_id, str) or not custom_id:
        problems.append(("missing_required_parameter", "Missing custom_id.", "custom_id"))
    elif custom_id in seen:
        message = f"The custom_id '{custom_id}' appears more than once in the input file."
        problems.append(("duplicate_custom_id", message, "custom_id"))
    else:
        seen.add(custom_id)
    if line.get("method") != "POST":
        problems.append(("invalid_method", "The method of every request must be POST.", "method"))
    if line.get("url") != endpoint:
        message = f"The url of every request must be the batch's endpoint {endpoint}."
        problems.append(("mismatched_url", message, "url"))
    if not isinstance(line.get("body"), dict):
        problems.append(("invalid_request", "Each request needs a JSON object as its body.", "body"))
    return problems


def batch_routes(service: BatchService) -> list[Route]:  # noqa: PLR0915 - closures over one service
    """The routes of ``/v1/files`` and ``/v1/batches``, over the app's files and batches."""
    hooks = service.hooks
    hooks.cleanups.append(service.close)
    error = hooks.error

    def base_url(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    def missing_file(file_id: str) -> JSONResponse:
        return error(404, f"No such File object: {file_id}", param="id", code="not_found")

    def missing_batch(batch_id: str) -> JSONResponse:
        return error(404, f"No batch found with id '{batch_id}'.", param="batch_id", code="not_found")

    async def upload(request: Request) -> Response:  # noqa: PLR0911 - one return per refusal
        if (refused := hooks.check_auth(request)) is not None:
            return refused
        try:
            form = await request.form(max_part_size=1024 * 1024)
        except BodyTooLarge:
            raise  # the app's 413
        except (
            Exception
        ) as exc:  # any malformed multipart body is the client's 400 (python-multipart's errors vary)
            return error(400, f"Could not parse the multipart form: {exc}", code="invalid_request")
        try:
            upload = form.get("file")
            purpose = form.get("purpose")
            if not isinstance(upload, UploadFile):
                return error(400, "Missing required parameter: 'file'.", param="file", code="missing")
            if not isinstance(purpose, str) or purpose not in _PURPOSES:
                allowed = ", ".join(f"'{name}'" for name in _PURPOSES)
                return error(
                    400,
                    f"Invalid value for 'purpose': {purpose!r}. Supported values are: {allowed}.",
                    param="purpose",
                    code="invalid_value",
                )
            expiry = _expires_after(form)
            if isinstance(expiry, Response):
                return expiry
            added = await anyio.to_thread.run_sync(
                service.add_file, upload.file, upload.filename or "upload.jsonl", purpose, expiry
            )
        finally:
            await form.close()
        if isinstance(added, str):
            return error(400, added, param="file", code="file_too_large")
        return JSONResponse(added.to_json())

    async def file_info(request: Request) -> Response:
        if (refused := hooks.check_auth(request)) is not None:
            return refused
        file = service.live_file(request.path_params["file_id"])
        if file is None:
            return missing_file(request.path_params["file_id"])
        if request.method == "DELETE":
            service.delete_file(file.id)
            return JSONResponse({"id": file.id, "object": "file", "deleted": True})
        return JSONResponse(file.to_json())

    async def file_list(request: Request) -> Response:
        """``GET /v1/files``: newest first (``order=asc``: oldest), by ``purpose``, ``limit``, ``after``."""
        if (refused := hooks.check_auth(request)) is not None:
            return refused
        query = request.query_params
        try:
            limit = int(query.get("limit", "10000"))
        except ValueError:
            limit = 0
        if not 1 <= limit <= 10000:  # the API's documented range
            return error(400, "limit must be between 1 and 10000.", param="limit", code="invalid_value")
        order = query.get("order", "desc")
        if order not in ("asc", "desc"):
            message = f"Invalid value for 'order': {order!r}. Supported values are: 'asc' and 'desc'."
            return error(400, message, param="order", code="invalid_value")
        files = [file for file_id in list(service.files) if (file := service.live_file(file_id)) is not None]
        if (purpose := query.get("purpose")) is not None:
            files = [file for file in files if file.purpose == purpose]
        if order == "desc":
            files.reverse()
        if (after := query.get("after")) is not None:
            ids = [file.id for file in files]
            files = files[ids.index(after) + 1 :] if after in ids else []
        page = files[:limit]
        return JSONResponse(
            {
                "object": "list",
                "data": [file.to_json() for file in page],
                "first_id": page[0].id if page else None,
                "last_id": page[-1].id if page else None,
                "has_more": len(files) > limit,
            }
        )

    async def file_content(request: Request) -> Response:
        if (refused := hooks.check_auth(request)) is not None:
            return refused
        file = service.live_file(request.path_params["file_id"])
        if file is None or not file.path.exists():
            return missing_file(request.path_params["file_id"])
        # Streamed from disk in chunks: an output file of images can be many gigabytes.
        return FileResponse(file.path, media_type="application/octet-stream", filename=file.filename)

    async def create(request: Request) -> Response:  # noqa: PLR0911 - one return per refusal
        if (refused := hooks.check_auth(request)) is not None:
            return refused
        try:
            body = json.loads(await request.body())
        except (ValueError, RecursionError):
            return error(400, "We could not parse the JSON body of your request.", code="invalid_json")
        if not isinstance(body, dict):
            return error(400, "The request body must be a JSON object.", code="invalid_type")
        for name in ("input_file_id", "endpoint", "completion_window"):
            if not isinstance(body.get(name), str):
                return error(400, f"Missing required parameter: '{name}'.", param=name, code="missing")
        # In the order the API checks: the body's schema, then the file it names; only then what the emulator
        # cannot run (an endpoint the API takes but the emulator does not serve).
        if body["endpoint"] not in _SPEC_ENDPOINTS:
            allowed = ", ".join(f"'{name}'" for name in _SPEC_ENDPOINTS)
            return error(
                400,
                f"Invalid value for 'endpoint': '{body['endpoint']}'. Supported values are: {allowed}.",
                param="endpoint",
                code="invalid_value",
            )
        if body["completion_window"] != "24h":
            return error(
                400,
                f"Invalid value for 'completion_window': '{body['completion_window']}'. "
                "Supported values are: '24h'.",
                param="completion_window",
                code="invalid_value",
            )
        output_lifetime = _output_expires_after(body.get("output_expires_after"))
        if isinstance(output_lifetime, Response):
            return output_lifetime
        file = service.live_file(body["input_file_id"])
        if file is None:
            return error(
                400,
                f"No such File object: {body['input_file_id']}",
                param="input_file_id",
                code="invalid_value",
            )
        if body["endpoint"] not in _ENDPOINTS:
            return error(
                400,
                f"Unsupported endpoint '{body['endpoint']}': the emulator runs batches of "
                f"{' and '.join(_ENDPOINTS)} only.",
                param="endpoint",
                code="unsupported_value",
            )
        batch = service.create(file, body["endpoint"], body.get("metadata"), output_lifetime)
        return JSONResponse(batch.to_json())

    async def looked_at(batch: _Batch, request: Request) -> Response:
        await anyio.to_thread.run_sync(service.advance, batch, base_url(request))
        return JSONResponse(batch.to_json())

    async def retrieve(request: Request) -> Response:
        if (refused := hooks.check_auth(request)) is not None:
            return refused
        batch = service.batches.get(request.path_params["batch_id"])
        if batch is None:
            return missing_batch(request.path_params["batch_id"])
        return await looked_at(batch, request)

    async def cancel(request: Request) -> Response:
        if (refused := hooks.check_auth(request)) is not None:
            return refused
        batch = service.batches.get(request.path_params["batch_id"])
        if batch is None:
            return missing_batch(request.path_params["batch_id"])
        await anyio.to_thread.run_sync(service.advance, batch, base_url(request))
        if batch.status in ENDED:
            return error(
                409,
                f"Cannot cancel a batch with status '{batch.status}'.",
                param="batch_id",
                code="batch_not_cancellable",
            )
        await anyio.to_thread.run_sync(service.cancel, batch, base_url(request))
        return JSONResponse(batch.to_json())

    async def listing(request: Request) -> Response:
        if (refused := hooks.check_auth(request)) is not None:
            return refused
        try:
            limit = int(request.query_params.get("limit", "20"))
        except ValueError:
            limit = 0
        if not 1 <= limit <= 100:  # the API's documented range
            return error(400, "limit must be between 1 and 100.", param="limit", code="invalid_value")
        newest_first = list(service.batches.values())[::-1]  # created in this order
        after = request.query_params.get("after")
        if after:
            ids = [batch.id for batch in newest_first]
            newest_first = newest_first[ids.index(after) + 1 :] if after in ids else []
        page = newest_first[:limit]
        for batch in page:
            await anyio.to_thread.run_sync(service.advance, batch, base_url(request))
        return JSONResponse(
            {
                "object": "list",
                "data": [batch.to_json() for batch in page],
                "first_id": page[0].id if page else None,
                "last_id": page[-1].id if page else None,
                "has_more": len(newest_first) > limit,
            }
        )

    return [
        Route(FILES_API_PATH, upload, methods=["POST"]),
        Route(FILES_API_PATH, file_list, methods=["GET"]),
        Route(FILES_API_PATH + "/{file_id}", file_info, methods=["GET", "DELETE"]),
        Route(FILES_API_PATH + "/{file_id}/content", file_content, methods=["GET"]),
        Route(BATCHES_PATH, create, methods=["POST"]),
        Route(BATCHES_PATH, listing, methods=["GET"]),
        Route(BATCHES_PATH + "/{batch_id}", retrieve, methods=["GET"]),
        Route(BATCHES_PATH + "/{batch_id}/cancel", cancel, methods=["POST"]),
    ]


def _output_expires_after(value: object) -> int | Response | None:
    """The seconds of a batch's ``output_expires_after`` (the spec's BatchFileExpirationAfter: ``anchor``
    ``created_at`` and ``seconds`` from an hour to 30 days, both required), None when not given, or the
    API's 400."""  # noqa: D205, D209
    if value is None:
        return None
    low, high = _EXPIRY_RANGE
    seconds = value.get("seconds") if isinstance(value, dict) else None
    if (
        not isinstance(value, dict)
        or value.get("anchor") != "created_at"
        or not isinstance(seconds, int)
        or isinstance(seconds, bool)
        or not low <= seconds <= high
    ):
        message = (
            'Invalid value for \'output_expires_after\': it must be {"anchor": "created_at", "seconds": '
            f"{low} to {high}}}."
        )
        return protocol.error(400, message, param="output_expires_after", code="invalid_value")
    return seconds


def _expires_after(form: Any) -> int | Response | None:
    """The seconds of an upload's ``expires_after`` (``anchor`` ``created_at`` and ``seconds``, both
    required, an hour to 30 days), None when not given, or the API's 400."""  # noqa: D205, D209
    anchor, seconds = form.get("expires_after[anchor]"), form.get("expires_after[seconds]")
    if anchor is None and seconds is None:
        return None
    if anchor != "created_at":
        message = "Invalid value for 'expires_after[anchor]': it must be 'created_at'."
        return protocol.error(400, message, param="expires_after.anchor", code="invalid_value")
    try:
        value = int(str(seconds))
    except ValueError:
        value = -1
    low, high = _EXPIRY_RANGE
    if not low <= value <= high:
        message = f"Invalid value for 'expires_after[seconds]': it must be from {low} to {high}."
        return protocol.error(400, message, param="expires_after.seconds", code="invalid_value")
    return value
