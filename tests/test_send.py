"""The one send against hostile servers on real loopback sockets: deadlines, size caps, deep JSON,
bodies that break off, streams that are no streams."""  # noqa: D205, D209 - one sentence

from __future__ import annotations

import gzip
import json
import time
from typing import Any

import pytest

import oai_images
from tests.conftest import PNG, PNG_B64, Facade
from tests.hostile_server import HostileServer, answer, cut, deep_json, drip, endless, head

pytestmark = pytest.mark.slow

IMAGES = json.dumps({"created": 1, "data": [{"b64_json": PNG_B64}]}).encode()
SSE = [("content-type", "text/event-stream")]


def _client(facade: Facade, hostile: HostileServer, **options: Any) -> oai_images.ImagesClient:
    options.setdefault("max_retries", 0)
    return facade.client(base_url=hostile.base_url, **options)  # type: ignore[return-value]


@pytest.mark.parametrize("where", ["head", "body"])
async def test_send_timeout_bounds_the_whole_attempt(
    facade: Facade, hostile: HostileServer, where: str
) -> None:
    """timeout=1 against a server dripping a byte every 0.4 s: APITimeoutError within 3 s, not 16."""
    whole = head(200, length=len(IMAGES)) + IMAGES
    if where == "head":
        hostile.script(drip(whole, every=0.4))
    else:
        prefix = head(200, length=len(IMAGES))

        def body_drip(connection: Any, request: bytes) -> None:
            connection.sendall(prefix)
            drip(IMAGES, every=0.4)(connection, request)

        hostile.script(body_drip)
    started = time.monotonic()
    with pytest.raises(oai_images.APITimeoutError):
        await facade.generate(client=_client(facade, hostile, timeout=1))
    assert time.monotonic() - started < 3


async def test_send_timeout_bounds_a_dripping_stream(facade: Facade, hostile: HostileServer) -> None:
    """A stream that drips a comment byte every 0.4 s ends with APITimeoutError within 3x the timeout."""

    def slow(connection: Any, request: bytes) -> None:
        connection.sendall(head(200, SSE))
        drip(b":" * 100, every=0.4)(connection, request)

    hostile.script(slow)
    started = time.monotonic()
    with pytest.raises(oai_images.APITimeoutError):
        await facade.stream(client=_client(facade, hostile, timeout=1), model="gpt-image-1")
    assert time.monotonic() - started < 3


async def test_send_reads_at_most_the_error_body_cap(facade: Facade, hostile: HostileServer) -> None:
    """An endless HTML 502 is read up to max_error_body_bytes: a short message, a capped .body."""
    page = b"<html><head><title>Bad gateway</title></head><body>" + b"x" * 1000
    hostile.script(endless(head(502, [("content-type", "text/html")], length=10**9) + page, b"y" * 65536))
    client = _client(facade, hostile, max_error_body_bytes=4096)
    with pytest.raises(oai_images.InternalServerError) as caught:
        await facade.generate(client=client)
    assert "Bad gateway" in caught.value.message
    assert isinstance(caught.value.body, str)
    assert len(caught.value.body) <= 4096


async def test_send_refuses_an_answer_over_the_download_cap(facade: Facade, hostile: HostileServer) -> None:
    """A 2xx body larger than max_download_bytes is an APIResponseValidationError naming the cap."""
    hostile.script(endless(head(200, length=10**9), b"{" * 65536))
    with pytest.raises(oai_images.APIResponseValidationError, match=r"max_body_bytes|cap"):
        await facade.generate(client=_client(facade, hostile, max_download_bytes=100_000))


