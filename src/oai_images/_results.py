"""What a generation returns: the images, with ways to read, save and show them, and the stream events."""

from __future__ import annotations

import binascii
import functools
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ._errors import OAIImagesError
from ._files import DEFAULT_NAME, Naming, display_problem, open_in_default_viewer, write_image
from ._limits import RateLimit
from .pricing import Cost

#: The cost of a result built without one (by hand): unknown.
NOT_PRICED = Cost(usd=None, exact=False, note="not priced: this result was not made by a client")

if TYPE_CHECKING:
    # Loaded when the first answer is read, not at `import oai_images`: the generated models load attrs.
    from oai_images_api.models import (
        ImageGenCompletedEvent,
        ImageGenPartialImageEvent,
        ImageGenUsage,
        ImagesResponse,
    )
    from oai_images_api.types import Unset

__all__ = ["CompletedImageEvent", "GeneratedImage", "ImageResult", "PartialImageEvent"]

#: Downloads the bytes at an image URL (the sync client's way).
Download = Callable[[str], bytes]
#: Downloads the bytes at an image URL (the async client's way).
AsyncDownload = Callable[[str], Awaitable[bytes]]
#: Shows a saved image file to the user.
Opener = Callable[[Path], None]

_T = TypeVar("_T")


class GeneratedImage:
    """One generated image: a URL to download it from, or its bytes in base64.

    ``read`` gives the bytes (decoded, or downloaded once and then kept), ``save`` writes them to a file,
    ``show`` opens them in the default viewer. Images from an :class:`~oai_images.AsyncImagesClient` that
    come as a URL need the awaited variants ``aread``, ``asave`` and ``ashow``; base64 images work with both.

    Attributes:
        url: Where to download the image (dall-e models with ``response_format="url"``); valid 60 minutes.
        b64_json: The image bytes in base64.
        revised_prompt: The prompt the model actually used (dall-e-3), if it rewrote yours.
        path: Where ``save`` or ``show`` last wrote the image, else None.
        prompt: The prompt it was generated from (names the file ``save`` writes into a folder).
        index: Its number in its answer, from 1.
        created: When it was created, in Unix seconds, if the server said.
    """

    __slots__ = (
        "_adownload",
        "_data",
        "_download",
        "b64_json",
        "created",
        "index",
        "path",
        "prompt",
        "revised_prompt",
        "url",
    )

    def __init__(
        self,
        *,
        url: str | None = None,
        b64_json: str | None = None,
        revised_prompt: str | None = None,
        download: Download | None = None,
        adownload: AsyncDownload | None = None,
        prompt: str | None = None,
        index: int = 1,
        created: int | None = None,
    ) -> None:
        """Create an image; the clients do this for you.

        Args:
            url: The image URL.
            b64_json: The image bytes in base64.
            revised_prompt: The prompt the model used.
            download: How ``read`` downloads ``url``.
            adownload: How ``aread`` downloads ``url``.
            prompt: The prompt it was generated from.
            index: Its number in its answer, from 1.
            created: When it was created, in Unix seconds.
        """
        self.url = url
        self.b64_json = b64_json
        self.revised_prompt = revised_prompt
        self.prompt = prompt
        self.index = index
        self.created = created
        self.path: Path | None = None
        self._download = download
        self._adownload = adownload
        self._data: bytes | None = None

    def __repr__(self) -> str:
        source = f"url={self.url!r}" if self.url else f"b64_json=<{len(self.b64_json or '')} chars>"
        return f"GeneratedImage({source}, revised_prompt={self.revised_prompt!r})"

    def read(self) -> bytes:
        """The image bytes, decoded from base64 or downloaded from the URL (once; then kept).

        Raises:
            PermissionDeniedError: (or NotFoundError, APIStatusError 410) the URL has expired.
            APIConnectionError: The download failed.
            OAIImagesError: The image has no data, or comes from the async client (use ``aread``).
        """
        if self._data is None:
            self._data = self._known_bytes()
            if self._data is None:
                if self._download is None:
                    raise OAIImagesError(
                        "this image came as a URL from AsyncImagesClient, which downloads it awaited: use "
                        "`await image.aread()`, `await image.asave(...)` or `await image.ashow()`"
                    )
                self._data = self._download(self._url())
        return self._data

    async def aread(self) -> bytes:
        """The image bytes, like :meth:`read`, downloading with the async client.

        Raises:
            PermissionDeniedError: (or NotFoundError, APIStatusError 410) the URL has expired.
            APIConnectionError: The download failed.
            OAIImagesError: The image has no data, or comes from the sync client (use ``read``).
        """
        if self._data is None:
            self._data = self._known_bytes()
            if self._data is None:
                if self._adownload is None:
                    raise OAIImagesError(
                        "this image came as a URL from ImagesClient, which downloads it without await: use "
                        "`image.read()`, `image.save(...)` or `image.show()`"
                    )
                self._data = await self._adownload(self._url())
        return self._data

    def save(
        self, path_or_dir: str | os.PathLike[str], *, overwrite: bool = False, name: str | None = None
    ) -> Path:
        """Write the image to a file, atomically, and return its path.

        Args:
            path_or_dir: A file path, or a folder (existing, or ending in ``/``) where the image is named
                like the command line names it: ``<time>-<prompt slug>-<index>.<ext>``, with ``-v2``,
                ``-v3``, ... when that name is taken; ``~`` is expanded. The extension always says what
                the bytes are: it is added to a name without one, and replaces an image extension that
                says otherwise (``out.jpg`` holding PNG bytes is written as ``out.png``).
            overwrite: Replace an existing file instead of raising ``FileExistsError`` (in a folder:
                instead of adding ``-v2``).
            name: The name template for a folder, with ``{slug}``, ``{index}``, ``{id}`` (8 hex digits
                of the bytes' SHA-256) and ``{time}`` (when the image was created); the default is
                ``"{time}-{slug}-{index}"``.

        Returns:
            The path written.

        Raises:
            ValueError: ``name`` is not a valid template.
            FileExistsError: The file exists and ``overwrite`` is False. The bytes stay readable.
            OSError: The file could not be written. The bytes stay readable, so the image is not lost.
            OAIImagesError: The bytes could not be read (see :meth:`read`).
        """
        naming = self._naming(name)
        return self._remember(write_image(self.read(), path_or_dir, overwrite=overwrite, naming=naming))

    async def asave(
        self, path_or_dir: str | os.PathLike[str], *, overwrite: bool = False, name: str | None = None
    ) -> Path:
        """Write the image to a file, like :meth:`save`, downloading with the async client.

        The file is written synchronously: a few megabytes to a local disk, not worth a worker thread.
        """
        naming = self._naming(name)
        data = await self.aread()
        return self._remember(write_image(data, path_or_dir, overwrite=overwrite, naming=naming))

    def _naming(self, template: str | None) -> Naming:
        if template is not None:
            from ._files import check_name_template  # noqa: PLC0415 -- only a custom template needs it

            check_name_template(template)
        return Naming(template or DEFAULT_NAME, self.prompt, self.index, self.created)

    def show(self, *, opener: Opener | None = None) -> Path:
        """Open the image in the default viewer or browser (``-Show`` of ``Get-OAIImageGeneration``).

        An image not saved yet is first saved to a new temporary folder, which stays for the viewer to
        read (the operating system's temporary-file cleaning removes it). Where nothing can be shown (no
        display: an SSH session, a container, CI) this raises before writing anything, and if the viewer
        cannot be started the temporary file is removed again: save the image with :meth:`save` instead.

        Args:
            opener: Opens a file path; defaults to the platform's viewer (``os.startfile``, ``open``,
                ``xdg-open``, else the browser). Tests pass a recorder.

        Returns:
            The path of the file shown.

        Raises:
            OAIImagesError: No display (the message says so), or no viewer to open the file with.
        """
        return self._open(self.read(), opener)

    async def ashow(self, *, opener: Opener | None = None) -> Path:
        """Open the image in the default viewer, like :meth:`show`, downloading with the async client."""
        return self._open(await self.aread(), opener)

    def _open(self, data: bytes, opener: Opener | None) -> Path:
        path = self.path.resolve() if self.path is not None and self.path.exists() else None
        if path is not None:
            (opener or open_in_default_viewer)(path)
            return path
        if opener is None and (problem := display_problem()):
            raise OAIImagesError(f"{problem}; save the image with image.save(...) instead")
        import shutil  # noqa: PLC0415 -- only showing an unsaved image needs these
        import tempfile  # noqa: PLC0415

        folder = tempfile.mkdtemp(prefix="oai-images-")
        try:
            path = write_image(data, folder + os.sep, naming=self._naming(None))
            (opener or open_in_default_viewer)(path)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)  # nothing shown: leave nothing behind
            raise
        return self._remember(path)

    def _remember(self, path: Path) -> Path:
        self.path = path
        return path

    def _known_bytes(self) -> bytes | None:
        """The decoded base64 data, or None when the image must be downloaded."""
        if self.b64_json is None:
            return None
        try:
            # a2b_base64 reads the str as it is; base64.b64decode would first copy it into bytes, which
            # for a 4K image is tens of MB more at the peak. Not strict: base64 wrapped over lines (as some
            # compatible servers send it) is still the paid image.
            data = binascii.a2b_base64(self.b64_json)
        except (binascii.Error, ValueError) as exc:
            raise OAIImagesError("the image's base64 data is corrupt") from exc
        if not data:
            raise OAIImagesError("the image's base64 data is corrupt: it holds no bytes")
        return data

    def _url(self) -> str:
        if not self.url:
            raise OAIImagesError("the server returned an image with neither a URL nor base64 data")
        return self.url


