"""The emulator's Batch API (/v1/files, /v1/batches), driven by the official openai client on loopback.

Batches take 100 s of the module's fake clock: a test moves the clock to move a batch on.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from openai import BadRequestError, ConflictError, NotFoundError, OpenAI
from PIL import Image

from oai_images.cli.serve import serve
from oai_images_emulator import EmulatorConfig, EmulatorServer
from tests.conftest import FakeClock


@pytest.fixture(scope="module")
def server_config(clock: FakeClock) -> EmulatorConfig:
    """Batches take 100 s of fake time."""
    return EmulatorConfig(clock=clock, hang_seconds=5, batch_seconds=100.0)


@pytest.fixture
def official(server: EmulatorServer) -> Iterator[OpenAI]:
    """The official client, pointed at the emulator."""
    server.state.config.batch_window_seconds = 24 * 3600.0
    server.state.config.max_batch_store_bytes = 4 * 1024**3
    with OpenAI(base_url=server.base_url, api_key="sk-anything", max_retries=0) as client:
        yield client


def jsonl(*lines: dict[str, Any]) -> bytes:
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


def request(custom_id: str, **body: Any) -> dict[str, Any]:
    body.setdefault("prompt", f"a lighthouse, {custom_id}")
    return {"custom_id": custom_id, "method": "POST", "url": "/v1/images/generations", "body": body}


def upload(official: OpenAI, content: bytes, purpose: Any = "batch") -> str:
    return official.files.create(file=("input.jsonl", io.BytesIO(content)), purpose=purpose).id


@pytest.mark.slow
def test_batches_official_client_runs_a_batch_to_completion(
    official: OpenAI, server: EmulatorServer, clock: FakeClock
) -> None:
    """files.create, batches.create/retrieve and files.content work, through the real statuses."""
    file_id = upload(
        official,
        jsonl(
            request("a", model="gpt-image-1", size="1024x1536", quality="low"),
            request("b", model="dall-e-3", size="1792x1024", response_format="b64_json"),
            request("c", model="dall-e-2", size="7x7"),
        ),
    )
    batch = official.batches.create(
        input_file_id=file_id, endpoint="/v1/images/generations", completion_window="24h"
    )
    seen = [batch.status]
    for _ in range(12):
        clock.now += 10
        batch = official.batches.retrieve(batch.id)
        seen.append(batch.status)
    assert seen[0] == "validating"
    assert "in_progress" in seen
    assert seen[-1] == "completed"
    assert batch.request_counts is not None
    assert (batch.request_counts.total, batch.request_counts.completed, batch.request_counts.failed) == (
        3,
        2,
        1,
    )
    assert batch.output_file_id
    assert batch.error_file_id
    assert batch.completed_at is not None
    output = [json.loads(line) for line in official.files.content(batch.output_file_id).text.splitlines()]
    sizes = {}
    for line in output:
        assert line["response"]["status_code"] == 200
        assert line["error"] is None
        with Image.open(
            io.BytesIO(base64.b64decode(line["response"]["body"]["data"][0]["b64_json"]))
        ) as image:
            sizes[line["custom_id"]] = image.size
    assert sizes == {"a": (1024, 1536), "b": (1792, 1024)}
    [error] = [json.loads(line) for line in official.files.content(batch.error_file_id).text.splitlines()]
    assert error["custom_id"] == "c"
    assert error["response"]["status_code"] == 400
    assert error["response"]["body"]["error"]["param"] == "size"
    assert error["response"]["body"]["error"]["type"] == "invalid_request_error"


def _png(size: tuple[int, int] = (64, 64)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (30, 160, 90)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")  # openai 3.51's create_variation
def test_batches_of_edits_by_url_and_file_id(
    official: OpenAI, server: EmulatorServer, clock: FakeClock
) -> None:
    """A batch for /v1/images/edits: JSON edits naming a data URL, a URL the emulator served and an uploaded
    file; a file id that is unknown fails its line with the API's 400, the others are edits of the size."""  # noqa: D205, D209
    image_id = official.files.create(file=("a.png", _png()), purpose="vision").id
    served = official.images.create_variation(image=("v.png", _png()), size="256x256").data
    assert served is not None
    served_url = served[0].url
    data_url = "data:image/png;base64," + base64.b64encode(_png()).decode()

    def edit(custom_id: str, reference: dict[str, str], **body: Any) -> dict[str, Any]:
        body = {"prompt": "a hat", "model": "gpt-image-1.5", "images": [reference], **body}
        return {"custom_id": custom_id, "method": "POST", "url": "/v1/images/edits", "body": body}

    file_id = upload(
        official,
        jsonl(
            edit("data", {"image_url": data_url}, size="1024x1536"),
            edit("served", {"image_url": str(served_url)}, size="1536x1024"),
            edit("file", {"file_id": image_id}, size="1024x1024", output_format="webp"),
            edit("gone", {"file_id": "file-gone"}),
        ),
    )
    batch = official.batches.create(
        input_file_id=file_id, endpoint="/v1/images/edits", completion_window="24h"
    )
    assert batch.endpoint == "/v1/images/edits"
    clock.now += 200
    batch = official.batches.retrieve(batch.id)
    assert batch.status == "completed"
    assert batch.request_counts is not None
    assert (batch.request_counts.completed, batch.request_counts.failed) == (3, 1)
    assert batch.output_file_id
    assert batch.error_file_id
    sizes = {}
    for raw in official.files.content(batch.output_file_id).text.splitlines():
        line = json.loads(raw)
        with Image.open(io.BytesIO(base64.b64decode(line["response"]["body"]["data"][0]["b64_json"]))) as out:
            sizes[line["custom_id"]] = (out.format, out.size)
    assert sizes == {
        "data": ("PNG", (1024, 1536)),
        "served": ("PNG", (1536, 1024)),
        "file": ("WEBP", (1024, 1024)),
    }
    [failed] = [json.loads(raw) for raw in official.files.content(batch.error_file_id).text.splitlines()]
    assert failed["custom_id"] == "gone"
    assert failed["response"]["status_code"] == 400
    assert "file-gone" in failed["response"]["body"]["error"]["message"]


