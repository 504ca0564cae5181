"""oai_images.batchapi: a Batch API job end to end against the emulator on loopback, sync and async.

The emulator measures a batch's progress on the module's fake clock, and the clients' sleep moves that
clock: a wait of minutes takes no time.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from PIL import Image

from bench.batch_collect import LargeOutputServer, measure
from oai_images import AsyncImagesClient, ImagesClient, InvalidParameterError
from oai_images.batchapi import AsyncBatchJob, BatchInfo, BatchJob, CollectReport, image_stem
from oai_images.batchapi._jsonl import LineSplitter, PartWriter, parse_result_line, request_line
from tests.conftest import FakeClock

if TYPE_CHECKING:
    from oai_images_emulator import EmulatorConfig, EmulatorServer


@pytest.fixture(scope="module")
def server_config(clock: FakeClock) -> EmulatorConfig:
    """Batches take 100 s of the fake clock; the window is a day, as for the real API."""
    from oai_images_emulator import EmulatorConfig

    return EmulatorConfig(clock=clock, hang_seconds=5, batch_seconds=100.0)


class Runner:
    """One job API, driven sync or async; the client's sleeps move the fake clock and are recorded."""

    def __init__(self, kind: str, server: EmulatorServer, clock: FakeClock) -> None:
        self.kind = kind
        self.server = server
        self.clock = clock
        self.sleeps: list[float] = []
        self.requests: list[httpx.Request] = []
        #: The injected httpx client of each job (by id), closed with it.
        self.http_of: dict[int, httpx.Client | httpx.AsyncClient] = {}
        server.state.config.batch_seconds = 100.0
        server.state.config.batch_window_seconds = 24 * 3600.0

    def _sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.clock.now += seconds

    def job(
        self, out: Path, client_options: Mapping[str, Any] | None = None, **options: Any
    ) -> BatchJob | AsyncBatchJob:
        """A job in ``out`` with a client of its own kind (closed with the job by `close`)."""
        common: dict[str, Any] = {
            "base_url": self.server.base_url,
            "api_key": "sk-test",
            "jitter": lambda: 0.0,
            **(client_options or {}),
        }
        if self.kind == "sync":
            http = httpx.Client(event_hooks={"request": [self.requests.append]})
            job = BatchJob(ImagesClient(sleep=self._sleep, http_client=http, **common), out, **options)
            self.http_of[id(job)] = http
            return job

        async def sleep(seconds: float) -> None:
            self._sleep(seconds)

        async def record(request: httpx.Request) -> None:
            self.requests.append(request)

        http_async = httpx.AsyncClient(event_hooks={"request": [record]})
        ajob = AsyncBatchJob(AsyncImagesClient(sleep=sleep, http_client=http_async, **common), out, **options)
        self.http_of[id(ajob)] = http_async
        return ajob

    async def call(self, job: BatchJob | AsyncBatchJob, method: str, *args: Any, **kwargs: Any) -> Any:
        """``job.<method>(...)``, awaited for an async job."""
        result = getattr(job, method)(*args, **kwargs)
        return await result if isinstance(job, AsyncBatchJob) else result

    async def close(self, job: BatchJob | AsyncBatchJob) -> None:
        """Close the job, its client and the injected httpx client."""
        job.close()
        http = self.http_of.pop(id(job))
        if isinstance(http, httpx.Client):
            http.close()
        else:
            await http.aclose()

    def paths(self, suffix: str) -> list[str]:
        """The paths requested so far that end with ``suffix``."""
        return [request.url.path for request in self.requests if request.url.path.endswith(suffix)]


@pytest.fixture(params=["sync", "async"])
def runner(request: pytest.FixtureRequest, server: EmulatorServer, clock: FakeClock) -> Runner:
    """The same test body with BatchJob and AsyncBatchJob."""
    return Runner(str(request.param), server, clock)


def lines(count: int, *, prefix: str = "fox", **fields: Any) -> list[tuple[str, dict[str, Any]]]:
    """``count`` small gpt-image-1 requests."""
    body = {"model": "gpt-image-1", "size": "1024x1024", "quality": "low", **fields}
    return [(f"{prefix}-{index}", {"prompt": f"a fox, take {index}", **body}) for index in range(count)]


# --- end to end ---------------------------------------------------------------------------------------


@pytest.mark.slow
async def test_job_submit_wait_collect_saves_every_image(runner: Runner, tmp_path: Path) -> None:
    """Submit → wait → collect through the emulator saves a real image per line, named by custom id."""
    job = runner.job(tmp_path)
    progress: list[list[BatchInfo]] = []
    try:
        ids = await runner.call(job, "submit", [*lines(3), ("dog", {"prompt": "a dog", "model": "dall-e-2"})])
        infos = await runner.call(job, "wait", on_progress=progress.append, poll_interval=20)
        report = await runner.call(job, "collect")
    finally:
        await runner.close(job)
    assert len(ids) == 1
    assert ids[0].startswith("batch_")
    assert [info.status for info in infos] == ["completed"]
    assert infos[0].completed == 4
    assert infos[0].total == 4
    assert progress[0][0].status == "validating"
    assert progress[-1][0].ended
    assert report == CollectReport(images_saved=4, lines_done=4, batches_collected=1)
    with Image.open(tmp_path / "fox-2-a-fox-take-2.png") as image:
        assert image.size == (1024, 1024)
    assert (tmp_path / "dog-a-dog.png").is_file()  # dall-e-2 answers with a URL: downloaded
    assert runner.sleeps[:3] == [20, 30, 45]


