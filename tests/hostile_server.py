"""A small raw-socket HTTP server on 127.0.0.1 that answers however a test scripts it: dripping bytes,
endless bodies, malformed headers, bodies cut short, deep JSON. For the promises that must hold against
servers no well-behaved framework would let us imitate."""  # noqa: D205, D209 - one sentence

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterable

#: Writes an answer on a connection; gets the raw request (head and body).
Handler = Callable[[socket.socket, bytes], None]


class HostileServer:
    """Answers each request with the next scripted handler (the last one repeats); one request per
    connection, closed after the handler."""  # noqa: D205, D209 - one sentence

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.requests: list[bytes] = []
        self._handlers: list[Handler] = [answer(200, json.dumps({"created": 1, "data": []}).encode())]
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def script(self, *handlers: Handler) -> None:
        """Answer the next requests with these handlers, in order; the last one answers every later one."""
        self._handlers = list(handlers)

    def close(self) -> None:
        """Stop accepting."""
        self._closed.set()
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        with contextlib.closing(connection):
            try:
                raw = _read_request(connection)
                self.requests.append(raw)
                handler = self._handlers.pop(0) if len(self._handlers) > 1 else self._handlers[0]
                handler(connection, raw)
            except OSError:
                pass  # the client gave up: that is what many of these tests are about


def _read_request(connection: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = connection.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def head(
    status: int, headers: Iterable[tuple[str, str]] = (), *, reason: str = "OK", length: int | None = None
) -> bytes:
    """A status line and headers (with a content-length when given)."""
    lines = [f"HTTP/1.1 {status} {reason}"]
    lines += [f"{name}: {value}" for name, value in headers]
    if length is not None:
        lines.append(f"content-length: {length}")
    lines.append("connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def answer(
    status: int, body: bytes, headers: Iterable[tuple[str, str]] = (), *, reason: str = "OK"
) -> Handler:
    """A whole answer at once."""

    def handle(connection: socket.socket, _: bytes) -> None:
        connection.sendall(head(status, headers, reason=reason, length=len(body)) + body)

    return handle


def raw(data: bytes) -> Handler:
    """These bytes, as they are (a malformed answer)."""

    def handle(connection: socket.socket, _: bytes) -> None:
        connection.sendall(data)
        time.sleep(0.05)

    return handle


def drip(data: bytes, *, every: float) -> Handler:
    """The bytes one at a time, ``every`` seconds apart, until the client hangs up."""

    def handle(connection: socket.socket, _: bytes) -> None:
        for byte in data:
            connection.sendall(bytes([byte]))
            time.sleep(every)

    return handle


def endless(start: bytes, chunk: bytes, *, limit: int = 2**31) -> Handler:
    """``start``, then ``chunk`` over and over (up to ``limit`` bytes) until the client hangs up."""

    def handle(connection: socket.socket, _: bytes) -> None:
        connection.sendall(start)
        sent = 0
        while sent < limit:
            connection.sendall(chunk)
            sent += len(chunk)

    return handle


def cut(status: int, body: bytes, *, after: int, headers: Iterable[tuple[str, str]] = ()) -> Handler:
    """An answer whose body breaks off after ``after`` bytes (its content-length promised more)."""

    def handle(connection: socket.socket, _: bytes) -> None:
        connection.sendall(head(status, headers, length=len(body)) + body[:after])

    return handle


def deep_json(depth: int) -> bytes:
    """A JSON document nested ``depth`` levels deep."""
    return b'{"error":' * depth + b"1" + b"}" * depth