@pytest.mark.parametrize("declared", ["length", "none", "twice"])
async def test_send_refuses_a_compressed_answer_that_inflates_past_the_cap(
    facade: Facade, hostile: HostileServer, declared: str
) -> None:
    """A gzip body of 20 KB that inflates to 20 MB (a small declared length says nothing of what it
    decodes to) is refused at the cap, however its length is declared."""  # noqa: D205, D209
    inflated = b'{"created": 1, "data": [], "pad": "' + b"a" * 20_000_000 + b'"}'
    body = gzip.compress(inflated)
    headers = [("content-type", "application/json"), ("content-encoding", "gzip")]
    if declared == "twice":
        headers += [("content-length", str(len(body)))] * 2
    length = len(body) if declared == "length" else None
    hostile.script(lambda connection, _: connection.sendall(head(200, headers, length=length) + body))
    with pytest.raises(oai_images.APIResponseValidationError, match=r"max_body_bytes|cap"):
        await facade.generate(client=_client(facade, hostile, max_download_bytes=100_000, max_retries=0))


async def test_send_caps_a_chunked_body_whatever_its_declared_length(
    facade: Facade, hostile: HostileServer
) -> None:
    """A body sent chunked with a small content-length beside it (h11 reads the chunks) is read under the
    cap, not trusted to its declared length: 20 MB of chunks end at the 100 KB cap."""  # noqa: D205, D209
    chunk = b"x" * 65536

    def handle(connection: Any, _: bytes) -> None:
        connection.sendall(
            head(200, [("content-type", "application/json"), ("transfer-encoding", "chunked")], length=10)
        )
        for _chunk_number in range(300):
            connection.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
        connection.sendall(b"0\r\n\r\n")

    hostile.script(handle)
    with pytest.raises(oai_images.APIResponseValidationError, match=r"max_body_bytes|cap"):
        await facade.generate(client=_client(facade, hostile, max_download_bytes=100_000, max_retries=0))


async def test_send_refuses_a_download_over_the_cap(facade: Facade, hostile: HostileServer) -> None:
    """An image URL serving more than max_download_bytes (no content-length) fails with a clear error."""
    url_answer = json.dumps({"created": 1, "data": [{"url": f"http://127.0.0.1:{hostile.port}/img.png"}]})
    hostile.script(answer(200, url_answer.encode()), endless(head(200), PNG * 1000))
    client = _client(facade, hostile, max_download_bytes=200_000)
    result = await facade.generate(client=client, model="dall-e-2", response_format="url")
    with pytest.raises(oai_images.APIResponseValidationError, match="cap"):
        await facade.read(result.images[0])


async def test_send_refuses_a_stream_line_over_the_cap(facade: Facade, hostile: HostileServer) -> None:
    """A stream line longer than max_stream_line_bytes is an APIResponseValidationError."""
    hostile.script(endless(head(200, SSE) + b"data: ", b"A" * 65536))
    client = _client(facade, hostile, max_stream_line_bytes=1_000_000)
    with pytest.raises(oai_images.APIResponseValidationError, match="max_stream_line_bytes"):
        await facade.stream(client=client, model="gpt-image-1")


@pytest.mark.parametrize("status", [200, 400, 429, 500])
async def test_send_reads_deep_json_as_text(facade: Facade, hostile: HostileServer, status: int) -> None:
    """JSON nested 100,000 deep, in a 2xx or an error answer, is an error of the tree, not RecursionError."""
    hostile.script(answer(status, deep_json(100_000), [("content-type", "application/json")]))
    with pytest.raises(oai_images.APIStatusError) as caught:
        await facade.generate(client=_client(facade, hostile))
    assert caught.value.status_code == status
    assert repr(caught.value.body)
    assert str(caught.value)


async def test_send_reads_a_deep_stream_event_as_unreadable(facade: Facade, hostile: HostileServer) -> None:
    """A stream event nested deeper than the recursion limit is an APIResponseValidationError."""
    hostile.script(answer(200, b"data: " + deep_json(100_000) + b"\n\n", SSE))
    with pytest.raises(oai_images.APIResponseValidationError):
        await facade.stream(client=_client(facade, hostile), model="gpt-image-1")