def _png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (90, 30, 160)).save(buffer, "PNG")
    return buffer.getvalue()


def _png_data_url() -> str:
    return "data:image/png;base64," + base64.b64encode(_png_bytes()).decode()


@pytest.mark.slow
async def test_job_runs_edit_lines_as_a_batch_of_edits(runner: Runner, tmp_path: Path) -> None:
    """Lines with ``images`` are JSON edits: they go to a batch of /v1/images/edits of their own, beside the
    generations' batch, and their images are saved like any other; an edit line that breaks the edit rules is
    refused before anything is sent."""  # noqa: D205, D209
    uploaded = httpx.post(
        f"{runner.server.base_url}/files",
        headers={"Authorization": "Bearer sk-test"},
        data={"purpose": "vision"},
        files={"file": ("a.png", _png_bytes())},
    ).json()["id"]
    edit = {"model": "gpt-image-1.5", "size": "1024x1536"}
    job = runner.job(tmp_path)
    try:
        ids = await runner.call(
            job,
            "submit",
            [
                *lines(1),
                ("hat", {"prompt": "a hat", "images": [{"image_url": _png_data_url()}], **edit}),
                ("scarf", {"prompt": "a scarf", "images": [{"file_id": uploaded}], **edit}),
            ],
        )
        infos = await runner.call(job, "wait", poll_interval=20)
        report = await runner.call(job, "collect")
        bad = {"prompt": "x", "images": [{"image_url": _png_data_url()}], "model": "dall-e-2"}
        with pytest.raises(InvalidParameterError, match="line 'bad'"):
            await runner.call(job, "submit", [("bad", bad)])
    finally:
        await runner.close(job)
    assert len(ids) == 2
    assert sorted(info.total for info in infos) == [1, 2]
    assert all(info.status == "completed" for info in infos)
    assert report.images_saved == 3
    with Image.open(tmp_path / "hat-a-hat.png") as image:
        assert image.size == (1024, 1536)
    with Image.open(tmp_path / "scarf-a-scarf.png") as image:
        assert image.size == (1024, 1536)
    created = [
        json.loads(request.content)
        for request in runner.requests
        if request.method == "POST" and request.url.path.endswith("/batches")
    ]
    assert sorted(body["endpoint"] for body in created) == ["/v1/images/edits", "/v1/images/generations"]


@pytest.mark.slow
async def test_job_writes_the_documented_input_lines(runner: Runner, tmp_path: Path) -> None:
    """The uploaded file holds one {custom_id, method, url, body} line per request, body as given."""
    from openai import OpenAI

    job = runner.job(tmp_path)
    try:
        [batch_id] = await runner.call(job, "submit", lines(2, background=None))
    finally:
        await runner.close(job)
    with OpenAI(base_url=runner.server.base_url, api_key="sk-test") as official:
        batch = official.batches.retrieve(batch_id)
        content = official.files.content(batch.input_file_id).text.splitlines()
    assert batch.endpoint == "/v1/images/generations"
    assert batch.completion_window == "24h"
    assert json.loads(content[1]) == {
        "custom_id": "fox-1",
        "method": "POST",
        "url": "/v1/images/generations",
        "body": {"prompt": "a fox, take 1", "model": "gpt-image-1", "size": "1024x1024", "quality": "low"},
    }


@pytest.mark.slow
async def test_job_submit_again_sends_nothing_new(runner: Runner, tmp_path: Path) -> None:
    """With the same journal, submitting the same lines again uploads and creates nothing."""
    first = runner.job(tmp_path)
    try:
        await runner.call(first, "submit", lines(2))
    finally:
        await runner.close(first)
    again = runner.job(tmp_path)
    try:
        created = await runner.call(again, "submit", lines(2))
        more = await runner.call(again, "submit", lines(3))
    finally:
        await runner.close(again)
    assert created == []
    assert len(more) == 1  # only fox-2 is new
    assert len(runner.paths("/files")) == 2
    assert len(runner.paths("/batches")) == 2


@pytest.mark.slow
async def test_job_splits_input_past_the_line_and_byte_limits(runner: Runner, tmp_path: Path) -> None:
    """More lines than a batch may hold make several batches; so does a byte limit."""
    one_line = len(
        request_line("fox-0", json.dumps(lines(1)[0][1], separators=(",", ":")), "/v1/images/generations")
    )
    by_lines = runner.job(tmp_path / "a", max_lines=2)
    by_bytes = runner.job(tmp_path / "b", max_bytes=2 * one_line - 1)
    try:
        five = await runner.call(by_lines, "submit", lines(5))
        three = await runner.call(by_bytes, "submit", lines(3))
        sizes = [info.lines for info in by_lines.batches()]
    finally:
        await runner.close(by_lines)
        await runner.close(by_bytes)
    assert len(five) == 3
    assert sizes == [2, 2, 1]
    assert len(three) == 3  # two lines do not fit


