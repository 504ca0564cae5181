"""edit, edit_stream and create_variation on both clients: every input rule, the wire, retries, streams."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from pytest_httpx import HTTPXMock

from oai_images import (
    CompletedImageEvent,
    FileID,
    ImageURL,
    InternalServerError,
    InvalidParameterError,
    PartialImageEvent,
)
from tests.conftest import API_BASE, PNG_B64, Facade, multipart_parts

EDITS_URL = f"{API_BASE}/images/edits"
VARIATIONS_URL = f"{API_BASE}/images/variations"
MB = 1024 * 1024
USAGE = {
    "input_tokens": 1,
    "output_tokens": 2,
    "total_tokens": 3,
    "input_tokens_details": {"text_tokens": 1, "image_tokens": 0},
}


def picture(
    path: Path, size: tuple[int, int] = (64, 64), mode: str = "RGBA", fmt: str = "PNG", pad_to: int = 0
) -> Path:
    """Write a real image; ``pad_to`` extends the file (sparsely) to that many bytes after the image."""
    Image.new(mode, size, None).save(path, fmt)
    if pad_to:
        with path.open("r+b") as stream:
            stream.truncate(pad_to)
    return path


def png_bytes(size: tuple[int, int] = (64, 64), mode: str = "RGBA") -> bytes:
    """A real PNG in memory."""
    buffer = io.BytesIO()
    Image.new(mode, size).save(buffer, "PNG")
    return buffer.getvalue()


def parts(request: httpx.Request) -> list[tuple[str, str | None, bytes]]:
    """(name, filename, data) of each part of a multipart request."""
    return multipart_parts(request.headers["Content-Type"], request.content)


def fields_of(request: httpx.Request) -> dict[str, str]:
    """The text fields of a multipart request."""
    return {name: data.decode() for name, filename, data in parts(request) if filename is None}


# --- accepted inputs: what goes on the wire -----------------------------------------------------------------


async def test_edit_uploads_image_and_mask_as_multipart(
    facade: Facade, httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    """A dall-e-2 edit is one multipart POST with the prompt, fields, the file bytes and the mask."""
    httpx_mock.add_response(method="POST", url=EDITS_URL, json=facade.images_body())
    image = picture(tmp_path / "cat.png", mode="RGB")  # no alpha: fine, a mask is given
    mask = picture(tmp_path / "mask.png")
    result = await facade.edit("add a red scarf", image=image, mask=mask, model="dall-e-2", size="512x512")
    [request] = httpx_mock.get_requests()
    assert request.headers["Authorization"] == f"Bearer {facade.api_key}"
    assert request.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert int(request.headers["Content-Length"]) == len(request.content)
    assert parts(request) == [
        ("prompt", None, b"add a red scarf"),
        ("model", None, b"dall-e-2"),
        ("size", None, b"512x512"),
        ("image", "cat.png", image.read_bytes()),
        ("mask", "mask.png", mask.read_bytes()),
    ]
    assert await facade.read(result.images[0]) == facade.png


async def test_edit_sends_several_images_as_an_array(facade: Facade, httpx_mock: HTTPXMock) -> None:
    """A sequence of inputs (bytes and a file object here) is sent as `image[]` parts, in order."""
    httpx_mock.add_response(method="POST", url=EDITS_URL, json=facade.images_body())
    first, second = io.BytesIO(), io.BytesIO()
    Image.new("RGB", (40, 40)).save(first, "JPEG")
    Image.new("RGB", (40, 40)).save(second, "WEBP")
    second.seek(0)
    await facade.edit(image=[first.getvalue(), second], model="gpt-image-1.5", input_fidelity="high")
    sent = parts(httpx_mock.get_requests()[0])
    assert [(name, filename) for name, filename, _ in sent if filename] == [
        ("image[]", "image.jpg"),
        ("image[]", "image.webp"),
    ]
    assert fields_of(httpx_mock.get_requests()[0])["input_fidelity"] == "high"


async def test_edit_with_references_is_a_json_request(facade: Facade, httpx_mock: HTTPXMock) -> None:
    """ImageURL / FileID inputs are sent as a JSON edit with `images` references."""
    httpx_mock.add_response(method="POST", url=EDITS_URL, json=facade.images_body())
    await facade.edit(
        image=[ImageURL("https://example.com/a.png"), FileID("file-abc")],
        mask=FileID("file-mask"),
        model="gpt-image-1.5",
    )
    [request] = httpx_mock.get_requests()
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content) == {
        "prompt": "add a red scarf",
        "images": [{"image_url": "https://example.com/a.png"}, {"file_id": "file-abc"}],
        "mask": {"file_id": "file-mask"},
        "model": "gpt-image-1.5",
    }


async def test_edit_retry_resends_the_same_bytes(
    facade: Facade, httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    """After a 500 the retry re-reads the file from its start: both attempts carry the same body."""
    httpx_mock.add_response(method="POST", url=EDITS_URL, status_code=500, json={"error": {"message": "x"}})
    httpx_mock.add_response(method="POST", url=EDITS_URL, json=facade.images_body())
    image = picture(tmp_path / "big.png", size=(512, 512), mode="RGB", pad_to=3 * MB)
    await facade.edit(image=image, model="gpt-image-1")
    first, second = httpx_mock.get_requests()
    assert first.content == second.content
    assert parts(second)[-1][2] == image.read_bytes()
    assert facade.sleeps == [0.5]


async def test_edit_errors_are_the_error_tree(facade: Facade, httpx_mock: HTTPXMock) -> None:
    """A 500 after the retries is an InternalServerError, as for generate."""
    for _ in range(3):
        httpx_mock.add_response(
            method="POST", url=EDITS_URL, status_code=500, json={"error": {"message": "x"}}
        )
    with pytest.raises(InternalServerError):
        await facade.edit(image=FileID("file-1"), model="gpt-image-1.5")


async def test_edit_stream_yields_partial_then_completed(facade: Facade, httpx_mock: HTTPXMock) -> None:
    """edit_stream sends stream=true and reads `image_edit.*` events like a generation's."""
    events: list[tuple[str, dict[str, Any]]] = [
        ("image_edit.partial_image", {"b64_json": PNG_B64, "partial_image_index": 0}),
        (
            "image_edit.completed",
            {"b64_json": PNG_B64, "usage": USAGE},
        ),
    ]
    text = "".join(f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n" for kind, data in events)
    httpx_mock.add_response(
        method="POST", url=EDITS_URL, content=text.encode(), headers={"Content-Type": "text/event-stream"}
    )
    got = await facade.edit_stream(image=png_bytes(), model="gpt-image-1.5", partial_images=1)
    assert [type(event) for event in got] == [PartialImageEvent, CompletedImageEvent]
    assert isinstance(got[0], PartialImageEvent)
    assert got[0].index == 1
    assert fields_of(httpx_mock.get_requests()[0])["stream"] == "true"


async def test_create_variation_uploads_the_png(
    facade: Facade, httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    """A variation is one multipart POST to /images/variations with the image and the fields."""
    httpx_mock.add_response(method="POST", url=VARIATIONS_URL, json=facade.images_body())
    image = picture(tmp_path / "otter.png", mode="RGB")
    result = await facade.vary(image, n=2, size="256x256")
    [request] = httpx_mock.get_requests()
    assert parts(request) == [
        ("n", None, b"2"),
        ("size", None, b"256x256"),
        ("image", "otter.png", image.read_bytes()),
    ]
    assert len(result.images) == 1


# --- every input rule: accepted, and rejected with zero requests --------------------------------------------

Case = Callable[[Path], dict[str, Any]]

ACCEPTED: dict[str, Case] = {
    "an existing readable file": lambda d: {"image": picture(d / "a.png"), "model": "dall-e-2"},
    "dall-e-2: a PNG named .jpg (the bytes decide)": lambda d: {
        "image": picture(d / "a.jpg"),
        "model": "dall-e-2",
    },
    "dall-e-2: a square PNG just under 4 MB": lambda d: {
        "image": picture(d / "a.png", pad_to=4 * MB - 1),
        "model": "dall-e-2",
    },
    "dall-e-2: an RGB image with a mask": lambda d: {
        "image": picture(d / "a.png", mode="RGB"),
        "mask": picture(d / "m.png"),
        "model": "dall-e-2",
    },
    "gpt: a JPEG named .png": lambda d: {
        "image": picture(d / "a.png", mode="RGB", fmt="JPEG"),
        "model": "gpt-image-1.5",
    },
    "gpt: a WebP": lambda d: {"image": picture(d / "a.webp", fmt="WEBP"), "model": "gpt-image-1.5"},
    "gpt: a non-square image over 4 MB": lambda d: {
        "image": picture(d / "a.png", size=(64, 32), pad_to=5 * MB),
        "model": "gpt-image-1.5",
    },
    "gpt: 16 images": lambda d: {
        "image": [picture(d / f"{i}.png") for i in range(16)],
        "model": "gpt-image-2",
    },
    "mask: a PNG with alpha, the first image's size": lambda d: {
        "image": [picture(d / "a.png", size=(40, 30)), picture(d / "b.png")],
        "mask": picture(d / "m.png", size=(40, 30), mode="LA"),
        "model": "gpt-image-1.5",
    },
    "input_fidelity high on gpt-image-1.5": lambda d: {
        "image": picture(d / "a.png"),
        "model": "gpt-image-1.5",
        "input_fidelity": "high",
    },
    "input_fidelity low on gpt-image-1-mini": lambda d: {
        "image": picture(d / "a.png"),
        "model": "gpt-image-1-mini",
        "input_fidelity": "low",
    },
    "no model: gpt-image-1.5's rules (a JPEG)": lambda d: {
        "image": picture(d / "a.jpg", mode="RGB", fmt="JPEG")
    },
    "gpt fields on gpt": lambda d: {
        "image": picture(d / "a.png"),
        "model": "gpt-image-2",
        "background": "transparent",
        "output_format": "webp",
        "output_compression": 50,
        "quality": "high",
        "size": "1536x864",
        "n": 10,
    },
}

REJECTED: dict[str, tuple[Case, str, str]] = {
    "a missing file": (lambda d: {"image": d / "missing.png"}, "image", "does not exist"),
    "a directory": (lambda d: {"image": d}, "image", "is a directory"),
    "a missing mask": (
        lambda d: {"image": picture(d / "a.png"), "mask": d / "nope.png"},
        "mask",
        "does not exist",
    ),
    "dall-e-2: a JPEG named .png": (
        lambda d: {"image": picture(d / "a.png", mode="RGB", fmt="JPEG"), "model": "dall-e-2"},
        "image",
        "is a JPEG file; dall-e-2 accepts PNG",
    ),
    "gpt: a GIF": (
        lambda d: {"image": picture(d / "a.png", mode="P", fmt="GIF"), "model": "gpt-image-1.5"},
        "image",
        "is a GIF file; gpt-image-1.5 accepts PNG, WebP or JPEG",
    ),
    "bytes that are no image": (lambda d: {"image": b"placeholder"}, "image", "not an image in a format"),
    "dall-e-2: 4 MB": (
        lambda d: {"image": picture(d / "a.png", pad_to=4 * MB), "model": "dall-e-2"},
        "image",
        "less than 4 MB",
    ),
    "gpt: 50 MB": (
        lambda d: {"image": picture(d / "a.png", pad_to=50 * MB), "model": "gpt-image-1.5"},
        "image",
        "less than 50 MB",
    ),
    "dall-e-2: not square": (
        lambda d: {"image": picture(d / "a.png", size=(64, 32)), "model": "dall-e-2"},
        "image",
        "only square images",
    ),
    "dall-e-2: two images": (
        lambda d: {"image": [picture(d / "a.png"), picture(d / "b.png")], "model": "dall-e-2"},
        "image",
        "takes at most 1",
    ),
    "dall-e-2: no alpha and no mask": (
        lambda d: {"image": picture(d / "a.png", mode="RGB"), "model": "dall-e-2"},
        "image",
        "no alpha channel",
    ),
    "gpt: 17 images": (
        lambda d: {"image": [picture(d / f"{i}.png") for i in range(17)], "model": "gpt-image-2"},
        "image",
        "at most 16",
    ),
    "gpt: 17 references": (
        lambda d: {"image": [FileID(f"file-{i}") for i in range(17)], "model": "gpt-image-1.5"},
        "images",
        "at most 16",
    ),
    "mask: a JPEG": (
        lambda d: {"image": picture(d / "a.png"), "mask": picture(d / "m.png", mode="RGB", fmt="JPEG")},
        "mask",
        "must be a PNG",
    ),
    "mask: no alpha": (
        lambda d: {"image": picture(d / "a.png"), "mask": picture(d / "m.png", mode="RGB")},
        "mask",
        "no alpha channel",
    ),
    "mask: other dimensions than the first image": (
        lambda d: {"image": picture(d / "a.png"), "mask": picture(d / "m.png", size=(32, 32))},
        "mask",
        "dimensions of the first image",
    ),
    "mask: 4 MB": (
        lambda d: {"image": picture(d / "a.png"), "mask": picture(d / "m.png", pad_to=4 * MB)},
        "mask",
        "less than 4 MB",
    ),
    "dall-e-3 cannot edit": (
        lambda d: {"image": picture(d / "a.png"), "model": "dall-e-3"},
        "model",
        "cannot edit images",
    ),
    "dall-e-2 cannot edit by reference": (
        lambda d: {"image": FileID("file-1"), "model": "dall-e-2"},
        "model",
        "cannot edit images referenced",
    ),
    "input_fidelity on dall-e-2": (
        lambda d: {"image": picture(d / "a.png"), "model": "dall-e-2", "input_fidelity": "low"},
        "input_fidelity",
        "not accepted by dall-e-2",
    ),
    "input_fidelity high on gpt-image-1-mini": (
        lambda d: {"image": picture(d / "a.png"), "model": "gpt-image-1-mini", "input_fidelity": "high"},
        "input_fidelity",
        "allowed: low",
    ),
    "input_fidelity on gpt-image-2": (
        lambda d: {"image": picture(d / "a.png"), "model": "gpt-image-2", "input_fidelity": "low"},
        "input_fidelity",
        "not accepted by gpt-image-2",
    ),
    "background on dall-e-2": (
        lambda d: {"image": picture(d / "a.png"), "model": "dall-e-2", "background": "opaque"},
        "background",
        "not accepted by dall-e-2",
    ),
    "transparent background as JPEG": (
        lambda d: {"image": picture(d / "a.png"), "background": "transparent", "output_format": "jpeg"},
        "background",
        "only accepted with output_format png or webp",
    ),
    "size for dall-e-2": (
        lambda d: {"image": picture(d / "a.png"), "model": "dall-e-2", "size": "1536x1024"},
        "size",
        "allowed: 256x256, 512x512, 1024x1024",
    ),
    "n over 10": (lambda d: {"image": picture(d / "a.png"), "n": 11}, "n", "from 1 to 10"),
    "quality hd on gpt": (
        lambda d: {"image": picture(d / "a.png"), "quality": "hd"},
        "quality",
        "allowed: low, medium, high, auto",
    ),
    "stream=True on edit()": (
        lambda d: {"image": picture(d / "a.png"), "stream": True},
        "stream",
        "edit_stream",
    ),
}


@pytest.mark.parametrize("case", list(ACCEPTED), ids=list(ACCEPTED))
async def test_edit_accepts(case: str, facade: Facade, httpx_mock: HTTPXMock, tmp_path: Path) -> None:
    """Inputs within the documented rules are sent, each file's bytes in full."""
    httpx_mock.add_response(method="POST", url=EDITS_URL, json=facade.images_body())
    fields = ACCEPTED[case](tmp_path)
    await facade.edit(**fields)
    [request] = httpx_mock.get_requests()
    images = fields["image"] if isinstance(fields["image"], list) else [fields["image"]]
    sent = [data for name, filename, data in parts(request) if name.startswith("image")]
    assert sent == [path.read_bytes() for path in images]


@pytest.mark.parametrize("case", list(REJECTED), ids=list(REJECTED))
async def test_edit_rejects_before_any_request(
    case: str, facade: Facade, httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    """An input or value the API would refuse raises InvalidParameterError naming it; nothing is sent."""
    build, param, message = REJECTED[case]
    with pytest.raises(InvalidParameterError, match=message) as caught:
        await facade.edit(**build(tmp_path))
    assert caught.value.param == param
    assert httpx_mock.get_requests() == []


VARIATION_REJECTED: dict[str, tuple[Case, str, str]] = {
    "gpt models make no variations": (
        lambda d: {"image": picture(d / "a.png"), "model": "gpt-image-1.5"},
        "model",
        "cannot make variations; allowed: dall-e-2",
    ),
    "not square": (lambda d: {"image": picture(d / "a.png", size=(64, 32))}, "image", "only square"),
    "a JPEG": (lambda d: {"image": picture(d / "a.png", mode="RGB", fmt="JPEG")}, "image", "accepts PNG"),
    "4 MB": (lambda d: {"image": picture(d / "a.png", pad_to=4 * MB)}, "image", "less than 4 MB"),
    "a reference": (lambda d: {"image": FileID("file-1")}, "image", "not a URL or file id"),
    "size 1536x1024": (lambda d: {"image": picture(d / "a.png"), "size": "1536x1024"}, "size", "256x256"),
}


@pytest.mark.parametrize("case", list(VARIATION_REJECTED), ids=list(VARIATION_REJECTED))
async def test_create_variation_rejects_before_any_request(
    case: str, facade: Facade, httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    """Variations take one square PNG under 4 MB, dall-e-2 only; anything else is refused unsent."""
    build, param, message = VARIATION_REJECTED[case]
    fields = build(tmp_path)
    with pytest.raises(InvalidParameterError, match=message) as caught:
        await facade.vary(fields.pop("image"), **fields)
    assert caught.value.param == param
    assert httpx_mock.get_requests() == []


async def test_edit_without_validation_sends_placeholder_bytes(facade: Facade, httpx_mock: HTTPXMock) -> None:
    """validate=False sends what it is given (the file must still be readable)."""
    httpx_mock.add_response(method="POST", url=EDITS_URL, json=facade.images_body())
    await facade.edit(image=b"placeholder", model="dall-e-2", client=facade.client(validate=False))
    assert parts(httpx_mock.get_requests()[0])[-1] == ("image", "image", b"placeholder")


def test_edit_messages_do_not_leak_the_key(tmp_path: Path) -> None:
    """The key never appears in an input error."""
    from oai_images import ImagesClient

    with (
        ImagesClient(api_key="sk-secret-abc", base_url=API_BASE) as client,
        pytest.raises(InvalidParameterError) as caught,
    ):
        client.edit("p", image=tmp_path / "missing.png")
    assert "sk-secret-abc" not in str(caught.value)
    assert base64.b64encode(b"sk-secret-abc").decode() not in repr(caught.value)
