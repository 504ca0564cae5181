"""Input images: the header reader (checked against Pillow), reading uploads, and the multipart body."""

from __future__ import annotations

import io
import os
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from oai_images import FileID, ImageURL, InvalidParameterError, OAIImagesError
from oai_images._uploads import MultipartBody, edit_fields, multipart_request, probe, read_upload
from oai_images.rules import ImageInfo
from tests.conftest import multipart_parts


def image_bytes(
    size: tuple[int, int] = (64, 64), mode: str = "RGBA", fmt: str = "PNG", **options: object
) -> bytes:
    """A real image of the given size, mode and format."""
    buffer = io.BytesIO()
    Image.new(mode, size, 128 if mode in ("L", "P") else None).save(buffer, fmt, **options)
    return buffer.getvalue()


def info_of(data: bytes) -> ImageInfo:
    return probe(io.BytesIO(data), len(data), "x")


# --- probe --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "alpha"), [("RGBA", True), ("RGB", False), ("LA", True), ("L", False), ("P", False)]
)
def test_probe_png_reads_size_and_alpha_from_ihdr(mode: str, alpha: bool) -> None:
    """A PNG's width, height and alpha channel come from its IHDR colour type."""
    info = info_of(image_bytes((40, 30), mode))
    assert (info.format, info.width, info.height, info.has_alpha) == ("png", 40, 30, alpha)


def test_probe_png_palette_with_trns_has_alpha() -> None:
    """A palette PNG with a tRNS chunk (before IDAT) is transparent."""
    data = image_bytes((8, 8), "P", transparency=0)
    assert b"tRNS" in data
    assert info_of(data).has_alpha


def test_probe_jpeg_finds_the_frame_after_exif() -> None:
    """The JPEG reader walks past APPn segments (a 60 KB EXIF here) to the start of frame."""
    exif = Image.Exif()
    exif[0x010E] = "x" * 60000  # ImageDescription: a long APP1 segment before the frame
    data = image_bytes((123, 45), "RGB", "JPEG", exif=exif.tobytes())
    info = info_of(data)
    assert (info.format, info.width, info.height, info.has_alpha) == ("jpeg", 123, 45, False)


def test_probe_progressive_jpeg() -> None:
    """A progressive JPEG (SOF2) is read too."""
    info = info_of(image_bytes((50, 70), "RGB", "JPEG", progressive=True))
    assert (info.format, info.width, info.height) == ("jpeg", 50, 70)


@pytest.mark.parametrize(
    ("mode", "options", "alpha"),
    [
        ("RGB", {"lossless": False}, False),
        ("RGBA", {"lossless": True}, True),
        ("RGBA", {"lossless": False}, True),
    ],
)
def test_probe_webp_variants(mode: str, options: dict[str, object], alpha: bool) -> None:
    """Lossy (VP8), lossless (VP8L) and extended (VP8X) WebP headers give size and alpha."""
    info = info_of(image_bytes((33, 17), mode, "WEBP", **options))
    assert (info.format, info.width, info.height, info.has_alpha) == ("webp", 33, 17, alpha)


def test_probe_gif() -> None:
    """A GIF is recognised (so messages can name it) with its size."""
    info = info_of(image_bytes((9, 7), "P", "GIF"))
    assert (info.format, info.width, info.height) == ("gif", 9, 7)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not an image at all",
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 4,  # a signature with its IHDR cut off
        b"\xff\xd8\xff\xe0\x00\x10JFIF",  # a JPEG cut before any frame
        b"RIFF\x00\x00\x00\x00WEBPVP8 ",  # a WebP cut in its header
    ],
)
def test_probe_unknown_or_truncated_is_no_format(data: bytes) -> None:
    """Bytes that are no image, or a header cut short, have format '' (never an exception)."""
    assert info_of(data).format == ""


def test_probe_reads_only_the_header(tmp_path: Path) -> None:
    """Probing a large PNG reads a few hundred bytes, not the file."""
    data = image_bytes((1024, 1024), "RGB") + b"\x00" * 5_000_000

    class Counting(io.BytesIO):
        read_total = 0

        def read(self, size: int | None = -1) -> bytes:
            chunk = super().read(size)
            Counting.read_total += len(chunk)
            return chunk

    probe(Counting(data), len(data))
    assert Counting.read_total < 1024


