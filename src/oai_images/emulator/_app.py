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
import math
import random
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator, Mapping
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
from oai_images.rules import MODEL_RULES, effective_fields, field_schemas, parse_size, resolve_model, validate

from ._asgi import read_body
from ._azure import AzureRoutes, is_azure_generations
from ._batches import BATCHES_PATH, BatchHooks, batch_routes, post_json
from ._config import EmulatorConfig, FaultSpec, parse_fault, parse_latency
from ._draw import DrawnImages, ImageFormat, draw_image, draw_partial
from ._ratelimit import RateLimits
from ._store import EXPIRED, ImageStore, StoredImage

if TYPE_CHECKING:
    from oai_images_api.api import Operation

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
FILES_PATH = "/v1/emulator/files"
FAULT_HEADER = "x-emulator-fault"
LATENCY_HEADER = "x-emulator-latency-ms"
#: Where a real server (see `_server.py`) puts the connection's asyncio transport in ``scope["state"]``,
#: so a fault can close the connection without any answer.
TRANSPORT_STATE_KEY = "oai_images.emulator.transport"
_DEFAULT_SIZE = (1024, 1024)
# What the emulator draws for a gif when the request does not say: the API documents no default.
_DEFAULT_FRAME_COUNT = 4
_DEFAULT_FRAME_DURATION_MS = 100
# Output tokens of a 1024x1024 image per quality, as the GPT image models bill them (roughly); other sizes
# scale with their area.
_IMAGE_TOKENS = {"low": 272, "medium": 1056, "high": 4160, "xhigh": 6240, "max": 8320}


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
        #: The bytes of the bodies in ``requests``: bounded by ``config.max_recorded_bytes``.
        self.recorded_bytes = 0
        self.fault_counts: dict[FaultSpec, int] = {}
        self.rng = random.Random(config.seed)  # noqa: S311 (latency jitter, not cryptography)
        self.drawn = DrawnImages()
        self.rate_limits = RateLimits()

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


def _new_request_id() -> str:
    return f"req_{secrets.token_hex(16)}"


def _error(
    status: int,
    message: str,
    *,
    type: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"message": message, "type": type, "param": param, "code": code}}
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