@pytest.mark.slow
def test_batches_of_edits_refuse_generation_lines(official: OpenAI, clock: FakeClock) -> None:
    """A line whose url is not the batch's endpoint fails the batch in validation, as the API does."""
    file_id = upload(official, jsonl(request("a")))
    batch = official.batches.create(
        input_file_id=file_id, endpoint="/v1/images/edits", completion_window="24h"
    )
    clock.now += 200
    batch = official.batches.retrieve(batch.id)
    assert batch.status == "failed"
    assert batch.errors is not None
    assert batch.errors.data is not None
    assert batch.errors.data[0].code == "mismatched_url"


@pytest.mark.slow
def test_batches_cancel_keeps_the_lines_answered_so_far(official: OpenAI, clock: FakeClock) -> None:
    """A cancelled batch goes cancelling → cancelled with an output file of what completed."""
    file_id = upload(
        official,
        jsonl(
            *(
                request(f"l{i}", model="dall-e-2", size="256x256", response_format="b64_json")
                for i in range(4)
            )
        ),
    )
    batch = official.batches.create(
        input_file_id=file_id, endpoint="/v1/images/generations", completion_window="24h"
    )
    clock.now += 10 + 20 * 2 + 1
    cancelling = official.batches.cancel(batch.id)
    clock.now += 10
    cancelled = official.batches.retrieve(batch.id)
    assert cancelling.status == "cancelling"
    assert cancelled.status == "cancelled"
    assert cancelled.request_counts is not None
    assert cancelled.request_counts.completed == 2
    assert cancelled.output_file_id is not None
    done = [
        json.loads(line)["custom_id"]
        for line in official.files.content(cancelled.output_file_id).text.splitlines()
    ]
    assert done == ["l0", "l1"]
    with pytest.raises(ConflictError):
        official.batches.cancel(batch.id)


