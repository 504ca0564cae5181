"""Input images of edits and variations: read, checked and streamed from disk.

Each input (a path, bytes or a binary file object) is opened once when the method is called, to learn what
the rules need (`ImageInfo`: the real format from the magic numbers, the dimensions, whether there is
an alpha channel) from the first bytes alone: a 50 MB photo is never read into memory to be checked, and
Pillow is not needed. The bytes are read again, from the start, on every attempt by `MultipartBody`, the
request's stream: a retry re-sends the same bytes, and nothing larger than a chunk is held in memory.

The checks of those inputs against a model's `rules.InputRules` live here too (`check_inputs`), beside the
probe that reads them: validation calls them for each uploaded field.

References for the JSON form of edits are `ImageURL` and `FileID`, never plain strings: a string is always a
path, so ``"file-1.png"`` or ``"https.png"`` in the working directory can never be sent as something else.
"""

from __future__ import annotations

import io
import os
import secrets
import struct
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Final, TypeAlias

import httpx

from ._errors import InvalidParameterError, OAIImagesError

if TYPE_CHECKING:
    from .rules import InputRules

__all__ = [
    "FileID",
    "ImageInfo",
    "ImageInput",
    "ImageURL",
    "MultipartBody",
    "Upload",
    "check_inputs",
    "edit_fields",
    "multipart_request",
    "probe",
    "read_upload",
    "variation_fields",
]


@dataclass(frozen=True, slots=True)
class ImageURL:
    """An input image of an edit given by URL (``https://…``, or a ``data:image/…;base64,…`` URL).

    The API downloads it; edits given references are sent as JSON and are for the GPT image models.

    Raises:
        InvalidParameterError: The URL is not http(s) or a data URL, or is longer than the API takes.
    """

    url: str

    def __post_init__(self) -> None:
        """Check the scheme and length as the API does."""
        if not isinstance(self.url, str) or not self.url.startswith(("https://", "http://", "data:")):
            allowed = ("an https:// or http:// URL", "a data: URL")
            message = f"ImageURL {self.url!r} is not an http(s) or data URL"
            raise InvalidParameterError("image_url", self.url, allowed, message)
        if len(self.url) > _MAX_URL_CHARS:
            message = f"ImageURL is {len(self.url)} characters long; the API takes at most {_MAX_URL_CHARS}"
            raise InvalidParameterError(
                "image_url", self.url, (f"at most {_MAX_URL_CHARS} characters",), message
            )

    def reference(self) -> dict[str, str]:
        """The reference as the JSON body writes it."""
        return {"image_url": self.url}


@dataclass(frozen=True, slots=True)
class FileID:
    """An input image of an edit given by the id of a file uploaded to the Files API (``file-…``).

    Raises:
        InvalidParameterError: The id is empty or holds white space.
    """

    id: str

    def __post_init__(self) -> None:
        """Check that the id is one word."""
        if not isinstance(self.id, str) or not self.id or self.id.split() != [self.id]:
            message = f"FileID {self.id!r} is not a file id such as 'file-abc123'"
            raise InvalidParameterError("file_id", self.id, ("a file id such as 'file-abc123'",), message)

    def reference(self) -> dict[str, str]:
        """The reference as the JSON body writes it."""
        return {"file_id": self.id}


#: An image to upload: a path, its bytes, or a binary file object (read from its current position).
ImageInput: TypeAlias = str | os.PathLike[str] | bytes | bytearray | memoryview | IO[bytes]
ImageReference: TypeAlias = ImageURL | FileID

_MAX_URL_CHARS: Final = 20971520  # ImageRefParam.image_url maxLength in the spec
_CHUNK: Final = 256 * 1024
_CONTENT_TYPES: Final[Mapping[str, str]] = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "gif": "image/gif",
}
_EXTENSIONS: Final[Mapping[str, str]] = {"png": ".png", "jpeg": ".jpg", "webp": ".webp", "gif": ".gif"}


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """What the rules need to know of one input image (an edit's image or mask, a variation's image).

    The facade reads it from the file's first bytes (``oai_images`` never needs Pillow for this); the
    emulator from the decoded image.

    Attributes:
        format: The real format, from the bytes' magic numbers: ``png``, ``jpeg``, ``webp``, ``gif``, or
            ``""`` when the bytes are no image format the API knows.
        width: The width in pixels (0 when unknown).
        height: The height in pixels (0 when unknown).
        byte_size: The file's size in bytes.
        has_alpha: Whether the image has an alpha channel (PNG: colour type with alpha or a tRNS chunk).
        name: How messages name the input: its path, or ``<bytes>``, ``<file object>``.
    """

    format: str
    width: int
    height: int
    byte_size: int
    has_alpha: bool = False
    name: str = ""


