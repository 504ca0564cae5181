"""The emulator's edits and variations on a loopback server: the official client, the facade, raw HTTP."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from PIL import Image

from oai_images import (
    AsyncImagesClient,
    BadRequestError,
    CompletedImageEvent,
    FileID,
    ImagesClient,
    ImageURL,
    InvalidParameterError,
    PartialImageEvent,
)
from oai_images.testing import ImagesEmulator
from oai_images.types import ImageOutputFormat
from oai_images_emulator import EmulatorServer, parse_fault
from oai_images_emulator._edits import derive_image
from tests.conftest import FakeClock

# openai 3.51 marks images.create_variation deprecated (dall-e-2 is retired); it still calls the endpoint.
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")]

KEY = "sk-emulator-test"
RED = (200, 40, 40, 255)


def hole_png(size: tuple[int, int] = (256, 256), *, hole: bool = True, mode: str = "RGBA") -> bytes:
    """A red square; with ``hole``, its centre quarter fully transparent."""
    image = Image.new("RGBA", size, RED)
    if hole:
        w, h = size
        image.paste((0, 0, 0, 0), (w // 4, h // 4, 3 * w // 4, 3 * h // 4))
    buffer = io.BytesIO()
    image.convert(mode).save(buffer, "PNG")
    return buffer.getvalue()


def decode(b64: str | None) -> Image.Image:
    assert b64 is not None
    return Image.open(io.BytesIO(base64.b64decode(b64)))


@pytest.fixture
def official(server: EmulatorServer) -> Iterator[openai.OpenAI]:
    """The official client, pointed at the emulator (closed after the test: no socket left to the GC)."""
    with openai.OpenAI(base_url=server.base_url, api_key=KEY, max_retries=0) as client:
        yield client


# --- the official client ------------------------------------------------------------------------------------


def test_official_edit_gpt_returns_an_image_of_the_size(official: openai.OpenAI, tmp_path: Path) -> None:
    """images.edit with a file and a GPT model returns a decodable image of the requested size and format."""
    path = tmp_path / "cat.png"
    path.write_bytes(hole_png(hole=False, mode="RGB"))
    with path.open("rb") as image:
        response = official.images.edit(
            image=image, prompt="add a hat", model="gpt-image-1.5", size="1536x1024", output_format="jpeg"
        )
    assert response.data is not None
    out = decode(response.data[0].b64_json)
    assert (out.format, out.size) == ("JPEG", (1536, 1024))
    assert response.usage is not None
    assert response.usage.input_tokens_details.image_tokens > 0


def test_official_edit_changes_only_the_masked_pixels(official: openai.OpenAI, tmp_path: Path) -> None:
    """With a mask, only where the mask is transparent changes; elsewhere the input's pixels stay."""
    (tmp_path / "a.png").write_bytes(hole_png(hole=False, mode="RGB"))
    (tmp_path / "m.png").write_bytes(hole_png())
    with (tmp_path / "a.png").open("rb") as image, (tmp_path / "m.png").open("rb") as mask:
        response = official.images.edit(
            image=image,
            mask=mask,
            prompt="a window",
            model="dall-e-2",
            size="256x256",
            response_format="b64_json",
        )
    assert response.data is not None
    out = decode(response.data[0].b64_json).convert("RGB")
    assert out.getpixel((10, 10)) == RED[:3]
    assert out.getpixel((128, 128)) != RED[:3]


def test_official_edit_several_images_and_stream(official: openai.OpenAI, tmp_path: Path) -> None:
    """Several images (`image[]`) and stream=True give partial then completed `image_edit.*` events."""
    files = []
    for name in ("a.png", "b.png"):
        (tmp_path / name).write_bytes(hole_png(hole=False))
        files.append((tmp_path / name).open("rb"))
    try:
        stream = official.images.edit(
            image=files, prompt="merge", model="gpt-image-1.5", stream=True, partial_images=2
        )
        kinds = [event.type for event in stream]
    finally:
        for handle in files:
            handle.close()
    assert kinds == ["image_edit.partial_image", "image_edit.partial_image", "image_edit.completed"]