@pytest.mark.slow
def test_batches_expire_at_the_end_of_their_window(
    official: OpenAI, server: EmulatorServer, clock: FakeClock
) -> None:
    """A batch still running when its window ends expires, keeping the lines answered."""
    server.state.config.batch_window_seconds = 50.0
    file_id = upload(
        official,
        jsonl(
            *(
                request(f"l{i}", model="dall-e-2", size="256x256", response_format="b64_json")
                for i in range(4)
            )
        ),
    )
    batch = official.batches.create(
        input_file_id=file_id, endpoint="/v1/images/generations", completion_window="24h"
    )
    clock.now += 60
    expired = official.batches.retrieve(batch.id)
    assert expired.status == "expired"
    assert expired.expired_at is not None
    assert expired.request_counts is not None
    assert expired.request_counts.completed == 2


@pytest.mark.slow
def test_batches_malformed_input_fails_the_batch(official: OpenAI, clock: FakeClock) -> None:
    """A file with a bad line, a duplicate custom_id or another url fails validation, naming the lines."""
    content = (
        jsonl(request("a"), request("a")) + b"not json\n" + jsonl({**request("b"), "url": "/v1/embeddings"})
    )
    batch = official.batches.create(
        input_file_id=upload(official, content), endpoint="/v1/images/generations", completion_window="24h"
    )
    clock.now += 11
    failed = official.batches.retrieve(batch.id)
    assert failed.status == "failed"
    assert failed.failed_at is not None
    assert failed.output_file_id is None
    assert failed.errors is not None
    assert failed.errors.data is not None
    assert [(error.code, error.line) for error in failed.errors.data] == [
        ("duplicate_custom_id", 2),
        ("invalid_json_line", 3),
        ("mismatched_url", 4),
    ]


def test_batches_refuse_other_endpoints_and_windows(official: OpenAI) -> None:
    """Only the image endpoints with a 24h window are accepted, as 400s with the error envelope."""
    file_id = upload(official, jsonl(request("a")))
    with pytest.raises(BadRequestError) as endpoint:
        official.batches.create(input_file_id=file_id, endpoint="/v1/embeddings", completion_window="24h")
    with pytest.raises(BadRequestError) as window:
        official.batches.create(
            input_file_id=file_id,
            endpoint="/v1/images/generations",
            completion_window="1h",  # type: ignore[arg-type]  # deliberately outside the client's Literal
        )
    with pytest.raises(NotFoundError):
        official.batches.retrieve("batch_nope")
    assert endpoint.value.body is not None
    assert "endpoint" in str(endpoint.value)
    assert "completion_window" in str(window.value)


def test_batches_check_a_create_in_the_api_order(official: OpenAI) -> None:
    """As the official client's own test suite sends it (endpoint /v1/responses, input_file_id
    "input_file_id"): the unknown file is the 400, as the API answers; an endpoint outside the spec's list is
    an invalid value; an endpoint the API takes but the emulator does not run is said to be so, only once the
    file exists."""  # noqa: D205, D209
    with pytest.raises(BadRequestError) as unknown_file:
        official.batches.create(
            input_file_id="input_file_id", endpoint="/v1/responses", completion_window="24h"
        )
    assert unknown_file.value.body is not None
    assert "No such File object: input_file_id" in str(unknown_file.value)
    with pytest.raises(BadRequestError) as outside:
        official.batches.create(
            input_file_id="input_file_id",
            endpoint="/v1/nope",  # type: ignore[arg-type]  # deliberately outside the client's Literal
            completion_window="24h",
        )
    assert "Supported values are" in str(outside.value)
    assert "/v1/videos" in str(outside.value)
    file_id = upload(official, jsonl(request("a")))
    with pytest.raises(BadRequestError) as unsupported:
        official.batches.create(input_file_id=file_id, endpoint="/v1/responses", completion_window="24h")
    assert "the emulator runs batches of" in str(unsupported.value)


