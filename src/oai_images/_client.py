"""ImagesClient and AsyncImagesClient: the same constructor and methods, one blocking, one awaited.

Everything that is not I/O (configuration, validation, request building, answer and error mapping,
retry decisions) lives in ``_ClientBase``, ``_wire`` and ``_retries``; the two clients only send, wait
and read, each in its own colour.
"""

from __future__ import annotations

import functools
import importlib
import os
import random
import threading
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, Mapping
from types import ModuleType, TracebackType
from typing import Generic, Self, TypeVar, cast

import httpx
from oai_images_api.models import (
    ImageBackground,
    ImageGenPartialImageEvent,
    ImageModeration,
    ImageOutputFormat,
    ImageQuality,
    ImageResponseFormat,
    ImageStyle,
)

from . import _rules
from ._errors import OAIImagesError
from ._results import AsyncDownload, CompletedImageEvent, Download, ImageResult, PartialImageEvent
from ._retries import RetryBudget, connection_error
from ._settings import DEFAULT_TIMEOUT, USER_AGENT, Settings, without_password
from ._wire import (
    ServerSentEvents,
    create_image_operation,
    parse_images_response,
    parse_stream_event,
    request_fields,
    request_id,
    status_error,
    unsendable,
)

__all__ = ["AsyncImagesClient", "ImagesClient", "generate"]

StreamEvent = PartialImageEvent | CompletedImageEvent

#: The headers that carry the API key or identify the account: never sent to an image URL.
_ACCOUNT_HEADERS = ("Authorization", "OpenAI-Organization", "OpenAI-Project")
#: Default headers of the httpx clients this package opens itself (nothing secret: the key goes per request).
_OWN_HEADERS = {"User-Agent": USER_AGENT}
#: What httpx sets by itself for a ``json=`` body; the generated operation's headers are left out when
#: they say no more than this.
_JSON_ONLY = {"Content-Type": "application/json"}
#: Statuses with which a signed image URL says it is no longer valid.
_EXPIRED_STATUSES = frozenset({403, 404, 410})
_EXPIRED_MESSAGE = (
    "the image URL has expired or is no longer valid (image URLs are valid for 60 minutes after "
    "generation); generate again, or ask for response_format='b64_json' to get the bytes in the response"
)


def _load_emulator() -> ModuleType:
    """The in-process emulator, imported only when asked for, so ``import oai_images`` stays light.

    ``importlib`` rather than an import statement: the emulator's server and Pillow are an optional extra.
    """
    try:
        return importlib.import_module("oai_images.emulator")
    except ImportError as exc:
        raise OAIImagesError(
            "emulator=True needs the emulator extra: pip install 'oai-images[emulator]'"
        ) from exc


_HttpT = TypeVar("_HttpT", httpx.Client, httpx.AsyncClient)
_SleepT = TypeVar("_SleepT", Callable[[float], None], Callable[[float], Awaitable[None]])


