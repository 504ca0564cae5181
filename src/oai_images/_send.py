"""The one send: an httpx request, with the retry policy, a deadline and size caps, from either colour.

Every request the facade makes goes through `send` or `asend`: the API's operations, streamed ones, and
image downloads. What to do after each attempt is decided by `RetryBudget` (pure); these two loops only
send, read and wait.

Each attempt has a deadline: the client's ``timeout`` bounds the whole attempt (connect, send, answer and
body), not each read, so a server that drips a byte at a time cannot hold a call for ever. httpx only has
per-read timeouts; the async loop runs each attempt under one time limit (`_time_limit`), and the sync one
arms a `_Watchdog` that shuts the attempt's socket down at its deadline. Bodies are read in chunks under caps:
an error body is cut at ``max_error_body_bytes`` (only its first 200 characters reach a message), a 2xx
body (an answer, a download) larger than ``max_body_bytes`` is refused with a clear error, and the bytes
are kept in one growing buffer, so the peak memory of a download is near the image's size.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import math
import socket
import threading
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

import httpx

from ._errors import APIResponseValidationError
from ._retries import RetryBudget
from ._wire import TRUNCATED, request_id

__all__ = ["DEADLINE", "Limits", "aclose_streamed", "asend", "close_streamed", "send"]

#: The extension of a streamed 2xx response holding its attempt's `Deadline` (the stream reads under it).
DEADLINE: Final = "oai_images.deadline"
_CHUNK = 1 << 16


@dataclass(frozen=True)
class Limits:
    """The bounds of one attempt.

    Attributes:
        timeout: Seconds one attempt may take in all (None: no deadline).
        max_body_bytes: The largest 2xx body read into memory (an answer or a download).
        max_error_body_bytes: How much of an error body is read; the rest is dropped.
        max_stream_line_bytes: The longest line of an event stream.
    """

    timeout: float | None
    max_body_bytes: int
    max_error_body_bytes: int
    max_stream_line_bytes: int


class Deadline:
    """When an attempt must be over, and (sync) the sockets to shut down then."""

    __slots__ = ("_entry", "_streams", "expired", "expires", "seconds")

    #: Guards the streams and the expiry of every deadline (one lock: watching and firing are rare, made
    #: per connection, while a lock of each deadline's own would be made on every call).
    _lock: Final = threading.Lock()

    def __init__(self, seconds: float | None) -> None:
        self.expires = None if seconds is None else time.monotonic() + seconds
        self.seconds = seconds
        self.expired = False
        self._streams: list[Any] = []
        self._entry: int | None = None

    def remaining(self) -> float | None:
        """Seconds left (at least 0), or None without a deadline."""
        return None if self.expires is None else max(0.0, self.expires - time.monotonic())

    def passed(self) -> bool:
        """Whether the attempt is out of time."""
        return self.expired or (self.expires is not None and time.monotonic() >= self.expires)

    def timeout_error(self) -> httpx.TimeoutException:
        """The httpx error the retry policy sees for an attempt that ran out of time."""
        self.expired = True
        return httpx.ReadTimeout(f"the attempt took longer than its timeout of {self.seconds:g} s")

    # --- the sync watchdog ------------------------------------------------------------------------

    def trace(self, name: str, info: dict[str, Any]) -> None:
        """The trace hook of httpcore: remember each network stream this attempt opens."""
        if name.endswith((".connect_tcp.complete", ".start_tls.complete", ".connect_unix_socket.complete")):
            self.watch(info.get("return_value"))

    def watch(self, stream: object) -> None:
        """Shut ``stream`` down at the deadline (at once if it has passed)."""
        if stream is None:
            return
        with self._lock:
            self._streams.append(stream)
            late = self.expired
        if late:
            _shut(stream)

    def fire(self) -> None:
        """The deadline has come: wake any blocked read by shutting the sockets down."""
        with self._lock:
            self.expired = True
            streams = list(self._streams)
        for stream in streams:
            _shut(stream)

    def arm(self) -> None:
        """Start watching the deadline (sync)."""
        if self.expires is not None:
            self._entry = _watchdog().arm(self)

    def disarm(self) -> None:
        """Stop watching (the attempt is over)."""
        if self._entry is not None:
            _watchdog().disarm(self._entry)
            self._entry = None


def _shut(stream: object) -> None:
    get = getattr(stream, "get_extra_info", None)
    sock = get("socket") if callable(get) else None
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):  # already closed: nothing to wake
            sock.shutdown(socket.SHUT_RDWR)


class _Watchdog:
    """One daemon thread for the whole process that fires the deadlines of the attempts in flight.

    Arming and disarming are a dict insert and a dict pop, with no lock (the hot path of every call): the
    thread sleeps until the earliest deadline it knows, and is woken only when an attempt comes with an
    earlier one (rare: every attempt of a client has the same timeout).
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._active: dict[int, Deadline] = {}
        self._keys = itertools.count()
        self._thread: threading.Thread | None = None
        #: When the thread will next look (infinity while it is looking: every arm then wakes it).
        self._wake_at = math.inf

    def arm(self, deadline: Deadline) -> int:
        """Fire ``deadline`` at its time unless disarmed first; returns the handle."""
        key = next(self._keys)
        self._active[key] = deadline
        assert deadline.expires is not None  # only deadlines with a time are armed
        if deadline.expires < self._wake_at:
            with self._cond:
                if self._thread is None:
                    thread = threading.Thread(target=self._run, name="oai-images-deadlines", daemon=True)
                    self._thread = thread
                    thread.start()
                self._cond.notify()
        return key

    def disarm(self, key: int) -> None:
        """Forget a deadline (its attempt is over)."""
        self._active.pop(key, None)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._wake_at = math.inf
                now = time.monotonic()
                due = []
                earliest = math.inf
                for key, deadline in list(self._active.items()):
                    expires = deadline.expires if deadline.expires is not None else math.inf
                    if expires <= now:
                        self._active.pop(key, None)
                        due.append(deadline)
                    else:
                        earliest = min(earliest, expires)
                if not due:
                    self._wake_at = earliest
                    self._cond.wait(None if earliest == math.inf else earliest - now)
                    continue
            for deadline in due:
                deadline.fire()  # shuts sockets down: quick, and it never raises (see _shut)