def test_official_create_variation_returns_urls(official: openai.OpenAI, tmp_path: Path) -> None:
    """images.create_variation (dall-e-2) returns n URLs that serve PNGs of the size."""
    path = tmp_path / "otter.png"
    path.write_bytes(hole_png(hole=False, mode="RGB"))
    with path.open("rb") as image:
        response = official.images.create_variation(image=image, n=2, size="256x256")
    assert response.data is not None
    assert len(response.data) == 2
    url = response.data[0].url
    assert url is not None
    assert Image.open(io.BytesIO(httpx.get(url).content)).size == (256, 256)


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.images.edit(
            image=("x.png", b"placeholder", "image/png"), prompt="x", model="gpt-image-1.5"
        ),
        lambda c: c.images.edit(image=("x.png", b"placeholder", "image/png"), prompt="x", model="dall-e-2"),
        lambda c: c.images.create_variation(image=("x.png", b"placeholder", "image/png")),
    ],
    ids=["edit-gpt", "edit-dall-e-2", "variation"],
)
def test_official_placeholder_bytes_get_the_api_400(official: openai.OpenAI, call: object) -> None:
    """Bytes that are not an image get a 400 invalid_request_error about the image: never 401, 404 or 500."""
    with pytest.raises(openai.BadRequestError) as caught:
        call(official)  # type: ignore[operator]  # the parametrised lambdas
    assert caught.value.status_code == 400
    body = caught.value.body
    assert isinstance(body, dict)
    assert body["param"] == "image"
    assert body["code"] == "unsupported_file_mimetype"


# The calls of the official client's own tests (openai-python tests/api_resources/test_images.py), which
# run against a mock that answers 200 to anything: they send placeholder bytes, which the real API refuses
# with a 400 about the image. The emulator must give that 400, never a 401, 404 or 500. (Their
# `image_url=` call is newer than the installed 3.51.0; JSON edits are tested through the facade below.)
ALL_EDIT_PARAMS: dict[str, object] = {
    "background": "transparent",
    "input_fidelity": "high",
    "mask": b"Example data",
    "model": "gpt-image-2",
    "n": 1,
    "output_compression": 100,
    "output_format": "png",
    "partial_images": 1,
    "quality": "high",
    "response_format": "url",
    "size": "256x256",
    "user": "user-1234",
}
OFFICIAL_CALLS: dict[str, tuple[str, dict[str, object]]] = {
    "create_variation": ("create_variation", {"image": b"Example data"}),
    "create_variation_with_all_params": (
        "create_variation",
        {
            "image": b"Example data",
            "model": "gpt-image-1",
            "n": 1,
            "response_format": "url",
            "size": "1024x1024",
        },
    ),
    "edit_overload_1": (
        "edit",
        {"image": b"Example data", "prompt": "A cute baby sea otter wearing a beret"},
    ),
    "edit_with_all_params_overload_1": (
        "edit",
        {"image": b"Example data", "prompt": "A cute baby sea otter", "stream": False, **ALL_EDIT_PARAMS},
    ),
    "edit_overload_2": (
        "edit",
        {"image": b"Example data", "prompt": "A cute baby sea otter", "stream": True},
    ),
    "edit_with_all_params_overload_2": (
        "edit",
        {"image": b"Example data", "prompt": "A cute baby sea otter", "stream": True, **ALL_EDIT_PARAMS},
    ),
}


@pytest.mark.parametrize("name", list(OFFICIAL_CALLS))
def test_official_client_tests_get_the_api_400(official: openai.OpenAI, name: str) -> None:
    """Each call of the official client's image tests gets a 400 invalid_request_error from the emulator."""
    method, arguments = OFFICIAL_CALLS[name]
    with pytest.raises(openai.BadRequestError) as caught:
        getattr(official.images.with_raw_response, method)(**arguments)
    assert caught.value.status_code == 400
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["type"] == "invalid_request_error"


