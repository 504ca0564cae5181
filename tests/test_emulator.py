"""The emulator over the wire: a uvicorn server on 127.0.0.1, raw httpx requests, images read by Pillow."""

from __future__ import annotations

import base64
import io
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from PIL import Image

from oai_images.cli import main
from oai_images_emulator import (
    EMULATOR_BASE_URL,
    AsyncEmulatorTransport,
    EmulatorConfig,
    EmulatorServer,
    EmulatorTransport,
    FaultSpec,
    Latency,
    create_app,
    is_loopback,
    parse_fault,
    parse_latency,
    run_server,
)
from oai_images_emulator._draw import DrawnImages, draw_image
from oai_images_emulator._store import ImageStore
from tests.conftest import FakeClock

AUTH = {"authorization": "Bearer sk-anything"}


@pytest.fixture(scope="module")
def server_config(clock: FakeClock) -> EmulatorConfig:
    """This module's server expires image URLs after a minute of fake time."""
    return EmulatorConfig(clock=clock, url_lifetime=60, hang_seconds=5)


@pytest.fixture
def http(server: EmulatorServer) -> Iterator[httpx.Client]:
    """A raw httpx client for the server, with a key."""
    with httpx.Client(base_url=server.base_url, headers=AUTH, timeout=5) as client:
        yield client


def post(http: httpx.Client, body: object, **headers: str) -> httpx.Response:
    return http.post("/images/generations", json=body, headers=headers)


def decode(b64: str) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(b64)))
    image.load()
    return image