@pytest.mark.slow
async def test_job_collect_twice_downloads_nothing_again(runner: Runner, tmp_path: Path) -> None:
    """A second collect of a fully collected job reads no file and writes no image."""
    job = runner.job(tmp_path)
    try:
        await runner.call(job, "submit", [*lines(2), ("dog", {"prompt": "a dog", "model": "dall-e-2"})])
        runner.clock.now += 200
        first = await runner.call(job, "collect")
        downloads = [request.url.path for request in runner.requests if request.method == "GET"]
        second = await runner.call(job, "collect")
    finally:
        await runner.close(job)
    assert first.lines_done == 3
    assert first.batches_collected == 1
    assert second == CollectReport()
    assert len(runner.paths("/content")) == 1  # the output file, once
    assert [request.url.path for request in runner.requests if request.method == "GET"] == downloads


@pytest.mark.slow
async def test_job_collect_records_per_line_errors(runner: Runner, tmp_path: Path) -> None:
    """A line the server refuses is recorded failed with its code and message; the others are saved."""
    # validate=False lets a line through that the server refuses, as an older rules table would.
    job = runner.job(tmp_path, client_options={"validate": False})
    try:
        await runner.call(job, "submit", [*lines(1), ("huge", {"prompt": "x", "model": "dall-e-2", "n": 99})])
        runner.clock.now += 200
        report = await runner.call(job, "collect")
        [failed] = job.lines("failed")
        [done] = job.lines("done")
        counts = job.counts()
    finally:
        await runner.close(job)
    assert report.lines_done == 1
    assert report.lines_failed == 1
    assert failed.custom_id == "huge"
    assert (failed.status_code, failed.error_code) == (400, "invalid_value")
    assert str(failed.error_message).startswith("n 99 is not valid")
    assert done.files == (tmp_path / "fox-0-a-fox-take-0.png",)
    assert counts == {"submitted": 0, "done": 1, "failed": 1}


@pytest.mark.slow
async def test_job_cancel_keeps_completed_lines_and_retry_sends_the_rest(
    runner: Runner, tmp_path: Path
) -> None:
    """Cancelling mid-way keeps what completed; retry_failed submits only the lines that never ran."""
    job = runner.job(tmp_path)
    try:
        await runner.call(job, "submit", lines(4))
        runner.clock.now += 10 + 80 * 2 / 4 + 1  # validated, and two of four lines answered
        cancelled = await runner.call(job, "cancel")
        runner.clock.now += 20
        report = await runner.call(job, "collect")
        statuses = [info.status for info in job.batches()]
        retried = await runner.call(job, "retry_failed")
        runner.clock.now += 200
        final = await runner.call(job, "collect")
    finally:
        await runner.close(job)
    assert cancelled[0].status == "cancelling"
    assert statuses == ["cancelled"]
    assert report.lines_done == 2
    assert report.lines_failed == 2
    assert len(retried) == 1
    assert final.lines_done == 2
    assert sorted(path.name for path in tmp_path.glob("*.png")) == [
        f"fox-{i}-a-fox-take-{i}.png" for i in range(4)
    ]


@pytest.mark.slow
async def test_job_expired_batch_keeps_what_completed(runner: Runner, tmp_path: Path) -> None:
    """A batch out of time expires with the lines answered so far, which are collected."""
    runner.server.state.config.batch_window_seconds = 60.0  # 10 s validating, a line every 20 s
    job = runner.job(tmp_path)
    try:
        await runner.call(job, "submit", lines(4))
        infos = await runner.call(job, "wait", poll_interval=30)
        report = await runner.call(job, "collect")
        failed = job.journal.line("fox-3")
    finally:
        await runner.close(job)
    assert infos[0].status == "expired"
    assert report.lines_done == 2
    assert report.lines_failed == 2
    assert failed is not None
    assert failed["error_code"] == "batch_expired"


@pytest.mark.slow
async def test_job_wait_outlasts_rate_limited_polls(runner: Runner, tmp_path: Path) -> None:
    """A 429 on a poll is retried after the server's retry-after, and the wait goes on."""
    from oai_images_emulator import parse_fault

    job = runner.job(tmp_path)
    try:
        await runner.call(job, "submit", lines(1))
        runner.server.state.config.fault = parse_fault("rate_limit;times=1;retry_after=7")
        infos = await runner.call(job, "wait", poll_interval=50)
    finally:
        runner.server.state.config.fault = None
        await runner.close(job)
    assert infos[0].status == "completed"
    assert 7 in runner.sleeps


@pytest.mark.slow
async def test_job_submit_interrupted_before_create_is_finished_without_uploading_again(
    runner: Runner, tmp_path: Path
) -> None:
    """A batch creation that failed is retried by the next submit, from the file already uploaded, once the
    batch list shows that the failed one made no batch (a 500 may come after the server acted)."""  # noqa: D205, D209
    from oai_images import InternalServerError
    from oai_images_emulator import parse_fault

    job = runner.job(tmp_path, client_options={"max_retries": 0})
    try:
        runner.server.state.config.fault = parse_fault("server_error;times=1")
        with pytest.raises(InternalServerError):
            await runner.call(job, "submit", lines(2))
        runner.server.state.config.fault = None
        pending = job.batches()
        created = await runner.call(job, "submit", lines(2))
    finally:
        runner.server.state.config.fault = None
        await runner.close(job)
    assert [(info.status, info.batch_id) for info in pending] == [("creating", None)]
    assert len(created) == 1
    assert len(runner.paths("/files")) == 1
    creates = [
        request
        for request in runner.requests
        if request.method == "POST" and request.url.path.endswith("/batches")
    ]
    assert len(creates) == 2
    assert len(runner.paths("/batches")) == 4  # and a look at the batch list after each failure