_WATCHDOG: _Watchdog | None = None
_WATCHDOG_LOCK = threading.Lock()


def _watchdog() -> _Watchdog:
    global _WATCHDOG  # noqa: PLW0603 - one thread per process, started at the first deadline
    if _WATCHDOG is None:
        with _WATCHDOG_LOCK:
            if _WATCHDOG is None:
                _WATCHDOG = _Watchdog()
    return _WATCHDOG


def _time_limit(seconds: float | None) -> contextlib.AbstractAsyncContextManager[Any]:
    """The time limit of one async attempt: entered, it raises ``TimeoutError`` when its block takes longer.

    Under asyncio, a `_LoopLimit` (one timer per event loop for every attempt in flight: a dict entry per
    attempt, where ``asyncio.timeout`` schedules and cancels a timer on every call); ``anyio.fail_after``
    under another loop (trio).
    """
    try:
        loop = asyncio.get_running_loop()  # raises under another loop (trio), where no asyncio loop runs
    except RuntimeError:
        return _OtherLoopLimit(seconds)
    if seconds is None:
        return contextlib.nullcontext()
    return _LoopLimit(_loop_timer(loop), loop.time() + seconds)


class _LoopTimer:
    """The time limits of one asyncio event loop's attempts, kept by one timer.

    The timer is set for the earliest limit it knows and moved only for an earlier one (rare: the attempts
    of a client share their timeout). When it fires it cancels the tasks whose limit has passed, as
    ``asyncio.timeout`` would, and is set again for the earliest left. It holds its loop and the limits
    weakly: a loop that is gone (closed with attempts still in their limits, say) is freed with them.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = weakref.ref(loop)
        self._active: dict[int, weakref.ref[_LoopLimit]] = {}
        self._keys = itertools.count()
        # Weakly too: a handle holds its loop, and the loop holds the handle while it is due.
        self._handle: weakref.ref[asyncio.TimerHandle] | None = None
        self._at = math.inf

    def arm(self, limit: _LoopLimit) -> int:
        key = next(self._keys)
        self._active[key] = weakref.ref(limit)
        if limit.when < self._at:
            self._set(limit.when)
        return key

    def disarm(self, key: int) -> None:
        self._active.pop(key, None)

    def _set(self, when: float) -> None:
        handle = self._handle() if self._handle is not None else None
        if handle is not None:
            handle.cancel()
        self._at = when
        loop = self._loop()
        self._handle = None
        if loop is not None and when != math.inf:
            self._handle = weakref.ref(loop.call_at(when, self._fire))

    def _fire(self) -> None:
        self._handle = None
        loop = self._loop()
        now = loop.time() if loop is not None else math.inf
        earliest = math.inf
        for key, ref in list(self._active.items()):
            limit = ref()
            if limit is None or limit.when <= now:
                del self._active[key]
                if limit is not None:
                    limit.expire()
            else:
                earliest = min(earliest, limit.when)
        self._at = math.inf
        self._set(earliest)


class _LoopLimit:
    """``asyncio.timeout`` with the timer shared by the loop's attempts (`_LoopTimer`): the same rules for
    cancellation (a cancel of our own becomes ``TimeoutError``; any other cancel goes on)."""  # noqa: D205, D209

    __slots__ = ("__weakref__", "_cancelling", "_key", "_task", "_timer", "expired", "when")

    def __init__(self, timer: _LoopTimer, when: float) -> None:
        self._timer = timer
        self.when = when
        self.expired = False

    async def __aenter__(self) -> None:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("a time limit must be used inside a task")
        self._task = task
        self._cancelling = task.cancelling()
        self._key = self._timer.arm(self)

    def expire(self) -> None:
        """The limit has passed: cancel the task (its block ends with ``TimeoutError``)."""
        self.expired = True
        self._task.cancel()

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, traceback: object
    ) -> None:
        self._timer.disarm(self._key)
        # As asyncio.timeout: only a cancel of ours, with no other cancel requested since, is a timeout.
        if self.expired and self._task.uncancel() <= self._cancelling and kind is asyncio.CancelledError:
            raise TimeoutError from exc


#: The timer of the loop last used (held weakly), then of every loop: a loop that is gone takes its
#: timer with it.
_last_timer: tuple[weakref.ref[asyncio.AbstractEventLoop], _LoopTimer] | None = None
_loop_timers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopTimer] = weakref.WeakKeyDictionary()


def _loop_timer(loop: asyncio.AbstractEventLoop) -> _LoopTimer:
    global _last_timer  # noqa: PLW0603 - a cache of the last lookup, on every call's hot path
    last = _last_timer
    if last is not None and last[0]() is loop:
        return last[1]
    timer = _loop_timers.get(loop)
    if timer is None:
        timer = _loop_timers[loop] = _LoopTimer(loop)
    _last_timer = (weakref.ref(loop), timer)
    return timer


class _OtherLoopLimit:
    """``anyio.fail_after`` as an async context manager, for loops other than asyncio."""

    def __init__(self, seconds: float | None) -> None:
        import anyio  # noqa: PLC0415 - only async users of another loop pay for its import

        self._scope: Any = anyio.fail_after(seconds)

    async def __aenter__(self) -> None:
        self._scope.__enter__()

    async def __aexit__(self, *exc_info: Any) -> bool:
        return bool(self._scope.__exit__(*exc_info))


# --- reading under the caps ---------------------------------------------------------------------------


def _declared_length(response: httpx.Response) -> int | None:
    """The body's length as the server declared it, or None when that says nothing of the size read: none
    declared, declared twice, not a number, a chunked body (h11 reads the chunks even beside a declared
    length) or a compressed one (whose decoded size can be anything).

    One pass over the raw headers: httpx's lookups by name decode every header each time, on every call.
    """  # noqa: D205
    length: int | None = None
    seen = False
    for raw_name, value in response.headers.raw:
        name = raw_name.lower()
        if name == b"content-length":
            if seen:
                return None
            seen = True
            try:
                length = int(value)
            except ValueError:
                return None
        elif name == b"transfer-encoding" or (  # h11 reads the chunks, whatever content-length says
            name == b"content-encoding" and value.strip().lower() not in (b"", b"identity")
        ):
            return None
    return length


def _too_large(response: httpx.Response, limit: int) -> APIResponseValidationError:
    return APIResponseValidationError(
        f"the server's answer is larger than the {limit:,}-byte cap (max_body_bytes; raise it on the "
        "client if such answers are expected)",
        status_code=response.status_code,
        request_id=request_id(response),
    )


def _answer(response: httpx.Response, data: bytes, *, truncated: bool) -> httpx.Response:
    """A read response holding ``data`` (already decoded) instead of its stream."""
    skip = {"content-encoding", "content-length", "transfer-encoding"}
    headers = [(name, value) for name, value in response.headers.multi_items() if name.lower() not in skip]
    kept = ("http_version", "reason_phrase")
    extensions = {key: response.extensions[key] for key in kept if key in response.extensions}
    extensions[TRUNCATED] = truncated
    # content=: httpx reads a byte stream at once, and a one-chunk read hands back the same bytes object.
    answer = httpx.Response(
        response.status_code, headers=headers, content=data, request=response.request, extensions=extensions
    )
    answer.history = response.history
    return answer


class _Body:
    """A capped buffer for one body."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.buffer = io.BytesIO()
        self.truncated = False

    def add(self, chunk: bytes) -> bool:
        """Keep a chunk; False when the cap is reached (the body is then cut)."""
        room = self.limit - self.buffer.tell()
        if len(chunk) > room:
            self.buffer.write(chunk[:room])
            self.truncated = True
            return False
        self.buffer.write(chunk)
        return True