def sse_events(text: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_server_binds_loopback_with_an_ephemeral_port(server: EmulatorServer) -> None:
    """The test server listens on 127.0.0.1 with a port the OS chose."""
    assert server.base_url.startswith("http://127.0.0.1:")
    assert server.base_url.endswith("/v1")
    assert int(server.base_url.split(":")[2].split("/")[0]) > 0


def test_generations_default_is_a_dall_e_2_url_to_a_1024_png(http: httpx.Client) -> None:
    """No model: dall-e-2, one 1024x1024 PNG behind a URL served by the emulator."""
    answer = post(http, {"prompt": "a lighthouse"})
    assert answer.status_code == 200
    body = answer.json()
    assert abs(body["created"] - time.time()) < 60
    (item,) = body["data"]
    assert set(item) == {"url"}
    assert item["url"].startswith(str(http.base_url).rstrip("/") + "/emulator/files/")
    download = http.get(item["url"], headers={"authorization": ""})
    assert download.status_code == 200
    assert download.headers["content-type"] == "image/png"
    assert download.headers["x-request-id"].startswith("req_")
    image = Image.open(io.BytesIO(download.content))
    assert (image.format, image.mode, image.size) == ("PNG", "RGB", (1024, 1024))


def test_generations_dall_e_3_b64_has_revised_prompt_and_exact_size(http: httpx.Client) -> None:
    """dall-e-3 with b64_json: the landscape size exactly, and a revised prompt."""
    body = post(
        http, {"prompt": "a fox", "model": "dall-e-3", "size": "1792x1024", "response_format": "b64_json"}
    ).json()
    (item,) = body["data"]
    assert "url" not in item
    assert "a fox" in item["revised_prompt"]
    assert decode(item["b64_json"]).size == (1792, 1024)
    assert "usage" not in body


def test_generations_n_gives_distinct_images(http: httpx.Client) -> None:
    """The n images of one request all differ."""
    body = post(http, {"prompt": "cats", "model": "dall-e-2", "n": 3, "response_format": "b64_json"}).json()
    assert len({item["b64_json"] for item in body["data"]}) == 3


def test_generations_gpt_model_echoes_fields_and_usage(http: httpx.Client) -> None:
    """A GPT model: always base64, with background, output_format, quality, size and usage."""
    body = post(
        http, {"prompt": "an otter", "model": "gpt-image-2", "size": "1536x864", "quality": "low"}
    ).json()
    assert set(body) == {"created", "data", "background", "output_format", "quality", "size", "usage"}
    assert (body["background"], body["output_format"], body["quality"], body["size"]) == (
        "opaque",
        "png",
        "low",
        "1536x864",
    )
    assert decode(body["data"][0]["b64_json"]).size == (1536, 864)
    usage = body["usage"]
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert usage["input_tokens_details"]["text_tokens"] == usage["input_tokens"] > 0
    assert usage["output_tokens"] > 0


def test_generations_auto_size_is_1024_square(http: httpx.Client) -> None:
    """A size of auto draws 1024x1024."""
    body = post(http, {"prompt": "x", "model": "gpt-image-1", "size": "auto"}).json()
    assert body["size"] == "1024x1024"
    assert decode(body["data"][0]["b64_json"]).size == (1024, 1024)


@pytest.mark.parametrize(
    ("fields", "image_format", "mode"),
    [
        ({"output_format": "jpeg", "output_compression": 40}, "JPEG", "RGB"),
        ({"output_format": "webp"}, "WEBP", "RGB"),
        ({"output_format": "webp", "background": "transparent"}, "WEBP", "RGBA"),
        ({"background": "transparent"}, "PNG", "RGBA"),
        ({"output_format": "gif", "frame_count": 3}, "GIF", "P"),
    ],
)
def test_generations_output_format_and_background(
    http: httpx.Client, fields: dict[str, object], image_format: str, mode: str
) -> None:
    """output_format and background give a real file of that format and mode."""
    body = post(
        http, {"prompt": "a crane", "model": "gpt-image-2.5-flare", "size": "512x512", **fields}
    ).json()
    image = decode(body["data"][0]["b64_json"])
    assert (image.format, image.mode, image.size) == (image_format, mode, (512, 512))
    if image_format == "GIF":
        assert getattr(image, "n_frames", 1) == 3
    assert body["background"] == ("transparent" if fields.get("background") else "opaque")


def test_generations_jpeg_compression_changes_the_file(http: httpx.Client) -> None:
    """A lower output_compression gives a smaller JPEG."""

    def size(compression: int) -> int:
        body = post(
            http,
            {
                "prompt": "same",
                "model": "gpt-image-1",
                "output_format": "jpeg",
                "output_compression": compression,
            },
        ).json()
        return len(base64.b64decode(body["data"][0]["b64_json"]))

    assert size(10) < size(95)


def test_generations_svg_is_a_small_valid_document(http: httpx.Client) -> None:
    """output_format svg gives an SVG of the requested size."""
    body = post(
        http,
        {"prompt": "a logo", "model": "gpt-image-2.6-sunburst", "output_format": "svg", "size": "1024x1536"},
    ).json()
    svg = base64.b64decode(body["data"][0]["b64_json"]).decode()
    assert svg.startswith("<svg ")
    assert 'width="1024" height="1536"' in svg
    assert svg.rstrip().endswith("</svg>")


def test_generations_are_deterministic_per_prompt_and_seed() -> None:
    """Same prompt, index and seed: same bytes; another seed or prompt: other bytes."""
    first = draw_image("a fox", seed=3, width=256, height=256)
    assert first == draw_image("a fox", seed=3, width=256, height=256)
    assert first != draw_image("a fox", seed=4, width=256, height=256)
    assert first != draw_image("a dog", seed=3, width=256, height=256)
    assert first != draw_image("a fox", seed=3, index=1, width=256, height=256)


def test_generations_same_request_twice_gives_same_image(http: httpx.Client) -> None:
    """Over the wire too, a repeated request gives identical image bytes."""
    body = {"prompt": "a fox", "model": "gpt-image-1", "output_format": "webp"}
    assert post(http, body).json()["data"] == post(http, body).json()["data"]


def test_draw_is_fast_for_large_sizes() -> None:
    """1792x1024 and 1024x1024 PNGs take well under a second each."""
    for width, height in ((1024, 1024), (1792, 1024)):
        start = time.perf_counter()
        draw_image("speed", width=width, height=height)
        assert time.perf_counter() - start < 0.5


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"prompt": "x", "model": "dall-e-2", "size": "1792x1024"}, "size", "invalid_size"),
        ({"prompt": "x", "model": "dall-e-3", "n": 2}, "n", "invalid_value"),
        ({"prompt": "x", "model": "dall-e-2", "quality": "hd"}, "quality", "invalid_value"),
        ({"prompt": "x", "model": "dall-e-2", "style": "vivid"}, "style", "unknown_parameter"),
        (
            {"prompt": "x", "model": "gpt-image-1", "response_format": "url"},
            "response_format",
            "unknown_parameter",
        ),
        ({"prompt": "x", "model": "dall-e-2", "n": 11}, "n", "invalid_value"),
        ({"prompt": "x" * 1001, "model": "dall-e-2"}, "prompt", "invalid_value"),
        ({"prompt": "x", "model": "gpt-image-2", "size": "1000x1000"}, "size", "invalid_size"),
        ({"prompt": "x", "colour": "red"}, "colour", "unknown_parameter"),
        ({"prompt": "x", "n": "two"}, "n", "invalid_value"),
        ({"model": "dall-e-2"}, "prompt", "invalid_value"),
        ({"prompt": "x", "model": "dall-e-4"}, "model", "invalid_value"),
    ],
)
def test_generations_rejects_what_the_rules_reject(
    http: httpx.Client, body: dict[str, object], param: str, code: str
) -> None:
    """A rule violation is a 400 with the real envelope naming the parameter."""
    answer = post(http, body)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", param, code)
    assert error["message"]
    assert answer.headers["x-request-id"].startswith("req_")