# --- reading the header ------------------------------------------------------------------------------------

_PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
_PNG_ALPHA_COLOUR_TYPES: Final = frozenset({4, 6})  # grey + alpha, RGB + alpha
_MAX_CHUNKS: Final = 4096  # chunks or segments walked before the image data; a bound for hostile files
# JPEG start-of-frame markers: C0-CF but for DHT (C4), JPG (C8) and DAC (CC).
_JPEG_SOF: Final = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def probe(stream: IO[bytes], byte_size: int, name: str = "") -> ImageInfo:
    """What an image is, from its first bytes: format, dimensions, alpha channel.

    Reads the signature and the header (PNG IHDR and the chunk headers up to the image data, JPEG segment
    headers up to the start of frame, WebP's VP8/VP8L/VP8X header, GIF's screen descriptor), seeking past
    everything else; the stream is left wherever reading stopped.

    Args:
        stream: A binary stream at the image's first byte; it must be seekable.
        byte_size: The image's size in bytes (reported, not read).
        name: How messages name the image.

    Returns:
        The image's `ImageInfo`; its ``format`` is ``""`` when the bytes are no format read here (or a
        header is cut short).
    """
    start = stream.tell()
    head = stream.read(32)
    unknown = ImageInfo("", 0, 0, byte_size, False, name)
    try:
        if head.startswith(_PNG_SIGNATURE):
            return _png(stream, start, head, byte_size, name) or unknown
        if head.startswith(b"\xff\xd8\xff"):
            return _jpeg(stream, start, byte_size, name) or unknown
        if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
            return _webp(head, byte_size, name) or unknown
        if head[:6] in (b"GIF87a", b"GIF89a") and len(head) >= 10:
            width, height = struct.unpack("<HH", head[6:10])
            return ImageInfo("gif", width, height, byte_size, False, name)
    except (struct.error, OSError, ValueError):
        return unknown
    return unknown


