"""ImagesClient and AsyncImagesClient: the same constructor and methods, one blocking, one awaited.

Each public method is one operation of the API: ``prompt`` plus the operation's optional fields as keyword
arguments, typed by the ``TypedDict`` that ``make generate`` writes from the spec (``CreateImageParams``),
so a field added to the spec is usable here with no edit. Everything that is not I/O (configuration,
validation, request building, answer and error mapping, retry decisions) lives in ``_ClientBase``,
``rules``, ``_wire`` and ``_retries``; the two clients only send, wait and read, each in its own colour.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Self, TypedDict, TypeVar, Unpack, cast

import httpx

from ._auth import KeyAuth
from ._backends import Backend, load_backend
from ._errors import APIResponseValidationError, InvalidParameterError, OAIImagesError
from ._limits import parse_rate_limit
from ._operations import operations
from ._redact import redact, scrub
from ._results import AsyncDownload, CompletedImageEvent, Download, ImageResult, PartialImageEvent
from ._retries import OnRetry, RetryBudget, connection_error
from ._send import aclose_streamed, aiter_lines, asend, close_streamed, iter_lines, send
from ._settings import (
    DEFAULT_TIMEOUT,
    MAX_DOWNLOAD_BYTES,
    MAX_ERROR_BODY_BYTES,
    MAX_STREAM_LINE_BYTES,
    USER_AGENT,
    Changes,
    ClientConfig,
    Route,
    Settings,
)
from ._wire import (
    PARTIAL_IMAGE_EVENTS,
    ServerSentEvents,
    parse_images_response,
    parse_stream_event,
    request_body,
    request_id,
    status_error,
    unsendable,
)

if TYPE_CHECKING:
    from oai_images_api.api import Operation
    from oai_images_api.api.images import CreateImageEditParams, CreateImageParams, CreateImageVariationParams

    from ._uploads import ImageInput, ImageReference
    from .pricing import Cost, PricesArg

    #: What ``edit`` takes as ``image``: one input or a sequence of them (uploads, or references).
    EditImages = ImageInput | ImageReference | Sequence[ImageInput] | Sequence[ImageReference]
    from oai_images_api.models import ImageGenCompletedEvent, ImageGenPartialImageEvent

    from .bulk import BulkEvent, BulkSummary

__all__ = ["AsyncImagesClient", "ClientConfig", "ClientOptions", "ImagesClient", "generate"]

StreamEvent = PartialImageEvent | CompletedImageEvent

#: The headers that carry the API key or identify the account: never sent to an image URL.
_ACCOUNT_HEADERS = ("Authorization", "api-key", "OpenAI-Organization", "OpenAI-Project")
#: Default headers of the httpx clients this package opens itself (nothing secret: the key goes per request).
_OWN_HEADERS = {"User-Agent": USER_AGENT}


#: Statuses with which a signed image URL says it is no longer valid.
class _Guard:
    """The context of `_BaseClient._guarded`: scrubs the client's credentials from an error of ours that
    leaves it. A plain class, not a generator: it is entered a few times on every call."""  # noqa: D205, D209

    __slots__ = ("_client",)

    def __init__(self, client: _ClientBase[Any, Any]) -> None:
        self._client = client

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: BaseException | None, traceback: object) -> None:
        if isinstance(exc, OAIImagesError):
            scrub(exc, self._client._secrets)


_EXPIRED_STATUSES = frozenset({403, 404, 410})
_EXPIRED_MESSAGE = (
    "the image URL has expired or is no longer valid (image URLs are valid for 60 minutes after "
    "generation); generate again, or ask for response_format='b64_json' to get the bytes in the response"
)


#: `rules.validate`, loaded at the first request (the model table is not read at ``import oai_images``).
_VALIDATE: Callable[[Operation[Any, Any], Mapping[str, object]], None] | None = None


def _load_validate() -> Callable[[Operation[Any, Any], Mapping[str, object]], None]:
    global _VALIDATE  # noqa: PLW0603 - set once, at the first request
    from .rules import validate  # noqa: PLC0415 - see _VALIDATE

    _VALIDATE = validate
    return validate


def _fields(prompt: str, params: Mapping[str, object], **fixed: object) -> dict[str, object]:
    """The request body's fields: the prompt, every keyword the caller set (None means "not set", so no
    spec default is ever filled in), and the fields a method fixes itself (``stream`` for streams)."""  # noqa: D205, D209 - one sentence over three lines
    fields: dict[str, object] = {"prompt": prompt, **params}
    for value in params.values():
        if value is None:  # by identity: a value's own == is never asked (see tests/test_wire.py)
            fields = {"prompt": prompt}
            fields.update((name, value) for name, value in params.items() if value is not None)
            break
    if fixed:
        fields.update(fixed)
    return fields


class _StreamReader:
    """The state of reading one stream: its server-sent events, and how many images it has completed."""

    def __init__(self, fields: Mapping[str, object]) -> None:
        self.events = ServerSentEvents()
        prompt = fields.get("prompt")
        self.prompt = prompt if isinstance(prompt, str) else None
        self.fields = fields
        self.completed = 0


_HttpT = TypeVar("_HttpT", httpx.Client, httpx.AsyncClient)
_SleepT = TypeVar("_SleepT", Callable[[float], None], Callable[[float], Awaitable[None]])


class ClientOptions(TypedDict, Generic[_HttpT, _SleepT], total=False):
    """The options every client takes besides where requests go and as whom (see `ImagesClient`)."""

    organization: str | None
    project: str | None
    timeout: float | httpx.Timeout | None
    max_retries: int
    http_client: _HttpT | None
    validate: bool
    emulator: bool
    sleep: _SleepT | None
    jitter: Callable[[], float] | None
    on_retry: OnRetry | None
    max_download_bytes: int
    max_error_body_bytes: int
    max_stream_line_bytes: int
    prices: PricesArg


class _ClientBase(Generic[_HttpT, _SleepT]):
    """The constructor, configuration and the pure steps both clients share."""

    _config: ClientConfig
    _http: _HttpT
    _owns_http: bool
    _sleep: _SleepT
    _headers: Mapping[str, str]

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        organization: str | None = None,
        project: str | None = None,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        max_retries: int = 2,
        http_client: _HttpT | None = None,
        validate: bool = True,
        emulator: bool = False,
        sleep: _SleepT | None = None,
        jitter: Callable[[], float] | None = None,
        on_retry: OnRetry | None = None,
        auth_header: str | None = None,
        max_download_bytes: int = MAX_DOWNLOAD_BYTES,
        max_error_body_bytes: int = MAX_ERROR_BODY_BYTES,
        max_stream_line_bytes: int = MAX_STREAM_LINE_BYTES,
        prices: PricesArg = None,
    ) -> None:
        """Configure the client; nothing is sent yet.

        Args:
            api_key: The API key; else ``OPENAI_API_KEY``. Never shown in a repr or an error. The public
                API needs one (a missing key is reported here); a server at another ``base_url`` may need
                none, and then no ``Authorization`` header is sent.
            base_url: The API's base URL; else ``OPENAI_BASE_URL``, else ``https://api.openai.com/v1``.
            organization: Sent as ``OpenAI-Organization``; else ``OPENAI_ORG_ID``.
            project: Sent as ``OpenAI-Project``; else ``OPENAI_PROJECT_ID``.
            timeout: Seconds, or an ``httpx.Timeout``, per attempt. The default (600 s, 5 s to connect)
                leaves room for high-quality generations, which can take minutes. It bounds the whole
                attempt (connecting, sending, the answer and its body, a whole stream), not each read:
                the attempt's deadline is the largest of the ``httpx.Timeout``'s values, and there is
                none when its read timeout is None.
            max_retries: How many times a failed attempt is retried (connection errors, timeouts, 408,
                409, 429, 5xx), waiting as the server asks or with exponential backoff.
            http_client: An ``httpx.Client`` (``httpx.AsyncClient`` for the async client) to send with:
                proxies, pooling, tests. It is used for transport only: base URL, auth and headers still
                come from this client, and closing this client leaves it open.
            validate: Check every value against the documented rules before sending. False sends
                whatever is given (for compatible servers with other rules).
            emulator: Send to the built-in offline emulator, in-process, with no network and no key
                (needs the ``emulator`` extra). ``base_url`` and ``api_key`` default to the emulator's.
            sleep: Waits between retries: ``time.sleep`` (an awaitable ``anyio.sleep`` for the async
                client) unless given. A testing seam: pass a recorder so tests see the delays without
                waiting.
            jitter: Returns a float in [0, 1) that scales the random part of the backoff;
                ``random.random`` unless given. A testing seam, like ``sleep``.
            on_retry: Called before each retry's wait with ``(delay, attempt, max_retries, reason)``:
                the seconds about to be waited, which retry it is (from 1), how many are allowed, and why
                in a few words (``"rate limited"``, ``"server error 503"``, ``"timed out"``,
                ``"connection failed"``). A plain function for both clients; the command line prints
                ``rate limited, retrying in 3 s (1/2)`` with it.
            auth_header: For a compatible server that takes its key in another header: the header's name
                (``"X-Api-Key"``); ``api_key`` is then sent in it as it is, instead of as
                ``Authorization: Bearer <key>``, and redacted like any key.
            max_download_bytes: The largest 2xx body read into memory: an answer (base64 images
                included) or an image download. Larger ones raise ``APIResponseValidationError`` (not
                retried). 512 MiB.
            max_error_body_bytes: How much of an error answer is read (the rest is dropped; the
                message quotes its first 200 characters, ``.body`` holds what was read). 64 KiB.
            max_stream_line_bytes: The longest line of an event stream (one line holds one base64
                image); a longer one raises ``APIResponseValidationError``. 128 MiB.
            prices: Price overrides for every result's ``cost`` (negotiated prices, a compatible server's
                models): a path to an override file, or entries as it holds them (see
                `oai_images.pricing.load_prices`); applied over the built-in table and the user's file.

        Raises:
            ValueError: ``max_retries`` is negative.
            MissingAPIKeyError: No key was given or found, for the public API.
            InvalidParameterError: An unusable setting, or ``emulator=True`` without the emulator extra.
            PriceTableError: A price override that cannot be used (it names the file, entry and field).
        """
        backend = load_backend("emulator") if emulator else None
        settings = Settings.resolve(
            api_key=api_key,
            base_url=base_url,
            organization=organization,
            project=project,
            backend_base_url=backend.base_url if backend is not None else None,
            backend_api_key=backend.api_key if backend is not None else None,
            require_key=http_client is None,
            auth_header=auth_header,
        )
        config = ClientConfig.build(
            route=Route(settings.base_url),
            auth=KeyAuth(settings.api_key, settings.auth_header) if settings.api_key else None,
            headers=settings.account_headers,
            backend=backend,
            timeout=timeout,
            max_retries=max_retries,
            validate=validate,
            sleep=sleep,
            jitter=jitter,
            on_retry=on_retry,
            max_download_bytes=max_download_bytes,
            max_error_body_bytes=max_error_body_bytes,
            max_stream_line_bytes=max_stream_line_bytes,
            prices=prices,
        )
        self._start(config, http_client)

    def _start(self, config: ClientConfig, http_client: _HttpT | None) -> None:
        """Become a client of ``config``, sending with ``http_client`` (the caller's), or an httpx client of
        its own."""  # noqa: D205, D209 - one sentence over two lines
        self._config = config
        self._sleep = self._default_sleep() if config.sleep is None else cast("_SleepT", config.sleep)
        self._owns_http = http_client is None
        self._http = http_client or self._open_http(config.backend)
        # A client this one opened already sends the user agent; fewer headers per request is measurably
        # less work for httpx (see bench/).
        self._headers = config.headers if self._owns_http else {"User-Agent": USER_AGENT, **config.headers}

    @classmethod
    def _from_config(cls, config: ClientConfig, http_client: _HttpT | None = None) -> Self:
        """A client of this class built from a configuration (`with_options`, the bulk engine's twin)."""
        client = cls.__new__(cls)
        client._start(config, http_client)
        return client

    def with_options(self, **changes: Unpack[Changes]) -> Self:
        """A copy of this client with other per-call settings, sharing its connections.

        ``client.with_options(max_retries=0).generate(...)`` sends once; ``with_options(timeout=30)`` gives
        up sooner. Where requests go and as whom stay the same. Closing the copy leaves the connections
        open (they are this client's).

        Args:
            **changes: Any of ``timeout``, ``max_retries``, ``validate``, ``sleep``, ``jitter``,
                ``on_retry``, ``max_download_bytes``, ``max_error_body_bytes``, ``max_stream_line_bytes``,
                as the constructor takes them.

        Raises:
            ValueError: A value the constructor refuses.
            TypeError: A setting that cannot be changed on a copy.
        """
        copy_ = self._from_config(self._config.changed(**changes), self._http)
        copy_._headers = self._headers
        copy_._copy_transport(self)
        return copy_

    def _copy_transport(self, other: Self) -> None:
        """Keep ``other``'s transport for downloads after close (the sync client's)."""

    @property
    def config(self) -> ClientConfig:
        """The configuration this client was built from (frozen)."""
        return self._config

    def _default_sleep(self) -> _SleepT:
        raise NotImplementedError

    def _open_http(self, backend: Backend | None) -> _HttpT:
        """The client's own httpx client, over the backend's transport when there is one."""
        raise NotImplementedError

    def __repr__(self) -> str:
        config = self._config
        return (
            f"{type(self).__name__}({config.route.describe()}, max_retries={config.max_retries}, "
            f"validate={config.validate})"
        )

    @property
    def base_url(self) -> str:
        """The API's base URL requests go to."""
        return self._config.route.base_url

    @property
    def _secrets(self) -> tuple[str, ...]:
        auth = self._config.auth
        return auth.secrets if auth is not None else ()

    def redact(self, text: str) -> str:
        """``text`` with every credential this client has sent replaced by ``[redacted]``, in any encoding
        a server could echo it in: for a message or a log line of your own."""  # noqa: D205, D209
        return redact(text, self._secrets)

    def _budget(self) -> RetryBudget:
        config = self._config
        return RetryBudget(config.max_retries, config.jitter, on_retry=config.on_retry)

    def _guarded(self) -> _Guard:
        """Around every call: what escapes is one of our errors, which holds no credential this client sent.

        A chained httpx exception carries the request (with the key) and the server's words; a
        JSON error carries the whole body. They are replaced by redacted stand-ins (see `clean_chain`).
        """
        return _Guard(self)

    def validate_fields(self, operation: Operation[Any, Any], fields: Mapping[str, object]) -> None:
        """Check an operation's fields against the documented rules of the model they go to.

        On Azure, the rules of the model behind the deployment. This checks whatever ``validate`` says;
        the client's own methods call it only when ``validate`` is on.

        Raises:
            InvalidParameterError: A value the API would reject, naming it and what is allowed.
        """
        (_VALIDATE or _load_validate())(operation, self._config.route.rules_fields(fields))

    def _build(
        self,
        operation: Operation[Any, Any],
        fields: Mapping[str, object] | None = None,
        *,
        path: Mapping[str, str] | None = None,
        query: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Request:
        """The request of one operation, as this client sends it (no I/O, no validation).

        Fields go as JSON, or, for a multipart operation (edits, variations, file uploads), as the one
        multipart body (`_uploads.MultipartBody`): files streamed from disk, read anew on each attempt.
        """
        http = self._http
        if http.is_closed:
            raise OAIImagesError(f"this {type(self).__name__} is closed; create a new one to send requests")
        route = self._config.route
        if fields is not None:
            fields = route.outgoing(fields)
        url = route.url(operation.path.format(**path) if path else operation.path, fields or {})
        multipart = operation.content_type == "multipart/form-data"
        try:
            request = http.build_request(
                operation.method,
                url,
                json=request_body(fields) if fields is not None and not multipart else None,
                params=query,
                timeout=self._config.timeout,
            )
            # Set on the built request, over the HTTP client's defaults: a quarter of the cost of
            # build_request's own merge of headers, on every call.
            for name, value in self._headers.items():
                request.headers[name] = value
            if headers:
                request.headers.update(headers)
        except (
            TypeError,
            ValueError,
            UnicodeError,
            RecursionError,
        ) as exc:  # what validate=False let through, or a header that cannot be sent
            raise unsendable(fields or {}, exc) from exc
        if multipart:
            from ._uploads import multipart_request  # noqa: PLC0415 - only edits and variations need it

            return multipart_request(request, fields or {})
        return request

    def _request(self, operation: Operation[Any, Any], fields: Mapping[str, object]) -> httpx.Request:
        """Validate ``fields`` (unless told not to) and build the operation's request; no I/O happens here."""
        if self._config.validate:
            self.validate_fields(operation, fields)
        return self._build(operation, fields)

    def batch_body(self, fields: Mapping[str, object]) -> dict[str, object]:
        """The JSON body of an image generation or edit as a Batch API line sends it: checked (unless
        ``validate`` is off) and named as this client names its model (on Azure, the deployment).

        A body with ``images`` is a JSON edit (its images by URL or file id: a batch line cannot upload);
        any other body is a generation. `batch_endpoint_for` says where each goes.

        Raises:
            InvalidParameterError: A value the API would reject, or one JSON cannot carry.
        """  # noqa: D205
        ops = operations()
        operation = ops.create_image_edit_json if "images" in fields else ops.create_image
        fields = self._config.route.batch_fields(fields)
        if self._config.validate:
            self.validate_fields(operation, fields)
        try:
            return request_body(fields)
        except (TypeError, ValueError, UnicodeError, RecursionError) as exc:
            raise unsendable(fields, exc) from exc

    @property
    def batch_endpoint(self) -> str:
        """The ``endpoint`` (and each line's ``url``) of a Batch API job of image generations."""
        return "/v1" + str(operations().create_image.path)

    def batch_endpoint_for(self, body: Mapping[str, object]) -> str:
        """The Batch API ``endpoint`` of a line's body: image edits for a body with ``images``, else
        generations (as `batch_body` reads it)."""  # noqa: D205, D209
        if "images" in body:
            return "/v1" + str(operations().create_image_edit_json.path)
        return self.batch_endpoint

    def _download_request(self, http: httpx.Client | httpx.AsyncClient, url: str) -> httpx.Request:
        """A request for a signed image URL: a third party, so no API key or account header goes there.

        Raises:
            OAIImagesError: The server returned a URL that cannot be requested.
        """
        try:
            request = http.build_request("GET", url, headers=_OWN_HEADERS, timeout=self._config.timeout)
        except (httpx.InvalidURL, TypeError) as exc:
            detail = redact_snippet(str(exc))
            raise OAIImagesError(f"the server sent an image URL that cannot be downloaded: {detail}") from exc
        if request.url.scheme not in ("http", "https"):
            raise OAIImagesError(f"the server sent an image URL that is not http(s): {request.url.scheme}:")
        for name in _ACCOUNT_HEADERS:
            request.headers.pop(name, None)  # an injected client may carry them as defaults
        auth = self._config.auth
        if isinstance(auth, KeyAuth):
            request.headers.pop(auth.header, None)
        return request

    def _check(self, response: httpx.Response) -> None:
        """Raise the typed error of a non-2xx API answer (its body already read)."""
        if not response.is_success:
            raise status_error(response)

    def _check_stream(self, response: httpx.Response) -> None:
        """Raise unless a 2xx answer to a streamed request is an event stream.

        An HTML page or a plain JSON body from a proxy or a server that ignores ``stream`` would
        otherwise read as a stream of no events: no images, and no error.
        """
        kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
        # No content type at all is let through: a stream without a completed event is caught at its end.
        if kind and kind != "text/event-stream":
            shown = redact_snippet(kind)
            raise APIResponseValidationError(
                f"the server answered a streamed request with {shown} content, not an event stream",
                status_code=response.status_code,
                request_id=request_id(response),
            )

    def _stream_ended(self, response: httpx.Response, completed: int) -> None:
        """Raise when a stream ended without any completed image: the generation's outcome is unknown."""
        if not completed:
            raise APIResponseValidationError(
                "the event stream ended without a completed image event",
                status_code=response.status_code,
                request_id=request_id(response),
            )

    def _result(
        self,
        response: httpx.Response,
        fields: Mapping[str, object],
        budget: RetryBudget,
        *,
        download: Download | None = None,
        adownload: AsyncDownload | None = None,
    ) -> ImageResult:
        self._check(response)
        prompt = fields.get("prompt")
        result = ImageResult.from_response(
            parse_images_response(response),
            request_id=request_id(response),
            model=self._config.route.model_named(fields),
            download=download,
            adownload=adownload,
            prompt=prompt if isinstance(prompt, str) else None,
            attempts=budget.attempts,
            possibly_billed=budget.possibly_billed,
            rate_limit=parse_rate_limit(response.headers),
            price=lambda usage, images: self.cost_of(fields, usage, images),
        )
        if "image" in fields:
            result.cost  # noqa: B018 - an edit or variation is priced now: its result keeps no upload
        return result

    def estimate_cost(
        self, fields: Mapping[str, object], *, operation: str = "generate", batch: bool = False
    ) -> Cost:
        """The most a request of ``fields`` (the prompt among them) will cost, before it is sent: an upper
        bound (see `oai_images.pricing.estimate`), priced by this client's table; on Azure, by the
        deployment's entry, else by its model's. ``batch`` prices it as a Batch API line."""  # noqa: D205, D209
        from .pricing import estimate  # noqa: PLC0415 - loaded with the first estimate

        params = {key: value for key, value in fields.items() if key != "prompt"}
        params["model"] = self._config.route.model_named(fields)
        prompt = fields.get("prompt")
        return estimate(
            operation,
            prompt if isinstance(prompt, str) else None,
            prices=self._config.prices,
            batch=batch,
            fallback_model=self._model_behind(fields),
            **params,
        )

    def cost_of(
        self, fields: Mapping[str, object], usage: object, images: int, *, batch: bool = False
    ) -> Cost:
        """The cost of an answer to a request of ``fields`` that held ``images`` images and ``usage``,
        priced by this client's table (on Azure: the deployment's entry, else its model's); ``batch``: a
        Batch API line's, with its discount."""  # noqa: D205, D209
        from .pricing import cost_of  # noqa: PLC0415 - loaded with the first answer

        return cost_of(
            self._config.route.model_named(fields),
            fields,
            usage=usage,
            images=images,
            prices=self._config.prices,
            batch=batch,
            fallback_model=self._model_behind(fields),
        )

    def _model_behind(self, fields: Mapping[str, object]) -> str | None:
        """The model whose price applies when the name a request goes by has none (an Azure deployment's)."""
        behind = self._config.route.rules_fields(fields).get("model")
        return behind if isinstance(behind, str) else None

    def _downloaded(self, response: httpx.Response) -> bytes:
        if response.is_success:
            return response.content
        expired = response.status_code in _EXPIRED_STATUSES
        message = _EXPIRED_MESSAGE if expired else "could not download the image"
        raise status_error(response, message=message)

    def _events(self, reader: _StreamReader, line: str | None, response: httpx.Response) -> list[StreamEvent]:
        """The facade events a stream line completes (``line=None`` at the end of the stream)."""
        message = reader.events.feed(line) if line is not None else reader.events.flush()
        if message is None:
            return []
        event = parse_stream_event(*message, response)
        if event is None:
            return []
        rid = request_id(response)
        # The images of a stream come one after another: each completed event ends one.
        index = reader.completed + 1
        if event.type_ in PARTIAL_IMAGE_EVENTS:
            partial = cast("ImageGenPartialImageEvent", event)
            return [
                PartialImageEvent.from_event(partial, request_id=rid, prompt=reader.prompt, image_index=index)
            ]
        reader.completed += 1
        completed = cast("ImageGenCompletedEvent", event)
        final = CompletedImageEvent.from_event(
            completed, request_id=rid, prompt=reader.prompt, image_index=index
        )
        return [dataclasses.replace(final, cost=self.cost_of(reader.fields, final.usage, 1))]

    def _edit_request(
        self,
        prompt: str,
        image: object,
        mask: object,
        markup: object,
        params: Mapping[str, object],
        *,
        stream: bool,
    ) -> tuple[httpx.Request, dict[str, object]]:
        """Read and check the inputs, then build the edit's request: multipart uploads, or JSON references."""
        from ._uploads import edit_fields  # noqa: PLC0415 - only edits need it

        if not stream and params.get("stream"):
            message = "stream True is not accepted by edit(); use edit_stream() to stream"
            raise InvalidParameterError("stream", True, ("false",), message)
        fixed: dict[str, object] = {"stream": True} if stream else {}
        name, fields = edit_fields(prompt, image, mask, params, markup=markup, **fixed)
        ops = operations()
        return self._request(
            (ops.create_image_edit_json if name == "CREATE_IMAGE_EDIT_JSON" else ops.create_image_edit),
            fields,
        ), fields

    def _variation_request(
        self, image: object, params: Mapping[str, object]
    ) -> tuple[httpx.Request, dict[str, object]]:
        """Read and check the image, then build the variation's multipart request."""
        from ._uploads import variation_fields  # noqa: PLC0415 - only variations need it

        fields = variation_fields(image, params)
        return self._request(operations().create_image_variation, fields), fields

    def _generate_fields(self, prompt: str, params: Mapping[str, object]) -> dict[str, object]:
        """The fields of a one-answer generation; streaming has its own method, whose answer differs."""
        if params.get("stream"):
            message = "stream True is not accepted by generate(); use generate_stream() to stream"
            raise InvalidParameterError("stream", True, ("false",), message)
        return _fields(prompt, params)


class ImagesClient(_ClientBase[httpx.Client, Callable[[float], None]]):
    """A client for OpenAI's images API, checking every documented rule before a request.

    Use it as a context manager, or call :meth:`close`, to release its connections::

        with ImagesClient() as client:
            result = client.generate("a lighthouse at dusk", model="gpt-image-2", size="1536x864")
            result.images[0].save("out/")
    """

    _transport: httpx.BaseTransport | None = None

    def _copy_transport(self, other: ImagesClient) -> None:
        self._transport = other._transport

    def _default_sleep(self) -> Callable[[float], None]:
        return time.sleep

    def _open_http(self, backend: Backend | None) -> httpx.Client:
        if backend is not None:
            self._transport = backend.transport()
        return httpx.Client(transport=self._transport, timeout=self._config.timeout, headers=_OWN_HEADERS)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release the connections (an injected ``http_client`` is left open: it is the caller's)."""
        if self._owns_http:
            self._http.close()

    def generate(self, prompt: str, **params: Unpack[CreateImageParams]) -> ImageResult:
        """Generate images from a prompt (``POST /images/generations``).

        Only the arguments you set are sent; None means "not set" and the API's own default applies.

        Args:
            prompt: A text description of the images. At most 1000 characters for dall-e-2, 4000 for
                dall-e-3 and 32000 for the GPT image models.
            **params: The request's optional fields, as the spec declares them (see
                ``oai_images.types.GenerateParams`` for each one's meaning): ``model``, ``n``, ``quality``,
                ``response_format``, ``size``, ``style``, ``user``, ``safety_identifier``,
                ``background``, ``moderation``, ``output_format``, ``output_compression``, and the preview
                fields. ``oai_images.rules`` says which values each model takes.

        Returns:
            The images, with usage, the echoed settings and the request id.

        Raises:
            InvalidParameterError: A value the API would reject, or an unknown keyword (before anything
                is sent).
            APIStatusError: The server answered with an error status (a subclass per status).
            APIConnectionError: No answer, after the retries (``APITimeoutError`` for a timeout).
        """
        return self._generate(self._generate_fields(prompt, params))

    def _generate(self, fields: Mapping[str, object]) -> ImageResult:
        with self._guarded():
            request = self._request(operations().create_image, fields)
            return self._answer(request, fields)

    def _answer(self, request: httpx.Request, fields: Mapping[str, object]) -> ImageResult:
        """Send a one-answer request (with retries) and read its images (inside the caller's guard)."""
        budget = self._budget()
        config = self._config
        response = send(
            self._http, request, budget=budget, sleep=self._sleep, limits=config.limits, auth=config.auth
        )
        return self._result(response, fields, budget, download=self.download)

    def request(
        self,
        operation: Operation[Any, Any],
        fields: Mapping[str, object] | None = None,
        *,
        path: Mapping[str, str] | None = None,
        query: Mapping[str, str | int] | None = None,
    ) -> httpx.Response:
        """Send one operation of the spec (images, files, batches) and return its answer, read.

        The one request primitive under every method: this client's route, auth, retries, deadline and
        size caps apply, and errors are this package's (credentials redacted). No rule is checked here
        (see `validate_fields`).

        Args:
            operation: A generated operation record (``oai_images_api.api.batch.CREATE_BATCH``, ...).
            fields: The JSON body's fields (or a multipart upload's, for an images operation).
            path: The values of the path's placeholders (``{"batch_id": ...}``).
            query: The query's parameters (``{"limit": 100}``).

        Raises:
            APIStatusError: The server answered with an error status (a subclass per status).
            APIConnectionError: No answer, after the retries.
        """
        with self._guarded():
            response = self._send(self._build(operation, fields, path=path, query=query))
            self._check(response)
            return response

    @contextlib.contextmanager
    def stream(
        self,
        operation: Operation[Any, Any],
        fields: Mapping[str, object] | None = None,
        *,
        path: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Iterator[httpx.Response]:
        """Send one operation and hand its 2xx answer over unread, to be read as a stream (a file's content).

        As `request`, except that the body is read by the caller (``iter_bytes``) within the ``with`` block;
        the connection is released when it ends. A broken stream raises ``APIConnectionError``. ``headers``
        are added to the request's (``Range``, to resume a download).
        """
        with self._guarded():
            response = self._send(self._build(operation, fields, path=path, headers=headers), stream=True)
        try:
            with self._guarded():
                self._check(response)
                try:
                    yield response
                except httpx.HTTPError as exc:
                    raise connection_error(exc) from exc
        finally:
            close_streamed(response)

    def generate_many(
        self,
        requests: str | os.PathLike[str] | Iterable[str | Mapping[str, Any]],
        *,
        out: str | os.PathLike[str] = "images",
        concurrency: int = 8,
        retry_failed: bool = False,
        on_event: Callable[[BulkEvent], None] | None = None,
        max_cost: float | None = None,
    ) -> BulkSummary:
        """Generate an image set per request, at the server's rate limit, resumable after any crash.

        Every request is checked before the first is sent. Each line's images are saved the moment they
        arrive, as ``<id or line number>-<prompt slug>[-<k>].<ext>`` in ``out``, and recorded in the
        journal there (``out/.oai-images.sqlite``); calling this again with the same requests skips every
        line already saved and sends only the rest. Changing a line's fields makes it a new line.

        Args:
            requests: A ``.txt`` (a prompt a line), ``.jsonl`` (an object a line: ``prompt``, any
                generate fields, an optional ``id``) or ``.csv`` file (a header row of field names), or an
                iterable of prompts and such mappings.
            out: The folder the images and the journal go in.
            concurrency: The most requests in flight at once; fewer while the server's rate limit says so.
            retry_failed: Send again the lines an earlier run gave up on (by default they are skipped).
            on_event: Called with each progress event (`oai_images.bulk.BulkEvent`), from the thread the
                run's event loop is in.
            max_cost: A budget in USD for these lines, earlier runs' spending (from the journal) included.
                The run is refused before anything is sent when its estimate (an upper bound, see
                `oai_images.pricing`) is over it; while it runs, a line is sent only when what is spent and
                what is in flight stay within it, else the run stops (``summary.budget_stopped``) and a
                later run with a higher budget resumes.

        Returns:
            The summary: lines done, skipped and failed (with the reasons), retries, usage.

        Raises:
            InvalidParameterError: A request that cannot be sent (an ``InvalidLineError`` naming the
                line), a ``concurrency`` that is not a whole number of at least 1, or an ``out`` that is a
                file; nothing was sent.
            OAIImagesError: Another run uses ``out`` (a ``JournalError``: its journal cannot be used);
                nothing was sent.
            BudgetExceededError: (an ``InvalidParameterError``) The estimate is over ``max_cost``, or
                unknown for a model with no price; nothing was sent.
            BulkInterrupted: Ctrl-C: the sending stopped, the requests in flight were saved; it carries
                the summary. Running again resumes.

        The run uses an ``httpx.AsyncClient`` of its own (over the emulator when this client uses it): an
        injected ``http_client`` is not used for it.
        """
        from .bulk import check_run, load, run_bulk_sync  # noqa: PLC0415 - the engine loads with its first run

        folder = Path(os.path.expanduser(os.fspath(out)))
        check_run(folder, concurrency, max_cost)
        # The client's own check: on Azure, the rules of the model behind the deployment.
        lines = load(requests, validate=self._config.validate, check=self.validate_fields)
        return run_bulk_sync(
            # The engine is async inside: a client of the same configuration, over connections of its own
            # (an injected sync http_client cannot send awaited requests).
            lambda: AsyncImagesClient._from_config(self._config.for_async()),
            lines,
            out=folder,
            concurrency=concurrency,
            retry_failed=retry_failed,
            on_event=on_event,
            max_cost=max_cost,
        )

    def generate_stream(
        self, prompt: str, **params: Unpack[CreateImageParams]
    ) -> Generator[PartialImageEvent | CompletedImageEvent]:
        """Generate in streaming mode (GPT image models): partial images, then the final one.

        The arguments are checked when this is called; the request is sent when iteration starts. The
        arguments are those of :meth:`generate` (``stream`` is set for you); ``partial_images`` (0 to 3)
        says how many partial images come before each final one.

        Returns:
            A generator of :class:`PartialImageEvent` and :class:`CompletedImageEvent`. To stop before the
            end, ``close()`` it (or iterate inside ``contextlib.closing``): that closes the connection.

        Raises:
            InvalidParameterError: When called, for a value the API would reject.
            APIStatusError: While iterating: an error status, or an error event in the stream.
            APIConnectionError: While iterating: no answer, or the stream broke.
        """
        fields = _fields(prompt, params, stream=True)
        with self._guarded():
            request = self._request(operations().create_image, fields)
        return self._stream(request, fields)

    def _stream(self, request: httpx.Request, fields: Mapping[str, object]) -> Generator[StreamEvent]:
        with self._guarded():
            response = self._send(request, stream=True)
            try:
                self._check(response)
                self._check_stream(response)
                reader = _StreamReader(fields)
                try:
                    for line in iter_lines(response, self._config.limits):
                        yield from self._events(reader, line, response)
                except httpx.HTTPError as exc:
                    raise connection_error(exc) from exc
                yield from self._events(reader, None, response)
                self._stream_ended(response, reader.completed)
            finally:
                close_streamed(response)

    def edit(
        self,
        prompt: str,
        *,
        image: EditImages,
        mask: ImageInput | ImageReference | None = None,
        markup: ImageInput | None = None,
        **params: Unpack[CreateImageEditParams],
    ) -> ImageResult:
        """Edit or extend images given a prompt (``POST /images/edits``).

        Every input is checked before anything is sent: that it exists and can be read, that its real
        format (from its bytes, not its name) is one the model takes, its size, and the mask's alpha
        channel and dimensions. Files are streamed from disk, read anew on each attempt.

        Args:
            prompt: What to change. At most 1000 characters for dall-e-2, 32000 for the GPT image models.
            image: The image to edit, or a sequence of up to 16 (GPT image models): each a path, bytes, or
                a binary file object; or references, each an :class:`ImageURL` or :class:`FileID`, sent as
                a JSON edit (GPT image models). dall-e-2 takes one square PNG under 4 MB; the GPT image
                models PNG, WebP or JPEG files under 50 MB each.
            mask: A PNG with an alpha channel and the dimensions of the first image: its fully transparent
                pixels are where the image changes. An upload, or a reference when the images are.
            markup: Preview (gpt-image-2.5 and later): a PNG with transparent pixels and the dimensions of
                the first image, laid over it to guide the edit (what is drawn on it shows what to change).
                An upload only, and not with a mask.
            **params: The request's optional fields, as the spec declares them
                (``oai_images.types.EditParams``): ``model`` (API default gpt-image-1.5), ``n``, ``size``,
                ``quality``, ``input_fidelity``, ``background``, ``output_format``, ...

        Returns:
            The edited images, with usage and the request id.

        Raises:
            InvalidParameterError: An input or value the API would reject (before anything is sent).
            APIStatusError: The server answered with an error status (a subclass per status).
            APIConnectionError: No answer, after the retries (``APITimeoutError`` for a timeout).
        """
        with self._guarded():
            request, fields = self._edit_request(prompt, image, mask, markup, params, stream=False)
            return self._answer(request, fields)

    def edit_stream(
        self,
        prompt: str,
        *,
        image: EditImages,
        mask: ImageInput | ImageReference | None = None,
        markup: ImageInput | None = None,
        **params: Unpack[CreateImageEditParams],
    ) -> Generator[PartialImageEvent | CompletedImageEvent]:
        """Edit in streaming mode (GPT image models): partial images, then the final one.

        The arguments are those of :meth:`edit` (``stream`` is set for you) and are checked when this is
        called; the request is sent when iteration starts. Events and closing are as for
        :meth:`generate_stream`.
        """
        with self._guarded():
            request, fields = self._edit_request(prompt, image, mask, markup, params, stream=True)
        return self._stream(request, fields)

    def create_variation(
        self, image: ImageInput, **params: Unpack[CreateImageVariationParams]
    ) -> ImageResult:
        """Make variations of an image (``POST /images/variations``; dall-e-2).

        OpenAI retired dall-e-2 on 2026-05-12; compatible servers still serve it.

        Args:
            image: A square PNG under 4 MB: a path, bytes, or a binary file object.
            **params: ``model``, ``n`` (1 to 10), ``size`` (256x256, 512x512, 1024x1024),
                ``response_format``, ``user`` (``oai_images.types.VariationParams``).

        Returns:
            The variations.

        Raises:
            InvalidParameterError: An input or value the API would reject (before anything is sent).
            APIStatusError: The server answered with an error status (a subclass per status).
            APIConnectionError: No answer, after the retries (``APITimeoutError`` for a timeout).
        """
        with self._guarded():
            request, fields = self._variation_request(image, params)
            return self._answer(request, fields)

    def download(self, url: str) -> bytes:
        """Download an image URL the API returned, with this client's retries, deadline and size cap.

        The URL is signed by a third party: no key, token or account header goes there.

        Raises:
            APIStatusError: The URL has expired (403, 404 or 410: the message says so) or failed.
            APIConnectionError: No answer, after the retries.
        """
        with self._guarded():
            if not self._http.is_closed:
                return self._downloaded(self._send(self._download_request(self._http, url), download=True))
            # Read after the client was closed (after its `with` block, say): an image URL needs no API
            # configuration, so a short-lived connection over the same transport does the job.
            with httpx.Client(transport=self._transport) as http:
                request = self._download_request(http, url)
                return self._downloaded(self._send(request, http=http, download=True))

    def _send(
        self,
        request: httpx.Request,
        *,
        http: httpx.Client | None = None,
        budget: RetryBudget | None = None,
        stream: bool = False,
        download: bool = False,
    ) -> httpx.Response:
        return send(
            http or self._http,
            request,
            budget=budget or self._budget(),
            sleep=self._sleep,
            limits=self._config.limits,
            auth=None if download else self._config.auth,
            stream=stream,
            follow_redirects=download,
        )


class AsyncImagesClient(_ClientBase[httpx.AsyncClient, Callable[[float], Awaitable[None]]]):
    """The awaited twin of :class:`ImagesClient`: same constructor, same methods.

    ::

        async with AsyncImagesClient() as client:
            result = await client.generate("a lighthouse at dusk", model="gpt-image-2")
            await result.images[0].asave("out/")
    """

    _transport: httpx.AsyncBaseTransport | None = None

    def _default_sleep(self) -> Callable[[float], Awaitable[None]]:
        import anyio  # noqa: PLC0415 -- only async users pay for its import (it is httpx's dependency anyway)

        return anyio.sleep

    def _open_http(self, backend: Backend | None) -> httpx.AsyncClient:
        if backend is not None:
            self._transport = backend.async_transport()
        return httpx.AsyncClient(
            transport=self._transport, timeout=self._config.timeout, headers=_OWN_HEADERS
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Release the connections (an injected ``http_client`` is left open: it is the caller's)."""
        if self._owns_http:
            await self._http.aclose()

    async def generate(self, prompt: str, **params: Unpack[CreateImageParams]) -> ImageResult:
        """Generate images from a prompt; the arguments and errors are those of :meth:`ImagesClient.generate`.

        Images that come as a URL are read with ``await image.aread()`` (``asave``, ``ashow``).
        """
        fields = self._generate_fields(prompt, params)
        with self._guarded():
            request = self._request(operations().create_image, fields)
            return await self._answer(request, fields)

    async def _answer(self, request: httpx.Request, fields: Mapping[str, object]) -> ImageResult:
        """Send a one-answer request (with retries) and read its images (inside the caller's guard)."""
        budget = self._budget()
        config = self._config
        response = await asend(
            self._http, request, budget=budget, sleep=self._sleep, limits=config.limits, auth=config.auth
        )
        return self._result(response, fields, budget, adownload=self.download)

    async def request(
        self,
        operation: Operation[Any, Any],
        fields: Mapping[str, object] | None = None,
        *,
        path: Mapping[str, str] | None = None,
        query: Mapping[str, str | int] | None = None,
    ) -> httpx.Response:
        """Send one operation of the spec and return its answer, read; as :meth:`ImagesClient.request`."""
        with self._guarded():
            response = await self._send(self._build(operation, fields, path=path, query=query))
            self._check(response)
            return response

    @contextlib.asynccontextmanager
    async def stream(
        self,
        operation: Operation[Any, Any],
        fields: Mapping[str, object] | None = None,
        *,
        path: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> AsyncIterator[httpx.Response]:
        """Send one operation and hand its 2xx answer over unread; as :meth:`ImagesClient.stream`."""
        with self._guarded():
            request = self._build(operation, fields, path=path, headers=headers)
            response = await self._send(request, stream=True)
        try:
            with self._guarded():
                self._check(response)
                try:
                    yield response
                except httpx.HTTPError as exc:
                    raise connection_error(exc) from exc
        finally:
            await aclose_streamed(response)

    async def generate_many(
        self,
        requests: str | os.PathLike[str] | Iterable[str | Mapping[str, Any]],
        *,
        out: str | os.PathLike[str] = "images",
        concurrency: int = 8,
        retry_failed: bool = False,
        on_event: Callable[[BulkEvent], None] | None = None,
        max_cost: float | None = None,
    ) -> BulkSummary:
        """Generate in bulk, resumably; arguments and result as for :meth:`ImagesClient.generate_many`.

        Cancelling it stops at once: the lines in flight stay unfinished in the journal and are sent again
        by the next run.
        """
        from .bulk import check_run, load, run_bulk  # noqa: PLC0415 - the engine loads with its first run

        folder = Path(os.path.expanduser(os.fspath(out)))
        check_run(folder, concurrency, max_cost)
        # The client's own check: on Azure, the rules of the model behind the deployment.
        lines = load(requests, validate=self._config.validate, check=self.validate_fields)
        return await run_bulk(
            self,
            lines,
            out=folder,
            concurrency=concurrency,
            retry_failed=retry_failed,
            on_event=on_event,
            max_cost=max_cost,
        )

    def generate_stream(
        self, prompt: str, **params: Unpack[CreateImageParams]
    ) -> AsyncGenerator[PartialImageEvent | CompletedImageEvent]:
        """Stream a generation with ``async for``; as :meth:`ImagesClient.generate_stream`.

        Not a coroutine: the arguments are checked when this is called, and the request is sent when
        iteration starts. To stop before the end, ``await aclose()`` the generator (or iterate inside
        ``contextlib.aclosing``): an abandoned async generator keeps its connection until it is collected.
        """
        fields = _fields(prompt, params, stream=True)
        with self._guarded():
            request = self._request(operations().create_image, fields)
        return self._stream(request, fields)

    async def _stream(
        self, request: httpx.Request, fields: Mapping[str, object]
    ) -> AsyncGenerator[StreamEvent]:
        with self._guarded():
            response = await self._send(request, stream=True)
            try:
                self._check(response)
                self._check_stream(response)
                reader = _StreamReader(fields)
                try:
                    async for line in aiter_lines(response, self._config.limits):
                        for event in self._events(reader, line, response):
                            yield event
                except httpx.HTTPError as exc:
                    raise connection_error(exc) from exc
                for event in self._events(reader, None, response):
                    yield event
                self._stream_ended(response, reader.completed)
            finally:
                await aclose_streamed(response)

    async def edit(
        self,
        prompt: str,
        *,
        image: EditImages,
        mask: ImageInput | ImageReference | None = None,
        markup: ImageInput | None = None,
        **params: Unpack[CreateImageEditParams],
    ) -> ImageResult:
        """Edit images; the arguments and errors are those of :meth:`ImagesClient.edit`.

        The inputs are checked when this is called (a few bytes of each file are read); files are streamed
        from disk while the request is sent.
        """
        with self._guarded():
            request, fields = self._edit_request(prompt, image, mask, markup, params, stream=False)
            return await self._answer(request, fields)

    def edit_stream(
        self,
        prompt: str,
        *,
        image: EditImages,
        mask: ImageInput | ImageReference | None = None,
        markup: ImageInput | None = None,
        **params: Unpack[CreateImageEditParams],
    ) -> AsyncGenerator[PartialImageEvent | CompletedImageEvent]:
        """Stream an edit with ``async for``; as :meth:`ImagesClient.edit_stream`."""
        with self._guarded():
            request, fields = self._edit_request(prompt, image, mask, markup, params, stream=True)
        return self._stream(request, fields)

    async def create_variation(
        self, image: ImageInput, **params: Unpack[CreateImageVariationParams]
    ) -> ImageResult:
        """Make variations of an image; the arguments and errors are those of
        :meth:`ImagesClient.create_variation`."""  # noqa: D205, D209 - one sentence over two lines
        with self._guarded():
            request, fields = self._variation_request(image, params)
            return await self._answer(request, fields)

    async def download(self, url: str) -> bytes:
        """Download an image URL the API returned; as :meth:`ImagesClient.download`."""
        with self._guarded():
            if not self._http.is_closed:
                request = self._download_request(self._http, url)
                return self._downloaded(await self._send(request, download=True))
            # Read after the client was closed: as ImagesClient.download.
            async with httpx.AsyncClient(transport=self._transport) as http:
                request = self._download_request(http, url)
                return self._downloaded(await self._send(request, http=http, download=True))

    async def _send(
        self,
        request: httpx.Request,
        *,
        http: httpx.AsyncClient | None = None,
        budget: RetryBudget | None = None,
        stream: bool = False,
        download: bool = False,
    ) -> httpx.Response:
        return await asend(
            http or self._http,
            request,
            budget=budget or self._budget(),
            sleep=self._sleep,
            limits=self._config.limits,
            auth=None if download else self._config.auth,
            stream=stream,
            follow_redirects=download,
        )


def redact_snippet(text: str) -> str:
    """A short, redacted piece of server text for a message."""
    text = redact(text)
    return text if len(text) <= 80 else text[:80] + "…"


_ENVIRONMENT = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID")
_environment_client: tuple[tuple[str | None, ...], ImagesClient] | None = None
_environment_lock = threading.Lock()


def _client_from_environment() -> ImagesClient:
    """The client of the module-level :func:`generate`, for the environment as it is now.

    It is reused while the OPENAI_* variables stay the same, and replaced when they change: a notebook
    that sets OPENAI_API_KEY after a first failed call gets a client with the key.
    """
    global _environment_client  # noqa: PLW0603 - one lazily created client per process, like a module cache
    current = tuple(os.environ.get(name) for name in _ENVIRONMENT)
    with _environment_lock:
        if _environment_client is None or _environment_client[0] != current:
            # The old client is left open: another thread may be in the middle of a call with it. Its
            # connections go when it is collected.
            _environment_client = (current, ImagesClient())
        return _environment_client[1]


def generate(prompt: str, **params: Unpack[CreateImageParams]) -> ImageResult:
    """Generate images with a client configured from the environment (``OPENAI_API_KEY``, ...).

    For scripts. The client is created at the first call and reused; the arguments, result and errors are
    those of :meth:`ImagesClient.generate`.
    """
    client = _client_from_environment()
    return client._generate(client._generate_fields(prompt, params))