def _fault_response(fault: FaultSpec, config: EmulatorConfig) -> Response | None:
    """The answer of a status fault, or None for the faults that are not a plain answer."""
    retry_after = str(fault.retry_after if fault.retry_after is not None else config.retry_after)
    if fault.kind == "rate_limit":
        return _error(
            429,
            "Rate limit reached for images per minute (injected by the oai-images emulator).",
            type="requests",
            code="rate_limit_exceeded",
            headers={"retry-after": retry_after},
        )
    if fault.kind == "server_error":
        return _error(
            500, "The server had an error while processing your request (injected).", type="server_error"
        )
    if fault.kind == "service_unavailable":
        return _error(
            503,
            "The engine is currently overloaded, please try again later (injected).",
            type="server_error",
            headers={"retry-after": retry_after},
        )
    if fault.kind == "not_json":
        status = fault.status or 200
        title = (
            f"{status} {HTTPStatus(status).phrase}"
            if status in HTTPStatus._value2member_map_
            else str(status)
        )
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

    async def __call__(  # noqa: PLR0915 - the ASGI entry: every step in request order, readable as one
        self, scope: Scope, receive: Receive, send: Send
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _new_request_id()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        path = scope["path"]
        # Faults and recording apply to the image calls and to the batch calls (small JSON bodies); never to
        # file uploads, whose bodies may be hundreds of megabytes.
        image_call = scope["method"] == "POST" and (path in _API_PATHS or is_azure_generations(path))
        if not image_call and not path.startswith(BATCHES_PATH):
            await self.app(scope, receive, send_with_id)
            return

        body = await read_body(receive)
        headers = _recorded_headers(scope)
        cap = self.state.config.max_recorded_bytes
        parsed = _loads(body) if len(body) <= cap else None
        self.state.record(RecordedRequest(scope["method"], scope["path"], headers, body, parsed, request_id))
        replayed = False

        async def replay() -> Message:
            # The body was read above (to record it); hand it to the app once, then pass messages on.
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
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
            await _error(400, f"Bad emulator header: {exc}", code="invalid_emulator_header")(
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
    except ConnectionDropped:
        raise
    except Exception:
        if finished:
            # The 500 envelope was sent by the app's own handler (Starlette re-raises after it): log it.
            logging.getLogger("oai_images.emulator").exception("the emulator failed; answered 500")
            return
        if started:
            raise  # the answer is under way: the connection is cut, as a real server's would be
        response = _error(500, "The server had an error while processing your request.", type="server_error")
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


def _check_auth(request: Request) -> Response | None:
    header = request.headers.get("authorization")
    if header is None:
        return _error(
            401,
            "You didn't provide an API key. You need to provide your API key in an Authorization header "
            "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        )
    # Any non-empty key, spaces included (the official client's own tests send "My API Key").
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return _error(
            401,
            "Incorrect API key provided. The Authorization header must be 'Bearer YOUR_KEY'.",
            code="invalid_api_key",
        )
    return None


#: The formats an unsupported-file-type error of an upload names.
_FORMAT_NAMES = frozenset({"PNG", "JPEG", "WebP"})


def _invalid(exc: InvalidParameterError, operation: Operation) -> JSONResponse:
    """The envelope of a rule violation, coded as the API codes it (for generations, edits, variations)."""
    known = exc.param in field_schemas(operation) or exc.param in ("image_url", "file_id")
    if not known or not exc.allowed:  # a field the model does not take is unknown to it
        return _error(
            400, f"Unknown parameter: '{exc.param}'. {exc.message}", param=exc.param, code="unknown_parameter"
        )
    if exc.param in ("image", "mask"):
        # A format the model does not take is refused by the API as an unsupported file type.
        unsupported = bool(exc.allowed) and set(exc.allowed) <= _FORMAT_NAMES
        code = "unsupported_file_mimetype" if unsupported else "invalid_image"
        return _error(400, exc.message, param=exc.param, code=code)
    code = "invalid_size" if exc.param == "size" else "invalid_value"
    return _error(400, exc.message, param=exc.param, code=code)


def _parse(body: bytes) -> tuple[dict[str, object], _Plan] | Response:
    """The request's fields and what to draw, or the 400 answer to an invalid request."""
    try:
        decoded = json.loads(body)
    except (ValueError, RecursionError):
        return _error(
            400,
            "We could not parse the JSON body of your request. The OpenAI API expects a JSON payload.",
            code="invalid_json",
        )
    if not isinstance(decoded, dict):
        return _error(400, "The request body must be a JSON object.", code="invalid_type")
    # The API reads an explicit null as "use the default".
    fields: dict[str, object] = {name: value for name, value in decoded.items() if value is not None}
    try:
        validate(CREATE_IMAGE, fields)
    except InvalidParameterError as exc:
        return _invalid(exc, CREATE_IMAGE)
    model = resolve_model(fields)
    if model is None:
        known = ", ".join(f"'{name}'" for name in MODEL_RULES)
        return _error(
            400,
            f"Invalid value for 'model': '{fields['model']}'. Supported values are: {known}.",
            param="model",
            code="invalid_value",
        )
    return fields, _plan(fields, model)


def _usage(prompt: str, width: int, height: int, quality: str, n: int) -> dict[str, Any]:
    text_tokens = max(1, math.ceil(len(prompt) / 4))
    per_image = math.ceil(_IMAGE_TOKENS.get(quality, _IMAGE_TOKENS["high"]) * width * height / 1024**2)
    output = per_image * n
    return {
        "input_tokens": text_tokens,
        "input_tokens_details": {"text_tokens": text_tokens, "image_tokens": 0},
        "output_tokens": output,
        "output_tokens_details": {"image_tokens": output, "text_tokens": 0},
        "total_tokens": text_tokens + output,
    }


def _revise(prompt: str, style: str) -> str:
    mood = "dramatic, hyper-real" if style == "vivid" else "natural, softly lit"
    return f"{prompt.rstrip('. ')}. A detailed, {mood} rendering with a balanced composition."


@dataclasses.dataclass(frozen=True)
class _Plan:
    """What to draw and how to answer, resolved from a valid request."""

    model: str
    gpt: bool
    prompt: str
    n: int
    width: int
    height: int
    output_format: ImageFormat
    transparent: bool
    compression: int | None
    frame_count: int
    frame_duration_ms: int
    quality: str
    background: str
    response_format: str
    style: str
    stream: bool
    partial_images: int


def _plan(fields: Mapping[str, object], model: str) -> _Plan:
    """What to draw, from the request and the API's defaults for what it leaves out (read from the rules
    table, the one home of the defaults)."""  # noqa: D205, D209 - one sentence over two lines
    request: dict[str, Any] = effective_fields(fields)
    gpt = MODEL_RULES[model].family == "gpt-image"
    width, height = parse_size(str(request.get("size", "auto"))) or _DEFAULT_SIZE
    background = str(request.get("background", "auto"))
    quality = str(request.get("quality", "auto"))
    return _Plan(
        model=model,
        gpt=gpt,
        prompt=str(request["prompt"]),
        n=int(request.get("n", 1)),
        width=width,
        height=height,
        output_format=cast(ImageFormat, request.get("output_format", "png")) if gpt else "png",
        transparent=background == "transparent",
        # the API's default of 100 is no compression asked for: the encoder's own default then applies
        compression=cast("int | None", fields.get("output_compression")),
        frame_count=int(request.get("frame_count", _DEFAULT_FRAME_COUNT)),
        frame_duration_ms=int(request.get("frame_duration_ms", _DEFAULT_FRAME_DURATION_MS)),
        quality="high" if gpt and quality == "auto" else quality,
        background="transparent" if background == "transparent" else "opaque",
        response_format=str(request.get("response_format", "url")),
        style=str(request.get("style", "vivid")),
        stream=request.get("stream") is True,
        partial_images=int(request.get("partial_images", 0)),
    )


def create_app(config: EmulatorConfig | None = None) -> EmulatorApp:  # noqa: PLR0915 - one closure per route
    """Build the emulator's ASGI app.

    Args:
        config: How it behaves; `EmulatorConfig.from_env()` when None. The app reads it on every request,
            so changing its attributes later takes effect at once.

    Returns:
        An ASGI app; its ``state`` holds the config and the requests it received.
    """
    state = EmulatorState(config if config is not None else EmulatorConfig.from_env())

    async def draw(plan: _Plan, index: int) -> bytes:
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
        parsed = _check_auth(request) or _parse(await request.body())
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
                    item["revised_prompt"] = _revise(plan.prompt, plan.style)
                data.append(item)
            return JSONResponse({"created": created, "data": data})
        answer: dict[str, Any] = {
            "created": created,
            "data": [{"b64_json": base64.b64encode(content).decode("ascii")} for content in images],
            "background": plan.background,
            "output_format": plan.output_format,
            "quality": plan.quality,
            "size": f"{plan.width}x{plan.height}",
            "usage": _usage(plan.prompt, plan.width, plan.height, plan.quality, plan.n),
        }
        if "safety_identifier" in fields:
            answer["safety_identifier"] = fields["safety_identifier"]
        return JSONResponse(answer)

    async def _events(plan: _Plan) -> AsyncIterator[str]:
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
            yield _sse({"type": "error", "error": envelope})

    async def _image_events(plan: _Plan, common: Mapping[str, object]) -> AsyncIterator[str]:
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
                yield _sse(event)
            completed = {
                "type": "image_generation.completed",
                "b64_json": base64.b64encode(final).decode("ascii"),
                "created_at": int(time.time()),
                **common,
                "usage": _usage(plan.prompt, plan.width, plan.height, plan.quality, 1),
            }
            yield _sse(completed)

    async def files(request: Request) -> Response:
        name = request.path_params["name"]
        entry = state.store.get(name)
        if entry == EXPIRED:
            return _error(
                403,
                "This image URL has expired (image URLs are valid for a limited time).",
                code="url_expired",
            )
        if not isinstance(entry, StoredImage):
            return _error(404, f"No image named '{name}'.", code="not_found")
        return Response(entry.content, media_type=entry.media_type, headers={"cache-control": "private"})

    async def failed(request: Request, exc: Exception) -> Response:
        return _error(500, "The server had an error while processing your request.", type="server_error")

    async def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        if status == 405:
            return _error(405, f"Method not allowed ({request.method} {request.url.path}).")
        if status != 404:
            return _error(
                status, "The server had an error while processing your request.", type="server_error"
            )
        return _error(404, f"Invalid URL ({request.method} {request.url.path})")

    from ._edits import edit_routes  # noqa: PLC0415 - it imports this module's helpers

    async def batch_line(body: object, base_url: str) -> tuple[int, bytes]:
        # A batch line is answered by the generation route itself (not through EmulatorApp: no fault,
        # no recording), so it gets exactly the answer and errors a request would.
        return await post_json(app, GENERATIONS_PATH, json.dumps(body).encode(), base_url)

    app = Starlette(
        routes=[
            Route(GENERATIONS_PATH, generations, methods=["POST"]),
            *edit_routes(state),
            Route(FILES_PATH + "/{name}", files, methods=["GET"]),
            *batch_routes(state.config, BatchHooks(respond=batch_line, error=_error, check_auth=_check_auth)),
        ],
        exception_handlers={HTTPException: not_found, Exception: failed},
    )
    # Azure's routes sit between the recording layer and the routes: rewritten onto the OpenAI route.
    return EmulatorApp(AzureRoutes(app, GENERATIONS_PATH, lambda: state.config.azure_deployments), state)


def _sse(event: Mapping[str, object]) -> str:
    return f"event: {event['type']}\ndata: {json.dumps(event, separators=(',', ':'))}\n\n"
