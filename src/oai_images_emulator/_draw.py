"""Real, cheap, deterministic pictures: a two-colour gradient with a few shapes, chosen by hashing the prompt.

Nothing here looks at the clock or a global random state, so the same prompt, image index and seed always
give the same bytes. Drawing is a handful of C-level Pillow calls (a 256-step gradient resized to the
requested size, a lookup table per channel, a few shapes), so even 3840x2160 takes a fraction of a second.
"""

from __future__ import annotations

import hashlib
import io
import random
from collections import OrderedDict
from collections.abc import Hashable
from typing import Literal

from PIL import Image, ImageDraw, ImageFilter

__all__ = ["MEDIA_TYPES", "DrawnImages", "ImageFormat", "draw_image", "draw_partial"]

ImageFormat = Literal["png", "jpeg", "webp", "gif", "svg"]
MEDIA_TYPES: dict[str, str] = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "gif": "image/gif",
    "svg": "image/svg+xml",
}
_Colour = tuple[int, int, int]


def _rng(prompt: str, index: int, seed: int) -> random.Random:
    digest = hashlib.sha256(f"{seed}\x00{index}\x00{prompt}".encode()).digest()
    return random.Random(int.from_bytes(digest, "big"))  # noqa: S311 (drawing, not cryptography)


def _colour(rng: random.Random) -> _Colour:
    return (rng.randrange(256), rng.randrange(256), rng.randrange(256))


def _gradient(rng: random.Random, width: int, height: int, start: _Colour, end: _Colour) -> Image.Image:
    """An RGB gradient from ``start`` to ``end`` in one of four directions."""
    ramp = Image.linear_gradient("L")  # 256x256, black at the top
    ramp = ramp.rotate(rng.choice((0, 90, 180, 270)))
    ramp = ramp.resize((width, height), Image.Resampling.BILINEAR)
    channels = [
        ramp.point([round(a + (b - a) * step / 255) for step in range(256)])
        for a, b in zip(start, end, strict=True)
    ]
    return Image.merge("RGB", channels)


def _shapes(rng: random.Random, width: int, height: int, count: int) -> list[tuple[str, list[int], _Colour]]:
    shapes = []
    for _ in range(count):
        x0, x1 = sorted((rng.randrange(width), rng.randrange(width)))
        y0, y1 = sorted((rng.randrange(height), rng.randrange(height)))
        kind = rng.choice(("ellipse", "rectangle", "triangle"))
        shapes.append((kind, [x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)], _colour(rng)))
    return shapes