def test_generations_null_fields_mean_defaults(http: httpx.Client) -> None:
    """An explicit null is read as "use the default", as the spec's nullable fields say."""
    answer = post(http, {"prompt": "x", "model": "dall-e-2", "n": None, "size": None})
    assert answer.status_code == 200


def test_generations_take_whole_numbers_written_as_floats(http: httpx.Client) -> None:
    """JSON Schema counts 2.0 as an integer, so the API takes it: ``n``, ``output_compression`` and
    ``partial_images`` sent as whole floats are read as the integers they are."""  # noqa: D205, D209
    answer = post(http, {"prompt": "x", "model": "dall-e-2", "n": 2.0, "size": "256x256"})
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["data"]) == 2
    body = {"prompt": "x", "model": "gpt-image-1", "output_format": "jpeg", "output_compression": 50.0}
    assert post(http, body).status_code == 200
    stream = post(http, {"prompt": "x", "model": "gpt-image-1", "stream": True, "partial_images": 1.0})
    assert [kind for kind, _ in sse_events(stream.text)] == [
        "image_generation.partial_image",
        "image_generation.completed",
    ]


@pytest.mark.parametrize(
    ("field", "value", "model"),
    [("n", 2.5, "dall-e-2"), ("output_compression", 49.9, "gpt-image-1"), ("n", 1e400, "dall-e-2")],
)
def test_generations_refuse_floats_with_a_fraction(
    http: httpx.Client, field: str, value: float, model: str
) -> None:
    """A float with a fraction (or not finite) is no integer: a 400 naming the field, value and range."""
    fields: dict[str, object] = {"prompt": "x", "model": model, field: value}
    if model != "dall-e-2":
        fields["output_format"] = "jpeg"
    body = json.dumps(fields).replace("Infinity", "1e400")  # 1e400 reads back as infinity
    answer = http.post("/images/generations", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["param"] == field
    assert "integer" in error["message"]
    if value == 2.5:
        assert "2.5" in error["message"]
        assert "from 1 to 10" in error["message"]


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b""])
def test_generations_malformed_body_is_400(http: httpx.Client, content: bytes) -> None:
    """A body that is not a JSON object is a 400 envelope."""
    answer = http.post("/images/generations", content=content, headers={"content-type": "application/json"})
    assert answer.status_code == 400
    assert answer.json()["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize("authorization", [None, "", "Bearer", "Basic abc", "sk-no-scheme"])
def test_generations_without_a_bearer_key_is_401(server: EmulatorServer, authorization: str | None) -> None:
    """A missing or malformed bearer key is a 401 envelope with a request id."""
    headers = {} if authorization is None else {"authorization": authorization}
    answer = httpx.post(f"{server.base_url}/images/generations", json={"prompt": "x"}, headers=headers)
    assert answer.status_code == 401
    assert answer.json()["error"]["type"] == "invalid_request_error"
    assert answer.headers["x-request-id"].startswith("req_")


def test_unknown_path_is_404_envelope(http: httpx.Client) -> None:
    """Any other path is a 404 envelope with a request id."""
    answer = http.get("/models")
    assert answer.status_code == 404
    assert answer.json()["error"]["message"] == "Invalid URL (GET /v1/models)"
    assert answer.headers["x-request-id"].startswith("req_")


def test_request_ids_differ_per_response(http: httpx.Client) -> None:
    """Every response gets its own request id."""
    ids = {post(http, {"prompt": "x"}).headers["x-request-id"] for _ in range(3)}
    assert len(ids) == 3


def test_url_expires_after_its_lifetime(http: httpx.Client, clock: FakeClock) -> None:
    """A URL works within its lifetime and answers 403 once it has passed; an unknown one 404."""
    url = post(http, {"prompt": "x", "model": "dall-e-2", "size": "256x256"}).json()["data"][0]["url"]
    clock.now += 59
    assert http.get(url).status_code == 200
    clock.now += 2
    expired = http.get(url)
    assert expired.status_code == 403
    assert expired.json()["error"]["code"] == "url_expired"
    assert http.get(url.rsplit("/", 1)[0] + "/img-nope.png").status_code == 404


def test_store_is_bounded_by_entries_and_bytes() -> None:
    """The URL store evicts the least recently used images beyond its caps and purges expired ones."""
    now = [0.0]
    store = ImageStore(clock=lambda: now[0], max_entries=3, max_bytes=25)
    names = [store.put(bytes(10), media_type="image/png", extension="png", lifetime=100) for _ in range(2)]
    assert len(store) == 2
    third = store.put(bytes(10), media_type="image/png", extension="png", lifetime=100)
    assert len(store) == 2  # 30 bytes > 25: the oldest went
    assert store.get(names[0]) is None
    assert store.total_bytes == 20
    for _ in range(5):
        store.put(b"1", media_type="image/png", extension="png", lifetime=100)
    assert len(store) == 3
    assert store.get(third) is None
    now[0] = 200
    assert store.get(names[1]) is None
    assert len(store) == 0
    assert store.total_bytes == 0


def test_streaming_sends_partial_then_completed_events(http: httpx.Client) -> None:
    """stream=true: text/event-stream with partial_images partial events, then the completed one."""
    body = {"prompt": "x", "model": "gpt-image-1", "stream": True, "partial_images": 2, "size": "1024x1536"}
    with http.stream("POST", "/images/generations", json=body) as answer:
        assert answer.headers["content-type"].startswith("text/event-stream")
        assert answer.headers["x-request-id"].startswith("req_")
        text = answer.read().decode()
    events = sse_events(text)
    assert [name for name, _ in events] == [
        "image_generation.partial_image",
        "image_generation.partial_image",
        "image_generation.completed",
    ]
    assert [data["partial_image_index"] for _, data in events[:2]] == [0, 1]
    for name, data in events:
        assert data["type"] == name
        assert {"b64_json", "created_at", "size", "quality", "background", "output_format"} <= set(data)
        assert decode(data["b64_json"]).size == (1024, 1536)
    assert events[-1][1]["usage"]["total_tokens"] > 0
    assert events[0][1]["b64_json"] != events[-1][1]["b64_json"]


def test_streaming_is_for_gpt_models_only(http: httpx.Client) -> None:
    """Streaming with dall-e is rejected like the real API does."""
    answer = post(http, {"prompt": "x", "model": "dall-e-3", "stream": True})
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == "stream"


@pytest.mark.parametrize(
    ("fault", "status", "error_type"),
    [
        ("rate_limit", 429, "requests"),
        ("server_error", 500, "server_error"),
        ("service_unavailable", 503, "server_error"),
    ],
)
def test_fault_status_answers(http: httpx.Client, fault: str, status: int, error_type: str) -> None:
    """The status faults answer with the real envelope; 429 and 503 carry retry-after."""
    answer = post(http, {"prompt": "x"}, **{"x-emulator-fault": fault})
    assert answer.status_code == status
    assert answer.json()["error"]["type"] == error_type
    assert answer.headers["x-request-id"].startswith("req_")
    if status != 500:
        assert answer.headers["retry-after"] == "1"


def test_fault_times_fails_first_requests_then_succeeds(http: httpx.Client) -> None:
    """rate_limit;times=2 fails two requests, then answers normally."""
    header = {"x-emulator-fault": "rate_limit;times=2;retry_after=7"}
    statuses = [post(http, {"prompt": "x"}, **header) for _ in range(3)]
    assert [answer.status_code for answer in statuses] == [429, 429, 200]
    assert statuses[0].headers["retry-after"] == "7"


def test_fault_from_config_applies_to_every_request(server: EmulatorServer, http: httpx.Client) -> None:
    """A fault set in the config applies without a header; the header overrides it."""
    server.state.config.fault = parse_fault("service_unavailable")
    assert post(http, {"prompt": "x"}).status_code == 503
    assert post(http, {"prompt": "x"}, **{"x-emulator-fault": "none"}).status_code == 200


def test_fault_not_json_is_an_html_body(http: httpx.Client) -> None:
    """not_json answers HTML, with the status asked for."""
    answer = post(http, {"prompt": "x"}, **{"x-emulator-fault": "not_json;status=502"})
    assert answer.status_code == 502
    assert answer.headers["content-type"].startswith("text/html")
    assert "502 Bad Gateway" in answer.text
    with pytest.raises(json.JSONDecodeError):
        answer.json()


def test_fault_truncate_cuts_the_body(http: httpx.Client) -> None:
    """The truncate fault sends the headers and half the body, then closes the connection."""
    with pytest.raises(httpx.RemoteProtocolError, match=r"complete message body"):
        post(http, {"prompt": "x"}, **{"x-emulator-fault": "truncate"})


def test_fault_drop_closes_without_an_answer(http: httpx.Client) -> None:
    """The drop fault closes the connection before any byte of an answer."""
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        post(http, {"prompt": "x"}, **{"x-emulator-fault": "drop"})
    assert post(http, {"prompt": "x"}).status_code == 200  # the server lives on


def test_fault_hang_outlasts_the_client_timeout(http: httpx.Client) -> None:
    """The hang fault holds the request past the client's read timeout."""
    start = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        http.post(
            "/images/generations", json={"prompt": "x"}, headers={"x-emulator-fault": "hang"}, timeout=0.3
        )
    assert 0.25 < time.monotonic() - start < 2


def test_latency_header_delays_the_answer(http: httpx.Client) -> None:
    """x-emulator-latency-ms delays the answer by at least that much."""
    start = time.monotonic()
    assert post(http, {"prompt": "x"}, **{"x-emulator-latency-ms": "150-200"}).status_code == 200
    assert time.monotonic() - start >= 0.15


def test_bad_emulator_header_is_400(http: httpx.Client) -> None:
    """A malformed fault header is a 400 that says what is wrong."""
    answer = post(http, {"prompt": "x"}, **{"x-emulator-fault": "meteor"})
    assert answer.status_code == 400
    assert "meteor" in answer.json()["error"]["message"]


def test_server_records_requests(server: EmulatorServer, http: httpx.Client) -> None:
    """Generation requests are recorded with their body and request id, faulted ones too."""
    answer = post(http, {"prompt": "first"}, **{"x-emulator-fault": "server_error"})
    post(http, {"prompt": "second", "model": "dall-e-3"})
    recorded = list(server.state.requests)
    assert [request.json for request in recorded] == [
        {"prompt": "first"},
        {"prompt": "second", "model": "dall-e-3"},
    ]
    assert recorded[0].request_id == answer.headers["x-request-id"]
    assert "sk-anything" not in repr(recorded[0])


def test_parse_fault_reads_options() -> None:
    """The fault grammar: a kind and optional times, retry_after and status."""
    assert parse_fault("rate_limit;times=2;retry_after=3") == FaultSpec("rate_limit", times=2, retry_after=3)
    assert parse_fault("Not-Json; status=502") == FaultSpec("not_json", status=502)
    assert parse_fault("none") is None
    for bad in ("meteor", "drop;times=x", "drop;when=1", "not_json;status=9999"):
        with pytest.raises(ValueError, match=r"fault"):
            parse_fault(bad)


def test_parse_latency_reads_fixed_and_ranges() -> None:
    """Latency: fixed milliseconds or a LOW-HIGH range."""
    assert parse_latency("250") == Latency(250, 250)
    assert parse_latency("100-500") == Latency(100, 500)
    for bad in ("fast", "5-1", "-3"):
        with pytest.raises(ValueError, match="latency"):
            parse_latency(bad)


def test_config_from_env_reads_every_variable() -> None:
    """EmulatorConfig.from_env reads the OAI_IMAGES_EMULATOR_* variables and names a bad one."""
    config = EmulatorConfig.from_env(
        {
            "OAI_IMAGES_EMULATOR_SEED": "9",
            "OAI_IMAGES_EMULATOR_URL_LIFETIME": "5",
            "OAI_IMAGES_EMULATOR_LATENCY_MS": "10-20",
            "OAI_IMAGES_EMULATOR_FAULT": "drop;times=1",
            "OAI_IMAGES_EMULATOR_RETRY_AFTER": "4",
            "OAI_IMAGES_EMULATOR_HANG_SECONDS": "2",
            "OAI_IMAGES_EMULATOR_MAX_IMAGES": "7",
            "OAI_IMAGES_EMULATOR_MAX_BYTES": "1000",
        }
    )
    assert (config.seed, config.url_lifetime, config.latency, config.fault) == (
        9,
        5.0,
        Latency(10, 20),
        FaultSpec("drop", times=1),
    )
    assert (config.retry_after, config.hang_seconds, config.max_stored_images, config.max_stored_bytes) == (
        4,
        2.0,
        7,
        1000,
    )
    with pytest.raises(ValueError, match="OAI_IMAGES_EMULATOR_SEED"):
        EmulatorConfig.from_env({"OAI_IMAGES_EMULATOR_SEED": "many"})


def test_transport_sync_in_process_serves_and_downloads() -> None:
    """EmulatorTransport answers in-process, URLs included, with no port."""
    transport = EmulatorTransport(EmulatorConfig())
    with httpx.Client(transport=transport, base_url=EMULATOR_BASE_URL, headers=AUTH) as client:
        answer = client.post(
            "/images/generations", json={"prompt": "x", "model": "dall-e-2", "size": "512x512"}
        )
        url = answer.json()["data"][0]["url"]
        assert url.startswith(EMULATOR_BASE_URL + "/emulator/files/")
        assert Image.open(io.BytesIO(client.get(url).content)).size == (512, 512)
    transport.close()


def test_transport_sync_in_process_faults_raise_like_a_socket() -> None:
    """In-process, drop and truncate raise RemoteProtocolError and hang honours the read timeout."""
    transport = EmulatorTransport()
    with httpx.Client(transport=transport, base_url=EMULATOR_BASE_URL, headers=AUTH) as client:
        for fault in ("drop", "truncate"):
            with pytest.raises(httpx.RemoteProtocolError):
                client.post("/images/generations", json={"prompt": "x"}, headers={"x-emulator-fault": fault})
        with pytest.raises(httpx.ReadTimeout):
            client.post(
                "/images/generations", json={"prompt": "x"}, headers={"x-emulator-fault": "hang"}, timeout=0.1
            )
    transport.close()


async def test_transport_async_in_process_serves() -> None:
    """AsyncEmulatorTransport answers in-process, faults and errors included."""
    transport = AsyncEmulatorTransport(EmulatorConfig(seed=5))
    async with httpx.AsyncClient(transport=transport, base_url=EMULATOR_BASE_URL, headers=AUTH) as client:
        answer = await client.post("/images/generations", json={"prompt": "x", "model": "gpt-image-1"})
        assert answer.status_code == 200
        assert decode(answer.json()["data"][0]["b64_json"]).size == (1024, 1024)
        assert (
            await client.post("/images/generations", json={"prompt": "x"}, headers={"authorization": ""})
        ).status_code == 401
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post(
                "/images/generations", json={"prompt": "x"}, headers={"x-emulator-fault": "drop"}
            )
    assert len(transport.state.requests) == 3


def test_create_app_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """create_app() with no config reads OAI_IMAGES_EMULATOR_*."""
    monkeypatch.setenv("OAI_IMAGES_EMULATOR_SEED", "42")
    assert create_app().state.config.seed == 42


def test_is_loopback_accepts_only_loopback() -> None:
    """Loopback names and addresses pass; anything else does not."""
    assert all(map(is_loopback, ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"]))
    assert not any(map(is_loopback, ["0.0.0.0", "192.168.1.2", "example.com", "::"]))


def test_run_server_refuses_remote_host() -> None:
    """run_server refuses a non-loopback host without allow_remote."""
    with pytest.raises(ValueError, match="non-loopback"):
        run_server(host="0.0.0.0")


def test_serve_command_refuses_remote_host() -> None:
    """oai-images serve --host 0.0.0.0 exits 2 naming --allow-remote."""
    result = CliRunner().invoke(main, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "--allow-remote" in result.output


def test_serve_command_rejects_a_bad_fault() -> None:
    """A malformed --fault is a usage error."""
    result = CliRunner().invoke(main, ["serve", "--fault", "meteor", "--port", "0"])
    assert result.exit_code == 2
    assert "meteor" in result.output


def test_serve_command_runs_and_prints_the_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    """oai-images serve passes its options to run_server and prints the base URL it is given."""
    seen: dict[str, Any] = {}

    def fake_run_server(config: EmulatorConfig, **options: Any) -> None:
        seen.update(options, config=config)
        options["on_ready"]("http://127.0.0.1:9999/v1")

    monkeypatch.setattr("oai_images_emulator.cli.run_server", fake_run_server)
    result = CliRunner().invoke(
        main, ["serve", "--port", "9999", "--fault", "rate_limit;times=1", "--latency-ms", "5", "--seed", "3"]
    )
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:9999/v1" in result.stdout
    assert (seen["host"], seen["port"], seen["allow_remote"]) == ("127.0.0.1", 9999, False)
    config = seen["config"]
    assert (config.fault, config.latency, config.seed) == (FaultSpec("rate_limit", times=1), Latency(5, 5), 3)


def test_drawn_images_remembers_and_stays_within_its_byte_limit() -> None:
    """The memo of drawn images returns what it was given and forgets the least recently used first."""
    drawn = DrawnImages(max_bytes=10)
    drawn.put("a", b"12345")
    drawn.put("b", b"67890")
    assert drawn.get("a") == b"12345"  # a is now the most recently used
    drawn.put("c", b"xyz")
    assert drawn.get("b") is None
    assert drawn.get("a") == b"12345"
    assert drawn.get("c") == b"xyz"
    drawn.put("huge", b"x" * 11)
    assert drawn.get("huge") is None


def test_repeated_requests_are_served_from_the_memo() -> None:
    """The same request twice draws once: the second answer carries the very same image bytes."""
    app = create_app(EmulatorConfig())
    with httpx.Client(transport=EmulatorTransport(app=app), base_url="http://emulator.test/v1") as http:
        body = {"prompt": "a kite", "model": "dall-e-2", "size": "256x256", "response_format": "b64_json"}
        first, second = (
            http.post("/images/generations", json=body, headers={"Authorization": "Bearer sk-x"}).json()
            for _ in range(2)
        )
    assert first["data"][0]["b64_json"] == second["data"][0]["b64_json"]
    assert len(app.state.drawn._images) == 1


def test_deeply_nested_json_is_a_400_not_a_crash() -> None:
    """JSON nested deeper than Python recurses gets the invalid_json envelope."""
    with httpx.Client(transport=EmulatorTransport(), base_url="http://emulator.test/v1") as http:
        response = http.post("/images/generations", content=b"[" * 100_000, headers=AUTH)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


def test_recorded_requests_never_keep_the_key() -> None:
    """The emulator records requests for tests to inspect, with the bearer key replaced."""
    app = create_app(EmulatorConfig())
    with httpx.Client(transport=EmulatorTransport(app=app), base_url="http://emulator.test/v1") as http:
        key = {"Authorization": "Bearer sk-REAL-123"}
        http.post("/images/generations", json={"prompt": "x"}, headers=key)
    (recorded,) = app.state.requests
    assert recorded.headers["authorization"] == "Bearer [redacted]"
    assert "sk-REAL-123" not in repr(vars(recorded))


# --- hardening: bounded values, JSON failures, bounded memory, readiness, any bearer key ---------------

GIF_BODY = {
    "prompt": "a fox",
    "model": "gpt-image-1",
    "size": "1024x1024",
    "output_format": "gif",
    "frame_count": 2,
}


@pytest.mark.slow
def test_emulator_rejects_a_frame_duration_a_gif_cannot_hold(http: httpx.Client) -> None:
    """frame_duration_ms above 655,350 (GIF's 16-bit hundredths) is a 400 naming it, not a crash."""
    answer = post(http, {**GIF_BODY, "frame_duration_ms": 655_351})
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == "frame_duration_ms"
    assert post(http, {**GIF_BODY, "frame_duration_ms": 655_350}).status_code == 200


def test_emulator_draws_a_gif_at_the_longest_frame_duration() -> None:
    """The drawing clamps to what GIF can hold: 655,350 ms draws, 10**9 ms too (not OverflowError)."""
    for duration in (655_350, 10**9):
        image = Image.open(
            io.BytesIO(
                draw_image("a fox", width=32, height=32, output_format="gif", frame_duration_ms=duration)
            )
        )
        assert image.info["duration"] == 655_350


@pytest.mark.slow
def test_emulator_failure_is_a_json_500(http: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    """Any failure of the emulator answers the API's JSON 500 envelope, with a request id."""

    def broken(*args: Any, **kwargs: Any) -> bytes:
        raise OverflowError("broken drawing")

    monkeypatch.setattr("oai_images_emulator._app.draw_image", broken)
    answer = post(http, {"prompt": "a never drawn fox", "model": "dall-e-2", "response_format": "b64_json"})
    assert answer.status_code == 500
    assert answer.json()["error"]["type"] == "server_error"
    assert answer.headers["x-request-id"].startswith("req_")


def test_emulator_failure_in_process_is_an_internal_server_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """With emulator=True a crash of the emulator is InternalServerError (or an error event mid-stream)."""
    import oai_images

    def broken(*args: Any, **kwargs: Any) -> bytes:
        raise OverflowError("broken drawing")

    monkeypatch.setattr("oai_images_emulator._app.draw_image", broken)
    with oai_images.ImagesClient(emulator=True, max_retries=0) as client:
        with pytest.raises(oai_images.InternalServerError):
            client.generate("an undrawable fox", model="dall-e-2")
        with pytest.raises(oai_images.APIStatusError, match="server had an error"):
            list(client.generate_stream("an undrawable fox", model="gpt-image-1", partial_images=1))


@pytest.mark.slow
def test_emulator_records_request_bodies_within_the_byte_cap() -> None:
    """30 rejected 300 KB requests: the bodies kept stay under max_recorded_bytes."""
    cap = 1_000_000
    with EmulatorServer(EmulatorConfig(max_recorded_bytes=cap)) as server, httpx.Client(headers=AUTH) as http:
        for index in range(30):
            answer = http.post(
                f"{server.base_url}/images/generations", content=b"{" * 300_000 + bytes([index])
            )
            assert answer.status_code == 400
        kept = list(server.state.requests)
        assert sum(len(request.body) for request in kept) <= cap
        assert server.state.recorded_bytes <= cap
        assert kept[-1].body.endswith(bytes([29]))
        big = http.post(f"{server.base_url}/images/generations", content=b"x" * (cap + 10))
        assert big.status_code == 400
        assert server.state.requests[-1].truncated
        assert server.state.recorded_bytes <= cap


@pytest.mark.slow
def test_serve_prints_its_url_once_it_accepts_connections() -> None:
    """`serve --port 0`: the printed URL takes a connection at once (it was printed before listening)."""
    import shutil
    import socket
    import subprocess
    import sys
    from pathlib import Path

    exe = shutil.which("oai-images", path=str(Path(sys.executable).parent)) or "oai-images"
    command = [exe, "serve", "--port", "0", "--log-level", "critical"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as process:
        try:
            assert process.stdout is not None
            url = process.stdout.readline().decode().strip()
            port = int(url.rsplit(":", 1)[1].split("/")[0])
            with socket.create_connection(("127.0.0.1", port), timeout=5):
                pass
        finally:
            process.terminate()


@pytest.mark.slow
def test_emulator_accepts_a_bearer_key_with_spaces(server: EmulatorServer) -> None:
    """Any non-empty key is accepted, spaces included (the official client's tests use "My API Key")."""
    answer = httpx.post(
        f"{server.base_url}/images/generations",
        json={"prompt": "a fox", "model": "dall-e-2", "size": "256x256"},
        headers={"authorization": "Bearer My API Key"},
    )
    assert answer.status_code == 200