class _BreakingTransport(httpx.BaseTransport):
    """Loopback HTTP, except that the first file download breaks after its first line."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.broke = False
        #: The Range header of each download (None: from the start), and the length of what the first sent.
        self.ranges: list[str | None] = []
        self.first_length = 0

    def close(self) -> None:
        """Close the connections of the real transport."""
        self.inner.close()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/content"):
            self.ranges.append(request.headers.get("range"))
        response = self.inner.handle_request(request)
        if self.broke or not request.url.path.endswith("/content"):
            return response
        self.broke = True
        assert isinstance(response.stream, httpx.SyncByteStream)  # a sync transport's answer
        body = b"".join(response.stream)
        response.close()
        first = body[: body.index(b"\n") + 1]
        self.first_length = len(first)

        class Broken(httpx.SyncByteStream):
            def __iter__(self) -> Iterator[bytes]:
                yield first
                raise httpx.ReadError("connection reset by peer")

        headers = [(name, value) for name, value in response.headers.items() if name != "content-length"]
        return httpx.Response(response.status_code, headers=headers, stream=Broken())


@pytest.mark.slow
def test_job_collect_after_a_broken_download_resumes_where_it_broke(
    server: EmulatorServer, clock: FakeClock, tmp_path: Path
) -> None:
    """A download that breaks keeps what it saved, and the collect goes on from the byte after the last
    whole line (an HTTP range), never from byte 0: every line is saved once, in one collect."""  # noqa: D205, D209
    server.state.config.batch_seconds = 100.0
    transport = _BreakingTransport()
    with (
        httpx.Client(transport=transport) as http,
        ImagesClient(base_url=server.base_url, api_key="sk-test", http_client=http) as client,
        BatchJob(client, tmp_path) as job,
    ):
        job.submit(lines(3))
        clock.now += 200
        report = job.collect()
        again = job.collect()
    assert transport.ranges == [None, f"bytes={transport.first_length}-"]
    assert sorted(path.name for path in tmp_path.glob("*.png")) == [
        "fox-0-a-fox-take-0.png",
        "fox-1-a-fox-take-1.png",
        "fox-2-a-fox-take-2.png",
    ]
    assert (report.lines_done, report.lines_skipped, report.batches_collected) == (3, 0, 1)
    assert (again.lines_done, again.batches_collected) == (0, 0)  # collected: nothing is downloaded again
    assert len(transport.ranges) == 2


async def test_job_invalid_line_sends_nothing(runner: Runner, tmp_path: Path) -> None:
    """A line the API would refuse raises InvalidParameterError naming it, before any request."""
    job = runner.job(tmp_path)
    try:
        with pytest.raises(InvalidParameterError) as caught:
            await runner.call(job, "submit", [*lines(2), ("bad-size", {"prompt": "x", "size": "7x7"})])
        with pytest.raises(InvalidParameterError, match="more than one line"):
            await runner.call(job, "submit", [*lines(1), *lines(1)])
        small = runner.job(tmp_path / "small", max_bytes=100)
        try:
            with pytest.raises(InvalidParameterError, match="larger than a batch file"):
                await runner.call(small, "submit", lines(1))
        finally:
            await runner.close(small)
        journal_lines = job.journal.counts()
    finally:
        await runner.close(job)
    assert caught.value.param == "size"
    assert "bad-size" in str(caught.value)
    assert runner.requests == []
    assert journal_lines == {"submitted": 0, "done": 0, "failed": 0}


# --- the parts without network ------------------------------------------------------------------------


def test_request_line_is_one_json_object_and_a_newline() -> None:
    """An input line is the documented object, compact, ending in a newline."""
    line = request_line("a\n1", '{"prompt":"fox"}', "/v1/images/generations")
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    assert json.loads(line) == {
        "custom_id": "a\n1",
        "method": "POST",
        "url": "/v1/images/generations",
        "body": {"prompt": "fox"},
    }


def test_part_writer_rolls_over_before_a_limit(tmp_path: Path) -> None:
    """A new file starts before one would pass its line or byte limit."""
    numbers = iter(range(1, 10))
    writer = PartWriter(lambda: next(numbers), max_lines=3, max_bytes=25, folder=str(tmp_path))
    for _ in range(4):
        writer.add(b"0123456789\n")  # 11 bytes: two per file by bytes
    parts = writer.close()
    assert [(part.number, part.lines, part.bytes) for part in parts] == [(1, 2, 22), (2, 2, 22)]
    assert parts[0].path.read_bytes() == b"0123456789\n" * 2


def test_line_splitter_joins_lines_across_chunks() -> None:
    """Lines cut anywhere by the network come out whole, without CR, the last one on flush."""
    splitter = LineSplitter()
    got = [*splitter.feed(b'{"a":'), *splitter.feed(b'1}\r\n{"b"'), *splitter.feed(b":2}\n\n{")]
    got += splitter.feed(b'"c":3}')
    assert got == ['{"a":1}', '{"b":2}', ""]
    assert splitter.flush() == ['{"c":3}']
    assert splitter.flush() == []


def test_parse_result_line_reads_both_error_shapes() -> None:
    """A non-2xx response's envelope and a top-level error both give code and message."""
    status = parse_result_line(
        '{"custom_id":"a","response":{"status_code":400,"body":{"error":{"code":"bad","message":"no"}}}}'
    )
    top = parse_result_line('{"custom_id":"b","response":null,"error":{"code":"x","message":"gone"}}')
    ok = parse_result_line('{"custom_id":"c","response":{"status_code":200,"body":{"data":[]}},"error":null}')
    assert status is not None
    assert (status.ok, status.error_code, status.error_message) == (False, "bad", "no")
    assert top is not None
    assert (top.status_code, top.error_code, top.error_message) == (None, "x", "gone")
    assert ok is not None
    assert ok.ok
    assert parse_result_line("  ") is None


