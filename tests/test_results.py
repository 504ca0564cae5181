"""Results: reading images (decoded or downloaded), saving them safely, showing them."""

from __future__ import annotations

import base64
import os
import time
from pathlib import Path

import httpx
import pytest
from pytest_httpx import HTTPXMock

from oai_images import (
    APIStatusError,
    GeneratedImage,
    InternalServerError,
    NotFoundError,
    OAIImagesError,
    PermissionDeniedError,
)
from oai_images._files import image_extension, open_in_default_viewer, write_image
from tests.conftest import Facade

IMAGE_URL = "https://files.test/img-abc.png?sig=signed"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00rest"
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 rest"
GIF = b"GIF89a\x01\x00\x01\x00rest"
SVG = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"></svg>'


def b64_image(data: bytes) -> GeneratedImage:
    """An image that came as base64."""
    return GeneratedImage(b64_json=base64.b64encode(data).decode())


async def url_image(facade: Facade, httpx_mock: HTTPXMock) -> GeneratedImage:
    """An image that came as a URL from a real generate call of the facade's client kind."""
    httpx_mock.add_response(url=facade.url, json={"created": 1, "data": [{"url": IMAGE_URL}]})
    result = await facade.generate("a fox", model="dall-e-3", response_format="url")
    return result.images[0]


async def test_read_decodes_base64(facade: Facade) -> None:
    """A base64 image reads as its bytes with either client kind, without any request."""
    assert await facade.read(b64_image(facade.png)) == facade.png


async def test_read_downloads_url_once_without_api_headers(facade: Facade, httpx_mock: HTTPXMock) -> None:
    """A URL image downloads through the client without the key or account headers, and is kept."""
    client = facade.client(organization="org-1", project="proj-1")
    httpx_mock.add_response(url=facade.url, json={"created": 1, "data": [{"url": IMAGE_URL}]})
    httpx_mock.add_response(method="GET", url=IMAGE_URL, content=facade.png)
    image = (await facade.generate("a fox", client=client)).images[0]
    assert await facade.read(image) == facade.png
    assert await facade.read(image) == facade.png
    await facade.close(client)
    download = httpx_mock.get_requests()[1]
    assert download.method == "GET"
    for name in ("Authorization", "OpenAI-Organization", "OpenAI-Project"):
        assert name not in download.headers
    assert download.headers["User-Agent"].startswith("oai-images/")
    assert len(httpx_mock.get_requests()) == 2


async def test_download_strips_auth_of_an_injected_client(facade: Facade) -> None:
    """An injected client's default Authorization header never reaches an image URL."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "POST":
            return httpx.Response(200, json={"created": 1, "data": [{"url": IMAGE_URL}]})
        return httpx.Response(200, content=Facade.png)

    transport = httpx.MockTransport(handler)
    default_auth = {"Authorization": "Bearer sk-default"}
    if facade.kind == "sync":
        http: httpx.Client | httpx.AsyncClient = httpx.Client(transport=transport, headers=default_auth)
    else:
        http = httpx.AsyncClient(transport=transport, headers=default_auth)
    client = facade.client(http_client=http)
    image = (await facade.generate("a fox", client=client)).images[0]
    await facade.read(image)
    await facade.close(client)
    assert "Authorization" not in seen[1].headers
    assert str(seen[1].url) == IMAGE_URL


async def test_url_image_reads_after_client_is_closed(facade: Facade, httpx_mock: HTTPXMock) -> None:
    """An image read after its client's with block still downloads, over a short-lived connection."""
    image = await url_image(facade, httpx_mock)
    httpx_mock.add_response(method="GET", url=IMAGE_URL, content=facade.png)
    assert await facade.read(image) == facade.png