def _paint(
    draw: ImageDraw.ImageDraw, shapes: list[tuple[str, list[int], _Colour]], alpha: int | None
) -> None:
    for kind, (x0, y0, x1, y1), colour in shapes:
        fill = colour if alpha is None else (*colour, alpha)
        if kind == "ellipse":
            draw.ellipse((x0, y0, x1, y1), fill=fill)
        elif kind == "rectangle":
            draw.rectangle((x0, y0, x1, y1), fill=fill)
        else:
            draw.polygon([((x0 + x1) // 2, y0), (x1, y1), (x0, y1)], fill=fill)


def _svg(rng: random.Random, width: int, height: int) -> bytes:
    start, end = _colour(rng), _colour(rng)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">',
        '<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1">'
        f'<stop offset="0" stop-color="#{bytes(start).hex()}"/>'
        f'<stop offset="1" stop-color="#{bytes(end).hex()}"/></linearGradient></defs>',
        f'<rect width="{width}" height="{height}" fill="url(#g)"/>',
    ]
    for kind, (x0, y0, x1, y1), colour in _shapes(rng, width, height, 6):
        fill = f"#{bytes(colour).hex()}"
        if kind == "ellipse":
            parts.append(
                f'<ellipse cx="{(x0 + x1) / 2}" cy="{(y0 + y1) / 2}" rx="{(x1 - x0) / 2}" '
                f'ry="{(y1 - y0) / 2}" fill="{fill}"/>'
            )
        elif kind == "rectangle":
            parts.append(f'<rect x="{x0}" y="{y0}" width="{x1 - x0}" height="{y1 - y0}" fill="{fill}"/>')
        else:
            parts.append(f'<polygon points="{(x0 + x1) // 2},{y0} {x1},{y1} {x0},{y1}" fill="{fill}"/>')
    parts.append("</svg>\n")
    return "\n".join(parts).encode()


#: The longest frame delay a GIF can hold (a 16-bit count of hundredths of a second).
GIF_MAX_FRAME_DURATION_MS = 655_350


def _gif(
    rng: random.Random,
    width: int,
    height: int,
    *,
    frame_count: int,
    frame_duration_ms: int,
    transparent: bool,
) -> bytes:
    # Drawn straight in palette mode: index i of the palette is step i of the gradient, so no frame is
    # quantized (quantizing is the slow part of writing a GIF).
    start, end = _colour(rng), _colour(rng)
    palette: list[int] = []
    for step in range(256):
        palette.extend(round(a + (b - a) * step / 255) for a, b in zip(start, end, strict=True))
    shapes = _shapes(rng, width, height, 4)
    ramp = Image.linear_gradient("L").resize((width, height), Image.Resampling.BILINEAR)
    frames = []
    for frame_index in range(frame_count):
        shift = frame_index * 256 // frame_count
        frame = ramp.point(lambda value, shift=shift: (value + shift) % 256).convert("P")
        frame.putpalette(palette)
        draw = ImageDraw.Draw(frame)
        for shape_index, (_kind, (x0, y0, x1, y1), _fill) in enumerate(shapes):
            offset = (frame_index * (shape_index + 1) * 7) % 32
            draw.ellipse((x0 + offset, y0, x1 + offset, y1), fill=(shape_index * 61 + shift) % 256)
        frames.append(frame)
    buffer = io.BytesIO()
    options: dict[str, object] = {"transparency": 0} if transparent else {}
    frames[0].save(
        buffer,
        "GIF",
        save_all=True,
        append_images=frames[1:],
        # GIF stores a frame's delay in hundredths of a second in 16 bits: at most 655,350 ms.
        duration=max(0, min(frame_duration_ms, GIF_MAX_FRAME_DURATION_MS)),
        loop=0,
        **options,
    )
    return buffer.getvalue()


def draw_image(
    prompt: str,
    *,
    index: int = 0,
    seed: int = 0,
    width: int = 1024,
    height: int = 1024,
    output_format: ImageFormat = "png",
    transparent: bool = False,
    compression: int | None = None,
    frame_count: int = 4,
    frame_duration_ms: int = 100,
) -> bytes:
    """Draw one image file of exactly ``width`` x ``height`` pixels, the same bytes for the same arguments.

    Args:
        prompt: Chooses the colours and shapes (through a hash).
        index: The image's index in its response, so the ``n`` images of one request differ.
        seed: The emulator's seed, mixed into the hash.
        width: Pixels across.
        height: Pixels down.
        output_format: ``png``, ``jpeg``, ``webp``, ``gif`` (animated, ``frame_count`` frames) or ``svg``.
        transparent: An RGBA image with a transparent background (PNG and WebP; GIF gets a transparent index).
        compression: The JPEG/WebP quality in percent (the API's ``output_compression``); None for 90.
        frame_count: GIF only: the number of frames.
        frame_duration_ms: GIF only: how long each frame shows.

    Returns:
        The encoded file.
    """
    rng = _rng(prompt, index, seed)
    if output_format == "svg":
        return _svg(rng, width, height)
    if output_format == "gif":
        return _gif(
            rng,
            width,
            height,
            frame_count=frame_count,
            frame_duration_ms=frame_duration_ms,
            transparent=transparent,
        )
    start, end = _colour(rng), _colour(rng)
    shapes = _shapes(rng, width, height, 5)
    if transparent:
        image = Image.new("RGBA", (width, height), (*start, 0))
        _paint(ImageDraw.Draw(image), shapes, alpha=255)
    else:
        image = _gradient(rng, width, height, start, end)
        _paint(ImageDraw.Draw(image), shapes, alpha=None)
    return _encode(image, output_format, compression)


def _encode(image: Image.Image, output_format: ImageFormat, compression: int | None) -> bytes:
    buffer = io.BytesIO()
    quality = 90 if compression is None else max(1, min(compression, 100))
    if output_format == "jpeg":
        image.convert("RGB").save(buffer, "JPEG", quality=quality)
    elif output_format == "webp":
        image.save(buffer, "WEBP", quality=quality, method=0)
    else:
        image.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def draw_partial(final: bytes, step: int, steps: int, output_format: ImageFormat) -> bytes:
    """A blurrier version of a finished image, for streamed partial images (step 0 is the blurriest).

    Args:
        final: The encoded final image (png, jpeg or webp).
        step: This partial's index, 0-based.
        steps: How many partials there are.
        output_format: The format to encode the partial in.

    Returns:
        The encoded partial image, the same size and format as ``final``.
    """
    if output_format in {"gif", "svg"}:
        return final
    image = Image.open(io.BytesIO(final))
    image.load()
    radius = 4 * (steps - step)
    small = image.resize((max(1, image.width // 8), max(1, image.height // 8)), Image.Resampling.BILINEAR)
    blurred = small.filter(ImageFilter.BoxBlur(radius / 8)).resize(image.size, Image.Resampling.BILINEAR)
    return _encode(blurred, output_format, None)


class DrawnImages:
    """The most recently drawn images, by everything that decides their bytes; bounded in total bytes.

    ``draw_image`` is a pure function of its arguments, so an image asked for again (the same prompt in
    a test suite, or in a load test) is served from here instead of being drawn again. Not thread-safe:
    the app uses it from its event loop only.
    """

    def __init__(self, max_bytes: int = 64 * 2**20) -> None:
        """Keep at most ``max_bytes`` of images; an image larger than that is never kept."""
        self.max_bytes = max_bytes
        self._images: OrderedDict[Hashable, bytes] = OrderedDict()
        self._bytes = 0

    def get(self, key: Hashable) -> bytes | None:
        """The image drawn for ``key``, or None."""
        image = self._images.get(key)
        if image is not None:
            self._images.move_to_end(key)
        return image

    def put(self, key: Hashable, image: bytes) -> None:
        """Remember an image, forgetting the least recently used ones beyond the byte limit."""
        if len(image) > self.max_bytes or key in self._images:
            return
        self._images[key] = image
        self._bytes += len(image)
        while self._bytes > self.max_bytes:
            _, dropped = self._images.popitem(last=False)
            self._bytes -= len(dropped)