def _cap(response: httpx.Response, limits: Limits) -> tuple[int, bool]:
    """The cap of an answer's body, and whether the body is read at once.

    A body whose declared length is within its cap is read by httpx at once: no copy of ours, and h11 reads
    no more than the declared length. Only a body of unknown (or encoded) length is read in chunks, each
    checked against the cap.

    Raises:
        APIResponseValidationError: A 2xx body declared larger than the cap (nothing of it is read).
    """
    success = response.is_success
    limit = limits.max_body_bytes if success else limits.max_error_body_bytes
    declared = _declared_length(response)
    if success and declared is not None and declared > limit:
        raise _too_large(response, limit)
    return limit, declared is not None and declared <= limit


def _read(response: httpx.Response, limits: Limits, deadline: Deadline) -> httpx.Response:
    limit, at_once = _cap(response, limits)
    if at_once:
        response.read()  # the watchdog bounds the time
        if deadline.expired:
            raise deadline.timeout_error()
        return response
    body = _Body(limit)
    for chunk in response.iter_bytes(_CHUNK):
        if deadline.passed():
            raise deadline.timeout_error()
        if not body.add(chunk):
            break
    if deadline.expired:  # the watchdog cut the connection: a close-delimited body only looks complete
        raise deadline.timeout_error()
    if body.truncated and response.is_success:
        raise _too_large(response, limit)
    return _answer(response, body.buffer.getvalue(), truncated=body.truncated)