@pytest.mark.parametrize(
    ("status", "error_class"), [(403, PermissionDeniedError), (404, NotFoundError), (410, APIStatusError)]
)
async def test_expired_url_raises_a_clear_error(
    facade: Facade, httpx_mock: HTTPXMock, status: int, error_class: type[APIStatusError]
) -> None:
    """403, 404 or 410 from an image URL says it expired (URLs live 60 minutes), without retrying."""
    image = await url_image(facade, httpx_mock)
    httpx_mock.add_response(
        method="GET", url=IMAGE_URL, status_code=status, text="<Error>AccessDenied</Error>"
    )
    with pytest.raises(error_class) as caught:
        await facade.read(image)
    assert type(caught.value) is error_class
    assert "expired" in caught.value.message
    assert "60 minutes" in caught.value.message
    assert facade.sleeps == []


async def test_download_is_retried_on_server_error(facade: Facade, httpx_mock: HTTPXMock) -> None:
    """An image download follows the retry policy: a 503 is retried, then the bytes come."""
    image = await url_image(facade, httpx_mock)
    httpx_mock.add_response(method="GET", url=IMAGE_URL, status_code=503)
    httpx_mock.add_response(method="GET", url=IMAGE_URL, content=facade.png)
    assert await facade.read(image) == facade.png
    assert facade.sleeps == [0.5]


async def test_download_failure_after_retries_raises(facade: Facade, httpx_mock: HTTPXMock) -> None:
    """A download that keeps failing with 500 raises InternalServerError, not an httpx error."""
    image = await url_image(facade, httpx_mock)
    httpx_mock.add_response(method="GET", url=IMAGE_URL, status_code=500, is_reusable=True)
    with pytest.raises(InternalServerError, match="could not download"):
        await facade.read(image)


def test_read_of_async_url_image_points_to_aread() -> None:
    """A URL image from the async client read synchronously says to await aread (and the reverse)."""

    async def adownload(url: str) -> bytes:
        return b""

    with pytest.raises(OAIImagesError, match="aread"):
        GeneratedImage(url=IMAGE_URL, adownload=adownload).read()


def test_read_of_corrupt_base64_raises() -> None:
    """Invalid base64 raises OAIImagesError rather than binascii.Error."""
    with pytest.raises(OAIImagesError, match="corrupt"):
        GeneratedImage(b64_json="***").read()


@pytest.mark.parametrize(
    ("data", "extension"),
    [(Facade.png, ".png"), (JPEG, ".jpg"), (WEBP, ".webp"), (GIF, ".gif"), (SVG, ".svg"),
     (b"<svg></svg>", ".svg"), (b"\x00\x01", ".bin")],
)  # fmt: skip
def test_image_extension_comes_from_the_magic_number(data: bytes, extension: str) -> None:
    """The extension is read from the bytes, not trusted from the request."""
    assert image_extension(data) == extension


@pytest.mark.parametrize(("data", "extension"), [(Facade.png, ".png"), (JPEG, ".jpg"), (WEBP, ".webp")])
async def test_save_into_folder_generates_a_name_with_the_right_extension(
    facade: Facade, tmp_path: Path, data: bytes, extension: str
) -> None:
    """Saving into a folder writes one file with a generated safe name and the bytes' extension."""
    image = b64_image(data)
    path = await facade.save(image, tmp_path)
    assert path.parent == tmp_path
    assert path.suffix == extension
    assert path.name.endswith(f"-image-1{extension}")  # the CLI's scheme: <time>-<slug>-<index>
    assert path.read_bytes() == data
    assert image.path == path
    assert os.listdir(tmp_path) == [path.name]


async def test_save_twice_into_a_folder_gives_two_files(facade: Facade, tmp_path: Path) -> None:
    """Generated names are unique: saving twice never overwrites."""
    image = b64_image(facade.png)
    first = await facade.save(image, tmp_path)
    second = await facade.save(image, tmp_path)
    assert first != second
    assert sorted(os.listdir(tmp_path)) == sorted([first.name, second.name])


async def test_save_creates_a_missing_folder_given_with_a_slash(facade: Facade, tmp_path: Path) -> None:
    """A path ending in a separator is a folder, created if missing."""
    path = await facade.save(b64_image(facade.png), f"{tmp_path}/out/")
    assert path.parent == tmp_path / "out"


