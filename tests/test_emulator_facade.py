"""The facade against the emulator: both clients, over a loopback server and in-process (emulator=True)."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from oai_images import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    BadRequestError,
    CompletedImageEvent,
    InternalServerError,
    InvalidParameterError,
    PartialImageEvent,
    PermissionDeniedError,
    RateLimitError,
)
from oai_images.testing import ImagesEmulator, ImagesEmulatorServer
from oai_images_emulator import EmulatorServer, parse_fault
from tests.conftest import Facade, FakeClock


@pytest.fixture(params=["server", "in-process"])
def where(request: pytest.FixtureRequest, server: EmulatorServer) -> dict[str, Any]:
    """Client options for the loopback server, or for the in-process emulator (emulator=True)."""
    if request.param == "server":
        return {"base_url": server.base_url, "api_key": "sk-anything"}
    return {"emulator": True, "api_key": None, "base_url": None}


def png_size(data: bytes) -> tuple[int, int]:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    return image.size


async def test_facade_url_image_downloads(facade: Facade, where: dict[str, Any]) -> None:
    """A dall-e-2 url image: the facade downloads it from the emulator, the size asked for."""
    client = facade.client(**where)
    try:
        result = await facade.generate("a lighthouse", client=client, model="dall-e-2", size="512x512")
        (image,) = result.images
        assert image.url is not None
        assert image.b64_json is None
        assert png_size(await facade.read(image)) == (512, 512)
        assert result.request_id is not None
        assert result.request_id.startswith("req_")
    finally:
        await facade.close(client)


async def test_facade_b64_image_and_revised_prompt(facade: Facade, where: dict[str, Any]) -> None:
    """A dall-e-3 b64_json image: decoded bytes of the size asked for, and a revised prompt."""
    client = facade.client(**where)
    try:
        result = await facade.generate(
            "a fox", client=client, model="dall-e-3", size="1024x1792", response_format="b64_json"
        )
        (image,) = result.images
        assert image.b64_json is not None
        assert image.revised_prompt is not None
        assert "a fox" in image.revised_prompt
        assert png_size(await facade.read(image)) == (1024, 1792)
    finally:
        await facade.close(client)


async def test_facade_gpt_result_has_usage_and_echoes(facade: Facade, where: dict[str, Any]) -> None:
    """A GPT model: usage, and the echoed size, format, quality and background."""
    client = facade.client(**where)
    try:
        result = await facade.generate(
            "an otter", client=client, model="gpt-image-2", size="1536x864", output_format="webp"
        )
        assert (result.size, result.output_format, result.background) == ("1536x864", "webp", "opaque")
        assert result.usage is not None
        assert result.usage.total_tokens > 0
        image = Image.open(io.BytesIO(await facade.read(result.images[0])))
        assert (image.format, image.size) == ("WEBP", (1536, 864))
    finally:
        await facade.close(client)


SEED_RULE_VIOLATIONS: list[tuple[dict[str, Any], str, str]] = [
    ({"model": "dall-e-2", "size": "1792x1024"}, "size", "invalid_size"),
    ({"model": "dall-e-3", "size": "512x512"}, "size", "invalid_size"),
    ({"model": "dall-e-3", "n": 2}, "n", "invalid_value"),
    ({"model": "dall-e-2", "n": 11}, "n", "invalid_value"),
    ({"model": "dall-e-2", "quality": "hd"}, "quality", "invalid_value"),
    ({"model": "dall-e-2", "style": "natural"}, "style", "unknown_parameter"),
    ({"model": "dall-e-3", "style": "dreamy"}, "style", "invalid_value"),
    ({"model": "dall-e-3", "response_format": "jpeg"}, "response_format", "invalid_value"),
    ({"model": "gpt-image-1", "response_format": "url"}, "response_format", "unknown_parameter"),
]


@pytest.mark.parametrize(("fields", "param", "code"), SEED_RULE_VIOLATIONS)
async def test_facade_seed_rules_rejected_alike_by_client_and_emulator(
    facade: Facade, server: EmulatorServer, fields: dict[str, Any], param: str, code: str
) -> None:
    """Each seed rule: the client refuses it before sending, and the emulator answers the same 400."""
    checked = facade.client(base_url=server.base_url)
    with pytest.raises(InvalidParameterError) as refused:
        await facade.generate("x", client=checked, **fields)
    assert refused.value.param == param
    assert len(server.state.requests) == 0
    unchecked = facade.client(base_url=server.base_url, validate=False)
    try:
        with pytest.raises(BadRequestError) as rejected:
            await facade.generate("x", client=unchecked, **fields)
    finally:
        await facade.close(checked)
        await facade.close(unchecked)
    assert (rejected.value.param, rejected.value.code, rejected.value.type) == (
        param,
        code,
        "invalid_request_error",
    )
    assert rejected.value.request_id is not None


async def test_facade_prompt_too_long_rejected_by_emulator(facade: Facade, server: EmulatorServer) -> None:
    """The dall-e-2 prompt limit (1000 characters) is enforced by the emulator too."""
    client = facade.client(base_url=server.base_url, validate=False)
    try:
        with pytest.raises(BadRequestError) as rejected:
            await facade.generate("x" * 1001, client=client, model="dall-e-2")
    finally:
        await facade.close(client)
    assert rejected.value.param == "prompt"


async def test_facade_expired_url_is_permission_denied(
    facade: Facade, server: EmulatorServer, clock: FakeClock
) -> None:
    """After the URL lifetime (60 minutes by default) reading the image raises PermissionDeniedError."""
    client = facade.client(base_url=server.base_url)
    try:
        result = await facade.generate("x", client=client, model="dall-e-2", size="256x256")
        clock.now += 3601
        with pytest.raises(PermissionDeniedError) as denied:
            await facade.read(result.images[0])
    finally:
        await facade.close(client)
    assert denied.value.code == "url_expired"


async def test_facade_streams_partial_and_final_images(facade: Facade, where: dict[str, Any]) -> None:
    """generate_stream yields the partial images, then the completed one, all decodable."""
    client = facade.client(**where)
    try:
        events = await facade.stream(
            "a crane", client=client, model="gpt-image-1", partial_images=3, size="1024x1024"
        )
    finally:
        await facade.close(client)
    assert [type(event) for event in events] == [PartialImageEvent] * 3 + [CompletedImageEvent]
    assert [event.index for event in events if isinstance(event, PartialImageEvent)] == [1, 2, 3]
    final = events[-1]
    assert isinstance(final, CompletedImageEvent)
    assert final.usage is not None
    assert final.usage.total_tokens > 0
    assert png_size(await facade.read(final.image)) == (1024, 1024)


@pytest.mark.parametrize(
    "fault",
    [
        "rate_limit;times=2",
        "server_error;times=2",
        "service_unavailable;times=2",
        "drop;times=2",
        "truncate;times=2",
        "not_json;status=502;times=2",
        "hang;times=2",
    ],
)
async def test_facade_retries_through_transient_faults(
    facade: Facade, where: dict[str, Any], server: EmulatorServer, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    """Two failures then success: the facade's two retries get the image, over a socket or in-process."""
    server.state.config.fault = parse_fault(fault)
    monkeypatch.setenv("OAI_IMAGES_EMULATOR_FAULT", fault)  # read by the in-process emulator=True transport
    client = facade.client(**where, timeout=0.3)
    try:
        result = await facade.generate(
            "x", client=client, model="dall-e-2", size="256x256", response_format="b64_json"
        )
    finally:
        await facade.close(client)
    assert len(result.images) == 1
    assert len(facade.sleeps) == 2
    assert len(server.state.requests) == (0 if where.get("emulator") else 3)
    if fault.startswith("rate_limit"):
        assert facade.sleeps == [1.0, 1.0]  # the server's retry-after


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("rate_limit", RateLimitError),
        ("server_error", InternalServerError),
        ("drop", APIConnectionError),
        ("hang", APITimeoutError),
        ("not_json", APIStatusError),
    ],
)
async def test_facade_persistent_faults_raise_after_retries(
    facade: Facade, server: EmulatorServer, fault: str, error: type[Exception]
) -> None:
    """A fault that never clears raises the matching error once the retries are spent."""
    server.state.config.fault = parse_fault(fault)
    client = facade.client(base_url=server.base_url, timeout=0.3, max_retries=1)
    try:
        with pytest.raises(error):
            await facade.generate("x", client=client)
    finally:
        await facade.close(client)
    retried = fault != "not_json"  # a 200 that is not JSON is not worth another attempt
    assert len(server.state.requests) == (2 if retried else 1)