@pytest.mark.slow
def test_batches_output_expires_after(official: OpenAI, clock: FakeClock) -> None:
    """output_expires_after gives the output file its expires_at (then it is gone); out of range is a 400."""
    file_id = upload(official, jsonl(request("a", model="gpt-image-1", quality="low")))
    with pytest.raises(BadRequestError) as refused:
        official.batches.create(
            input_file_id=file_id,
            endpoint="/v1/images/generations",
            completion_window="24h",
            output_expires_after={"anchor": "created_at", "seconds": 60},
        )
    assert "output_expires_after" in str(refused.value)
    batch = official.batches.create(
        input_file_id=file_id,
        endpoint="/v1/images/generations",
        completion_window="24h",
        output_expires_after={"anchor": "created_at", "seconds": 3600},
    )
    clock.now += 200
    batch = official.batches.retrieve(batch.id)
    assert batch.output_file_id is not None
    output = official.files.retrieve(batch.output_file_id)
    assert output.expires_at == output.created_at + 3600
    clock.now += 3600
    with pytest.raises(NotFoundError):
        official.files.retrieve(batch.output_file_id)


def test_files_retrieve_content_and_delete(official: OpenAI) -> None:
    """An uploaded file is described, read back byte for byte, and deleted."""
    content = jsonl(request("a"))
    file_id = upload(official, content)
    described = official.files.retrieve(file_id)
    assert (described.bytes, described.purpose, described.filename) == (len(content), "batch", "input.jsonl")
    assert official.files.content(file_id).content == content
    assert official.files.delete(file_id).deleted is True
    with pytest.raises(NotFoundError):
        official.files.retrieve(file_id)


def test_files_upload_beyond_the_store_limit_is_refused(official: OpenAI, server: EmulatorServer) -> None:
    """An upload that would pass max_batch_store_bytes is a 400 and leaves nothing behind."""
    server.state.config.max_batch_store_bytes = 1000
    with pytest.raises(BadRequestError, match="too large"):
        upload(official, b"x" * 5000)


def test_batches_list_pages_newest_first(official: OpenAI, server: EmulatorServer) -> None:
    """GET /v1/batches pages with limit and after, newest first."""
    file_id = upload(official, jsonl(request("a")))
    ids = [
        official.batches.create(
            input_file_id=file_id, endpoint="/v1/images/generations", completion_window="24h"
        ).id
        for _ in range(3)
    ]
    with httpx.Client(base_url=server.base_url, headers={"authorization": "Bearer sk-x"}) as http:
        first = http.get("/batches", params={"limit": 2}).json()
        rest = http.get("/batches", params={"limit": 2, "after": first["last_id"]}).json()
        refused = http.get("/batches", params={"limit": 0})
    newest = [batch["id"] for batch in first["data"]]
    assert newest == ids[::-1][:2]
    assert first["has_more"] is True
    assert rest["data"][0]["id"] == ids[0]
    assert refused.status_code == 400
    assert refused.json()["error"]["param"] == "limit"


def test_batches_need_a_key(server: EmulatorServer) -> None:
    """Without an Authorization header the batch and file endpoints answer 401."""
    with httpx.Client(base_url=server.base_url) as http:
        assert http.get("/batches/batch_x").status_code == 401
        assert http.post("/files").status_code == 401


def test_config_batch_seconds_from_env_and_serve_option() -> None:
    """OAI_IMAGES_EMULATOR_BATCH_SECONDS and `serve --batch-seconds` set the pace."""
    config = EmulatorConfig.from_env({"OAI_IMAGES_EMULATOR_BATCH_SECONDS": "2.5"})
    help_text = CliRunner().invoke(serve, ["--help"]).output
    assert config.batch_seconds == 2.5
    assert "--batch-seconds" in help_text
    with pytest.raises(ValueError, match="BATCH_SECONDS"):
        EmulatorConfig.from_env({"OAI_IMAGES_EMULATOR_BATCH_SECONDS": "-1"})