async def test_save_to_file_without_suffix_adds_the_extension(facade: Facade, tmp_path: Path) -> None:
    """A file name with no extension gets the one the bytes call for; one with an extension is kept."""
    assert await facade.save(b64_image(JPEG), tmp_path / "photo") == tmp_path / "photo.jpg"
    assert await facade.save(b64_image(JPEG), tmp_path / "photo.jpeg") == tmp_path / "photo.jpeg"


async def test_save_never_overwrites_silently(facade: Facade, tmp_path: Path) -> None:
    """An existing file raises FileExistsError and keeps its content; overwrite=True replaces it."""
    target = tmp_path / "out.png"
    target.write_bytes(b"old")
    image = b64_image(facade.png)
    with pytest.raises(FileExistsError):
        await facade.save(image, target)
    assert target.read_bytes() == b"old"
    assert await facade.save(image, target, overwrite=True) == target
    assert target.read_bytes() == facade.png
    assert os.listdir(tmp_path) == ["out.png"]


async def test_failed_save_leaves_no_file_and_keeps_the_bytes(
    facade: Facade, httpx_mock: HTTPXMock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed write leaves no file or temporary, and the bytes read again without a new download."""
    image = await url_image(facade, httpx_mock)
    httpx_mock.add_response(method="GET", url=IMAGE_URL, content=facade.png)

    def broken_fsync(descriptor: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("oai_images._files.os.fsync", broken_fsync)
    with pytest.raises(OSError, match="No space"):
        await facade.save(image, tmp_path / "out.png")
    assert os.listdir(tmp_path) == []
    monkeypatch.undo()
    assert await facade.read(image) == facade.png
    assert (await facade.save(image, tmp_path / "out.png")).read_bytes() == facade.png
    assert len(httpx_mock.get_requests()) == 2  # the generation and one download


async def test_save_into_a_file_used_as_folder_raises_and_keeps_the_bytes(
    facade: Facade, tmp_path: Path
) -> None:
    """A destination under a regular file fails with OSError; the bytes stay readable."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_bytes(b"")
    image = b64_image(facade.png)
    with pytest.raises(OSError):  # noqa: PT011 - the OS picks the subclass (NotADirectory, FileExists)
        await facade.save(image, blocker / "out.png")
    assert await facade.read(image) == facade.png


def test_write_image_without_hard_links_still_refuses_to_overwrite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a file system without hard links the no-overwrite check still holds."""

    def no_links(source: object, target: object) -> None:
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr("oai_images._files.os.link", no_links)
    path = write_image(Facade.png, tmp_path / "a.png")
    assert path.read_bytes() == Facade.png
    with pytest.raises(FileExistsError):
        write_image(Facade.png, tmp_path / "a.png")
    assert os.listdir(tmp_path) == ["a.png"]


async def test_show_saves_to_a_temporary_file_and_opens_it(facade: Facade) -> None:
    """Showing an unsaved image writes it to a temporary folder and passes that path to the opener."""
    opened: list[Path] = []
    path = await facade.show(b64_image(facade.png), opener=opened.append)
    assert opened == [path]
    assert path.suffix == ".png"
    assert path.read_bytes() == facade.png
    path.unlink()
    path.parent.rmdir()


async def test_show_opens_the_saved_file(facade: Facade, tmp_path: Path) -> None:
    """Showing after a save opens the saved file instead of writing another."""
    image = b64_image(facade.png)
    saved = await facade.save(image, tmp_path)
    opened: list[Path] = []
    assert await facade.show(image, opener=opened.append) == saved
    assert opened == [saved]


def test_default_viewer_without_display_says_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """On Linux with no DISPLAY or WAYLAND_DISPLAY, showing raises a clear error naming the saved file."""
    monkeypatch.setattr("oai_images._files.sys.platform", "linux")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(OAIImagesError, match="no display") as caught:
        open_in_default_viewer(tmp_path / "a.png")
    assert "a.png" in str(caught.value)


def _fake_opener(folder: Path) -> Path:
    """An ``xdg-open`` that records its argument in ``folder/opened``; returns its folder."""
    script = folder / "xdg-open"
    script.write_text(f'#!/bin/sh\nprintf "%s" "$1" > {folder / "opened"}\n')
    script.chmod(0o755)
    return folder


# click.launch leaves the opener running on its own (as it should: the viewer outlives the call), and Python
# warns when it collects that Popen object.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_default_viewer_opens_the_absolute_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """With a display, the platform opener (click.launch: xdg-open) gets the file's absolute path, also for
    a path saved relative to the working folder."""  # noqa: D205, D209
    bin_dir = _fake_opener(tmp_path)
    monkeypatch.setattr("oai_images._files.sys.platform", "linux")
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    open_in_default_viewer(Path("out/a.png"))
    deadline = time.monotonic() + 10
    while not (bin_dir / "opened").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert (bin_dir / "opened").read_text() == str(tmp_path / "out" / "a.png")


def test_show_without_a_viewer_says_so_and_leaves_no_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A display but no viewer at all: a clear error, and the temporary copy of an unsaved image is gone."""
    import tempfile

    from oai_images import GeneratedImage

    monkeypatch.setattr("oai_images._files.sys.platform", "linux")
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setenv("PATH", str(tmp_path))  # no xdg-open anywhere
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    image = GeneratedImage(b64_json=base64.b64encode(b"\x89PNG\r\n\x1a\n").decode())
    with pytest.raises(OAIImagesError, match="no viewer"):
        image.show()
    assert [path for path in tmp_path.iterdir() if path.name.startswith("oai-images-")] == []


def test_image_repr_is_short() -> None:
    """The repr names the source without dumping megabytes of base64."""
    text = repr(b64_image(b"x" * 10_000))
    assert len(text) < 100
    assert "b64_json=<" in text


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("out.jpg", b"\x89PNG\r\n\x1a\nrest", "out.png"),
        ("out.JPEG", JPEG, "out.JPEG"),
        ("out.png", GIF, "out.gif"),
        ("c.", JPEG, "c.jpg"),
        ("2026.11.25-fox", WEBP, "2026.11.25-fox.webp"),
        ("vector.png", SVG, "vector.svg"),
        ("trailing.png ", b"\x89PNG\r\n\x1a\nrest", "trailing.png"),
        ("mystery.png", b"not an image format we know", "mystery.png"),
    ],
)
def test_save_names_the_file_after_its_bytes(tmp_path: Path, name: str, data: bytes, expected: str) -> None:
    """The extension always says what the bytes are: a wrong image extension is replaced, others kept."""
    assert b64_image(data).save(tmp_path / name) == tmp_path / expected
    assert os.listdir(tmp_path) == [expected]