class _ClientBase(Generic[_HttpT, _SleepT]):
    """The constructor, configuration and the pure steps both clients share."""

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
    ) -> None:
        """Configure the client; nothing is sent and no key is required yet.

        Args:
            api_key: The API key; else ``OPENAI_API_KEY``. Needed at the first request, never shown in a
                repr or an error.
            base_url: The API's base URL; else ``OPENAI_BASE_URL``, else ``https://api.openai.com/v1``.
            organization: Sent as ``OpenAI-Organization``; else ``OPENAI_ORG_ID``.
            project: Sent as ``OpenAI-Project``; else ``OPENAI_PROJECT_ID``.
            timeout: Seconds, or an ``httpx.Timeout``, per attempt. The default (600 s, 5 s to connect)
                leaves room for high-quality generations, which can take minutes.
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

        Raises:
            ValueError: ``max_retries`` is negative.
            OAIImagesError: ``emulator=True`` without the emulator extra installed.
        """
        if max_retries < 0:
            raise ValueError("max_retries must be 0 or more")
        module = _load_emulator() if emulator else None
        self._settings = Settings.resolve(
            api_key=api_key,
            base_url=base_url,
            organization=organization,
            project=project,
            emulator_base_url=str(module.EMULATOR_BASE_URL) if module is not None else None,
        )
        self._timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self._max_retries = max_retries
        self._validate = validate
        self._jitter = jitter or random.random
        self._sleep: _SleepT = sleep or self._default_sleep()
        self._owns_http = http_client is None
        self._urls: dict[str, httpx.URL] = {}
        self._http: _HttpT = http_client or self._open_http(module)

    def _default_sleep(self) -> _SleepT:
        raise NotImplementedError

    def _open_http(self, emulator: ModuleType | None) -> _HttpT:
        """The client's own httpx client, over the emulator's transport when there is one."""
        raise NotImplementedError

    def __repr__(self) -> str:
        settings = self._settings
        return (
            f"{type(self).__name__}(base_url={without_password(settings.base_url)!r}, "
            f"organization={settings.organization!r}, "
            f"project={settings.project!r}, max_retries={self._max_retries}, validate={self._validate})"
        )

    @property
    def base_url(self) -> str:
        """The API's base URL requests go to."""
        return self._settings.base_url

    def _budget(self) -> RetryBudget:
        return RetryBudget(self._max_retries, self._jitter, secret=self._settings.api_key)

    def _api_request(
        self, http: httpx.Client | httpx.AsyncClient, fields: Mapping[str, object]
    ) -> httpx.Request:
        """Validate ``fields`` (unless told not to) and build the API request; no I/O happens here.

        Auth, organization and project are set on each request (the user agent too, unless this client
        opened the httpx client itself), so they apply on an injected http_client as well, whose own base
        URL is not used.
        """
        if self._validate:
            _rules.validate_request(fields)
        if http.is_closed:
            raise OAIImagesError(f"this {type(self).__name__} is closed; create a new one to send requests")
        headers = self._request_headers
        try:
            operation = create_image_operation(fields)
            if operation.headers != _JSON_ONLY:
                headers = {**operation.headers, **headers}
            return http.build_request(
                operation.method,
                self._url(operation.path),
                json=operation.body,
                headers=headers,
                timeout=self._timeout,
            )
        except (TypeError, ValueError, UnicodeError) as exc:  # only what validate=False let through
            raise unsendable(fields, exc) from exc

    def _url(self, path: str) -> httpx.URL:
        """The absolute URL of an API path, parsed once: httpx re-parses a str URL on every request."""
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = httpx.URL(self._settings.base_url + path)
        return url

    @functools.cached_property
    def _request_headers(self) -> dict[str, str]:
        """The API headers each request carries, built once (raises, uncached, while there is no key).

        An httpx client this client opened already sends the user agent by default; fewer headers per
        request is measurably less work for httpx (see bench/).
        """
        headers = self._settings.api_headers
        if self._owns_http:
            return {name: value for name, value in headers.items() if name != "User-Agent"}
        return headers

    def _download_request(self, http: httpx.Client | httpx.AsyncClient, url: str) -> httpx.Request:
        """A request for a signed image URL: a third party, so no API key or account header goes there.

        Raises:
            OAIImagesError: The server returned a URL that cannot be requested.
        """
        try:
            request = http.build_request("GET", url, headers=_OWN_HEADERS, timeout=self._timeout)
        except (httpx.InvalidURL, TypeError) as exc:
            raise OAIImagesError(f"the server sent an image URL that cannot be downloaded: {exc}") from exc
        if request.url.scheme not in ("http", "https"):
            raise OAIImagesError(f"the server sent an image URL that is not http(s): {request.url.scheme}:")
        for name in _ACCOUNT_HEADERS:  # an injected client may carry them as defaults
            request.headers.pop(name, None)
        return request

    def _check(self, response: httpx.Response) -> None:
        """Raise the typed error of a non-2xx API answer (its body already read)."""
        if not response.is_success:
            raise status_error(response, secret=self._settings.api_key)

    def _result(
        self,
        response: httpx.Response,
        fields: Mapping[str, object],
        *,
        download: Download | None = None,
        adownload: AsyncDownload | None = None,
    ) -> ImageResult:
        self._check(response)
        model = fields.get("model")
        return ImageResult.from_response(
            parse_images_response(response, secret=self._settings.api_key),
            request_id=request_id(response),
            model=model if isinstance(model, str) else None,
            download=download,
            adownload=adownload,
        )

    @staticmethod
    def _downloaded(response: httpx.Response) -> bytes:
        if response.is_success:
            return response.content
        expired = response.status_code in _EXPIRED_STATUSES
        raise status_error(response, message=_EXPIRED_MESSAGE if expired else "could not download the image")

    def _events(
        self, reader: ServerSentEvents, line: str | None, response: httpx.Response
    ) -> list[StreamEvent]:
        """The facade events a stream line completes (``line=None`` at the end of the stream)."""
        message = reader.feed(line) if line is not None else reader.flush()
        if message is None:
            return []
        event = parse_stream_event(*message, response, secret=self._settings.api_key)
        rid = request_id(response)
        if event is None:
            return []
        if isinstance(event, ImageGenPartialImageEvent):
            return [PartialImageEvent.from_event(event, request_id=rid)]
        return [CompletedImageEvent.from_event(event, request_id=rid)]