@pytest.mark.parametrize("name", list(OFFICIAL_CALLS))
async def test_official_async_client_tests_get_the_api_400(server: EmulatorServer, name: str) -> None:
    """The same with AsyncOpenAI."""
    method, arguments = OFFICIAL_CALLS[name]
    async with openai.AsyncOpenAI(base_url=server.base_url, api_key=KEY, max_retries=0) as client:
        with pytest.raises(openai.BadRequestError) as caught:
            await getattr(client.images, method)(**arguments)
    assert caught.value.status_code == 400


def test_official_mask_of_other_size_is_refused(official: openai.OpenAI) -> None:
    """A mask whose size differs from the image's is a 400 naming `mask`."""
    with pytest.raises(openai.BadRequestError) as caught:
        official.images.edit(
            image=("a.png", hole_png(), "image/png"),
            mask=("m.png", hole_png((128, 128)), "image/png"),
            prompt="x",
            model="gpt-image-1.5",
        )
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["param"] == "mask"


def test_edit_without_key_is_401(server: EmulatorServer) -> None:
    """No bearer key: 401, as for generations."""
    response = httpx.post(f"{server.base_url}/images/edits", files={"image": ("a.png", hole_png())})
    assert response.status_code == 401


def test_edit_other_content_type_is_400(server: EmulatorServer) -> None:
    """A body that is neither multipart nor JSON is a 400 naming the content type."""
    response = httpx.post(
        f"{server.base_url}/images/edits",
        content=b"x",
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "text/plain"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_content_type"


def test_edit_form_field_of_wrong_type_is_400(server: EmulatorServer) -> None:
    """A form field that should be an integer but is not is an invalid_type 400."""
    response = httpx.post(
        f"{server.base_url}/images/edits",
        data={"prompt": "x", "n": "two"},
        files={"image": ("a.png", hole_png())},
        headers={"Authorization": f"Bearer {KEY}"},
    )
    assert response.status_code == 400
    assert response.json()["error"] == {
        "message": "Invalid type for 'n': expected an integer, but got a string instead.",
        "type": "invalid_request_error",
        "param": "n",
        "code": "invalid_type",
    }


def test_edits_take_whole_numbers_written_as_floats(server: EmulatorServer) -> None:
    """``n`` as ``2.0`` works in a multipart edit and in a JSON edit; ``2.5`` is a 400 naming it."""
    auth = {"Authorization": f"Bearer {KEY}"}
    url = f"{server.base_url}/images/edits"
    form = {"prompt": "x", "model": "gpt-image-1.5", "size": "1024x1024", "n": "2.0"}
    answer = httpx.post(url, data=form, files={"image": ("a.png", hole_png())}, headers=auth, timeout=30)
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["data"]) == 2
    data_url = "data:image/png;base64," + base64.b64encode(hole_png()).decode()
    body = {"prompt": "x", "model": "gpt-image-1.5", "size": "1024x1024", "images": [{"image_url": data_url}]}
    answer = httpx.post(url, json={**body, "n": 2.0}, headers=auth, timeout=30)
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["data"]) == 2
    refused = httpx.post(url, json={**body, "n": 2.5}, headers=auth, timeout=30)
    assert refused.status_code == 400
    assert refused.json()["error"]["param"] == "n"
    assert "2.5" in refused.json()["error"]["message"]
    form["n"] = "2.5"
    refused = httpx.post(url, data=form, files={"image": ("a.png", hole_png())}, headers=auth, timeout=30)
    assert refused.status_code == 400
    assert refused.json()["error"]["message"] == (
        "Invalid type for 'n': expected an integer (a number with no fractional part), "
        "but got a string instead."
    )


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"prompt": "x", "images": [{"file_id": "file-nope"}]}, "images[0].file_id", "file_not_found"),
        (
            {"prompt": "x", "images": [{"file_id": "file-1", "image_url": "https://x.test/a.png"}]},
            "images[0]",
            "invalid_value",
        ),
        (
            {"prompt": "x", "images": [{"image_url": "data:text/plain;base64,eA=="}]},
            "images[0].image_url",
            "invalid_image_url",
        ),
        ({"prompt": "x", "images": []}, "images", "invalid_value"),
        (
            {"prompt": "x", "images": [{"image_url": "data:image/png;base64,eA=="}]},
            "image",
            "unsupported_file_mimetype",
        ),
        ({"prompt": "x", "images": [{"file_id": "f"}], "model": "dall-e-2"}, "model", "invalid_value"),
    ],
)
def test_json_edit_reference_errors(
    server: EmulatorServer, body: dict[str, object], param: str, code: str
) -> None:
    """JSON edits: an unknown file id, a reference with both keys, a bad data URL, no images, a data URL
    that is no image, and dall-e-2 each get a 400 naming the field."""  # noqa: D205, D209
    response = httpx.post(
        f"{server.base_url}/images/edits", json=body, headers={"Authorization": f"Bearer {KEY}"}
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["param"], error["code"]) == (param, code)