async def test_send_survives_a_retry_after_with_an_absurd_zone(
    facade: Facade, hostile: HostileServer
) -> None:
    """A retry-after date with a zone offset that overflows falls back to the backoff."""
    date = "Wed, 21 Oct 2015 07:28:00 +99999999999999999999"
    hostile.script(answer(429, b"{}", [("retry-after", date)]), answer(200, IMAGES))
    result = await facade.generate(client=_client(facade, hostile, max_retries=1))
    assert len(result.images) == 1
    assert facade.sleeps == [0.5]


@pytest.mark.parametrize(
    "body",
    [
        answer(200, b"<html><body>Hello from a proxy</body></html>", [("content-type", "text/html")]),
        answer(200, IMAGES, [("content-type", "application/json")]),
        answer(200, b"", SSE),
        answer(200, b'data: {"type": "image_generation.partial_image", "b64_json": "AA=="}\n\n', SSE),
    ],
    ids=["html", "plain-json", "empty-stream", "no-completed-event"],
)
async def test_stream_without_a_completed_image_raises(
    facade: Facade, hostile: HostileServer, body: Any
) -> None:
    """A 200 that is no event stream, or a stream with no completed image, raises instead of ending."""
    hostile.script(body)
    with pytest.raises(oai_images.APIResponseValidationError):
        await facade.stream(client=_client(facade, hostile), model="gpt-image-1")


async def test_result_counts_attempts_that_may_have_been_billed(
    facade: Facade, hostile: HostileServer
) -> None:
    """A 2xx that breaks mid-body and is retried: the result says two generations may have been billed."""
    hostile.script(cut(200, IMAGES, after=20), answer(503, b"{}"), answer(200, IMAGES))
    result = await facade.generate(client=_client(facade, hostile, max_retries=2))
    assert result.images[0].b64_json == PNG_B64
    assert result.attempts == 3
    assert result.possibly_billed == 2


async def test_result_counts_one_attempt_when_nothing_was_retried(
    facade: Facade, hostile: HostileServer
) -> None:
    """An answer at the first attempt: one attempt, one possibly billed."""
    hostile.script(answer(200, IMAGES))
    result = await facade.generate(client=_client(facade, hostile))
    assert (result.attempts, result.possibly_billed) == (1, 1)


def test_send_download_peak_memory_stays_near_the_image_size(hostile: HostileServer) -> None:
    """A 64 MiB download with no content-length is held once: traced peak under 1.3x its size."""
    import tracemalloc

    size = 64 * 2**20
    url_answer = json.dumps({"created": 1, "data": [{"url": f"http://127.0.0.1:{hostile.port}/big"}]})
    hostile.script(answer(200, url_answer.encode()), endless(head(200), b"\0" * 2**20, limit=size))
    with oai_images.ImagesClient(api_key="sk-x", base_url=hostile.base_url, max_retries=0) as client:
        image = client.generate("p", model="dall-e-2", response_format="url").images[0]
        tracemalloc.start()
        try:
            data = image.read()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert len(data) == size
    assert peak < 1.3 * size


def test_watchdog_forgets_disarmed_deadlines() -> None:
    """10,000 attempts that end in time leave no pile of 600-second entries behind."""
    from oai_images._send import Deadline, _watchdog

    for _ in range(10_000):
        deadline = Deadline(600)
        deadline.arm()
        deadline.disarm()
    assert len(_watchdog()._active) < 200


def test_a_refused_stream_stops_watching_its_deadline(hostile: Any) -> None:
    """A 200 that is no event stream: the error is raised and the attempt's deadline is disarmed, so the
    watchdog never cuts the pooled connection later."""  # noqa: D205, D209 - one sentence
    from oai_images import APIResponseValidationError, ImagesClient
    from oai_images._send import DEADLINE
    from tests.hostile_server import answer

    hostile.script(answer(200, b"<html>not a stream</html>", [("content-type", "text/html")]))
    seen: list[Any] = []
    with ImagesClient(api_key="sk-x", base_url=hostile.base_url, max_retries=0) as client:
        real = client._send

        def spy(request: Any, **options: Any) -> Any:
            response = real(request, **options)
            seen.append(response.extensions.get(DEADLINE))
            return response

        client._send = spy  # type: ignore[method-assign]  # records the streamed attempt's deadline
        with pytest.raises(APIResponseValidationError):
            list(client.generate_stream("a fox", model="gpt-image-1"))
    assert seen
    assert seen[0] is not None
    assert seen[0]._entry is None


