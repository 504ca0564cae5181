"""The bulk engine: send each unfinished line at the server's rate limit, save its images at once, journal it.

One scheduler sends (when the `Pacer` allows, one request per line), and a task per request waits for the
answer, saves the images (atomically, under deterministic names, so a re-sent line replaces its own files)
and records them in the journal. Every retry (a 429, a 5xx, a connection error) goes back through the
scheduler, so the pacing sees every request. A stop (Ctrl-C) ends the sending; the requests in flight get
``grace`` seconds to land and be saved.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from .._errors import (
    APIConnectionError,
    APIStatusError,
    InvalidParameterError,
    OAIImagesError,
    RateLimitError,
)
from .._files import image_extension, rescue_folders, slug, write_image
from .._retries import is_transient, retry_delay
from ._events import (
    BulkEvent,
    BulkInterrupted,
    BulkProgress,
    BulkSummary,
    LineFailed,
    LineRetrying,
    LineSaved,
    LineSkipped,
    RunStarted,
    RunStopping,
)
from ._input import BulkRequest, Check, canonical, from_iterable, prepare, read_requests
from ._journal import Journal, OutputFolderGone
from ._pacing import Pacer

if TYPE_CHECKING:
    from anyio.abc import TaskGroup

    from .._client import AsyncImagesClient
    from ..pricing import Cost

__all__ = ["load", "run_bulk", "run_bulk_sync"]

#: How many 429s one line may meet before it is reported as failed.
MAX_RATE_LIMITED = 20


def check_run(out: Path, concurrency: object, max_cost: object = None) -> None:
    """Check a run's options before any line is read or sent.

    Raises:
        InvalidParameterError: ``concurrency`` is not a whole number of at least 1 (``0``, ``-5``, ``"8"``,
            ``True``), ``max_cost`` is not a number of USD of 0 or more, or ``out`` is a file rather than a
            folder.
    """
    if max_cost is not None and (
        isinstance(max_cost, bool)
        or not isinstance(max_cost, int | float)
        or not 0 <= max_cost < float("inf")
    ):
        message = f"max_cost {max_cost!r} is not valid; allowed: a number of USD, 0 or more"
        raise InvalidParameterError("max_cost", max_cost, ("a number of USD, 0 or more",), message)
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        message = f"concurrency {concurrency!r} is not valid; allowed: a whole number of at least 1"
        raise InvalidParameterError("concurrency", concurrency, ("a whole number of at least 1",), message)
    if out.exists() and not out.is_dir():
        message = f"out {str(out)!r} is a file; the images and the journal need a folder (give another --out)"
        raise InvalidParameterError("out", str(out), ("a folder",), message)


def load(
    requests: Any, *, validate: bool, check: Check | None = None, defaults: Mapping[str, Any] | None = None
) -> list[BulkRequest]:
    """The checked requests of a file path or an iterable (see `read_requests` and `prepare`).

    Requests already checked (`BulkRequest` objects, as this returns) are taken as they are. ``defaults``
    (a file's lines only) are fields a line gets unless it sets them.
    """
    if isinstance(requests, list) and all(isinstance(item, BulkRequest) for item in requests):
        return requests
    if isinstance(requests, str | Path) or hasattr(requests, "__fspath__"):
        return read_requests(requests, validate=validate, check=check, defaults=defaults)
    return prepare(from_iterable(requests), validate=validate, check=check)


@dataclass
class _Line:
    request: BulkRequest
    attempts: int = 0
    rate_limited: int = 0
    #: The most it can cost (USD), from the estimate; None when the estimate is unknown.
    estimate: float | None = None


class _Budget:
    """Spending against ``max_cost``: what is spent (this run and, from the journal, earlier runs of the same
    lines) and what is in flight at its upper bound. A line is sent only when both, with its own upper bound,
    stay within the budget; the bound of a line is its estimate, or more once answers have cost more per
    image than estimated (a table that undercounts)."""  # noqa: D205, D209

    def __init__(self, max_cost: float | None, spent_before: float) -> None:
        self.max_cost = max_cost
        self.spent_before = spent_before
        self.spent = 0.0  # this run, known costs
        self.unknown = 0  # answers of this run whose cost is unknown
        self.in_flight = 0.0
        self.stopped = False
        self._over_estimate = 1.0  # the most an answer has cost per unit of its estimate

    def bound(self, line: _Line) -> float:
        return (line.estimate or 0.0) * self._over_estimate

    def allows(self, line: _Line) -> bool:
        if self.max_cost is None:
            return True
        total = self.spent_before + self.spent + self.in_flight + self.bound(line)
        return total <= self.max_cost + 1e-9

    def sending(self, line: _Line) -> None:
        self.in_flight += self.bound(line)

    def landed(self, line: _Line, cost: Cost | None) -> None:
        """A line's request ended: with an answer costing ``cost``, or (None) with no answer."""
        self.in_flight = max(0.0, self.in_flight - self.bound(line))
        if cost is None:
            return
        if cost.usd is None:
            self.unknown += 1
            self.spent += line.estimate or 0.0  # unknown: counted at its upper bound
            return
        self.spent += cost.usd
        self.learn(line.estimate, cost)

    def learn(self, estimate: float | None, cost: Cost | None) -> None:
        """Note an answer that cost more than its estimate: later lines are bounded as much higher."""
        if estimate and cost is not None and cost.usd is not None:
            self._over_estimate = max(self._over_estimate, cost.usd / estimate)


class _Run:
    """The state of one run; its methods are the engine's steps."""

    def __init__(
        self,
        client: AsyncImagesClient,
        requests: Sequence[BulkRequest],
        *,
        out: Path,
        concurrency: int,
        retry_failed: bool,
        on_event: Callable[[BulkEvent], None] | None,
        grace: float,
        max_cost: float | None = None,
    ) -> None:
        self.client = client
        # Each request is sent once (the pacing decides every retry); the lines were checked when loaded.
        self.once = client.with_options(max_retries=0, validate=False)
        self.requests = requests
        self.out = out
        self.pacer = Pacer(concurrency)
        self.retry_failed = retry_failed
        self.on_event = on_event
        self.grace = grace
        self.queue: deque[_Line] = deque()
        self.sending = 0  # requests sent, not answered
        self.active = 0  # lines between being sent and being saved (or given up)
        self.waiting = 0  # lines sleeping before a retry
        self.done = self.skipped = self.retries = self.rate_limited = self.tokens = 0
        self.failed: list[tuple[BulkRequest, str]] = []
        self.failed_before: list[tuple[BulkRequest, str]] = []
        self.usage: dict[str, Any] = {}
        self.paths: list[Path] = []
        self.started = time.monotonic()
        self.wake = anyio.Event()
        self.stopping = False
        #: The output folder went during the run (deleted or replaced): nothing more is sent.
        self.folder_gone = False
        #: The run stopped itself (a write failed): not an interruption, and running again resumes it.
        self.halted = False
        #: Paid images that could not be written anywhere (a full disk): the line, its file name, the bytes.
        self.unsaved: list[tuple[BulkRequest, str, bytes]] = []
        self.max_cost = max_cost
        self.budget = _Budget(max_cost, 0.0)
        self.journal = Journal(out)

    # --- bookkeeping -----------------------------------------------------------------------------------

    def progress(self) -> BulkProgress:
        return BulkProgress(
            total=len(self.requests),
            done=self.done,
            skipped=self.skipped,
            failed=len(self.failed),
            in_flight=self.sending,
            retries=self.retries,
            rate_limited=self.rate_limited,
            concurrency=self.pacer.concurrency,
            tokens=self.tokens,
            elapsed=time.monotonic() - self.started,
            spent=round(self.budget.spent_before + self.budget.spent, 9),
        )

    def emit(self, event: BulkEvent) -> None:
        if self.on_event is not None:
            self.on_event(event)

    def poke(self) -> None:
        """Wake the scheduler: something it waits for may have changed."""
        self.wake.set()
        self.wake = anyio.Event()

    async def nap(self, seconds: float | None) -> None:
        """Wait until poked, or ``seconds`` have passed."""
        wake = self.wake
        with anyio.move_on_after(seconds if seconds is not None else float("inf")):
            await wake.wait()

    def summary(self) -> BulkSummary:
        order = {request.key: index for index, request in enumerate(self.requests)}
        return BulkSummary(
            total=len(self.requests),
            done=self.done,
            skipped=self.skipped,
            failed=sorted(self.failed, key=lambda item: order[item[0].key]),
            retries=self.retries,
            rate_limited=self.rate_limited,
            usage=self.usage,
            elapsed=time.monotonic() - self.started,
            interrupted=self.stopping and not self.halted,
            journal=self.journal.path,
            paths=self.paths,
            failed_before=self.failed_before,
            unsaved=self.unsaved,
            spent=round(self.budget.spent, 9),
            spent_before=self.budget.spent_before,
            unknown_costs=self.budget.unknown,
            max_cost=self.max_cost,
            budget_stopped=self.budget.stopped,
        )

    # --- the run ---------------------------------------------------------------------------------------

    def plan(self) -> None:
        """Skip what earlier runs finished; queue the rest."""
        known = self.journal.entries([request.key for request in self.requests])
        elsewhere = self.journal.done_through_batch_api()
        for request in self.requests:
            entry = known.get(request.key)
            files = (
                elsewhere.get(canonical(request.fields)) if entry is None or entry.state != "saved" else None
            )
            if files is not None:  # done through the Batch API into this folder
                self.skipped += 1
                self.emit(
                    LineSkipped(request, "saved", tuple(Path(path) for path in files), None, self.progress())
                )
            elif entry is not None and (
                entry.state == "saved" or (entry.state == "failed" and not self.retry_failed)
            ):
                self.skipped += 1
                if entry.state == "failed":
                    self.failed_before.append((request, entry.error or "failed"))
                paths = tuple(Path(path) for path in entry.paths)
                self.emit(LineSkipped(request, entry.state, paths, entry.error, self.progress()))
            else:
                self.queue.append(_Line(request))
        self.price()
        self.emit(RunStarted(self.progress(), len(self.queue), self.journal.path))

    def price(self) -> None:
        """Estimate every line to send, count what earlier runs of these lines spent, and refuse the run
        when the two are over ``max_cost`` (nothing is sent then).

        Raises:
            BudgetExceededError: The estimate is over the budget, or unknown.
        """  # noqa: D205
        from ..pricing import check_budget, total  # noqa: PLC0415 - loaded with the engine's first run

        recorded = self.journal.costs([request.key for request in self.requests])
        spent_before, _ = total(cost for cost in recorded.values() if cost is not None)
        self.budget.spent_before = spent_before
        if self.max_cost is None:
            return
        for request in self.requests:  # what earlier answers cost beyond their estimates bounds this run's
            if (recorded_cost := recorded.get(request.key)) is not None:
                self.budget.learn(self.client.estimate_cost(request.fields).usd, recorded_cost)
        estimates = []
        for line in self.queue:
            cost = self.client.estimate_cost(line.request.fields)
            line.estimate = cost.usd
            estimates.append(cost)
        lines = f"{len(self.queue)} line{'s' if len(self.queue) != 1 else ''} to send"
        check_budget(estimates, self.max_cost, spent=spent_before, what=lines)

    async def run(self, stop: anyio.Event, abandon: anyio.Event) -> BulkSummary:
        try:
            self.plan()
            async with anyio.create_task_group() as group:

                async def watch(event: anyio.Event) -> None:
                    await event.wait()
                    self.stopping = True
                    self.poke()

                group.start_soon(watch, stop)
                group.start_soon(watch, abandon)
                await self.schedule(group)
                if self.stopping and self.active and not abandon.is_set():
                    self.emit(RunStopping(self.progress(), self.grace))
                    with anyio.move_on_after(self.grace):
                        while self.active and not abandon.is_set():
                            await self.nap(None)
                group.cancel_scope.cancel()
        finally:
            self.journal.close()
        summary = self.summary()
        if self.folder_gone:
            rescued = sorted({str(path.parent) for path in self.paths if path.parent != self.out})
            where = f"; the images that landed after it went are in {', '.join(rescued)}" if rescued else ""
            message = (
                f"the output folder {self.out} was deleted or replaced during the run, so nothing more was "
                f"sent (a new folder would not know what was paid for){where}. Run again to start afresh"
            )
            raise OutputFolderGone(message, summary)
        return summary

    async def schedule(self, group: TaskGroup) -> None:
        while not self.stopping:
            if not self.queue:
                if not self.active and not self.waiting:
                    return
                await self.nap(None)
                continue
            delay = self.pacer.delay(time.monotonic())
            if delay is None or delay > 0:
                await self.nap(delay)
                continue
            if not self.journal.intact():
                self.folder_gone = self.stopping = True
                break
            if not self.budget.allows(self.queue[0]):
                # Sending it could pass the budget: stop; what is in flight lands, a rerun resumes.
                self.budget.stopped = self.stopping = self.halted = True
                break
            line = self.queue.popleft()
            self.budget.sending(line)
            line.attempts += 1
            request = line.request
            self.journal.sending(
                request.key, line=request.number, line_id=request.id, fields=canonical(request.fields)
            )
            self.pacer.sent(time.monotonic())
            self.sending += 1
            self.active += 1
            group.start_soon(self.send, line)

    async def send(self, line: _Line) -> None:
        # Cancelled here (the grace after a stop ran out), the line stays "sent" in the journal: sent again
        # by the next run.
        try:
            fields = dict(line.request.fields)
            result = await self.once.generate(str(fields.pop("prompt")), **fields)  # checked lines
        except RateLimitError as exc:
            self.budget.landed(line, None)
            self.sending -= 1
            self.rate_limited += 1
            pause = self.pacer.rate_limited(time.monotonic(), exc.rate_limit)
            line.rate_limited += 1
            if line.rate_limited > MAX_RATE_LIMITED:
                self.fail(line, f"rate limited {line.rate_limited} times: {exc}")
            else:
                self.again(line, "429 rate limited", pause)
            return
        except (APIStatusError, APIConnectionError) as exc:
            self.budget.landed(line, None)
            self.sending -= 1
            self.pacer.failed(time.monotonic(), exc.rate_limit if isinstance(exc, APIStatusError) else None)
            config = self.client.config
            if is_transient(exc) and line.attempts <= config.max_retries:
                delay = retry_delay(line.attempts - 1, None, jitter=config.jitter)
                self.waiting += 1
                self.active -= 1
                self.poke()
                reason = f"{exc.status_code}" if isinstance(exc, APIStatusError) else "connection error"
                self.retries += 1
                self.emit(LineRetrying(line.request, reason, delay, self.progress()))
                try:
                    await anyio.sleep(delay)
                finally:
                    self.waiting -= 1
                self.queue.appendleft(line)
                self.poke()
                return
            self.fail(line, str(exc))
            return
        except OAIImagesError as exc:  # an answer that is not an image response
            self.budget.landed(line, None)
            self.sending -= 1
            self.pacer.failed(time.monotonic())
            self.fail(line, str(exc))
            return
        self.budget.landed(line, result.cost)
        self.sending -= 1
        self.pacer.answered(time.monotonic(), result.rate_limit)
        self.poke()
        await self.save(line, result)

    def again(self, line: _Line, reason: str, delay: float) -> None:
        """Queue a line to be sent again, first in line (the scheduler waits out the pause)."""
        self.retries += 1
        self.active -= 1
        self.queue.appendleft(line)
        self.emit(LineRetrying(line.request, reason, delay, self.progress()))
        self.poke()

    def fail(self, line: _Line, error: str) -> None:
        self.journal.failed(line.request.key, error)
        self.failed.append((line.request, error))
        self.active -= 1
        self.emit(LineFailed(line.request, error, self.progress()))
        self.poke()

    def free_name(self, request: BulkRequest, name: str, data: bytes) -> str:
        """``name``, or ``name-v2``, ``-v3``, ... when another line's saved image has it (an earlier line of
        the same number or id and prompt, with other fields): a paid image is never replaced."""  # noqa: D205, D209 - one sentence
        extension = image_extension(data)
        for attempt in range(1, 1000):
            candidate = name if attempt == 1 else f"{name}-v{attempt}"
            path = self.out / f"{candidate}{extension}"
            if not path.exists() or not self.journal.owned_by_other(path, request.key):
                return candidate
        return f"{name}-{request.key[:12]}"

    async def save(self, line: _Line, result: Any) -> None:
        request = line.request
        images = result.images
        if not images:
            self.fail(line, f"the server answered without an image (request id {result.request_id})")
            return
        stem = f"{request.label}-{slug(request.prompt)}"
        paths: list[Path] = []
        rescued = False
        try:
            for index, image in enumerate(images, 1):
                data = await image.aread()  # a URL is downloaded now, before it expires
                name = self.free_name(request, stem if len(images) == 1 else f"{stem}-{index}", data)
                path = await self.store(request, name, data)
                if path is None:
                    unsaved = f"{len(images) - len(paths)} of its images could not be written anywhere"
                    self.fail(line, f"{unsaved} (a full disk?); request id {result.request_id}")
                    return
                rescued = rescued or path.parent != self.out
                paths.append(path)
        except OAIImagesError as exc:
            self.fail(line, f"could not download the image: {exc}")
            return
        usage = result.usage.to_dict() if result.usage is not None else None
        if usage:
            self.tokens += int(usage.get("total_tokens") or 0)
            _add(self.usage, usage)
        revised = tuple(image.revised_prompt for image in images)
        self.journal.saved(
            request.key,
            paths=paths,
            request_id=result.request_id,
            revised_prompts=revised,
            usage=usage,
            cost=result.cost,
        )
        self.done += 1
        self.active -= 1
        self.paths.extend(paths)
        self.emit(
            LineSaved(
                request,
                tuple(paths),
                result.request_id,
                revised,
                usage,
                self.progress(),
                rescued,
                result.cost,
            )
        )
        self.poke()

    async def store(self, request: BulkRequest, name: str, data: bytes) -> Path | None:
        """Write a paid image: in the output folder, else (the folder went, or a write failed: a full disk)
        in the first rescue folder that takes it; None when none does. A failure stops the sending: paying
        for images that cannot be kept helps nobody. The bytes of an image nowhere kept stay in memory, in
        the summary's ``unsaved``."""  # noqa: D205, D209
        if self.journal.intact():
            try:
                return await anyio.to_thread.run_sync(_write_in_place, data, self.out / name)
            except OSError:
                pass
        else:
            self.folder_gone = True
        self.stopping = self.halted = True
        self.poke()
        for folder in rescue_folders():
            try:
                where, _ = folder()
                return await anyio.to_thread.run_sync(_write, data, where / name)
            except OSError:
                continue
        self.unsaved.append((request, name, data))
        return None


def _write_in_place(data: bytes, destination: Path) -> Path:
    """As `_write`, in a folder that must still be there (a deleted one fails, and is not made again)."""
    return write_image(data, destination, overwrite=True, create_folder=False)


def _write(data: bytes, destination: Path) -> Path:
    # overwrite: `free_name` chose a name no other line's image has, so what is replaced is this line's own
    # file (from a run killed before its journal entry), or a file no run recorded.
    return write_image(data, destination, overwrite=True)


def _add(total: dict[str, Any], part: Mapping[str, Any]) -> None:
    for key, value in part.items():
        if isinstance(value, dict):
            _add(total.setdefault(key, {}), value)
        elif isinstance(value, int) and not isinstance(value, bool):
            total[key] = total.get(key, 0) + value


async def run_bulk(
    client: AsyncImagesClient,
    requests: Sequence[BulkRequest],
    *,
    out: Path,
    concurrency: int = 8,
    retry_failed: bool = False,
    on_event: Callable[[BulkEvent], None] | None = None,
    stop: anyio.Event | None = None,
    abandon: anyio.Event | None = None,
    grace: float = 30.0,
    max_cost: float | None = None,
) -> BulkSummary:
    """Run checked requests with an async client; see `ImagesClient.generate_many`.

    Args:
        client: The client to send with (each request is sent once; the pacing decides every retry).
        requests: The checked requests (see `load`).
        out: The folder of the images and the journal.
        concurrency: The most requests in flight.
        retry_failed: Send the lines an earlier run gave up on again.
        on_event: Called with each progress event.
        grace: Seconds the requests in flight get to land after a stop.
        stop: Set it to stop sending; the requests in flight get ``grace`` seconds to land.
        abandon: Set it to stop without waiting for the requests in flight (they stay unfinished in the
            journal, and the next run sends them again).
        max_cost: The budget in USD: the run is refused (`BudgetExceededError`) when its estimate, with what
            earlier runs of the same lines spent, is over it; while it runs, a line is sent only when what
            is spent and what is in flight (at their upper bounds) stay within it.
    """
    check_run(out, concurrency)
    run = _Run(
        client,
        requests,
        out=out,
        concurrency=concurrency,
        retry_failed=retry_failed,
        on_event=on_event,
        grace=grace,
        max_cost=max_cost,
    )
    return await run.run(stop or anyio.Event(), abandon or anyio.Event())


def run_bulk_sync(
    make_client: Callable[[], AsyncImagesClient],
    requests: Sequence[BulkRequest],
    *,
    out: Path,
    concurrency: int = 8,
    retry_failed: bool = False,
    on_event: Callable[[BulkEvent], None] | None = None,
    grace: float = 30.0,
    max_cost: float | None = None,
) -> BulkSummary:
    """Run checked requests for the blocking client: the async engine on an event loop in a worker thread.

    The loop runs in its own thread, so a caller with an event loop running (a notebook) is not blocked
    from below. Ctrl-C stops the sending, lets the requests in flight land for ``grace`` seconds, then
    raises `BulkInterrupted` (a ``KeyboardInterrupt``) carrying the summary; Ctrl-C again stops at once.
    """
    signals = _Signals()

    async def main() -> BulkSummary:
        stop, abandon = signals.bind(asyncio.get_running_loop())
        twin = make_client()  # made on the run's loop, whose connections it opens
        try:
            return await run_bulk(
                twin,
                requests,
                out=out,
                concurrency=concurrency,
                retry_failed=retry_failed,
                on_event=on_event,
                stop=stop,
                abandon=abandon,
                grace=grace,
                max_cost=max_cost,
            )
        finally:
            await twin.aclose()

    pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="oai-images-bulk")
    try:
        future = pool.submit(anyio.run, main)
        try:
            return future.result()
        except KeyboardInterrupt:
            signals.fire(future, "stop")
            try:
                summary = future.result()
            except KeyboardInterrupt:  # Ctrl-C again: do not wait for the requests in flight
                signals.fire(future, "abandon")
                summary = future.result()
            raise BulkInterrupted(summary) from None
    finally:
        pool.shutdown(wait=False)


class _Signals:
    """The stop and abandon events of a run on a loop in another thread, set from the caller's thread."""

    def __init__(self) -> None:
        self.ready = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.events: dict[str, anyio.Event] = {}

    def bind(self, loop: asyncio.AbstractEventLoop) -> tuple[anyio.Event, anyio.Event]:
        """Called on the run's loop, where the events must be created; returns (stop, abandon)."""
        self.events = {"stop": anyio.Event(), "abandon": anyio.Event()}
        self.loop = loop
        self.ready.set()
        return self.events["stop"], self.events["abandon"]

    def fire(self, future: concurrent.futures.Future[BulkSummary], name: str) -> None:
        """Set the event ``name`` on the run's loop, as soon as the loop is there (unless the run ended)."""
        while not self.ready.wait(0.05):
            if future.done():
                return
        assert self.loop is not None
        with contextlib.suppress(RuntimeError):  # the loop has already finished
            self.loop.call_soon_threadsafe(self.events[name].set)