def test_official_client_uploads_then_edits_by_file_id(official: openai.OpenAI) -> None:
    """files.create(purpose="vision") then a JSON edit naming the file ids (image and mask): the answer is
    made from the uploaded image, and only the mask's transparent pixels change."""  # noqa: D205, D209
    image = official.files.create(file=("a.png", hole_png(hole=False, mode="RGB")), purpose="vision")
    mask = official.files.create(file=("m.png", hole_png()), purpose="user_data")
    answer = official.post(
        "/images/edits",
        body={
            "prompt": "a window",
            "model": "gpt-image-1.5",
            "size": "1024x1024",
            "images": [{"file_id": image.id}],
            "mask": {"file_id": mask.id},
        },
        cast_to=openai.types.ImagesResponse,
    )
    assert answer.data is not None
    out = decode(answer.data[0].b64_json).convert("RGB")
    assert out.size == (1024, 1024)
    assert out.getpixel((10, 10)) == RED[:3]
    assert out.getpixel((512, 512)) != RED[:3]


def test_facade_edits_by_file_id(server: EmulatorServer) -> None:
    """The facade's FileID references are read from the emulator's file store."""
    with openai.OpenAI(base_url=server.base_url, api_key=KEY) as official:
        uploaded = official.files.create(file=("a.png", hole_png(hole=False)), purpose="vision")
    with ImagesClient(base_url=server.base_url, api_key=KEY) as client:
        result = client.edit("a hat", image=[FileID(uploaded.id)], model="gpt-image-2", size="1536x1024")
    assert Image.open(io.BytesIO(result.images[0].read())).size == (1536, 1024)


def test_json_edit_file_id_refusals_name_the_id(
    server: EmulatorServer, official: openai.OpenAI, clock: FakeClock
) -> None:
    """A file id that is unknown, expired, of another purpose, or not an image: a 400 naming the id."""
    batch_file = official.files.create(file=("in.jsonl", b"{}\n"), purpose="batch")
    short_lived = official.files.create(
        file=("a.png", hole_png()),
        purpose="vision",
        expires_after={"anchor": "created_at", "seconds": 3600},
    )
    not_image = official.files.create(file=("a.png", b"not an image"), purpose="user_data")
    clock.now += 3601
    try:
        cases = [
            ("file-nope", "file_not_found", "No such File object: file-nope"),
            (short_lived.id, "file_not_found", f"No such File object: {short_lived.id}"),
            (batch_file.id, "invalid_file_purpose", f"File {batch_file.id} has purpose 'batch'"),
            (not_image.id, "unsupported_file_mimetype", ""),
        ]
        for file_id, code, message in cases:
            response = httpx.post(
                f"{server.base_url}/images/edits",
                json={"prompt": "x", "images": [{"file_id": file_id}], "mask": {"file_id": file_id}},
                headers={"Authorization": f"Bearer {KEY}"},
            )
            assert response.status_code == 400
            error = response.json()["error"]
            assert error["code"] == code
            assert message in error["message"]
            assert error["param"] in ("images[0].file_id", "image")
    finally:
        clock.now -= 3601