class ImagesClient(_ClientBase[httpx.Client, Callable[[float], None]]):
    """A client for OpenAI's image generation endpoint, checking every documented rule before a request.

    Use it as a context manager, or call :meth:`close`, to release its connections::

        with ImagesClient() as client:
            result = client.generate("a lighthouse at dusk", model="dall-e-3", size="1792x1024")
            result.images[0].save("out/")
    """

    _transport: httpx.BaseTransport | None = None

    def _default_sleep(self) -> Callable[[float], None]:
        return time.sleep

    def _open_http(self, emulator: ModuleType | None) -> httpx.Client:
        if emulator is not None:
            self._transport = cast(httpx.BaseTransport, emulator.EmulatorTransport())
        return httpx.Client(transport=self._transport, timeout=self._timeout, headers=_OWN_HEADERS)

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

    def generate(
        self,
        prompt: str,
        *,
        model: str | None = None,
        n: int | None = None,
        quality: ImageQuality | None = None,
        response_format: ImageResponseFormat | None = None,
        size: str | None = None,
        style: ImageStyle | None = None,
        user: str | None = None,
        safety_identifier: str | None = None,
        background: ImageBackground | None = None,
        moderation: ImageModeration | None = None,
        output_format: ImageOutputFormat | None = None,
        output_compression: int | None = None,
        complexity: str | None = None,
        frame_count: int | None = None,
        frame_duration_ms: int | None = None,
        svg: Mapping[str, object] | None = None,
    ) -> ImageResult:
        """Generate images from a prompt.

        Only the arguments you set are sent; None means "not set" and the API's own default applies.

        Args:
            prompt: A text description of the images. At most 1000 characters for dall-e-2, 4000 for
                dall-e-3 and 32000 for the GPT image models.
            model: dall-e-2, dall-e-3, a GPT image model (gpt-image-1.5, gpt-image-2, ...) or any name a
                compatible server knows. API default: dall-e-2, unless a GPT-only argument is set.
            n: How many images, 1 to 10; dall-e-3 makes only 1.
            quality: ``standard`` or ``hd`` (hd: dall-e-3 only); ``low``, ``medium``, ``high`` or ``auto``
                for GPT image models; ``xhigh`` and ``max`` for gpt-image-2.5 and later.
            response_format: ``url`` (valid for 60 minutes) or ``b64_json``; dall-e models only (GPT image
                models always return base64).
            size: dall-e-2: 256x256, 512x512, 1024x1024. dall-e-3: 1024x1024, 1792x1024, 1024x1792. GPT
                image models: 1024x1024, 1536x1024, 1024x1536 or auto; gpt-image-2 and later also any
                ``WxH`` with both sides multiples of 16, aspect ratio 1:3 to 3:1, at most 3840x2160.
            style: ``vivid`` or ``natural``; dall-e-3 only.
            user: An identifier of your end user, to help detect abuse (deprecated for
                ``safety_identifier``).
            safety_identifier: A stable identifier of your end user (a hash of their username, say).
            background: ``transparent`` (needs png or webp), ``opaque`` or ``auto``; GPT image models.
            moderation: ``low`` or ``auto``; GPT image models.
            output_format: ``png``, ``jpeg``, ``webp`` (``gif``, ``svg`` in preview); GPT image models.
            output_compression: 0 to 100 percent, with output_format jpeg or webp.
            complexity: Preview: how much detail to aim for.
            frame_count: Preview, gif only: the number of frames, 2 to 16.
            frame_duration_ms: Preview, gif only: how long each frame shows, in milliseconds.
            svg: Preview, svg only: options of the model that writes the SVG, such as
                ``{"model": ..., "reasoning": {"effort": "low"}}``.

        Returns:
            The images, with usage, the echoed settings and the request id.

        Raises:
            InvalidParameterError: A value the API would reject (before anything is sent), or no API key.
            APIStatusError: The server answered with an error status (a subclass per status).
            APIConnectionError: No answer, after the retries (``APITimeoutError`` for a timeout).
        """
        return self._generate(request_fields(locals()))

    def _generate(self, fields: Mapping[str, object]) -> ImageResult:
        response = self._send(self._api_request(self._http, fields))
        return self._result(response, fields, download=self._download)

    def generate_stream(
        self,
        prompt: str,
        *,
        partial_images: int | None = None,
        model: str | None = None,
        n: int | None = None,
        quality: ImageQuality | None = None,
        response_format: ImageResponseFormat | None = None,
        size: str | None = None,
        style: ImageStyle | None = None,
        user: str | None = None,
        safety_identifier: str | None = None,
        background: ImageBackground | None = None,
        moderation: ImageModeration | None = None,
        output_format: ImageOutputFormat | None = None,
        output_compression: int | None = None,
        complexity: str | None = None,
        frame_count: int | None = None,
        frame_duration_ms: int | None = None,
        svg: Mapping[str, object] | None = None,
    ) -> Generator[PartialImageEvent | CompletedImageEvent]:
        """Generate an image in streaming mode (GPT image models): partial images, then the final one.

        The arguments are checked when this is called; the request is sent when iteration starts. The other
        arguments are those of :meth:`generate`.

        Args:
            prompt: A text description of the image.
            partial_images: How many partial images to stream before the final one, 0 to 3.
            model: See :meth:`generate`.
            n: See :meth:`generate`.
            quality: See :meth:`generate`.
            response_format: See :meth:`generate`.
            size: See :meth:`generate`.
            style: See :meth:`generate`.
            user: See :meth:`generate`.
            safety_identifier: See :meth:`generate`.
            background: See :meth:`generate`.
            moderation: See :meth:`generate`.
            output_format: See :meth:`generate`.
            output_compression: See :meth:`generate`.
            complexity: See :meth:`generate`.
            frame_count: See :meth:`generate`.
            frame_duration_ms: See :meth:`generate`.
            svg: See :meth:`generate`.

        Returns:
            A generator of :class:`PartialImageEvent` and :class:`CompletedImageEvent`. To stop before the
            end, ``close()`` it (or iterate inside ``contextlib.closing``): that closes the connection.

        Raises:
            InvalidParameterError: When called, for a value the API would reject, or no API key.
            APIStatusError: While iterating: an error status, or an error event in the stream.
            APIConnectionError: While iterating: no answer, or the stream broke.
        """
        return self._stream(self._api_request(self._http, request_fields(locals(), stream=True)))

    def _stream(self, request: httpx.Request) -> Generator[StreamEvent]:
        response = self._send(request, stream=True)
        try:
            self._check(response)
            reader = ServerSentEvents()
            try:
                for line in response.iter_lines():
                    yield from self._events(reader, line, response)
            except httpx.HTTPError as exc:
                raise connection_error(exc, secret=self._settings.api_key) from exc
            yield from self._events(reader, None, response)
        finally:
            response.close()

    def _download(self, url: str) -> bytes:
        if not self._http.is_closed:
            return self._downloaded(
                self._send(self._download_request(self._http, url), follow_redirects=True)
            )
        # Read after the client was closed (after its `with` block, say): an image URL needs no API
        # configuration, so a short-lived connection over the same transport does the job.
        with httpx.Client(transport=self._transport) as http:
            request = self._download_request(http, url)
            return self._downloaded(self._send(request, http=http, follow_redirects=True))

    def _send(
        self,
        request: httpx.Request,
        *,
        http: httpx.Client | None = None,
        stream: bool = False,
        follow_redirects: bool = False,
    ) -> httpx.Response:
        """Send with the retry policy; return the final response, its body read unless a streamed 2xx."""
        budget = self._budget()
        while True:
            try:
                # auth=None: an injected client's own auth must not replace this client's key.
                response = (http or self._http).send(
                    request, stream=stream, auth=None, follow_redirects=follow_redirects
                )
                if not response.is_success:
                    response.read()
            except httpx.HTTPError as exc:
                delay = budget.after_error(exc)
            else:
                retry = budget.after_response(response)
                if retry is None:
                    return response
                delay = retry
                response.close()
            self._sleep(delay)