def _png(stream: IO[bytes], start: int, head: bytes, byte_size: int, name: str) -> ImageInfo | None:
    if len(head) < 26 or head[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", head[16:24])
    colour_type = head[25]
    alpha = colour_type in _PNG_ALPHA_COLOUR_TYPES
    if not alpha:  # a palette or a colour key gives transparency with a tRNS chunk before the image data
        position = start + 8 + 8 + 13 + 4  # signature, IHDR's length and type, its data, its CRC
        for _ in range(_MAX_CHUNKS):
            stream.seek(position)
            header = stream.read(8)
            if len(header) < 8:
                break
            length, kind = struct.unpack(">I4s", header)
            if kind == b"tRNS":
                alpha = True
                break
            if kind in (b"IDAT", b"IEND"):
                break
            position += 12 + length
    return ImageInfo("png", width, height, byte_size, alpha, name)


def _jpeg(stream: IO[bytes], start: int, byte_size: int, name: str) -> ImageInfo | None:
    position = start + 2
    for _ in range(_MAX_CHUNKS):
        stream.seek(position)
        header = stream.read(4)
        if len(header) < 2 or header[0] != 0xFF:
            return None
        marker = header[1]
        if marker == 0xFF:  # a fill byte
            position += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            position += 2
            continue
        if marker in (0xD9, 0xDA) or len(header) < 4:  # end of image, or the scan before any frame
            return None
        (length,) = struct.unpack(">H", header[2:4])
        if marker in _JPEG_SOF:
            frame = stream.read(5)
            if len(frame) < 5:
                return None
            height, width = struct.unpack(">HH", frame[1:5])
            return ImageInfo("jpeg", width, height, byte_size, False, name)
        position += 2 + length
    return None


def _webp(head: bytes, byte_size: int, name: str) -> ImageInfo | None:
    kind = head[12:16]
    if kind == b"VP8 " and len(head) >= 30 and head[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", head[26:30])
        return ImageInfo("webp", width & 0x3FFF, height & 0x3FFF, byte_size, False, name)
    if kind == b"VP8L" and len(head) >= 25 and head[20] == 0x2F:
        (bits,) = struct.unpack("<I", head[21:25])
        width, height = (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        return ImageInfo("webp", width, height, byte_size, bool((bits >> 28) & 1), name)
    if kind == b"VP8X" and len(head) >= 30:
        alpha = bool(head[20] & 0x10)
        width = int.from_bytes(head[24:27], "little") + 1
        height = int.from_bytes(head[27:30], "little") + 1
        return ImageInfo("webp", width, height, byte_size, alpha, name)
    return None


# --- uploads ------------------------------------------------------------------------------------------------


class Upload:
    """One input image, checked and ready to be read from its start on every attempt.

    Attributes:
        param: The field it is sent as (``image``, ``mask``).
        info: What the rules check: format, dimensions, alpha channel, size in bytes.
        filename: The file name sent in the multipart part.
        content_type: The part's media type, from the real format.
    """

    __slots__ = ("_data", "_file", "_path", "_start", "content_type", "filename", "info", "param")

    def __init__(
        self,
        param: str,
        info: ImageInfo,
        filename: str,
        *,
        path: Path | None = None,
        data: bytes | None = None,
        file: IO[bytes] | None = None,
        start: int = 0,
    ) -> None:
        """An upload of a file on disk (``path``), bytes in memory (``data``) or a seekable ``file``."""
        self.param = param
        self.info = info
        self.filename = filename
        self.content_type = _CONTENT_TYPES.get(info.format, "application/octet-stream")
        self._path = path
        self._data = data
        self._file = file
        self._start = start

    def __repr__(self) -> str:
        return f"Upload({self.param!r}, {self.info.name!r}, {self.info.byte_size} bytes)"

    @classmethod
    def document(cls, param: str, path: Path, content_type: str) -> Upload:
        """A file that is no image (a Batch API input file), streamed from disk on each attempt like one.

        Raises:
            OSError: It cannot be read.
        """
        info = ImageInfo(format="", width=0, height=0, byte_size=path.stat().st_size, name=str(path))
        upload = cls(param, info, path.name, path=path)
        upload.content_type = content_type
        return upload

    def chunks(self) -> Iterator[bytes]:
        """The bytes, from the start, in chunks: the file is opened here, for this attempt only.

        Raises:
            OAIImagesError: The file changed size, was deleted or was closed since it was checked.
        """
        if self._data is not None:
            yield self._data
            return
        try:
            if self._path is not None:
                with self._path.open("rb") as stream:
                    yield from self._read(stream)
                return
            assert self._file is not None  # one of the three is always set
            self._file.seek(self._start)
            yield from self._read(self._file)
        except (OSError, ValueError) as exc:  # deleted, or a file object closed, since it was checked
            raise OAIImagesError(
                f"{self.param} {self.info.name} could not be read while it was being uploaded: {exc}"
            ) from exc

    def _read(self, stream: IO[bytes]) -> Iterator[bytes]:
        left = self.info.byte_size
        while left > 0:
            chunk = stream.read(min(_CHUNK, left))
            if not chunk:
                break
            left -= len(chunk)
            yield chunk
        if left or stream.read(1):
            raise OAIImagesError(
                f"{self.param} {self.info.name} changed while it was being uploaded; nothing more was sent"
            )


def read_upload(value: object, param: str) -> Upload:
    """Open an input image, check that it can be read, and learn its format and dimensions.

    Only the first bytes are read (and, for a PNG or JPEG, the headers of the chunks before the image data).

    Args:
        value: A path (``str`` or ``os.PathLike``), bytes, or a binary file object (read from its current
            position; it must stay open until the request is sent).
        param: The field it is for, named by errors (``image``, ``mask``).

    Raises:
        InvalidParameterError: The file does not exist or cannot be read, or the value is none of these.
    """
    if isinstance(value, str | os.PathLike):
        return _read_path(value, param)
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        info = probe(io.BytesIO(data), len(data), "<bytes>")
        return Upload(param, info, f"{param}{_EXTENSIONS.get(info.format, '')}", data=data)
    if isinstance(value, io.TextIOBase):
        message = f"{param} is a file opened in text mode; open it with 'rb'"
        raise InvalidParameterError(param, value, ("a binary file object",), message)
    if callable(getattr(value, "read", None)):
        return _read_file(_as_stream(value), param)
    message = f"{param} {_shown(value)} is not an image: give a path, bytes or a binary file object" + (
        " (or ImageURL / FileID for an edit)" if param == "image" else ""
    )
    raise InvalidParameterError(param, value, ("a path", "bytes", "a binary file object"), message)


def _as_stream(value: object) -> IO[bytes]:
    """The value as a binary stream (checked by the caller: it has a ``read`` method)."""
    return value  # type: ignore[return-value]  # duck-typed: any object with read() (and seek()) will do


def _read_path(value: str | os.PathLike[str], param: str) -> Upload:
    path = Path(value)
    shown = str(value)
    if "\x00" in shown:  # no file system has such a name (os.stat would raise a bare ValueError)
        message = f"{param} {shown!r} is not a file path: it holds a NUL character"
        raise InvalidParameterError(param, shown, ("a file path",), message)
    try:
        if path.is_dir():
            raise IsADirectoryError(shown)
        if path.exists() and not path.is_file():  # a FIFO or a device: opening it could block for ever
            message = f"{param} {shown!r} is not a regular file"
            raise InvalidParameterError(param, shown, ("a regular file",), message)
        with path.open("rb") as stream:
            size = os.fstat(stream.fileno()).st_size
            info = probe(stream, size, shown)
    except FileNotFoundError as exc:
        hint = ""
        if shown.startswith(("http://", "https://", "data:")):
            hint = f"; to send a URL, give ImageURL({shown!r})"
        elif shown.startswith("file-"):
            hint = f"; to send an uploaded file's id, give FileID({shown!r})"
        raise InvalidParameterError(
            param, shown, ("an existing file",), f"{param} {shown!r} does not exist{hint}"
        ) from exc
    except IsADirectoryError as exc:
        raise InvalidParameterError(param, shown, ("a file",), f"{param} {shown!r} is a directory") from exc
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        message = f"{param} {shown!r} cannot be read: {reason}"
        raise InvalidParameterError(param, shown, ("a readable file",), message) from exc
    return Upload(param, info, path.name or f"{param}{_EXTENSIONS.get(info.format, '')}", path=path)


def _read_file(stream: IO[bytes], param: str) -> Upload:
    raw_name = getattr(stream, "name", None)
    name = raw_name if isinstance(raw_name, str) else "<file object>"
    filename = Path(raw_name).name if isinstance(raw_name, str) and raw_name else ""
    try:
        seekable = stream.seekable() if hasattr(stream, "seekable") else False
        if not seekable:  # a pipe or a socket: read once, kept in memory for the retries
            data = stream.read()
            if not isinstance(data, bytes | bytearray):
                raise TypeError("not bytes")
            info = probe(io.BytesIO(data), len(data), name)
            return Upload(
                param, info, filename or f"{param}{_EXTENSIONS.get(info.format, '')}", data=bytes(data)
            )
        start = stream.tell()
        size = stream.seek(0, io.SEEK_END) - start
        stream.seek(start)
        info = probe(stream, size, name)
        stream.seek(start)
    except (OSError, ValueError, TypeError) as exc:  # closed, unreadable, or text
        message = f"{param} {name} cannot be read: {exc}"
        raise InvalidParameterError(param, name, ("a readable binary file object",), message) from exc
    filename = filename or f"{param}{_EXTENSIONS.get(info.format, '')}"
    return Upload(param, info, filename, file=stream, start=start)


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --- the fields of each operation ---------------------------------------------------------------------------


def _is_reference(value: object) -> bool:
    return isinstance(value, ImageURL | FileID)


def _inputs(image: object) -> list[object]:
    """The images given: one, or each of a sequence (a str or bytes is one image, not a sequence)."""
    if isinstance(image, Sequence) and not isinstance(image, str | bytes | bytearray | memoryview):
        return list(image)
    return [image]


def edit_fields(
    prompt: str,
    image: object,
    mask: object,
    params: Mapping[str, object],
    *,
    markup: object = None,
    **fixed: object,
) -> tuple[str, dict[str, object]]:
    """The form of an edit and its fields: uploads as multipart, or references (`ImageURL`, `FileID`) as JSON.

    Returns:
        The operation's name (``CREATE_IMAGE_EDIT`` or ``CREATE_IMAGE_EDIT_JSON``) and the request's fields:
        the prompt, the images (an `Upload` or a list of them; a list of references), the mask, the markup
        (an upload only: the API documents it for multipart edits alone), every keyword set (None means not
        set) and ``fixed``.

    Raises:
        InvalidParameterError: No image, uploads mixed with references, or an input that cannot be read.
    """
    images = _inputs(image)
    if not images:
        raise InvalidParameterError("image", image, ("at least one image",), "image needs at least one image")
    references = [_is_reference(item) for item in images]
    fields: dict[str, object] = {"prompt": prompt}
    if all(references):
        fields["images"] = [item.reference() for item in images]  # type: ignore[attr-defined]  # references
        if mask is not None:
            if not _is_reference(mask):
                message = "mask must be an ImageURL or FileID when the images are (a JSON edit cannot upload)"
                raise InvalidParameterError("mask", mask, ("ImageURL", "FileID"), message)
            fields["mask"] = mask.reference()  # type: ignore[attr-defined]  # a reference, checked above
        if markup is not None:
            message = (
                "markup is an upload (a path, bytes, a file); a JSON edit of references cannot carry one"
            )
            raise InvalidParameterError("markup", markup, ("an upload with uploaded images",), message)
        name = "CREATE_IMAGE_EDIT_JSON"
    elif any(references) or _is_reference(mask) or _is_reference(markup):
        message = (
            "image and mask must all be uploads (paths, bytes, files) or all references (ImageURL, FileID): "
            "one edit is either an upload or a JSON request"
        )
        raise InvalidParameterError("image", image, ("all uploads", "all references"), message)
    else:
        uploads = [read_upload(item, "image") for item in images]
        is_many = isinstance(image, Sequence) and not isinstance(image, str | bytes | bytearray | memoryview)
        fields["image"] = uploads if is_many else uploads[0]
        if mask is not None:
            fields["mask"] = read_upload(mask, "mask")
        if markup is not None:
            fields["markup"] = read_upload(markup, "markup")
        name = "CREATE_IMAGE_EDIT"
    fields.update((key, value) for key, value in params.items() if value is not None)
    fields.update(fixed)
    return name, fields


def variation_fields(image: object, params: Mapping[str, object]) -> dict[str, object]:
    """The fields of a variation: the one upload and every keyword set (None means not set).

    Raises:
        InvalidParameterError: The image cannot be read, or is a reference (variations are uploads only).
    """
    if _is_reference(image):
        message = "create_variation takes an upload (a path, bytes or a binary file), not a URL or file id"
        raise InvalidParameterError("image", image, ("a path", "bytes", "a binary file object"), message)
    fields: dict[str, object] = {"image": read_upload(image, "image")}
    fields.update((key, value) for key, value in params.items() if value is not None)
    return fields


# --- the multipart body -------------------------------------------------------------------------------------


def _text(value: object) -> str:
    """A form field's text: JSON's spelling of booleans, str() of the rest."""
    if isinstance(value, bool):
        return "true" if value else "false"
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        import json  # noqa: PLC0415 - only for a nested object, which no form field has today

        return json.dumps(to_dict())
    return str(value)


def _quoted(text: str) -> str:
    """A name or filename for a Content-Disposition header (HTML5's escaping, as browsers and httpx do)."""
    return text.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


class MultipartBody(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A ``multipart/form-data`` body whose files are read from disk on each iteration (each attempt).

    Its length is known in advance (the sizes were measured when the files were checked), so it is sent
    with ``Content-Length``, not chunked.
    """

    def __init__(self, fields: Mapping[str, object]) -> None:
        """Lay out the parts: text fields first, then the files (``image`` once, or ``image[]`` per image)."""
        self.boundary = secrets.token_hex(16)
        texts: list[tuple[str, str]] = []
        files: list[tuple[str, Upload]] = []
        for name, value in fields.items():
            if isinstance(value, Upload):
                files.append((name, value))
            elif isinstance(value, list) and value and all(isinstance(item, Upload) for item in value):
                # The API's array form, as its own examples send it (`-F "image[]=@a.png"`).
                files.extend((f"{name}[]", item) for item in value)
            else:
                texts.append((name, _text(value)))
        self._parts: list[tuple[bytes, Upload | None, bytes]] = []
        for name, text in texts:
            header = self._header(name, None, None)
            self._parts.append((header, None, text.encode("utf-8")))
        for name, upload in files:
            self._parts.append((self._header(name, upload.filename, upload.content_type), upload, b""))
        self._end = f"--{self.boundary}--\r\n".encode("ascii")

    def _header(self, name: str, filename: str | None, content_type: str | None) -> bytes:
        lines = [f"--{self.boundary}", f'Content-Disposition: form-data; name="{_quoted(name)}"']
        if filename is not None:
            lines[1] += f'; filename="{_quoted(filename)}"'
            lines.append(f"Content-Type: {content_type}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")

    @property
    def content_type(self) -> str:
        """The request's Content-Type header."""
        return f"multipart/form-data; boundary={self.boundary}"

    @property
    def length(self) -> int:
        """The body's length in bytes."""
        total = len(self._end)
        for header, upload, data in self._parts:
            total += len(header) + (upload.info.byte_size if upload is not None else len(data)) + 2
        return total

    def __iter__(self) -> Iterator[bytes]:
        """The body, reading each file from its start."""
        for header, upload, data in self._parts:
            yield header
            if upload is None:
                yield data
            else:
                yield from upload.chunks()
            yield b"\r\n"
        yield self._end

    async def __aiter__(self) -> AsyncIterator[bytes]:
        """The body for the async client. Files are read in 256 KB chunks from local disk, which takes
        well under a millisecond per chunk: cheaper than a thread hop for each."""  # noqa: D205, D209
        for chunk in self:
            yield chunk


def multipart_request(request: httpx.Request, fields: Mapping[str, object]) -> httpx.Request:
    """The request, with the multipart body of ``fields`` (read anew on each attempt) as its stream.

    ``request`` is a body-less request built by the client (base URL, headers, timeout); a new request is
    made from it because a request built with a body caches that body, and this one must stream.
    """
    body = MultipartBody(fields)
    headers = httpx.Headers(request.headers)
    headers["Content-Type"] = body.content_type
    headers["Content-Length"] = str(body.length)
    return httpx.Request(
        request.method, request.url, headers=headers, stream=body, extensions=request.extensions
    )


# --- checking inputs against a model's rules -------------------------------------------------------------

_MB: Final = 1024 * 1024


def _images(value: object) -> list[ImageInfo] | None:
    """The ImageInfo of each input in a field's value (one input, or a list of them); None if unreadable.

    An input is an `ImageInfo`, or an object with one as its ``info`` attribute (the facade's uploads).
    """
    items = list(value) if isinstance(value, list | tuple) else [value]
    found: list[ImageInfo] = []
    for item in items:
        info = item if isinstance(item, ImageInfo) else getattr(item, "info", None)
        if not isinstance(info, ImageInfo):
            return None
        found.append(info)
    return found


_FORMAT_NAMES: Final[Mapping[str, str]] = {"png": "PNG", "jpeg": "JPEG", "webp": "WebP", "gif": "GIF"}


def _format_name(fmt: str) -> str:
    return _FORMAT_NAMES.get(fmt, fmt.upper()) if fmt else "not an image in a format the API reads"


def check_inputs(
    name: str,
    value: object,
    *,
    most: int,
    inputs: InputRules | None,
    label: str,
    first: object = None,
    masked: bool,
) -> None:
    """Check an uploaded image field (``image``, ``mask``): count, real format, size in bytes, shape, alpha.

    Args:
        name: The field.
        value: Its value: an input (an `ImageInfo`, or an object with one as ``info``) or a list of them;
            anything else was not read by the facade (``validate=False``) and is not checked.
        most: The most inputs the schema takes in the field.
        inputs: The model's input rules, or None for a model the table does not know.
        label: How messages name the model.
        first: The ``image`` field's value, whose first image a mask must match.
        masked: Whether a mask is given (without one, dall-e-2 edits an image's transparent pixels).

    Raises:
        InvalidParameterError: Naming the field, the input and what is allowed.
    """
    images = _images(value)
    if images is None:  # not read by the facade (validate=False never gets here): nothing to check
        return
    if not images:
        raise InvalidParameterError(name, value, ("at least one image",), f"{name} needs at least one image")
    if len(images) > most:
        raise InvalidParameterError(
            name, len(images), (f"at most {most}",), f"{name}: {len(images)} images given; at most {most}"
        )
    if inputs is None:
        return
    if name in ("mask", "markup"):
        firsts = _images(first)
        _check_overlay(name, images[0], inputs, firsts[0] if firsts else None)
        return
    if len(images) > inputs.max_images:
        allowed = (f"at most {inputs.max_images}",)
        message = f"{name}: {len(images)} images given; {label} takes at most {inputs.max_images}"
        raise InvalidParameterError(name, len(images), allowed, message)
    for image in images:
        _check_image(name, image, inputs, label, masked=masked)


def _check_image(name: str, image: ImageInfo, inputs: InputRules, label: str, *, masked: bool) -> None:
    shown = f"'{image.name}'" if image.name else "the image"
    formats = tuple(_FORMAT_NAMES[f] for f in inputs.formats)
    if image.format not in inputs.formats:
        message = (
            f"{name} {shown} is {_article(image.format)}{_format_name(image.format)}"
            f"{' file' if image.format else ''}; {label} accepts {_or(formats)} (read from the file's "
            "bytes, not its name)"
        )
        raise InvalidParameterError(name, image.name, formats, message)
    if image.byte_size >= inputs.max_bytes:
        limit = f"less than {inputs.max_bytes // _MB} MB"
        message = f"{name} {shown} is {image.byte_size / _MB:.1f} MB; {label} accepts {limit}"
        raise InvalidParameterError(name, image.name, (limit,), message)
    if inputs.square and image.width != image.height:
        message = f"{name} {shown} is {image.width}x{image.height}; {label} accepts only square images"
        raise InvalidParameterError(name, image.name, ("a square image",), message)
    if inputs.alpha_without_mask and not masked and not image.has_alpha:
        message = (
            f"{name} {shown} has no alpha channel; without a mask, {label} edits its transparent pixels, "
            "so it needs one (or give a mask)"
        )
        raise InvalidParameterError(name, image.name, ("a PNG with an alpha channel",), message)


def _check_overlay(name: str, mask: ImageInfo, inputs: InputRules, first: ImageInfo | None) -> None:
    """A mask, or an edit's markup: a PNG with an alpha channel and the first image's dimensions.

    A markup has no size limit of its own documented: it is held to the model's limit for an input image.
    """
    shown = f"'{mask.name}'" if mask.name else f"the {name}"
    purpose = "its fully transparent pixels say where to edit"
    if name == "markup":
        purpose = "it is laid over the first image, which shows through its transparent pixels"
    if mask.format != "png":
        found = f"{_article(mask.format)}{_format_name(mask.format)}"
        message = f"{name} {shown} is {found}; a {name} must be a PNG"
        raise InvalidParameterError(name, mask.name, ("PNG",), message)
    most = inputs.mask_max_bytes if name == "mask" else inputs.max_bytes
    if mask.byte_size >= most:
        limit = f"less than {most // _MB} MB"
        message = f"{name} {shown} is {mask.byte_size / _MB:.1f} MB; a {name} must be {limit}"
        raise InvalidParameterError(name, mask.name, (limit,), message)
    if not mask.has_alpha:
        message = f"{name} {shown} has no alpha channel; {purpose}"
        raise InvalidParameterError(name, mask.name, ("a PNG with an alpha channel",), message)
    if first is not None and (mask.width, mask.height) != (first.width, first.height):
        size = f"{first.width}x{first.height}"
        message = (
            f"{name} {shown} is {mask.width}x{mask.height}; it must have the dimensions of the first image "
            f"({first.name or 'image'}: {size})"
        )
        raise InvalidParameterError(name, mask.name, (size,), message)


def _article(fmt: str) -> str:
    return "" if not fmt else "an " if _format_name(fmt)[0] in "AEIOU" else "a "


def _or(items: tuple[str, ...]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}"