# --- the facade against the real server ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_facade_edit_retries_resend_the_file(server: EmulatorServer, kind: str, tmp_path: Path) -> None:
    """After an injected 429 the facade sends the edit again; the server gets the same file twice."""
    path = tmp_path / "a.png"
    path.write_bytes(hole_png(hole=False))
    server.state.config.fault = parse_fault("rate_limit;times=1;retry_after=0")
    if kind == "sync":
        with ImagesClient(base_url=server.base_url, api_key=KEY, sleep=lambda _: None) as client:
            result = client.edit("a hat", image=path, model="gpt-image-1.5", size="1024x1024")
    else:
        async with AsyncImagesClient(base_url=server.base_url, api_key=KEY, sleep=_no_sleep) as aclient:
            result = await aclient.edit("a hat", image=path, model="gpt-image-1.5", size="1024x1024")
    assert len(server.state.requests) == 2
    first, second = server.state.requests
    assert first.body == second.body
    assert path.read_bytes() in second.body
    image = result.images[0].read() if kind == "sync" else await result.images[0].aread()
    assert Image.open(io.BytesIO(image)).size == (1024, 1024)


async def _no_sleep(_: float) -> None:
    return None


def test_facade_edit_by_reference_reads_data_and_served_urls(server: EmulatorServer) -> None:
    """A JSON edit with a data: URL and a URL the emulator served is answered from those images."""
    with ImagesClient(base_url=server.base_url, api_key=KEY) as client:
        served = client.create_variation(hole_png(hole=False), size="256x256").images[0].url
        assert served is not None
        data_url = "data:image/png;base64," + base64.b64encode(hole_png()).decode()
        result = client.edit("x", image=[ImageURL(data_url), ImageURL(served)], model="gpt-image-1.5")
        assert Image.open(io.BytesIO(result.images[0].read())).size == (1024, 1024)
        with pytest.raises(BadRequestError, match="runs offline"):
            client.edit("x", image=ImageURL("https://example.com/a.png"), model="gpt-image-1.5")


def test_facade_edit_stream_against_the_server(server: EmulatorServer) -> None:
    """edit_stream reads the server's partial and completed events."""
    with ImagesClient(base_url=server.base_url, api_key=KEY) as client:
        events = list(client.edit_stream("x", image=hole_png(), model="gpt-image-1.5", partial_images=1))
    assert [type(event) for event in events] == [PartialImageEvent, CompletedImageEvent]


def test_emulator_refuses_what_the_facade_refuses(server: EmulatorServer) -> None:
    """With validate=False the facade sends a dall-e-2 JPEG; the emulator answers the same rule as a 400."""
    jpeg = io.BytesIO()
    Image.new("RGB", (64, 64)).save(jpeg, "JPEG")
    with (
        ImagesClient(base_url=server.base_url, api_key=KEY, validate=False) as client,
        pytest.raises(BadRequestError, match="is a JPEG file; dall-e-2 accepts PNG") as caught,
    ):
        client.edit("x", image=jpeg.getvalue(), model="dall-e-2")
    assert caught.value.param == "image"


@pytest.mark.parametrize(("fmt", "signature"), [("gif", b"GIF8"), ("svg", b"<svg"), ("webp", b"RIFF")])
def test_facade_edit_answers_in_the_requested_format(
    server: EmulatorServer, fmt: ImageOutputFormat, signature: bytes
) -> None:
    """The answer's bytes are in the output_format asked for, preview formats included."""
    with ImagesClient(base_url=server.base_url, api_key=KEY) as client:
        result = client.edit(
            "x", image=hole_png(), model="gpt-image-1.5", output_format=fmt, size="1024x1024"
        )
    assert result.images[0].read().startswith(signature)