@settings(max_examples=40, deadline=None)
@given(
    width=st.integers(1, 300),
    height=st.integers(1, 300),
    mode=st.sampled_from(["RGB", "RGBA", "L", "LA"]),
    fmt=st.sampled_from(["PNG", "JPEG", "WEBP"]),
)
def test_probe_agrees_with_pillow(width: int, height: int, mode: str, fmt: str) -> None:
    """For any size and mode, the header reader says what Pillow says."""
    if fmt == "JPEG" and "A" in mode:
        mode = mode.replace("A", "")
    data = image_bytes((width, height), mode, fmt)
    info = info_of(data)
    decoded = Image.open(io.BytesIO(data))
    assert (info.width, info.height) == decoded.size
    assert info.format == decoded.format.lower()  # type: ignore[union-attr]  # always set for an opened file
    assert info.byte_size == len(data)


# --- reading uploads ----------------------------------------------------------------------------------------


def test_read_upload_path_bytes_and_file_object(tmp_path: Path) -> None:
    """A path, bytes and a binary file all give the same info; the file keeps its real name."""
    data = image_bytes((20, 20))
    path = tmp_path / "cat.png"
    path.write_bytes(data)
    with path.open("rb") as stream:
        uploads = [read_upload(path, "image"), read_upload(data, "image"), read_upload(stream, "image")]
        assert [u.info.width for u in uploads] == [20, 20, 20]
        assert [u.filename for u in uploads] == ["cat.png", "image.png", "cat.png"]
        assert all(b"".join(u.chunks()) == data for u in uploads)


def test_read_upload_missing_file_names_it_and_hints_at_references() -> None:
    """A missing path is an InvalidParameterError naming it; a URL-looking one suggests ImageURL."""
    with pytest.raises(InvalidParameterError, match=r"'nope\.png' does not exist") as caught:
        read_upload("nope.png", "mask")
    assert caught.value.param == "mask"
    with pytest.raises(InvalidParameterError, match=r"ImageURL\('https://x.test/a.png'\)"):
        read_upload("https://x.test/a.png", "image")
    with pytest.raises(InvalidParameterError, match=r"FileID\('file-abc'\)"):
        read_upload("file-abc", "image")


def test_read_upload_directory_and_unreadable(tmp_path: Path) -> None:
    """A directory, a FIFO, a path through a file, or a file without read permission is refused."""
    with pytest.raises(InvalidParameterError, match="is a directory"):
        read_upload(tmp_path, "image")
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    with pytest.raises(InvalidParameterError, match="is not a regular file"):
        read_upload(fifo, "image")  # refused at once: opening a FIFO would wait for a writer
    (tmp_path / "file.png").write_bytes(b"x")
    with pytest.raises(InvalidParameterError, match="cannot be read: Not a directory"):
        read_upload(tmp_path / "file.png" / "inner.png", "image")
    locked = tmp_path / "locked.png"
    locked.write_bytes(image_bytes())
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):  # running as root: permissions do not apply
            pytest.skip("file permissions are not enforced for this user")
        with pytest.raises(InvalidParameterError, match="cannot be read"):
            read_upload(locked, "image")
    finally:
        locked.chmod(0o600)


def test_read_upload_refuses_text_mode_and_other_values(tmp_path: Path) -> None:
    """A text-mode file or a value that is no input is refused before anything is read."""
    path = tmp_path / "a.png"
    path.write_bytes(image_bytes())
    with path.open() as text, pytest.raises(InvalidParameterError, match="text mode"):
        read_upload(text, "image")
    with pytest.raises(InvalidParameterError, match="not an image"):
        read_upload(42, "image")


def test_upload_chunks_start_over_on_each_attempt(tmp_path: Path) -> None:
    """Each iteration re-reads the file from its start (and a file object from where it was given)."""
    data = image_bytes((300, 300), "RGB")
    path = tmp_path / "a.png"
    path.write_bytes(data)
    upload = read_upload(path, "image")
    assert b"".join(upload.chunks()) == data
    assert b"".join(upload.chunks()) == data
    stream = io.BytesIO(b"prefix" + data)
    stream.seek(6)
    from_file = read_upload(stream, "image")
    stream.seek(0, io.SEEK_END)
    assert b"".join(from_file.chunks()) == data