def test_image_stem_keeps_safe_ids_and_hashes_others() -> None:
    """A safe custom id is the file name; another becomes a slug with a hash, distinct per id."""
    assert image_stem("fox-1.v2") == "fox-1.v2"
    assert image_stem("a/b").startswith("a-b-")
    assert image_stem("a/b") != image_stem("a?b")
    assert image_stem("../etc") != "../etc"
    assert "/" not in image_stem("../etc")


# --- memory -------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_collect_memory_stays_flat_for_a_large_output_file(
    large_output_server: LargeOutputServer, tmp_path: Path
) -> None:
    """Collecting a ~210 MB output file of 6 MB images peaks below 150 MB of RSS (the file is never held)."""
    server = large_output_server
    result = measure(server, tmp_path)
    size, count = server.output_size, server.lines
    assert size > 200 * 1024 * 1024
    assert result["images"] == count
    assert result["peak_mb"] < 150, result
    assert len(list(tmp_path.glob("big-*.png"))) == count


@pytest.fixture
def large_output_server() -> Iterator[LargeOutputServer]:
    """A loopback server whose one batch is completed with a ~210 MB output file, made as it is sent."""
    server = LargeOutputServer(lines=26, image_bytes=6 * 1024 * 1024)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_job_server_errors_are_typed_and_never_show_the_key(kind: str, tmp_path: Path) -> None:
    """A garbled upload answer and a refused batch raise the facade's errors, with the key redacted."""
    from oai_images import APIResponseValidationError, AuthenticationError

    key = "sk-secret-0123456789abcdef"
    answers = iter(
        [
            httpx.Response(200, text=f"<html>proxy error for {key}</html>"),
            httpx.Response(
                200,
                json={
                    "id": "file-1",
                    "object": "file",
                    "bytes": 1,
                    "created_at": 1,
                    "filename": "x",
                    "purpose": "batch",
                    "status": "processed",
                },
            ),
            httpx.Response(
                401,
                json={
                    "error": {
                        "message": "bad key",
                        "type": "invalid_request_error",
                        "param": None,
                        "code": "invalid_api_key",
                    }
                },
            ),
        ]
    )
    transport = httpx.MockTransport(lambda request: next(answers))
    base: dict[str, Any] = {"base_url": "https://api.test/v1", "api_key": key, "max_retries": 0}
    job: BatchJob | AsyncBatchJob
    if kind == "sync":
        job = BatchJob(ImagesClient(http_client=httpx.Client(transport=transport), **base), tmp_path)
    else:
        job = AsyncBatchJob(
            AsyncImagesClient(http_client=httpx.AsyncClient(transport=transport), **base), tmp_path
        )

    async def submit() -> list[str]:
        if isinstance(job, AsyncBatchJob):
            return await job.submit(lines(1))
        return job.submit(lines(1))

    try:
        with pytest.raises(APIResponseValidationError) as garbled:
            await submit()
        with pytest.raises(AuthenticationError) as refused:
            await submit()
        pending = job.batches()
    finally:
        job.close()
    assert key not in f"{garbled.value} {garbled.value!r} {garbled.value.body!r}"
    assert refused.value.code == "invalid_api_key"
    assert [(info.status, info.batch_id) for info in pending] == [("pending", None)]


@pytest.mark.slow
@pytest.mark.parametrize("api_version", ["2025-04-01-preview", "v1"])
def test_batch_job_runs_on_azure(
    server: EmulatorServer, clock: FakeClock, tmp_path: Path, api_version: str
) -> None:
    """BatchJob(AzureImagesClient(...)) submits, waits and collects through Azure's files and batches routes,
    with Azure's auth, each line naming the deployment as its model."""  # noqa: D205, D209
    from oai_images import AzureImagesClient

    sent: list[httpx.Request] = []
    origin = str(httpx.URL(server.base_url).copy_with(path="/"))
    key = "azure-key-0123456789"

    def sleep(seconds: float) -> None:
        clock.now += seconds

    with (
        httpx.Client(event_hooks={"request": [sent.append]}) as http,
        AzureImagesClient(
            azure_endpoint=origin,
            azure_deployment="gpt-image-1.5",
            api_version=api_version,
            api_key=key,
            http_client=http,
            sleep=sleep,
        ) as client,
        BatchJob(client, tmp_path) as job,
    ):
        job.submit([(f"fox-{index}", {"prompt": f"a fox {index}", "quality": "low"}) for index in range(2)])
        [info] = job.wait(poll_interval=20)
        report = job.collect()
        [(_, body_json), _] = job.journal.lines(info.part)
    assert info.status == "completed"
    assert report.images_saved == 2
    assert sorted(path.name for path in tmp_path.glob("fox-*")) == ["fox-0-a-fox-0.png", "fox-1-a-fox-1.png"]
    prefix = "/openai/v1" if api_version == "v1" else "/openai"
    assert {request.url.path for request in sent} >= {f"{prefix}/files", f"{prefix}/batches"}
    assert all(request.url.path.startswith(prefix + "/") for request in sent)
    if api_version == "v1":
        assert all(request.headers["authorization"] == f"Bearer {key}" for request in sent)
    else:
        assert all(request.url.params["api-version"] == api_version for request in sent)
        assert all(request.headers["api-key"] == key for request in sent)
    assert json.loads(body_json)["model"] == "gpt-image-1.5"