def test_official_edit_takes_the_preview_fields_of_generations(official: openai.OpenAI) -> None:
    """complexity, frame_count and frame_duration_ms, which the 3.51 client documents for edits: a gif of that
    many frames, each shown that long."""  # noqa: D205, D209
    response = official.images.edit(
        image=("a.png", hole_png(hole=False), "image/png"),
        prompt="make it wave",
        model="gpt-image-2",
        size="1024x1024",
        complexity="high",
        output_format="gif",
        frame_count=5,
        frame_duration_ms=70,
    )
    assert response.data is not None
    out = decode(response.data[0].b64_json)
    assert (out.format, out.size, getattr(out, "n_frames", 1)) == ("GIF", (1024, 1024), 5)
    assert out.info["duration"] == 70


def test_edit_preview_fields_keep_their_ranges_and_rules(official: openai.OpenAI) -> None:
    """frame_count out of range, or without a gif, is a 400 naming it."""
    image = ("a.png", hole_png(hole=False), "image/png")
    with pytest.raises(openai.BadRequestError) as caught:
        official.images.edit(
            image=image, prompt="x", model="gpt-image-2", output_format="gif", frame_count=17
        )
    assert "frame_count" in str(caught.value)
    with pytest.raises(openai.BadRequestError) as caught:
        official.images.edit(image=image, prompt="x", model="gpt-image-2", frame_count=3)
    assert "output_format" in str(caught.value)


def _marks(size: tuple[int, int] = (256, 256)) -> bytes:
    """A transparent PNG with one opaque blue stroke: a markup."""
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    image.paste((0, 0, 255, 255), (0, 0, size[0], 8))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def test_official_edit_markup_is_laid_over_the_image(official: openai.OpenAI) -> None:
    """gpt-image-2.5 takes a markup: the answer differs from the same edit without one."""
    common: dict[str, object] = {
        "image": ("a.png", hole_png(hole=False), "image/png"),
        "prompt": "a hat",
        "model": "gpt-image-2.5-flare",
        "size": "1024x1024",
    }
    plain = official.images.edit(**common)  # type: ignore[call-overload]  # the keywords above
    marked = official.images.edit(markup=("m.png", _marks(), "image/png"), **common)  # type: ignore[call-overload]
    assert plain.data is not None
    assert marked.data is not None
    assert decode(marked.data[0].b64_json).size == (1024, 1024)
    assert plain.data[0].b64_json != marked.data[0].b64_json