def _value(value: _T | Unset) -> _T | None:
    from oai_images_api.types import Unset  # noqa: PLC0415 - loaded with the first answer (see the imports)

    return None if isinstance(value, Unset) else value


def _text(value: object) -> str | None:
    """A string field of a response, or None when the server sent none (or something that is no string)."""
    return value if isinstance(value, str) else None


class _PricedWhenRead:
    """The ``cost`` of an `ImageResult`, priced when first read.

    The `Cost` given to the constructor, or, for a result made from an answer, its price from its usage
    (most calls never ask; a bulk run asks once).

    A data descriptor, so ``cost`` stays a field (a constructor argument, in ``repr``, ``replace`` and
    ``asdict``). The answer's price callback (holding the request's fields, an edit's uploads among them)
    is dropped once used.
    """

    def __get__(self, result: ImageResult | None, owner: type | None = None) -> Cost:
        if result is None:
            return NOT_PRICED  # the field's default, as dataclasses reads it
        values = result.__dict__
        cost: Cost | None = values.get("_cost")
        if cost is None:
            price = values.get("_price")
            cost = NOT_PRICED if price is None else price(result.usage, len(result.images))
            values["_cost"] = cost
            values.pop("_price", None)  # after the cost is kept: a concurrent read sees one or the other
        return cost

    def __set__(self, result: ImageResult, cost: Cost | _PricedWhenRead) -> None:
        if not isinstance(cost, _PricedWhenRead):  # the descriptor itself: no cost given
            result.__dict__["_cost"] = cost


