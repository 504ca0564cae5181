"""The emulator in-process, with no port: httpx transports that call the ASGI app directly."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import anyio
import httpx

from ._app import ConnectionDropped, EmulatorApp, EmulatorState, create_app
from ._config import EmulatorConfig

__all__ = ["EMULATOR_API_KEY", "EMULATOR_BASE_URL", "AsyncEmulatorTransport", "EmulatorTransport", "backend"]

#: The base URL clients use with the in-process transports. ``.invalid`` can never resolve, so a request
#: that misses the transport fails instead of reaching a real host.
EMULATOR_BASE_URL = "http://emulator.oai-images.invalid/v1"
#: The key clients send to the in-process emulator; it accepts any non-empty key, and this is no real one.
EMULATOR_API_KEY = "sk-emulator"

_T = TypeVar("_T")


def _read_timeout(request: httpx.Request) -> float | None:
    timeout = request.extensions.get("timeout", {})
    value = timeout.get("read") if isinstance(timeout, dict) else None
    return float(value) if isinstance(value, int | float) else None


class AsyncEmulatorTransport(httpx.AsyncBaseTransport):
    """An ``httpx.AsyncBaseTransport`` answering every request with the emulator, in-process.

    Unlike a bare ``httpx.ASGITransport`` it honours the request's read timeout (a ``hang`` fault then
    raises ``httpx.ReadTimeout``) and turns a dropped connection into ``httpx.RemoteProtocolError``, as a
    real socket would.

    Example::

        transport = AsyncEmulatorTransport(EmulatorConfig(seed=7))
        async with httpx.AsyncClient(transport=transport, base_url=EMULATOR_BASE_URL) as client:
            ...

    Args:
        config: How the emulator behaves; `EmulatorConfig.from_env()` when None.
        app: An existing emulator app to share (its config wins); a new one when None.
    """

    def __init__(self, config: EmulatorConfig | None = None, *, app: EmulatorApp | None = None) -> None:
        self.app = app if app is not None else create_app(config)
        self._asgi = httpx.ASGITransport(app=self.app)

    @property
    def state(self) -> EmulatorState:
        """The emulator's config, recorded requests and stored images."""
        return self.app.state

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Answer one request with the emulator.

        Raises:
            httpx.ReadTimeout: The answer took longer than the request's read timeout.
            httpx.RemoteProtocolError: The emulator dropped the connection (an injected fault).
        """
        timeout = _read_timeout(request)
        try:
            with anyio.fail_after(timeout):
                answer = await self._asgi.handle_async_request(request)
                content = await answer.aread()
        except TimeoutError:
            raise httpx.ReadTimeout("the emulator did not answer in time", request=request) from None
        except ConnectionDropped as exc:
            raise httpx.RemoteProtocolError(str(exc), request=request) from exc
        return httpx.Response(answer.status_code, headers=answer.headers, content=content, request=request)


class EmulatorTransport(httpx.BaseTransport):
    """An ``httpx.BaseTransport`` answering every request with the emulator, in-process.

    httpx has no synchronous ASGI transport, so this one runs an event loop in a daemon thread it starts on
    first use and stops on `close` (a forgotten transport never blocks interpreter exit).

    Example::

        auth = {"authorization": "Bearer any-key"}
        with httpx.Client(transport=EmulatorTransport(), base_url=EMULATOR_BASE_URL, headers=auth) as client:
            client.post("/images/generations", json={"prompt": "a fox"})

    Args:
        config: How the emulator behaves; `EmulatorConfig.from_env()` when None.
        app: An existing emulator app to share (its config wins); a new one when None.
    """

    def __init__(self, config: EmulatorConfig | None = None, *, app: EmulatorApp | None = None) -> None:
        self._async = AsyncEmulatorTransport(config, app=app)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def app(self) -> EmulatorApp:
        """The emulator app this transport calls."""
        return self._async.app

    @property
    def state(self) -> EmulatorState:
        """The emulator's config, recorded requests and stored images."""
        return self._async.state

    def _run(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="oai-images-emulator", daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            loop = self._loop
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Answer one request with the emulator.

        Raises:
            httpx.ReadTimeout: The answer took longer than the request's read timeout.
            httpx.RemoteProtocolError: The emulator dropped the connection (an injected fault).
        """
        body = request.read()
        forwarded = httpx.Request(
            request.method, request.url, headers=request.headers, content=body, extensions=request.extensions
        )
        response = self._run(self._async.handle_async_request(forwarded))
        return httpx.Response(
            response.status_code, headers=response.headers, content=response.content, request=request
        )

    def close(self) -> None:
        """Stop the event loop thread, if one was started."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=5)
            loop.close()


class _Backend:
    """The emulator as an in-process backend of ``ImagesClient(emulator=True)``.

    Registered under the entry point group ``oai_images.backends`` (see pyproject.toml), so the facade
    finds it without importing this package; each transport gets an emulator app of its own, configured
    from the environment (``OAI_IMAGES_EMULATOR_*``).
    """

    base_url = EMULATOR_BASE_URL
    api_key = EMULATOR_API_KEY

    def transport(self) -> httpx.BaseTransport:
        return EmulatorTransport()

    def async_transport(self) -> httpx.AsyncBaseTransport:
        return AsyncEmulatorTransport()


#: The object the ``emulator`` entry point names.
backend = _Backend()