async def _aread_in_chunks(response: httpx.Response, limit: int) -> httpx.Response:
    """As `_read` for a body not read at once (see `_cap`), run inside the attempt's time limit."""
    body = _Body(limit)
    async for chunk in response.aiter_bytes(_CHUNK):
        if not body.add(chunk):
            break
    if body.truncated and response.is_success:
        raise _too_large(response, limit)
    return _answer(response, body.buffer.getvalue(), truncated=body.truncated)


# --- the two loops ------------------------------------------------------------------------------------


def send(
    http: httpx.Client,
    request: httpx.Request,
    *,
    budget: RetryBudget,
    sleep: Callable[[float], None],
    limits: Limits,
    auth: httpx.Auth | None = None,
    stream: bool = False,
    follow_redirects: bool = False,
) -> httpx.Response:
    """Send with retries; return the final response, its body read unless it is a streamed 2xx.

    ``auth`` goes on every attempt (a token provider is asked again each time); None sends no credential.

    A streamed 2xx comes back open, with its `Deadline` in ``response.extensions[DEADLINE]``: read it
    with `iter_lines` and close it.

    Raises:
        APIConnectionError: (or APITimeoutError) no answer after the retries, chained to httpx's error.
        APIResponseValidationError: A 2xx body larger than ``limits.max_body_bytes``.
    """
    traced = request.extensions.get("trace")
    while True:
        deadline = Deadline(limits.timeout)
        request.extensions["trace"] = _chained(deadline.trace, traced)
        deadline.arm()
        keep_armed = False
        try:
            try:
                response = http.send(request, stream=True, auth=auth, follow_redirects=follow_redirects)
            except httpx.HTTPError as exc:
                delay = budget.after_error(deadline.timeout_error() if deadline.passed() else exc)
                sleep(delay)
                continue
            budget.reached_server(response)
            deadline.watch(response.extensions.get("network_stream"))
            try:
                if stream and response.is_success:
                    response.extensions[DEADLINE] = deadline
                    keep_armed = True
                    return response
                read = _read(response, limits, deadline)
            except httpx.HTTPError as exc:
                failure = deadline.timeout_error() if deadline.passed() else exc
                delay = budget.after_error(failure, answered=True)
                sleep(delay)
                continue
            finally:
                if not keep_armed:
                    response.close()
            retry = budget.after_response(read)
            if retry is None:
                return read
            sleep(retry)
        finally:
            if not keep_armed:
                deadline.disarm()