def test_batch_job_refuses_a_folder_another_job_or_run_uses(tmp_path: Path) -> None:
    """One run per output folder, live or Batch API: a second job (or a live run) there is refused at once."""
    from oai_images import OAIImagesError

    with ImagesClient(emulator=True) as client, BatchJob(client, tmp_path):
        with pytest.raises(OAIImagesError, match="another oai-images run is using"):
            BatchJob(client, tmp_path)
        with pytest.raises(OAIImagesError, match="another oai-images run is using"):
            client.generate_many(["a fox"], out=tmp_path)
    with ImagesClient(emulator=True) as client, BatchJob(client, tmp_path) as again:
        assert again.batches() == []  # released when the first one closed


@pytest.mark.slow
async def test_a_server_that_repeats_a_batch_id_stops_the_submit_cleanly(
    runner: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server answering a second create with the first batch's id: a clear error, no IntegrityError, and no
    create is sent again, now or by a rerun; the part's lines end failed, for retry_failed."""  # noqa: D205, D209
    from oai_images import APIResponseValidationError

    job = runner.job(tmp_path, max_lines=1)
    created: list[str] = []
    original = job._record_batch

    def repeat_first(part: int, batch: Any) -> BatchInfo:
        created.append(batch.id)
        batch.id = created[0]
        return original(part, batch)

    monkeypatch.setattr(job, "_record_batch", repeat_first)
    try:
        with pytest.raises(APIResponseValidationError, match="which is part 1's"):
            await runner.call(job, "submit", lines(2))
        creates = len(runner.paths("/batches"))
        assert await runner.call(job, "submit", lines(2)) == []  # a rerun creates nothing
        assert len(runner.paths("/batches")) == creates == 2
        runner.clock.now += 200
        report = await runner.call(job, "collect")
        failed = [outcome.custom_id for outcome in job.lines("failed")]
    finally:
        await runner.close(job)
    assert report.lines_failed == 1
    assert failed == ["fox-1"]


class ScriptedBatchAPI:
    """A Batch API that creates one completed batch at once and serves a given output file."""

    def __init__(self, output: bytes) -> None:
        self.output = output
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        """Answer as the Batch API would, at once."""
        self.requests.append(request)
        path = request.url.path
        if path.endswith("/files") and request.method == "POST":
            return httpx.Response(
                200,
                json={
                    "id": "file-in",
                    "object": "file",
                    "bytes": 1,
                    "created_at": 1,
                    "filename": "in.jsonl",
                    "purpose": "batch",
                    "status": "processed",
                },
            )
        if path.endswith("/content"):
            return httpx.Response(200, content=self.output)
        batch = {
            "id": "batch_1",
            "object": "batch",
            "endpoint": "/v1/images/generations",
            "input_file_id": "file-in",
            "completion_window": "24h",
            "status": "completed",
            "created_at": 1,
            "output_file_id": "file-out",
            "request_counts": {"total": 4, "completed": 4, "failed": 0},
        }
        return httpx.Response(200, json=batch)


def _result_line(custom_id: str, b64: str) -> bytes:
    body = {"created": 1, "data": [{"b64_json": b64}]}
    line = {"id": "r", "custom_id": custom_id, "response": {"status_code": 200, "body": body}, "error": None}
    return json.dumps(line).encode() + b"\n"


def test_collect_goes_past_bad_lines_and_records_each(tmp_path: Path) -> None:
    """A non-JSON line, a line whose image is not base64 and a line over the size cap each fail alone
    (named by the custom id they carry, with the reason); every other line is saved, in one collect."""  # noqa: D205, D209
    import base64
    import io

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, format="PNG")
    png = base64.b64encode(buffer.getvalue()).decode()
    output = b"".join(
        [
            _result_line("fox-0", png),
            b'{"custom_id": "fox-1", "response": {"status_code": 200, "body": {"created": 1, "da\n',
            _result_line("fox-2", "not base64 at all!"),
            _result_line("fox-3", "A" * 5000),  # a line far over the cap set below
            b"garbage that names nobody\n",
            _result_line("fox-4", png),
        ]
    )
    server = ScriptedBatchAPI(output)
    with (
        httpx.Client(transport=httpx.MockTransport(server)) as http,
        ImagesClient(api_key="sk-test-0123456789", http_client=http, max_download_bytes=4000) as client,
        BatchJob(client, tmp_path) as job,
    ):
        job.submit(lines(5))
        report = job.collect()
        failed = {outcome.custom_id: outcome for outcome in job.lines("failed")}
        done = [outcome.custom_id for outcome in job.lines("done")]
    assert done == ["fox-0", "fox-4"]
    assert sorted(failed) == ["fox-1", "fox-2", "fox-3"]
    assert failed["fox-1"].error_code == "invalid_result_line"
    assert failed["fox-2"].error_code == "invalid_image"
    assert failed["fox-3"].error_code == "line_too_long"
    assert "4,000-byte cap" in (failed["fox-3"].error_message or "")
    assert report.lines_unreadable == 1
    assert (report.lines_done, report.lines_failed) == (2, 3)
    assert sorted(path.name for path in tmp_path.glob("fox-*")) == [
        "fox-0-a-fox-take-0.png",
        "fox-4-a-fox-take-4.png",
    ]