@dataclass(frozen=True)
class ImageResult:
    """The answer to one generation request.

    Attributes:
        created: When the images were created, in Unix seconds.
        images: The generated images.
        usage: Token usage (GPT image models), else None.
        background: The background used (GPT image models), else None.
        output_format: The file format used (GPT image models), else None.
        size: The size generated (GPT image models), else None.
        quality: The quality used (GPT image models), else None.
        request_id: The ``x-request-id`` of the answer, for support requests.
        model: The model named in the request, if one was.
        attempts: How many attempts reached the server (1 unless retried).
        possibly_billed: How many of those may have been billed: each 2xx answer, even one whose body
            broke off before the retry that gave this result, and each attempt that got no answer after
            the request was sent. More than 1 means you may have paid for generations you did not get.
        response: The whole answer as the generated model, with fields this class does not copy (built
            from ``payload`` when first read).
        rate_limit: The rate limits the server reported with the answer (``x-ratelimit-*``), if any.
        payload: The answer's JSON object, as the server sent it.
        cost: What the answer cost (`oai_images.pricing.Cost`): exact from ``usage`` (GPT image models) or
            from the images returned at the per-image price (dall-e); ``cost.usd`` is None when the model
            has no price (see the README's "What it costs" to add one).
    """

    created: int
    images: list[GeneratedImage]
    usage: ImageGenUsage | None = None
    background: str | None = None
    output_format: str | None = None
    size: str | None = None
    quality: str | None = None
    request_id: str | None = None
    model: str | None = None
    attempts: int = 1
    possibly_billed: int = 1
    rate_limit: RateLimit | None = field(default=None, repr=False, compare=False)
    payload: Mapping[str, Any] | None = field(default=None, repr=False, compare=False)

    @functools.cached_property
    def response(self) -> ImagesResponse | None:
        """The whole answer as the generated model, with fields this class does not copy (built when first
        read: most callers never need it). None for a result made without an answer."""  # noqa: D205, D209
        from oai_images_api.models import ImagesResponse  # noqa: PLC0415 - see the imports

        if self.payload is None:
            return None
        try:
            return ImagesResponse.from_dict({"created": self.created, **self.payload})
        except (KeyError, TypeError, ValueError, AttributeError):
            # The images were paid for: when only the accounting is off the documented shape (a usage
            # object missing a detail), keep the images and drop what cannot be read.
            kept = {key: value for key, value in self.payload.items() if key not in _OPTIONAL_OBJECTS}
            return ImagesResponse.from_dict({"created": self.created, **kept})

    cost: _PricedWhenRead = field(default=_PricedWhenRead(), compare=False)

    @classmethod
    def from_response(
        cls,
        payload: Mapping[str, Any],
        *,
        request_id: str | None = None,
        model: str | None = None,
        download: Download | None = None,
        adownload: AsyncDownload | None = None,
        prompt: str | None = None,
        attempts: int = 1,
        possibly_billed: int = 1,
        rate_limit: RateLimit | None = None,
        price: Callable[[ImageGenUsage | None, int], Cost] | None = None,
    ) -> ImageResult:
        """Build a result from an images answer's JSON object (whose ``data`` is a list of objects, as
        `_wire.parse_images_response` checked); ``download``/``adownload`` fetch URLs.

        A field of the wrong type from a server is dropped here (None) rather than raising later, far from
        its cause. ``price`` gives the result's cost from its usage and number of images, when ``cost`` is
        first read.
        """  # noqa: D205
        created = payload.get("created")
        created = created if type(created) is int else None
        images = [
            GeneratedImage(
                url=url if isinstance(url := image.get("url"), str) else None,
                b64_json=data if isinstance(data := image.get("b64_json"), str) else None,
                revised_prompt=text if isinstance(text := image.get("revised_prompt"), str) else None,
                download=download,
                adownload=adownload,
                prompt=prompt,
                index=index,
                created=created,
            )
            for index, image in enumerate(payload.get("data") or (), 1)
        ]
        values = {
            "created": created or 0,
            "images": images,
            "usage": _usage(payload.get("usage")),
            "background": _text(payload.get("background")),
            "output_format": _text(payload.get("output_format")),
            "size": _text(payload.get("size")),
            "quality": _text(payload.get("quality")),
            "request_id": request_id,
            "model": model,
            "attempts": attempts,
            "possibly_billed": possibly_billed,
            "rate_limit": rate_limit,
            "payload": payload,
            "_price": price,  # not a field: read once by `cost` (see `_PricedWhenRead`), then dropped
        }
        # Every field at once: the frozen dataclass's __init__ sets each through object.__setattr__, a tenth
        # of the cost of an answer's whole handling (`tests/test_results.py` checks that all are set here).
        result = object.__new__(cls)
        result.__dict__.update(values)
        return result