async def asend(
    http: httpx.AsyncClient,
    request: httpx.Request,
    *,
    budget: RetryBudget,
    sleep: Callable[[float], Awaitable[None]],
    limits: Limits,
    auth: httpx.Auth | None = None,
    stream: bool = False,
    follow_redirects: bool = False,
) -> httpx.Response:
    """The awaited twin of `send`: each attempt (its answer and, unless streamed, its body) runs under one
    time limit, the deadline's."""  # noqa: D205, D209
    while True:
        deadline = Deadline(limits.timeout)
        response: httpx.Response | None = None
        try:
            async with _time_limit(deadline.remaining()):
                response = await http.send(request, stream=True, auth=auth, follow_redirects=follow_redirects)
                budget.reached_server(response)
                if stream and response.is_success:
                    response.extensions[DEADLINE] = deadline
                    return response
                limit, at_once = _cap(response, limits)
                if at_once:
                    await response.aread()
                    read = response
                else:
                    read = await _aread_in_chunks(response, limit)
        except (httpx.HTTPError, TimeoutError) as exc:
            if response is None:  # no answer (the request may still have reached the server): retried
                failure = exc if isinstance(exc, httpx.HTTPError) and not deadline.passed() else None
                await sleep(budget.after_error(failure or deadline.timeout_error()))
                continue
            # An answer came: a broken or late body (the deadline passed while it was read) may be billed.
            broken = exc if isinstance(exc, httpx.HTTPError) and not deadline.passed() else None
            await sleep(budget.after_error(broken or deadline.timeout_error(), answered=True))
            continue
        finally:
            if response is not None and not (stream and response.is_success):
                await response.aclose()
        retry = budget.after_response(read)
        if retry is None:
            return read
        await sleep(retry)


def _chained(
    ours: Callable[[str, dict[str, Any]], None], theirs: Any
) -> Callable[[str, dict[str, Any]], Any]:
    if not callable(theirs):
        return ours

    def both(name: str, info: dict[str, Any]) -> Any:
        ours(name, info)
        return theirs(name, info)

    return both


# --- event-stream lines under the caps ----------------------------------------------------------------