# Written the way an app developer would, with the fixtures oai_images ships as a pytest plugin.


def test_fixture_images_emulator_generates_offline(images_emulator: ImagesEmulator) -> None:
    """The shipped images_emulator fixture: a ready client, recorded requests, no network."""
    result = images_emulator.client.generate("a fox", model="gpt-image-1", size="1024x1536")
    assert Image.open(io.BytesIO(result.images[0].read())).size == (1024, 1536)
    (request,) = images_emulator.requests
    assert request.json == {"prompt": "a fox", "model": "gpt-image-1", "size": "1024x1536"}
    assert request.headers["authorization"] == "Bearer [redacted]"  # recorded, but never the key itself


def test_fixture_images_emulator_faults_and_retries(images_emulator: ImagesEmulator) -> None:
    """set_fault makes the in-process emulator fail; the client's retries are recorded, not slept."""
    images_emulator.set_fault("rate_limit;times=2")
    result = images_emulator.client.generate("a fox")
    assert len(result.images) == 1
    assert images_emulator.sleeps == [1.0, 1.0]
    images_emulator.set_fault("drop")
    with pytest.raises(APIConnectionError):
        images_emulator.client.generate("a fox")


async def test_fixture_images_emulator_async_client(images_emulator: ImagesEmulator) -> None:
    """The fixture's async client works in-process, url downloads included."""
    result = await images_emulator.async_client.generate("a fox", model="dall-e-2", size="256x256")
    assert png_size(await result.images[0].aread()) == (256, 256)