def test_the_time_limit_of_other_loops_raises_timeout_error() -> None:
    """Under a loop other than asyncio (trio), an attempt's time limit is anyio's: a block that takes
    longer raises TimeoutError, as asyncio.timeout does (run here under asyncio, which anyio also drives)."""  # noqa: D205, D209
    import asyncio

    from oai_images._send import _OtherLoopLimit

    async def late() -> None:
        async with _OtherLoopLimit(0.05):
            await asyncio.sleep(5)

    async def prompt() -> str:
        async with _OtherLoopLimit(5):
            await asyncio.sleep(0)
        return "done"

    started = time.monotonic()
    with pytest.raises(TimeoutError):
        asyncio.run(late())
    assert time.monotonic() - started < 2
    assert asyncio.run(prompt()) == "done"


def test_the_loop_time_limit_keeps_asyncio_timeouts_rules() -> None:
    """The time limit shared by a loop's attempts behaves as ``asyncio.timeout``: a late block raises
    TimeoutError at its own time (a shorter limit armed after a longer one fires first); a block within its
    limit leaves no cancel behind; a cancel from outside stays a CancelledError; each new loop works."""  # noqa: D205, D209
    import asyncio

    from oai_images._send import _time_limit

    async def limited(seconds: float, work: float) -> float:
        started = time.monotonic()
        try:
            async with _time_limit(seconds):
                await asyncio.sleep(work)
        except TimeoutError:
            return time.monotonic() - started
        return -1.0

    async def scenario() -> None:
        long, short, quick = await asyncio.gather(limited(0.6, 5), limited(0.1, 5), limited(5, 0.01))
        assert 0.5 <= long < 2
        assert 0.05 <= short < 0.5
        assert quick == -1.0
        task = asyncio.current_task()
        assert task is not None
        assert task.cancelling() == 0
        await asyncio.sleep(0.01)  # no stray cancel arrives later

        async def cancelled_from_outside() -> None:
            async with _time_limit(5):
                await asyncio.sleep(5)

        inner = asyncio.create_task(cancelled_from_outside())
        await asyncio.sleep(0.05)
        inner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await inner

    for _ in range(2):  # a new loop each time
        asyncio.run(scenario())


def test_the_loop_timer_lets_closed_loops_and_abandoned_attempts_go() -> None:
    """The shared timer holds loops, handles and attempts weakly: loops that ran limited attempts (one of
    them closed with an attempt still inside its limit) are freed, and so is the abandoned attempt."""  # noqa: D205, D209
    import asyncio
    import gc
    import weakref

    from oai_images import _send

    async def quick() -> None:
        async with _send._time_limit(5):
            await asyncio.sleep(0)

    async def stuck(frames: list[weakref.ref[object]]) -> None:
        class Marker:
            pass

        marker = Marker()
        frames.append(weakref.ref(marker))
        async with _send._time_limit(60):
            await asyncio.sleep(60)

    loops: list[weakref.ref[asyncio.AbstractEventLoop]] = []
    frames: list[weakref.ref[object]] = []
    for _ in range(5):
        loop = asyncio.new_event_loop()
        loop.run_until_complete(quick())
        task = loop.create_task(stuck(frames))
        loop.run_until_complete(asyncio.sleep(0.01))
        loops.append(weakref.ref(loop))
        loop.close()
        del loop, task
    gc.collect()
    assert len(frames) == 5
    assert [ref() for ref in loops] == [None] * 5
    assert [ref() for ref in frames] == [None] * 5