#: The accounting objects of an answer: one off the documented shape is dropped, never the images.
_OPTIONAL_OBJECTS = frozenset({"usage", "svg_usage"})


def _usage(value: object) -> ImageGenUsage | None:
    """The token usage of an answer, or None when there is none or it is off the documented shape."""
    if not isinstance(value, dict):
        return None
    from oai_images_api.models import ImageGenUsage  # noqa: PLC0415 - see the imports

    try:
        return ImageGenUsage.from_dict(value)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


@dataclass(frozen=True)
class _ImageEvent:
    """What both stream events carry. Servers may leave the echoed fields out: they are then None."""

    image: GeneratedImage
    created_at: int | None = None
    size: str | None = None
    quality: str | None = None
    background: str | None = None
    output_format: str | None = None
    request_id: str | None = None

    @staticmethod
    def _common(
        event: ImageGenPartialImageEvent | ImageGenCompletedEvent,
        request_id: str | None,
        prompt: str | None,
        index: int,
    ) -> dict[str, Any]:
        created = event.created_at if isinstance(event.created_at, int) else None
        image = GeneratedImage(b64_json=_text(event.b64_json), prompt=prompt, index=index, created=created)
        return {
            "image": image,
            "created_at": created,
            "size": _text(event.size),
            "quality": _text(event.quality),
            "background": _text(event.background),
            "output_format": _text(event.output_format),
            "request_id": request_id,
        }