@pytest.mark.parametrize(
    ("model", "markup", "mask", "expected"),
    [
        ("gpt-image-1.5", _marks(), None, "Unknown parameter: 'markup'"),
        ("gpt-image-2.5-flare", _marks(), hole_png(), "markup cannot be sent with a mask"),
        ("gpt-image-2.5-flare", _marks((128, 128)), None, "dimensions of the first image"),
        ("gpt-image-2.5-flare", hole_png(hole=False, mode="RGB"), None, "no alpha channel"),
    ],
    ids=["model", "with-mask", "dimensions", "opaque"],
)
def test_edit_markup_rules_are_a_400_naming_it(
    server: EmulatorServer, model: str, markup: bytes, mask: bytes | None, expected: str
) -> None:
    """A markup for a model before 2.5, with a mask, of other dimensions or with no alpha: 400 on markup;
    the facade refuses the same before sending."""  # noqa: D205, D209
    files = {"image": ("a.png", hole_png(hole=False)), "markup": ("m.png", markup)}
    if mask is not None:
        files["mask"] = ("k.png", mask)
    response = httpx.post(
        f"{server.base_url}/images/edits",
        data={"prompt": "x", "model": model},
        files=files,
        headers={"Authorization": f"Bearer {KEY}"},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "markup"
    assert expected in error["message"]
    server.state.reset()
    with (
        ImagesClient(base_url=server.base_url, api_key=KEY) as client,
        pytest.raises(InvalidParameterError) as caught,
    ):
        client.edit("x", image=hole_png(hole=False), mask=mask, markup=markup, model=model)
    assert caught.value.param == "markup"
    assert not server.state.requests


def test_facade_edit_markup_is_an_upload_only(server: EmulatorServer, tmp_path: Path) -> None:
    """The facade sends a markup path as a part of the multipart edit; with references it refuses it."""
    (tmp_path / "m.png").write_bytes(_marks())
    with ImagesClient(base_url=server.base_url, api_key=KEY) as client:
        result = client.edit(
            "a hat", image=hole_png(hole=False), markup=tmp_path / "m.png", model="gpt-image-2.5-flare"
        )
        assert result.images[0].read()
        assert b'name="markup"' in server.state.requests[-1].body
        with pytest.raises(InvalidParameterError, match="JSON edit of references cannot carry one"):
            client.edit("x", image=ImageURL("https://x.test/a.png"), markup=_marks())


# --- the drawing --------------------------------------------------------------------------------------------


def test_derive_image_is_deterministic_and_depends_on_the_input() -> None:
    """The same input gives the same bytes; another input gives other bytes."""
    options = {
        "prompt": "p",
        "index": 0,
        "seed": 1,
        "width": 64,
        "height": 64,
        "output_format": "png",
        "transparent": False,
        "compression": None,
        "strength": 0.5,
        "use_own_alpha": False,
    }
    first = derive_image(hole_png(), None, **options)  # type: ignore[arg-type]  # the keywords above
    assert first == derive_image(hole_png(), None, **options)  # type: ignore[arg-type]  # as above
    assert first != derive_image(hole_png(hole=False), None, **options)  # type: ignore[arg-type]  # as above


def test_pytest_plugin_emulator_serves_edits_in_process(images_emulator: ImagesEmulator) -> None:
    """The plugin's in-process emulator takes edits too, and records them."""
    result = images_emulator.client.edit("a hat", image=hole_png(), model="gpt-image-1.5", size="1024x1536")
    with Image.open(io.BytesIO(result.images[0].read())) as image:
        assert image.size == (1024, 1536)
    [request] = images_emulator.requests
    assert request.path == "/v1/images/edits"
    assert request.json is None  # multipart
    assert b'name="prompt"' in request.body


def _vm_hwm_mb(pid: int) -> float:
    """The peak resident memory of a process, in MB (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.mark.slow
def test_hostile_edit_inputs_are_400s_within_a_memory_bound(tmp_path: Path) -> None:
    """A small PNG claiming 13000x13000 pixels, and a PNG whose header is fine but whose pixel data is
    broken: each a 400 naming the image (never a 500 a client would retry), and the served emulator's peak
    memory stays within 300 MB (it took +2 GB before)."""  # noqa: D205, D209
    import os
    import signal
    import socket
    import subprocess

    import httpx as http_client

    from tests.test_cli import EXE

    huge = tmp_path / "huge.png"
    Image.new("1", (13000, 13000)).save(huge)
    assert huge.stat().st_size < 2 * 1024 * 1024
    whole = io.BytesIO()
    Image.frombytes("RGBA", (256, 256), os.urandom(256 * 256 * 4)).save(whole, format="PNG")
    damaged = bytearray(whole.getvalue())
    middle = len(damaged) // 2
    damaged[middle : middle + 64] = bytes(byte ^ 0xFF for byte in damaged[middle : middle + 64])
    broken = bytes(damaged)  # the header as it was, the pixel data broken in the middle
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [EXE, "serve", "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )  # fmt: skip
    try:
        assert server.stdout is not None
        server.stdout.readline()
        answers = []
        for name, data in (("huge.png", huge.read_bytes()), ("broken.png", broken)):
            answers.append(
                http_client.post(
                    f"http://127.0.0.1:{port}/v1/images/edits",
                    headers={"Authorization": "Bearer sk-anything"},
                    data={"prompt": "a hat", "model": "gpt-image-1.5"},
                    files={"image": (name, data, "image/png")},
                    timeout=60,
                )
            )
        peak = _vm_hwm_mb(server.pid)
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=30)
    assert [answer.status_code for answer in answers] == [400, 400]
    assert "13000x13000" in answers[0].json()["error"]["message"]
    assert answers[1].json()["error"]["code"] == "invalid_image"
    assert peak < 300, f"the emulator peaked at {peak:.0f} MB"