class AsyncImagesClient(_ClientBase[httpx.AsyncClient, Callable[[float], Awaitable[None]]]):
    """The awaited twin of :class:`ImagesClient`: same constructor, same methods.

    ::

        async with AsyncImagesClient() as client:
            result = await client.generate("a lighthouse at dusk", model="dall-e-3")
            await result.images[0].asave("out/")
    """

    _transport: httpx.AsyncBaseTransport | None = None

    def _default_sleep(self) -> Callable[[float], Awaitable[None]]:
        import anyio  # noqa: PLC0415 -- only async users pay for its import (it is httpx's dependency anyway)

        return anyio.sleep

    def _open_http(self, emulator: ModuleType | None) -> httpx.AsyncClient:
        if emulator is not None:
            self._transport = cast(httpx.AsyncBaseTransport, emulator.AsyncEmulatorTransport())
        return httpx.AsyncClient(transport=self._transport, timeout=self._timeout, headers=_OWN_HEADERS)

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

    async def generate(
        self,
        prompt: str,
        *,
        model: str | None = None,
        n: int | None = None,
        quality: ImageQuality | None = None,
        response_format: ImageResponseFormat | None = None,
        size: str | None = None,
        style: ImageStyle | None = None,
        user: str | None = None,
        safety_identifier: str | None = None,
        background: ImageBackground | None = None,
        moderation: ImageModeration | None = None,
        output_format: ImageOutputFormat | None = None,
        output_compression: int | None = None,
        complexity: str | None = None,
        frame_count: int | None = None,
        frame_duration_ms: int | None = None,
        svg: Mapping[str, object] | None = None,
    ) -> ImageResult:
        """Generate images from a prompt; the arguments and errors are those of :meth:`ImagesClient.generate`.

        Images that come as a URL are read with ``await image.aread()`` (``asave``, ``ashow``).
        """
        return await self._generate(request_fields(locals()))

    async def _generate(self, fields: Mapping[str, object]) -> ImageResult:
        response = await self._send(self._api_request(self._http, fields))
        return self._result(response, fields, adownload=self._download)

    def generate_stream(
        self,
        prompt: str,
        *,
        partial_images: int | None = None,
        model: str | None = None,
        n: int | None = None,
        quality: ImageQuality | None = None,
        response_format: ImageResponseFormat | None = None,
        size: str | None = None,
        style: ImageStyle | None = None,
        user: str | None = None,
        safety_identifier: str | None = None,
        background: ImageBackground | None = None,
        moderation: ImageModeration | None = None,
        output_format: ImageOutputFormat | None = None,
        output_compression: int | None = None,
        complexity: str | None = None,
        frame_count: int | None = None,
        frame_duration_ms: int | None = None,
        svg: Mapping[str, object] | None = None,
    ) -> AsyncGenerator[PartialImageEvent | CompletedImageEvent]:
        """Stream a generation with ``async for``; as :meth:`ImagesClient.generate_stream`.

        Not a coroutine: the arguments are checked when this is called, and the request is sent when
        iteration starts. To stop before the end, ``await aclose()`` the generator (or iterate inside
        ``contextlib.aclosing``): an abandoned async generator keeps its connection until it is collected.
        """
        return self._stream(self._api_request(self._http, request_fields(locals(), stream=True)))

    async def _stream(self, request: httpx.Request) -> AsyncGenerator[StreamEvent]:
        response = await self._send(request, stream=True)
        try:
            self._check(response)
            reader = ServerSentEvents()
            try:
                async for line in response.aiter_lines():
                    for event in self._events(reader, line, response):
                        yield event
            except httpx.HTTPError as exc:
                raise connection_error(exc, secret=self._settings.api_key) from exc
            for event in self._events(reader, None, response):
                yield event
        finally:
            await response.aclose()

    async def _download(self, url: str) -> bytes:
        if not self._http.is_closed:
            request = self._download_request(self._http, url)
            return self._downloaded(await self._send(request, follow_redirects=True))
        # Read after the client was closed: as ImagesClient._download.
        async with httpx.AsyncClient(transport=self._transport) as http:
            request = self._download_request(http, url)
            return self._downloaded(await self._send(request, http=http, follow_redirects=True))

    async def _send(
        self,
        request: httpx.Request,
        *,
        http: httpx.AsyncClient | None = None,
        stream: bool = False,
        follow_redirects: bool = False,
    ) -> httpx.Response:
        """Send with the retry policy; return the final response, its body read unless a streamed 2xx."""
        budget = self._budget()
        while True:
            try:
                # auth=None: an injected client's own auth must not replace this client's key.
                response = await (http or self._http).send(
                    request, stream=stream, auth=None, follow_redirects=follow_redirects
                )
                if not response.is_success:
                    await response.aread()
            except httpx.HTTPError as exc:
                delay = budget.after_error(exc)
            else:
                retry = budget.after_response(response)
                if retry is None:
                    return response
                delay = retry
                await response.aclose()
            await self._sleep(delay)


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


def generate(
    prompt: str,
    *,
    model: str | None = None,
    n: int | None = None,
    quality: ImageQuality | None = None,
    response_format: ImageResponseFormat | None = None,
    size: str | None = None,
    style: ImageStyle | None = None,
    user: str | None = None,
    safety_identifier: str | None = None,
    background: ImageBackground | None = None,
    moderation: ImageModeration | None = None,
    output_format: ImageOutputFormat | None = None,
    output_compression: int | None = None,
    complexity: str | None = None,
    frame_count: int | None = None,
    frame_duration_ms: int | None = None,
    svg: Mapping[str, object] | None = None,
) -> ImageResult:
    """Generate images with a client configured from the environment (``OPENAI_API_KEY``, ...).

    For scripts. The client is created at the first call and reused; the arguments, result and errors are
    those of :meth:`ImagesClient.generate`.
    """
    fields = request_fields(locals())  # first: locals() must hold only the arguments
    return _client_from_environment()._generate(fields)