class NeverEndingBatchAPI(ScriptedBatchAPI):
    """A Batch API whose batch stays in a status the job does not know."""

    def __call__(self, request: httpx.Request) -> httpx.Response:
        """The scripted answer, with the batch's status replaced."""
        response = super().__call__(request)
        if "/batches" in request.url.path:
            batch = {**response.json(), "status": "reticulating", "output_file_id": None}
            return httpx.Response(200, json=batch)
        return response


def test_wait_ends_at_its_deadline_on_a_batch_that_never_ends(tmp_path: Path) -> None:
    """A batch in an unknown status: wait gives up after the 24 h window and an hour (the seconds slept
    count), and says the batch has not ended."""  # noqa: D205, D209
    from oai_images.batchapi import DEFAULT_WAIT_SECONDS

    slept: list[float] = []
    server = NeverEndingBatchAPI(b"")
    with (
        httpx.Client(transport=httpx.MockTransport(server)) as http,
        ImagesClient(api_key="sk-test-0123456789", http_client=http, sleep=slept.append) as client,
        BatchJob(client, tmp_path) as job,
    ):
        job.submit(lines(1))
        [info] = job.wait(poll_interval=60, max_poll_interval=3600)
    assert not info.ended
    assert info.status == "reticulating"
    assert DEFAULT_WAIT_SECONDS - 3600 <= sum(slept) <= DEFAULT_WAIT_SECONDS


class StatefulBatchAPI:
    """A Batch API that keeps its batches, lists them, and can lose (or never act on) a creation."""

    def __init__(self) -> None:
        self.batches: list[dict[str, Any]] = []
        self.creates = 0
        #: What happens to each next creation: "ok", "lost" (acted, answer lost), "failed" (not acted),
        #: "killed" (acted, then the client process dies).
        self.script: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        """Answer one request."""
        path, method = request.url.path, request.method
        if path.endswith("/files") and method == "POST":
            return httpx.Response(
                200,
                json={
                    "id": f"file-{len(self.batches)}",
                    "object": "file",
                    "bytes": 1,
                    "created_at": 1,
                    "filename": "in.jsonl",
                    "purpose": "batch",
                    "status": "processed",
                },
            )
        if path.endswith("/batches") and method == "POST":
            self.creates += 1
            what = self.script.pop(0) if self.script else "ok"
            if what == "failed":
                raise httpx.ConnectError("connection refused")
            body = json.loads(request.read())
            batch = {
                "id": f"batch_{len(self.batches) + 1}",
                "object": "batch",
                "endpoint": body["endpoint"],
                "input_file_id": body["input_file_id"],
                "completion_window": "24h",
                "status": "in_progress",
                "created_at": 1,
                "request_counts": {"total": 1, "completed": 0, "failed": 0},
            }
            self.batches.append(batch)
            if what == "lost":
                raise httpx.RemoteProtocolError("server disconnected without sending a response")
            if what == "killed":
                raise KeyboardInterrupt  # the process dies after the server acted
            return httpx.Response(200, json=batch)
        if path.endswith("/batches") and method == "GET":
            newest = self.batches[::-1]
            return httpx.Response(
                200,
                json={
                    "object": "list",
                    "data": newest,
                    "has_more": False,
                    "first_id": newest[0]["id"] if newest else None,
                    "last_id": newest[-1]["id"] if newest else None,
                },
            )
        return httpx.Response(200, json=self.batches[-1])


def _stateful_job(server: StatefulBatchAPI, out: Path, http: httpx.Client) -> BatchJob:
    client = ImagesClient(api_key="sk-test-0123456789", http_client=http, sleep=lambda _: None)
    return BatchJob(client, out)


@pytest.mark.parametrize(("script", "creates"), [(["lost"], 1), (["failed"], 2), (["lost", "lost"], 1)])
def test_a_creation_whose_answer_is_lost_is_found_not_repeated(
    tmp_path: Path, script: list[str], creates: int
) -> None:
    """No answer to POST /batches: the job looks in the batch list for its input file's batch and records
    it; it creates again only when the server has none (a creation that never reached it)."""  # noqa: D205, D209
    server = StatefulBatchAPI()
    server.script = list(script)
    with (
        httpx.Client(transport=httpx.MockTransport(server)) as http,
        _stateful_job(server, tmp_path, http) as job,
    ):
        [batch_id] = job.submit(lines(1))
    assert server.creates == creates
    assert [batch["id"] for batch in server.batches] == [batch_id]