def test_files_list_and_expiry_as_the_official_client_sees_them(
    official: OpenAI, server: EmulatorServer, clock: FakeClock
) -> None:
    """files.list works (newest first, by purpose, paged); a batch file expires in 30 days unless
    expires_after says otherwise (an hour to 30 days, both fields), and an expired file is gone."""  # noqa: D205, D209
    first = upload(official, jsonl(request("a")))
    second = official.files.create(
        file=("short.jsonl", io.BytesIO(jsonl(request("b")))),
        purpose="batch",
        expires_after={"anchor": "created_at", "seconds": 3600},
    )
    listed = official.files.list()
    ids = [file.id for file in listed.data]
    assert ids[:2] == [second.id, first]
    assert official.files.list(purpose="batch", limit=1).data[0].id == second.id
    info = official.files.retrieve(first)
    assert info.expires_at == info.created_at + 30 * 86400
    assert second.expires_at == second.created_at + 3600
    for bad in ({"anchor": "created_at", "seconds": 59}, {"anchor": "created_at", "seconds": 2592001}):
        with pytest.raises(BadRequestError):
            official.files.create(
                file=("x.jsonl", io.BytesIO(jsonl(request("c")))),
                purpose="batch",
                expires_after=bad,  # type: ignore[arg-type]  # out of range on purpose
            )
    clock.now += 3601
    with pytest.raises(NotFoundError):
        official.files.retrieve(second.id)
    assert second.id not in [file.id for file in official.files.list().data]
    assert official.files.retrieve(first).id == first


@pytest.mark.slow
def test_serve_stopped_by_sigterm_leaves_no_files_behind(tmp_path: Path) -> None:
    """`oai-images serve` stopped with SIGTERM removes its batch files' folder (a signal skips exit hooks)."""
    import os
    import signal
    import socket
    import subprocess
    import time

    from tests.test_cli import EXE

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    server = subprocess.Popen(
        [EXE, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        server.stdout.readline()  # listening
        with OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-anything", max_retries=0) as client:
            client.files.create(file=("input.jsonl", io.BytesIO(jsonl(request("a")))), purpose="batch")
        assert [path.name for path in tmp_path.iterdir() if path.name.startswith("oai-images-emulator-")]
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=30)
    deadline = time.monotonic() + 5
    while any(tmp_path.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_batch_answers_keep_within_the_file_store_cap(
    official: OpenAI, server: EmulatorServer, clock: FakeClock
) -> None:
    """Batch output files count against max_batch_store_bytes: past it a line fails with file_store_full,
    and the store holds no more than the cap, but for those lines' short failure records (every line keeps
    an outcome)."""  # noqa: D205, D209
    file_id = upload(
        official, jsonl(*(request(f"l{index}", model="gpt-image-1", quality="low") for index in range(6)))
    )
    before = sum(file.bytes for file in official.files.list().data)  # this module's earlier files
    cap = before + 150_000  # room for a few of the answers, not all
    server.state.config.max_batch_store_bytes = cap
    batch = official.batches.create(
        input_file_id=file_id, endpoint="/v1/images/generations", completion_window="24h"
    )
    for _ in range(12):
        clock.now += 10
        batch = official.batches.retrieve(batch.id)
    assert batch.status == "completed"
    assert batch.request_counts is not None
    assert batch.request_counts.completed >= 1
    assert batch.request_counts.failed >= 1
    assert batch.request_counts.completed + batch.request_counts.failed == 6
    kept = sum(file.bytes for file in official.files.list().data)
    assert batch.error_file_id
    failures = official.files.content(batch.error_file_id).text
    errors = [json.loads(line) for line in failures.splitlines()]
    assert {error["error"]["code"] for error in errors} == {"file_store_full"}
    assert len(failures) < 300 * len(errors)
    assert kept - len(failures) <= cap