def test_save_expands_the_home_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`~/` means the home folder, not a folder named `~` in the working directory."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    path = b64_image(JPEG).save("~/pictures/")
    assert path.parent == tmp_path / "home" / "pictures"
    assert not (tmp_path / "~").exists()


def test_interrupt_while_writing_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C in the middle of a save (here: during fsync) leaves neither the file nor a temporary."""

    def interrupted(descriptor: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("oai_images._files.os.fsync", interrupted)
    image = b64_image(JPEG)
    with pytest.raises(KeyboardInterrupt):
        image.save(tmp_path / "out.jpg")
    assert os.listdir(tmp_path) == []
    monkeypatch.undo()
    assert image.read() == JPEG


def test_the_generated_response_model_is_built_from_the_payload_when_read() -> None:
    """``result.response`` is the generated model of the whole answer, built on first read (and kept);
    an accounting object off the documented shape is dropped from it, never the images."""  # noqa: D205, D209
    from oai_images_api.models import ImagesResponse

    from oai_images import ImageResult

    payload = {
        "created": 7,
        "data": [{"b64_json": "aGk=", "revised_prompt": "r"}],
        "usage": {"input_tokens": "not a count"},
        "extra": 1,
    }
    result = ImageResult.from_response(payload)
    assert result.usage is None  # not the documented shape
    assert [image.revised_prompt for image in result.images] == ["r"]
    response = result.response
    assert isinstance(response, ImagesResponse)
    assert response is result.response  # built once
    assert response.created == 7
    assert response["extra"] == 1
    assert isinstance(response.data, list)
    assert response.data[0].b64_json == "aGk="
    assert ImageResult(created=0, images=[]).response is None


def test_a_result_from_an_answer_sets_every_field_as_the_constructor_would() -> None:
    """`ImageResult.from_response` fills the frozen dataclass at once: every field is set (a field added
    later and forgotten there fails here), equal to the same values given to the constructor, and the
    result stays frozen."""  # noqa: D205, D209
    import dataclasses

    from oai_images import ImageResult

    payload = {"created": 7, "data": [{"url": "https://x/1.png"}], "size": "1024x1024", "quality": "high"}
    result = ImageResult.from_response(payload, request_id="req_1", model="gpt-image-2", attempts=2)
    names = {field.name for field in dataclasses.fields(ImageResult)}
    assert names - {"cost"} <= set(vars(result))  # cost: priced when read (`_PricedWhenRead`)
    values = {name: getattr(result, name) for name in names}
    assert ImageResult(**values) == result
    assert (result.created, result.size, result.quality, result.attempts) == (7, "1024x1024", "high", 2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.size = "256x256"  # type: ignore[misc]


def test_a_results_cost_is_a_field_priced_once_when_first_read() -> None:
    """``cost`` is a field (constructor, repr, asdict, replace) and, for a result made from an answer, is
    priced when first read: once, however often it is read, and the price callback is then let go."""  # noqa: D205, D209
    import dataclasses

    from oai_images import ImageResult
    from oai_images.pricing import Cost

    calls: list[tuple[object, int]] = []

    def price(usage: object, images: int) -> Cost:
        calls.append((usage, images))
        return Cost(usd=0.02 * images, exact=True)

    payload = {"created": 7, "data": [{"b64_json": "aGk="}, {"b64_json": "aGk="}]}
    result = ImageResult.from_response(payload, price=price)
    assert calls == []
    assert result.cost.usd == 0.04
    assert result.cost.usd == 0.04
    assert calls == [(None, 2)]
    assert "_price" not in vars(result)
    assert "cost=Cost(" in repr(result)
    assert dataclasses.asdict(result)["cost"]["usd"] == 0.04
    assert dataclasses.replace(result, created=8).cost == result.cost
    given = Cost(usd=1.5, exact=False)
    assert ImageResult(created=0, images=[], cost=given).cost is given
    assert ImageResult(created=0, images=[]).cost.usd is None


def test_an_edit_result_holds_no_upload(httpx_mock: HTTPXMock) -> None:
    """An edit's result is priced at once and lets its price callback go: it keeps no reference to the
    request's fields, whose uploads may be large; a generation's is kept until its cost is read."""  # noqa: D205, D209
    from oai_images import ImagesClient
    from tests.conftest import API_BASE, API_KEY, PNG, PNG_B64

    body = {"created": 1, "data": [{"b64_json": PNG_B64}]}
    httpx_mock.add_response(method="POST", url=f"{API_BASE}/images/edits", json=body)
    httpx_mock.add_response(method="POST", url=f"{API_BASE}/images/generations", json=body)
    with ImagesClient(api_key=API_KEY, base_url=API_BASE) as client:
        edited = client.edit("add a hat", image=PNG, model="gpt-image-1")
        generated = client.generate("a hat", model="gpt-image-1")
    assert "_price" not in vars(edited)
    assert "_price" in vars(generated)
    assert generated.cost.model == "gpt-image-1"
    assert "_price" not in vars(generated)
