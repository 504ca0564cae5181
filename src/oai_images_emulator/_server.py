"""The emulator on a real socket, served by uvicorn: in the foreground (`run_server`) or a thread."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from ._app import TRANSPORT_STATE_KEY, EmulatorApp, EmulatorState, create_app
from ._config import EmulatorConfig

__all__ = ["EmulatorServer", "is_loopback", "run_server"]


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback name or address (``localhost``, ``127.x.y.z``, ``::1``)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class _DroppableH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, handing each request its connection so a fault can drop it unanswered."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # as uvicorn's
        super().connection_made(transport)
        self.app_state = {**self.app_state, TRANSPORT_STATE_KEY: transport}


def _uvicorn_config(app: EmulatorApp, *, log_level: str, access_log: bool) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        http=_DroppableH11Protocol,
        ws="none",
        lifespan="off",
        log_level=log_level,
        access_log=access_log,
        # A hung request must not keep a stopping server alive for long.
        timeout_graceful_shutdown=1,
    )


class _Server(uvicorn.Server):
    """uvicorn's server, calling ``on_started`` once it listens (a bound socket does not accept yet)."""

    def __init__(self, config: uvicorn.Config, *, on_started: Callable[[], None] | None) -> None:
        super().__init__(config)
        self._on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self._on_started is not None and self.started:
            self._on_started()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Stop serving, then remove the app's files: uvicorn re-raises a SIGTERM once it has stopped, and
        a process ended by a signal runs no exit handlers."""  # noqa: D205, D209
        try:
            await super().shutdown(sockets=sockets)
        finally:
            app = self.config.app
            if isinstance(app, EmulatorApp):
                app.state.close()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP, and without it
    # Nagle's algorithm and delayed ACKs add 40 ms to every answer on a kept-alive connection.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/v1"


def run_server(
    config: EmulatorConfig | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8787,
    allow_remote: bool = False,
    on_ready: Callable[[str], None] | None = None,
    log_level: str = "info",
) -> None:
    """Serve the emulator with uvicorn until interrupted (Ctrl+C).

    Args:
        config: How the emulator behaves; `EmulatorConfig.from_env()` when None.
        host: The address to listen on; a loopback address unless ``allow_remote``.
        port: The port; 0 picks a free one.
        allow_remote: Allow a non-loopback ``host``: the emulator has no real authentication.
        on_ready: Called with the base URL (``http://HOST:PORT/v1``) once connections are accepted.
        log_level: uvicorn's log level.

    Raises:
        ValueError: ``host`` is not a loopback address and ``allow_remote`` is False.
        OSError: The address could not be bound.
    """
    if not allow_remote and not is_loopback(host):
        raise ValueError(f"refusing to listen on non-loopback host {host!r} without allow_remote=True")
    sock = _bind(host, port)
    url = _base_url(sock)
    server = _Server(
        _uvicorn_config(create_app(config), log_level=log_level, access_log=True),
        on_started=(lambda: on_ready(url)) if on_ready is not None else None,
    )
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


class EmulatorServer:
    """The emulator served by uvicorn on 127.0.0.1 from a background thread; a context manager.

    Example::

        with EmulatorServer() as server:
            httpx.post(f"{server.base_url}/images/generations", ...)

    Args:
        config: How the emulator behaves; a default `EmulatorConfig` (not the environment) when None.
        port: The port; 0 (the default) picks a free one.
    """

    def __init__(self, config: EmulatorConfig | None = None, *, port: int = 0) -> None:
        self.app = create_app(config if config is not None else EmulatorConfig())
        self._port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self.base_url = ""

    @property
    def state(self) -> EmulatorState:
        """The emulator's config, recorded requests and stored images."""
        return self.app.state

    def start(self) -> None:
        """Bind the socket and start serving; returns once the server accepts connections.

        Raises:
            RuntimeError: The server did not start within 10 seconds.
        """
        self._sock = _bind("127.0.0.1", self._port)
        self.base_url = _base_url(self._sock)
        server = uvicorn.Server(_uvicorn_config(self.app, log_level="warning", access_log=False))
        sockets = [self._sock]
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": sockets}, name="oai-images-emulator-server", daemon=True
        )
        self._server = server
        self._thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the emulator server did not start")
            time.sleep(0.005)

    def stop(self) -> None:
        """Stop serving and wait for the thread (at most a few seconds)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._sock is not None:
            self._sock.close()
        self._server = self._thread = self._sock = None

    def __enter__(self) -> EmulatorServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"EmulatorServer(base_url={self.base_url!r})"