def test_fixture_images_emulator_server_has_a_base_url(images_emulator_server: ImagesEmulatorServer) -> None:
    """The shipped server fixture: a loopback base URL any client can use, and a ready client."""
    assert images_emulator_server.base_url.startswith("http://127.0.0.1:")
    result = images_emulator_server.client.generate("a fox", model="dall-e-2", size="256x256")
    assert result.images[0].url is not None
    assert result.images[0].url.startswith(images_emulator_server.base_url)
    assert png_size(result.images[0].read()) == (256, 256)


def test_plugin_fixtures_work_in_a_users_suite(tmp_path: Path) -> None:
    """A user's own test file gets the fixtures from the installed plugin, with no conftest or import."""
    (tmp_path / "test_app.py").write_text(
        textwrap.dedent(
            """
            def make_thumbnail(client):
                return client.generate("a fox", model="dall-e-2", size="256x256").images[0].read()

            def test_thumbnail(images_emulator):
                assert make_thumbnail(images_emulator.client).startswith(b"\\x89PNG")
                assert images_emulator.requests[0].json["size"] == "256x256"

            def test_retries(images_emulator):
                images_emulator.set_fault("server_error;times=1")
                assert make_thumbnail(images_emulator.client)
                assert len(images_emulator.sleeps) == 1

            def test_over_the_network(images_emulator_server):
                import httpx
                answer = httpx.post(
                    images_emulator_server.base_url + "/images/generations",
                    json={"prompt": "a fox"},
                    headers={"authorization": "Bearer anything"},
                )
                assert answer.status_code == 200
            """
        )
    )
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nfilterwarnings = error\nasyncio_default_fixture_loop_scope = function\n"
    )
    finished = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "3 passed" in finished.stdout


def test_import_oai_images_leaves_the_emulator_unloaded() -> None:
    """Importing oai_images (and the plugin) never loads starlette, uvicorn, Pillow or the emulator."""
    code = (
        "import sys, oai_images, oai_images.testing\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('starlette', 'uvicorn', 'PIL')\n"
        "         or m.startswith('oai_images_emulator')]\n"
        "print(heavy)\n"
    )
    finished = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert finished.stdout.strip() == "[]"


def test_emulator_exports_the_contract_names() -> None:
    """The emulator package exports the names the facade and users rely on, sorted."""
    import oai_images_emulator as emulator

    # ruff's order (RUF022): CONSTANTS, then Classes, then functions, each alphabetical.
    assert emulator.__all__ == sorted(
        emulator.__all__, key=lambda name: (not name.isupper(), name[0].islower(), name)
    )
    for name in (
        "create_app",
        "EmulatorConfig",
        "EmulatorTransport",
        "AsyncEmulatorTransport",
        "EMULATOR_BASE_URL",
        "run_server",
    ):
        assert name in emulator.__all__
        assert hasattr(emulator, name)
    assert emulator.EMULATOR_BASE_URL == "http://emulator.oai-images.invalid/v1"


def test_transport_close_stops_its_thread() -> None:
    """EmulatorTransport starts its loop thread on first use and stops it on close."""
    import threading

    import httpx

    from oai_images_emulator import EMULATOR_BASE_URL, EmulatorTransport

    transport = EmulatorTransport()
    before = {thread.name for thread in threading.enumerate()}
    with httpx.Client(transport=transport, base_url=EMULATOR_BASE_URL) as client:
        assert client.get("/nowhere").status_code == 404
        assert "oai-images-emulator" in {thread.name for thread in threading.enumerate()} - before
    assert "oai-images-emulator" not in {thread.name for thread in threading.enumerate()} - before


def test_the_api_defaults_sent_explicitly_are_accepted_by_the_rules_and_the_emulator() -> None:
    """partial_images 0 without streaming and output_compression 100 with PNG are the API's own defaults:
    neither the client's rules nor the emulator refuse them (the official spec's example sends the latter)."""  # noqa: D205, D209
    from oai_images import ImagesClient

    for validate in (True, False):
        with ImagesClient(emulator=True, validate=validate) as client:
            result = client.generate("a fox", model="gpt-image-1.5", output_compression=100, partial_images=0)
            assert result.images[0].read().startswith(b"\x89PNG")