@dataclass
class _Lines:
    """Splits a byte stream into text lines, refusing a line longer than the cap."""

    limit: int
    pending: bytearray = field(default_factory=bytearray)
    #: How much of ``pending`` is known to hold no line end: a long line is scanned once, not per chunk.
    scanned: int = 0

    def feed(self, chunk: bytes) -> list[str]:
        self.pending += chunk
        lines: list[str] = []
        start = 0
        while True:
            end = self._line_end(max(start, self.scanned))
            if end is None:
                break
            stop, after = end
            lines.append(self.pending[start:stop].decode("utf-8", "replace"))
            start = self.scanned = after
        del self.pending[:start]
        # The last byte may be a \r whose \n is in the next chunk: look at it again then.
        self.scanned = max(0, len(self.pending) - 1)
        if len(self.pending) > self.limit:
            raise _LineTooLong(self.limit)
        return lines

    def _line_end(self, start: int) -> tuple[int, int] | None:
        lf = self.pending.find(b"\n", start)
        cr = self.pending.find(b"\r", start, lf if lf != -1 else len(self.pending))
        if cr == -1:
            return None if lf == -1 else (lf, lf + 1)
        if cr + 1 == len(self.pending):
            return None  # a \r\n may be split over two chunks
        return cr, cr + (2 if self.pending[cr + 1] == 0x0A else 1)

    def close(self) -> list[str]:
        rest = self.pending.rstrip(b"\r")
        self.pending = bytearray()
        return [rest.decode("utf-8", "replace")] if rest else []


class _LineTooLong(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


def line_too_long(response: httpx.Response, limit: int) -> APIResponseValidationError:
    """The error for an event-stream line longer than the cap."""
    return APIResponseValidationError(
        f"the server sent a stream line longer than the {limit:,}-byte cap (max_stream_line_bytes)",
        status_code=response.status_code,
        request_id=request_id(response),
    )


def close_streamed(response: httpx.Response) -> None:
    """Close a streamed 2xx that `send` handed back, and stop watching its attempt's deadline.

    Whatever happened to the stream (read to the end, abandoned, or refused before reading), its deadline
    must not fire later: the connection goes back to the pool, and the watchdog would cut it for another
    request.
    """
    deadline = response.extensions.get(DEADLINE)
    if isinstance(deadline, Deadline):
        deadline.disarm()
    response.close()


async def aclose_streamed(response: httpx.Response) -> None:
    """The awaited twin of `close_streamed`."""
    deadline = response.extensions.get(DEADLINE)
    if isinstance(deadline, Deadline):
        deadline.disarm()
    await response.aclose()


def iter_lines(response: httpx.Response, limits: Limits) -> Iterator[str]:
    """The lines of a streamed 2xx, under its attempt's deadline and the line cap.

    Raises:
        httpx.HTTPError: The stream broke (or ran out of time: ``ReadTimeout``).
        APIResponseValidationError: A line longer than ``limits.max_stream_line_bytes``.
    """
    deadline: Deadline = response.extensions.get(DEADLINE) or Deadline(None)
    lines = _Lines(limits.max_stream_line_bytes)
    try:
        try:
            for chunk in response.iter_bytes():
                if deadline.passed():
                    raise deadline.timeout_error()
                yield from lines.feed(chunk)
            if deadline.expired:  # cut by the watchdog, not ended by the server
                raise deadline.timeout_error()
        except _LineTooLong as exc:
            raise line_too_long(response, exc.limit) from None
        except httpx.HTTPError:
            if deadline.passed():
                raise deadline.timeout_error() from None
            raise
        yield from lines.close()
    finally:
        deadline.disarm()


async def aiter_lines(response: httpx.Response, limits: Limits) -> AsyncIterator[str]:
    """The awaited twin of `iter_lines`."""
    deadline: Deadline = response.extensions.get(DEADLINE) or Deadline(None)
    lines = _Lines(limits.max_stream_line_bytes)
    chunks = response.aiter_bytes()
    while True:
        try:
            async with _time_limit(deadline.remaining()):
                chunk = await anext(chunks, None)
        except TimeoutError:
            raise deadline.timeout_error() from None
        if chunk is None:
            break
        try:
            ready = lines.feed(chunk)
        except _LineTooLong as exc:
            raise line_too_long(response, exc.limit) from None
        for line in ready:
            yield line
    for line in lines.close():
        yield line
