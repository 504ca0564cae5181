"""The emulator's ASGI app: ``POST /v1/images/generations`` and the image files behind ``url`` responses.

Two layers. The outer one (`EmulatorApp`, plain ASGI) gives every response an ``x-request-id``,
records generation requests for tests, and applies latency and injected faults; a dropped or truncated
connection must be done below Starlette, whose error middleware would otherwise answer 500. The inner one
is a Starlette app: authentication, parsing with the generated models, validation with the SDK's own
rules (the public `oai_images.rules`), drawing, the URL store and server-sent events.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import functools
import json
import logging
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, cast

import anyio
import anyio.to_thread
from oai_images_api.api.images import CREATE_IMAGE
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from oai_images import InvalidParameterError
from oai_images.rules import MODEL_RULES, resolve_model, validate

from ._asgi import read_prefix
from ._azure import AzureRoutes, is_azure_images
from ._batches import BATCHES_PATH, BatchHooks, BatchService, batch_routes, post_json
from ._bodies import BodyTooLarge, body_limit, capped, declared_length, too_large
from ._config import EmulatorConfig, FaultSpec, parse_fault, parse_latency
from ._draw import DrawnImages, draw_image, draw_partial
from ._edits import edit_routes
from ._protocol import (
    FILES_PATH,
    Plan,
    check_auth,
    error,
    invalid,
    json_fields,
    make_plan,
    new_request_id,
    revise,
    sse,
    usage_of,
)
from ._ratelimit import RateLimits
from ._store import EXPIRED, ImageStore, StoredImage

if TYPE_CHECKING:
    pass

__all__ = [
    "FAULT_HEADER",
    "GENERATIONS_PATH",
    "LATENCY_HEADER",
    "ConnectionDropped",
    "EmulatorApp",
    "EmulatorState",
    "RecordedRequest",
    "create_app",
]

GENERATIONS_PATH = "/v1/images/generations"
#: The API's image routes: their requests are recorded (bodies capped by `max_recorded_bytes`: an edit
#: uploads up to 16 images of 50 MB) and get latency and faults.
_API_PATHS = frozenset({GENERATIONS_PATH, "/v1/images/edits", "/v1/images/variations"})
FAULT_HEADER = "x-emulator-fault"
LATENCY_HEADER = "x-emulator-latency-ms"
#: Where a real server (see `_server.py`) puts the connection's asyncio transport in ``scope["state"]``,
#: so a fault can close the connection without any answer.
TRANSPORT_STATE_KEY = "oai_images_emulator.transport"
#: The statuses Python names (a fault may ask for any number).
_HTTP_STATUSES = frozenset(int(status) for status in HTTPStatus)


class ConnectionDropped(Exception):
    """Raised by the app when a fault drops the connection and no real connection is there to close.

    The in-process transports turn it into ``httpx.RemoteProtocolError``, as a closed socket would be.
    """


@dataclasses.dataclass(frozen=True)
class RecordedRequest:
    """An API request (generation, edit, variation) the emulator received, before any fault or validation.

    Attributes:
        method: The HTTP method.
        path: The URL path.
        headers: The request headers, names in lower case (left out of the repr: they hold the key).
        body: The raw body (at most ``max_recorded_bytes`` of it: uploads can be large).
        json: The body parsed as JSON, or None when it is not JSON (a multipart edit or variation) or was cut.
        request_id: The ``x-request-id`` the emulator answered with.
        truncated: The body was larger than ``max_recorded_bytes`` and is kept cut to it.
    """

    method: str
    path: str
    headers: Mapping[str, str] = dataclasses.field(repr=False)
    body: bytes = dataclasses.field(repr=False)
    json: object
    request_id: str
    truncated: bool = False


class EmulatorState:
    """What one emulator app holds: its config, the URL store, fault counters and recorded requests."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.store = ImageStore(
            clock=lambda: self.config.clock(),  # noqa: PLW0108 (follows a later config.clock change)
            max_entries=config.max_stored_images,
            max_bytes=config.max_stored_bytes,
        )
        self.requests: deque[RecordedRequest] = deque(maxlen=config.max_recorded_requests)
        #: What `close` runs: the route groups' clean-ups (the batch files' folder).
        self.cleanups: list[Callable[[], None]] = []
        #: The bytes of the bodies in ``requests``: bounded by ``config.max_recorded_bytes``.
        self.recorded_bytes = 0
        self.fault_counts: dict[FaultSpec, int] = {}
        self.rng = random.Random(config.seed)  # noqa: S311 (latency jitter, not cryptography)
        self.drawn = DrawnImages()
        self.rate_limits = RateLimits()
        #: The Files API's store (uploads and batch files), set by `create_app`: JSON edits read file ids
        #: from it.
        self.files: BatchService | None = None

    def reset(self) -> None:
        """Forget the recorded requests and the fault counters (stored images stay)."""
        self.requests.clear()
        self.recorded_bytes = 0
        self.fault_counts.clear()
        self.rate_limits.reset()

    def record(self, request: RecordedRequest) -> None:
        """Keep a received request, forgetting the oldest ones to stay within the count and byte caps.

        A body larger than the byte cap is kept cut to the cap (its ``json`` is then None).
        """
        cap = self.config.max_recorded_bytes
        if len(request.body) > cap:
            request = dataclasses.replace(request, body=request.body[:cap], json=None, truncated=True)
        if len(self.requests) == self.requests.maxlen and self.requests:
            self.recorded_bytes -= len(self.requests[0].body)
        self.requests.append(request)
        self.recorded_bytes += len(request.body)
        while self.recorded_bytes > cap and len(self.requests) > 1:
            self.recorded_bytes -= len(self.requests.popleft().body)

    def close(self) -> None:
        """Remove what the app keeps on disk (the batch files); a server calls it as it stops."""
        for cleanup in self.cleanups:
            cleanup()