def test_upload_that_changed_size_fails_instead_of_sending_a_cut_file(tmp_path: Path) -> None:
    """A file that grew or shrank after the check raises an OAIImagesError, never a corrupt upload."""
    path = tmp_path / "a.png"
    path.write_bytes(image_bytes())
    upload = read_upload(path, "image")
    path.write_bytes(image_bytes()[:10])
    with pytest.raises(OAIImagesError, match="changed while"):
        b"".join(upload.chunks())


# --- the fields of an edit ----------------------------------------------------------------------------------


def test_edit_fields_references_make_a_json_edit() -> None:
    """ImageURL and FileID inputs give the JSON operation with `images` references."""
    name, fields = edit_fields(
        "p", [ImageURL("https://x.test/a.png"), FileID("file-1")], FileID("file-m"), {"n": 2, "size": None}
    )
    assert name == "CREATE_IMAGE_EDIT_JSON"
    assert fields == {
        "prompt": "p",
        "images": [{"image_url": "https://x.test/a.png"}, {"file_id": "file-1"}],
        "mask": {"file_id": "file-m"},
        "n": 2,
    }


def test_edit_fields_refuses_mixed_forms() -> None:
    """Uploads and references cannot be mixed in one edit."""
    with pytest.raises(InvalidParameterError, match="all be uploads"):
        edit_fields("p", [image_bytes(), FileID("file-1")], None, {})
    with pytest.raises(InvalidParameterError, match="mask must be an ImageURL or FileID"):
        edit_fields("p", FileID("file-1"), image_bytes(), {})


@pytest.mark.parametrize("url", ["ftp://x/a.png", "a.png", ""])
def test_image_url_refuses_other_schemes(url: str) -> None:
    """ImageURL takes http(s) and data URLs only."""
    with pytest.raises(InvalidParameterError):
        ImageURL(url)


@pytest.mark.parametrize("file_id", ["", "file 1", " "])
def test_file_id_refuses_blank_or_spaced(file_id: str) -> None:
    """FileID is one word."""
    with pytest.raises(InvalidParameterError):
        FileID(file_id)


# --- the multipart body -------------------------------------------------------------------------------------


def test_multipart_body_is_well_formed_with_a_true_length(tmp_path: Path) -> None:
    """Text fields, one `image[]` part per image and the mask parse back; Content-Length is exact."""
    first, second = image_bytes((10, 10)), image_bytes((12, 12), "RGB", "JPEG")
    (tmp_path / "a.png").write_bytes(first)
    (tmp_path / 'b"q.jpg').write_bytes(second)
    fields = {
        "prompt": "add a scarf",
        "image": [read_upload(tmp_path / "a.png", "image"), read_upload(tmp_path / 'b"q.jpg', "image")],
        "mask": read_upload(first, "mask"),
        "n": 2,
        "stream": True,
    }
    request = multipart_request(httpx.Request("POST", "https://x.test/v1/images/edits"), fields)
    body = b"".join(request.stream)  # type: ignore[arg-type]  # a sync stream
    assert int(request.headers["Content-Length"]) == len(body)
    parts = multipart_parts(request.headers["Content-Type"], body)
    assert parts == [
        ("prompt", None, b"add a scarf"),
        ("n", None, b"2"),
        ("stream", None, b"true"),
        ("image[]", "a.png", first),
        ("image[]", "b%22q.jpg", second),
        ("mask", "mask.png", first),
    ]


async def test_multipart_body_async_iteration_matches_sync() -> None:
    """The async client gets the same bytes."""
    body = MultipartBody({"prompt": "p", "image": read_upload(image_bytes(), "image")})
    chunks = [chunk async for chunk in body]
    assert b"".join(chunks) == b"".join(body)


def test_upload_deleted_or_closed_after_the_check_is_an_sdk_error(tmp_path: Path) -> None:
    """A file deleted, or a file object closed, before the upload raises OAIImagesError, not OSError."""
    path = tmp_path / "a.png"
    path.write_bytes(image_bytes())
    upload = read_upload(path, "image")
    path.unlink()
    with pytest.raises(OAIImagesError, match="could not be read while"):
        b"".join(upload.chunks())
    stream = io.BytesIO(image_bytes())
    from_file = read_upload(stream, "image")
    stream.close()
    with pytest.raises(OAIImagesError, match="could not be read while"):
        b"".join(from_file.chunks())