@dataclass(frozen=True)
class PartialImageEvent(_ImageEvent):
    """A stream event: a partial image, before the final one.

    Attributes:
        image: The partial image (base64; ``read``, ``save`` and ``show`` work with either client).
        index: Which partial image of its image this is, from 1 (as every index here counts; the API's
            ``partial_image_index`` counts from 0).
        created_at: When the event was created, in Unix seconds.
        size: The size being generated.
        quality: The quality being generated.
        background: The background being generated.
        output_format: The file format of the image.
        request_id: The ``x-request-id`` of the stream.
    """

    index: int | None = None

    @classmethod
    def from_event(
        cls,
        event: ImageGenPartialImageEvent,
        *,
        request_id: str | None,
        prompt: str | None = None,
        image_index: int = 1,
    ) -> PartialImageEvent:
        """Wrap the generated event model; ``image_index`` numbers the image it is a partial of, from 1."""
        common = cls._common(event, request_id, prompt, image_index)
        number = _value(event.partial_image_index)
        return cls(index=number + 1 if isinstance(number, int) else None, **common)


@dataclass(frozen=True)
class CompletedImageEvent(_ImageEvent):
    """A stream event: the final image, with the token usage of the whole generation.

    Attributes:
        image: The final image (base64; ``read``, ``save`` and ``show`` work with either client).
        usage: Token usage, when the server sent it.
        cost: What this image cost (`oai_images.pricing.Cost`), from its usage.
        created_at: When the event was created, in Unix seconds.
        size: The size generated.
        quality: The quality generated.
        background: The background generated.
        output_format: The file format of the image.
        request_id: The ``x-request-id`` of the stream.
    """

    usage: ImageGenUsage | None = None
    cost: Cost = field(default=NOT_PRICED, compare=False)

    @classmethod
    def from_event(
        cls,
        event: ImageGenCompletedEvent,
        *,
        request_id: str | None,
        prompt: str | None = None,
        image_index: int = 1,
    ) -> CompletedImageEvent:
        """Wrap the generated event model; ``image_index`` numbers the image in the stream, from 1."""
        return cls(usage=_value(event.usage), **cls._common(event, request_id, prompt, image_index))