def test_a_run_killed_during_creation_finds_its_batch_on_the_rerun(tmp_path: Path) -> None:
    """A kill -9 after the server created the batch, before its answer was recorded: the rerun finds the
    batch through the list and creates none (one batch for one input file)."""  # noqa: D205, D209
    server = StatefulBatchAPI()
    server.script = ["killed"]
    with httpx.Client(transport=httpx.MockTransport(server)) as http:
        job = _stateful_job(server, tmp_path, http)
        with pytest.raises(KeyboardInterrupt):
            job.submit(lines(1))
        job.close()
        with _stateful_job(server, tmp_path, http) as rerun:
            assert [info.status for info in rerun.batches()] == ["creating"]
            assert rerun.submit(lines(1)) == ["batch_1"]
            infos = rerun.batches()
    assert server.creates == 1
    assert [(info.batch_id, info.status) for info in infos] == [("batch_1", "in_progress")]


@pytest.mark.slow
async def test_a_line_done_either_way_is_done(runner: Runner, tmp_path: Path) -> None:
    """One folder, both ways: lines a Batch API job saved are skipped by a live run, and lines a live run
    saved are not submitted by a Batch API job; only the new line is sent."""  # noqa: D205, D209
    job = runner.job(tmp_path)
    try:
        await runner.call(job, "submit", lines(2))
        runner.clock.now += 200
        await runner.call(job, "collect")
    finally:
        await runner.close(job)
    live_lines = [{"prompt": prompt, **fields} for _, (prompt, fields) in _split(lines(3))]
    with ImagesClient(base_url=runner.server.base_url, api_key="sk-test") as client:
        before = len(runner.server.state.requests)
        summary = client.generate_many(live_lines, out=tmp_path)
        sent_live = [
            request
            for request in list(runner.server.state.requests)[before:]
            if request.path.endswith("/generations")
        ]
    assert (summary.done, summary.skipped) == (1, 2)
    assert [request.json["prompt"] for request in sent_live if isinstance(request.json, dict)] == [
        "a fox, take 2"
    ]
    again = runner.job(tmp_path)
    try:
        created = await runner.call(
            again, "submit", [*lines(3), ("new", {**lines(1)[0][1], "prompt": "a new fox"})]
        )
        submitted = [outcome.custom_id for outcome in again.lines()]
    finally:
        await runner.close(again)
    assert len(created) == 1
    assert submitted == ["fox-0", "fox-1", "new"]


def _split(items: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, tuple[str, dict[str, Any]]]]:
    """``(custom_id, (prompt, the other fields))`` of each line."""
    return [
        (custom_id, (str(body["prompt"]), {k: v for k, v in body.items() if k != "prompt"}))
        for custom_id, body in items
    ]


class _BreakOnce(httpx.SyncByteStream):
    """The first ``cut`` bytes of a body, then a reset connection."""

    def __init__(self, body: bytes, cut: int) -> None:
        self.body, self.cut = body, cut

    def __iter__(self) -> Iterator[bytes]:
        """The bytes before the cut, then the error."""
        yield self.body[: self.cut]
        raise httpx.ReadError("connection reset by peer")


def test_collect_resumes_past_what_a_server_that_ignores_ranges_sends_again(tmp_path: Path) -> None:
    """A server that answers a range with the whole file (200): the bytes read before are skipped, every
    line is saved once."""  # noqa: D205, D209
    import base64
    import io

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "blue").save(buffer, format="PNG")
    png = base64.b64encode(buffer.getvalue()).decode()
    output = b"".join(_result_line(f"fox-{index}", png) for index in range(3))
    cut = len(_result_line("fox-0", png)) + 10  # the first line, and a piece of the second
    server = ScriptedBatchAPI(output)
    ranges: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/content"):
            ranges.append(request.headers.get("range"))
            if len(ranges) == 1:
                return httpx.Response(200, stream=_BreakOnce(output, cut))
        return server(request)

    with (
        httpx.Client(transport=httpx.MockTransport(handler)) as http,
        ImagesClient(api_key="sk-test-0123456789", http_client=http) as client,
        BatchJob(client, tmp_path) as job,
    ):
        job.submit(lines(3))
        report = job.collect()
    assert ranges == [None, f"bytes={len(_result_line('fox-0', png))}-"]
    assert (report.lines_done, report.lines_skipped, report.lines_unreadable) == (3, 0, 0)
    assert sorted(path.name for path in tmp_path.glob("fox-*")) == [
        "fox-0-a-fox-take-0.png",
        "fox-1-a-fox-take-1.png",
        "fox-2-a-fox-take-2.png",
    ]


def test_an_input_file_upload_is_one_multipart_body_read_anew_on_a_retry(tmp_path: Path) -> None:
    """The Batch API upload goes through the client's one multipart path: a declared length, the file read
    from disk on each attempt (the retry after a 503 sends the same bytes)."""  # noqa: D205, D209
    server = StatefulBatchAPI()
    uploads: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/files"):
            request.read()
            uploads.append(request)
            if len(uploads) == 1:
                return httpx.Response(503, json={"error": {"message": "busy"}})
        return server(request)

    with (
        httpx.Client(transport=httpx.MockTransport(handler)) as http,
        ImagesClient(api_key="sk-test-0123456789", http_client=http, sleep=lambda _: None) as client,
        BatchJob(client, tmp_path) as job,
    ):
        job.submit(lines(2))
    assert len(uploads) == 2
    first, second = (request.content for request in uploads)
    assert first == second
    assert b'"custom_id":"fox-1"' in second
    assert b'name="purpose"\r\n\r\nbatch\r\n' in second
    assert all(int(request.headers["content-length"]) == len(request.content) for request in uploads)
    assert all(
        request.headers["content-type"].startswith("multipart/form-data; boundary=") for request in uploads
    )