def _fault_response(fault: FaultSpec, config: EmulatorConfig) -> Response | None:
    """The answer of a status fault, or None for the faults that are not a plain answer."""
    retry_after = str(fault.retry_after if fault.retry_after is not None else config.retry_after)
    if fault.kind == "rate_limit":
        return error(
            429,
            "Rate limit reached for images per minute (injected by the oai-images emulator).",
            type="requests",
            code="rate_limit_exceeded",
            headers={"retry-after": retry_after},
        )
    if fault.kind == "server_error":
        return error(
            500, "The server had an error while processing your request (injected).", type="server_error"
        )
    if fault.kind == "service_unavailable":
        return error(
            503,
            "The engine is currently overloaded, please try again later (injected).",
            type="server_error",
            headers={"retry-after": retry_after},
        )
    if fault.kind == "not_json":
        status = fault.status or 200
        title = f"{status} {HTTPStatus(status).phrase}" if status in _HTTP_STATUSES else str(status)
        html = (
            f"<html><head><title>{title}</title></head><body>"
            f"<center><h1>{title}</h1></center><hr><center>nginx</center></body></html>\n"
        )
        return Response(html, status_code=status, media_type="text/html")
    return None


class EmulatorApp:
    """The emulator as an ASGI app: request ids, recording, latency and faults around the Starlette routes.

    This layer sits outside Starlette on purpose: Starlette's error middleware answers 500 to any
    exception, and a dropped or truncated connection must give no answer at all.

    Attributes:
        state: The config, the URL store, the fault counters and the recorded requests.
    """

    def __init__(self, app: ASGIApp, state: EmulatorState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Every body is capped by its route before anything reads it: a declared length over the cap is a
        # 413 at once; a body streaming past it stops the request with the same 413.
        path = scope["path"]
        limit = body_limit(self.state.config, path)
        declared = declared_length(scope)
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        if declared is not None and declared > limit:
            await self._with_id(too_large(limit, path), scope, receive, send)
            return
        try:
            await self._serve(scope, capped(receive, limit, path), tracked)
        except BodyTooLarge as exc:
            if started:  # pragma: no cover - the routes read their body before they answer
                raise
            await self._with_id(too_large(exc.limit, exc.path), scope, receive, send)

    @staticmethod
    async def _with_id(response: Response, scope: Scope, receive: Receive, send: Send) -> None:
        response.headers["x-request-id"] = new_request_id()
        await response(scope, receive, send)

    async def _serve(  # noqa: PLR0915 - the ASGI entry: every step in request order, readable as one
        self, scope: Scope, receive: Receive, send: Send
    ) -> None:
        request_id = new_request_id()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        path = scope["path"]
        # Faults and recording apply to the image calls and to the batch calls (small JSON bodies); never to
        # file uploads, whose bodies may be hundreds of megabytes.
        image_call = scope["method"] == "POST" and (path in _API_PATHS or is_azure_images(path))
        if not image_call and not path.startswith(BATCHES_PATH):
            await self.app(scope, receive, send_with_id)
            return

        # Recorded: the body up to max_recorded_bytes (read here), the rest streams on to the app unread.
        cap = self.state.config.max_recorded_bytes
        chunks, more = await read_prefix(receive, cap)
        body = b"".join(chunks)[:cap] if more else b"".join(chunks)
        headers = _recorded_headers(scope)
        parsed = _loads(body) if not more and len(body) <= cap else None
        recorded = RecordedRequest(scope["method"], scope["path"], headers, body, parsed, request_id)
        self.state.record(dataclasses.replace(recorded, truncated=True) if more else recorded)
        del body
        pending = deque(chunks)
        del chunks

        async def replay() -> Message:
            # The start of the body was read above (to record it): hand its chunks to the app one by one
            # (each dropped once handed on), then pass the rest of the messages on as they come.
            if pending:
                chunk = pending.popleft()
                return {"type": "http.request", "body": chunk, "more_body": more or bool(pending)}
            return await receive()

        config = self.state.config
        verdict = self.state.rate_limits.take(config.rate_limit_rpm, config.rate_limit_burst)
        if verdict is not None:
            send_with_id = verdict.with_headers(send_with_id)  # type: ignore[assignment]  # same signature
            if not verdict.allowed:
                await verdict.refusal()(scope, replay, send_with_id)
                return
        try:
            latency = parse_latency(headers[LATENCY_HEADER]) if LATENCY_HEADER in headers else config.latency
            fault = parse_fault(headers[FAULT_HEADER]) if FAULT_HEADER in headers else config.fault
        except ValueError as exc:
            await error(400, f"Bad emulator header: {exc}", code="invalid_emulator_header")(
                scope, replay, send_with_id
            )
            return
        delay = latency.pick_seconds(self.state.rng)
        if delay > 0:
            await anyio.sleep(delay)
        fault = self._counted(fault)
        if fault is None:
            await _answering_500(self.app, scope, replay, send_with_id)
            return

        if fault.kind == "hang":
            # Holds the request until the client gives up (or the hang ends): then answers normally.
            with anyio.move_on_after(config.hang_seconds):
                while (await receive())["type"] != "http.disconnect":
                    pass
                return
            await self.app(scope, replay, send_with_id)
        elif fault.kind == "drop":
            await _drop(scope, receive)
        elif fault.kind == "truncate":
            await self._truncated(scope, replay, send_with_id, fault)
        else:
            response = _fault_response(fault, config)
            assert response is not None  # every other kind is a plain answer
            await response(scope, replay, send_with_id)

    def _counted(self, fault: FaultSpec | None) -> FaultSpec | None:
        """The fault to inject into this request: None once a ``times=K`` fault has failed K requests."""
        if fault is not None and fault.times is not None:
            seen = self.state.fault_counts.get(fault, 0)
            self.state.fault_counts[fault] = seen + 1
            if seen >= fault.times:
                return None
        return fault

    async def _truncated(self, scope: Scope, receive: Receive, send: Send, fault: FaultSpec) -> None:
        """Answer with the real response's headers, then half of its body, then close the connection."""
        messages: list[Message] = []

        async def capture(message: Message) -> None:
            messages.append(message)

        await self.app(scope, receive, capture)
        start = next(m for m in messages if m["type"] == "http.response.start")
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send(
            {"type": "http.response.start", "status": fault.status or start["status"], "headers": headers}
        )
        await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
        await _drop(scope, receive)


async def _answering_500(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """Run the app; a failure of ours becomes the API's JSON 500, not a plain-text page or a crash."""
    started = finished = False

    async def tracked(message: Message) -> None:
        nonlocal started, finished
        started = started or message["type"] == "http.response.start"
        finished = finished or (message["type"] == "http.response.body" and not message.get("more_body"))
        await send(message)

    try:
        await app(scope, receive, tracked)
    except (ConnectionDropped, BodyTooLarge):
        raise
    except Exception:
        if finished:
            # The 500 envelope was sent by the app's own handler (Starlette re-raises after it): log it.
            logging.getLogger("oai_images_emulator").exception("the emulator failed; answered 500")
            return
        if started:
            raise  # the answer is under way: the connection is cut, as a real server's would be
        response = error(500, "The server had an error while processing your request.", type="server_error")
        await response(scope, receive, send)


async def _drop(scope: Scope, receive: Receive) -> None:
    """Close the connection with no (further) answer."""
    transport = cast("asyncio.Transport | None", scope.get("state", {}).get(TRANSPORT_STATE_KEY))
    if transport is None:
        raise ConnectionDropped("the emulator dropped the connection (injected fault)")
    transport.abort()
    # Wait until the server notices, so it does not answer "500 Internal Server Error" on our behalf.
    with anyio.move_on_after(5):
        while (await receive())["type"] != "http.disconnect":
            pass


def _recorded_headers(scope: Scope) -> dict[str, str]:
    """A request's headers as the emulator records them: recorded requests end up in test output, so the
    bearer key is replaced."""  # noqa: D205, D209 - one sentence over two lines
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    if "authorization" in headers:
        scheme = headers["authorization"].partition(" ")[0]
        headers["authorization"] = f"{scheme} [redacted]"
    if "api-key" in headers:  # Azure's key header
        headers["api-key"] = "[redacted]"
    return headers


def _loads(body: bytes) -> object:
    try:
        return cast(object, json.loads(body))
    except (ValueError, RecursionError):  # RecursionError: JSON nested deeper than Python recurses
        return None


def _parse(body: bytes) -> tuple[dict[str, object], Plan] | Response:
    """The request's fields and what to draw, or the 400 answer to an invalid request."""
    try:
        decoded = json.loads(body)
    except (ValueError, RecursionError):
        return error(
            400,
            "We could not parse the JSON body of your request. The OpenAI API expects a JSON payload.",
            code="invalid_json",
        )
    if not isinstance(decoded, dict):
        return error(400, "The request body must be a JSON object.", code="invalid_type")
    fields = json_fields(CREATE_IMAGE, decoded)
    try:
        validate(CREATE_IMAGE, fields)
    except InvalidParameterError as exc:
        return invalid(exc, CREATE_IMAGE)
    model = resolve_model(fields)
    if model is None:
        known = ", ".join(f"'{name}'" for name in MODEL_RULES)
        return error(
            400,
            f"Invalid value for 'model': '{fields['model']}'. Supported values are: {known}.",
            param="model",
            code="invalid_value",
        )
    return fields, make_plan(fields, model)


def create_app(config: EmulatorConfig | None = None) -> EmulatorApp:  # noqa: PLR0915 - one closure per route
    """Build the emulator's ASGI app.

    Args:
        config: How it behaves; `EmulatorConfig.from_env()` when None. The app reads it on every request,
            so changing its attributes later takes effect at once.

    Returns:
        An ASGI app; its ``state`` holds the config and the requests it received.
    """
    state = EmulatorState(config if config is not None else EmulatorConfig.from_env())

    async def draw(plan: Plan, index: int) -> bytes:
        """The image's bytes: remembered, or drawn in a worker thread so the event loop keeps serving."""
        job = functools.partial(
            draw_image,
            plan.prompt,
            index=index,
            seed=state.config.seed,
            width=plan.width,
            height=plan.height,
            output_format=plan.output_format,
            transparent=plan.transparent,
            compression=plan.compression,
            frame_count=plan.frame_count,
            frame_duration_ms=plan.frame_duration_ms,
        )
        key = (job.args, tuple(job.keywords.items()))
        remembered = state.drawn.get(key)
        if remembered is not None:
            return remembered
        image = await anyio.to_thread.run_sync(job)
        state.drawn.put(key, image)
        return image

    async def generations(request: Request) -> Response:
        parsed = check_auth(request) or _parse(await request.body())
        if isinstance(parsed, Response):
            return parsed
        fields, plan = parsed
        if plan.stream:
            return StreamingResponse(
                _events(plan),
                media_type="text/event-stream",
                headers={"cache-control": "no-cache"},
            )
        images = [await draw(plan, index) for index in range(plan.n)]
        created = int(time.time())
        if not plan.gpt:
            data = []
            for content in images:
                item: dict[str, str] = {}
                if plan.response_format == "b64_json":
                    item["b64_json"] = base64.b64encode(content).decode("ascii")
                else:
                    name = state.store.put(
                        content, media_type="image/png", extension="png", lifetime=state.config.url_lifetime
                    )
                    item["url"] = f"{str(request.base_url).rstrip('/')}{FILES_PATH}/{name}"
                if plan.model == "dall-e-3":
                    item["revised_prompt"] = revise(plan.prompt, plan.style)
                data.append(item)
            return JSONResponse({"created": created, "data": data})
        answer: dict[str, Any] = {
            "created": created,
            "data": [{"b64_json": base64.b64encode(content).decode("ascii")} for content in images],
            "background": plan.background,
            "output_format": plan.output_format,
            "quality": plan.quality,
            "size": f"{plan.width}x{plan.height}",
            "usage": usage_of(plan, plan.n),
        }
        if "safety_identifier" in fields:
            answer["safety_identifier"] = fields["safety_identifier"]
        return JSONResponse(answer)

    async def _events(plan: Plan) -> AsyncIterator[str]:
        common = {
            "size": f"{plan.width}x{plan.height}",
            "quality": plan.quality,
            "background": plan.background,
            "output_format": plan.output_format,
        }
        try:
            async for event in _image_events(plan, common):
                yield event
        except Exception:
            message = "The server had an error while processing your request."
            envelope = {"message": message, "type": "server_error"}
            yield sse({"type": "error", "error": envelope})

    async def _image_events(plan: Plan, common: Mapping[str, object]) -> AsyncIterator[str]:
        for index in range(plan.n):
            final = await draw(plan, index)
            for step in range(plan.partial_images):
                partial = await anyio.to_thread.run_sync(
                    draw_partial, final, step, plan.partial_images, plan.output_format
                )
                event = {
                    "type": "image_generation.partial_image",
                    "b64_json": base64.b64encode(partial).decode("ascii"),
                    "created_at": int(time.time()),
                    **common,
                    "partial_image_index": step,
                }
                yield sse(event)
            completed = {
                "type": "image_generation.completed",
                "b64_json": base64.b64encode(final).decode("ascii"),
                "created_at": int(time.time()),
                **common,
                "usage": usage_of(plan, 1),
            }
            yield sse(completed)

    async def files(request: Request) -> Response:
        name = request.path_params["name"]
        entry = state.store.get(name)
        if entry == EXPIRED:
            return error(
                403,
                "This image URL has expired (image URLs are valid for a limited time).",
                code="url_expired",
            )
        if not isinstance(entry, StoredImage):
            return error(404, f"No image named '{name}'.", code="not_found")
        return Response(entry.content, media_type=entry.media_type, headers={"cache-control": "private"})

    async def failed(request: Request, exc: Exception) -> Response:
        return error(500, "The server had an error while processing your request.", type="server_error")

    async def body_too_large(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, BodyTooLarge)  # registered for it alone
        return too_large(exc.limit, exc.path)

    async def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        if status == 405:
            return error(405, f"Method not allowed ({request.method} {request.url.path}).")
        if status != 404:
            return error(
                status, "The server had an error while processing your request.", type="server_error"
            )
        return error(404, f"Invalid URL ({request.method} {request.url.path})")

    async def batch_line(endpoint: str, body: object, base_url: str) -> tuple[int, bytes]:
        # A batch line is answered by the endpoint's route itself (not through EmulatorApp: no fault,
        # no recording), so it gets exactly the answer and errors a request would.
        return await post_json(app, endpoint, json.dumps(body).encode(), base_url)

    state.files = BatchService(
        state.config,
        BatchHooks(respond=batch_line, error=error, check_auth=check_auth, cleanups=state.cleanups),
    )
    app = Starlette(
        routes=[
            Route(GENERATIONS_PATH, generations, methods=["POST"]),
            *edit_routes(state),
            Route(FILES_PATH + "/{name}", files, methods=["GET"]),
            *batch_routes(state.files),
        ],
        exception_handlers={HTTPException: not_found, BodyTooLarge: body_too_large, Exception: failed},
    )
    # Azure's routes sit between the recording layer and the routes: rewritten onto the OpenAI route.
    return EmulatorApp(AzureRoutes(app, GENERATIONS_PATH, lambda: state.config.azure_deployments), state)
