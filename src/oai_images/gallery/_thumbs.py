"""Thumbnails, made once with Pillow and kept in a cache folder beside the page.

A thumbnail's name is a hash of the image's resolved path, modification time and size: an unchanged image
is never decoded again, and a changed one (same name, new bytes) gets a new thumbnail. Each is written to a
temporary name and renamed, so a killed build leaves no half thumbnail under a real name. Pillow releases
the GIL while it decodes and resizes, so a few threads make them in parallel.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

__all__ = ["THUMB_FOLDER", "THUMB_PIXELS", "ThumbReport", "make_thumbnails", "thumbnail_name", "write_atomic"]

#: The cache folder, beside the page (hidden, so that a run's listing of its images does not show it).
THUMB_FOLDER = ".oai-images-thumbs"
#: The longest side of a thumbnail, in pixels (cards show them at half that, sharp on high-DPI screens).
THUMB_PIXELS = 320
_FORMAT, _SUFFIX = "WEBP", ".webp"
#: A temporary file older than this was left by a killed build (writing a thumbnail takes milliseconds).
_STALE_PART_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class ThumbReport:
    """What a build did with thumbnails.

    Attributes:
        thumbnails: The thumbnail of each image that has one, by the image's path.
        made: How many were made in this build.
        cached: How many were already in the cache.
        failed: The images Pillow could not read, with the reason.
    """

    thumbnails: dict[Path, Path]
    made: int
    cached: int
    failed: dict[Path, str]


def thumbnail_name(image: Path, stat: os.stat_result) -> str:
    """The cache's file name for an image as it is now (path, modification time, size)."""
    key = f"{image}\0{stat.st_mtime_ns}\0{stat.st_size}".encode("utf-8", "surrogatepass")
    return hashlib.sha256(key).hexdigest()[:32] + _SUFFIX


def write_atomic(target: Path, data: bytes) -> None:
    """Write a file under a temporary name in its folder, then rename it: no reader sees half of it."""
    partial = target.with_name(f".oai-images-{secrets.token_hex(6)}.part")
    try:
        partial.write_bytes(data)
        os.replace(partial, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()


def _sweep(cache: Path) -> None:
    """Remove the temporary files a killed build left (kill -9 skips every clean-up)."""
    now = time.time()
    for part in cache.glob(".oai-images-*.part"):
        with contextlib.suppress(OSError):
            if now - part.stat().st_mtime > _STALE_PART_SECONDS:
                part.unlink()


def _make(image: Path, target: Path) -> None:
    import io  # noqa: PLC0415 - with Pillow, only when a thumbnail is made

    from PIL import Image  # noqa: PLC0415 - Pillow loads only when a thumbnail is made

    with Image.open(image) as opened:
        opened.draft("RGB", (THUMB_PIXELS, THUMB_PIXELS))  # JPEG: decode at a fraction of the size
        opened.thumbnail((THUMB_PIXELS, THUMB_PIXELS))
        small = opened if opened.mode in ("RGB", "RGBA") else opened.convert("RGBA")
        buffer = io.BytesIO()
        small.save(buffer, format=_FORMAT, quality=75, method=4)
    write_atomic(target, buffer.getvalue())


def make_thumbnails(images: Iterable[Path], cache: Path, *, workers: int | None = None) -> ThumbReport:
    """Make the thumbnails the cache lacks; return every image's thumbnail.

    Args:
        images: The image files (resolved paths).
        cache: The cache folder (created if missing).
        workers: Threads that decode in parallel; the number of CPUs when None.

    Raises:
        OSError: The cache folder cannot be created.
    """
    cache.mkdir(parents=True, exist_ok=True)
    _sweep(cache)
    thumbnails: dict[Path, Path] = {}
    failed: dict[Path, str] = {}
    todo: list[tuple[Path, Path]] = []
    cached = 0
    for image in dict.fromkeys(images):
        try:
            target = cache / thumbnail_name(image, image.stat())
        except OSError as exc:
            failed[image] = exc.strerror or str(exc)
            continue
        if target.is_file():
            thumbnails[image] = target
            cached += 1
        else:
            todo.append((image, target))

    def attempt(job: tuple[Path, Path]) -> str | None:
        try:
            _make(*job)
        # Pillow's readers raise many types for a damaged or hostile file (OSError, ValueError,
        # SyntaxError, DecompressionBombError, struct.error, ...): any of them means "no thumbnail".
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"
        return None

    pool = ThreadPoolExecutor(max_workers=workers or min(8, os.cpu_count() or 1))
    try:
        for (image, target), problem in zip(todo, pool.map(attempt, todo), strict=True):
            if problem is None:
                thumbnails[image] = target
            else:
                failed[image] = problem
    finally:
        # On Ctrl-C, drop the thumbnails not started instead of making them all before stopping.
        pool.shutdown(wait=True, cancel_futures=True)
    return ThumbReport(thumbnails, len(todo) - sum(1 for image, _ in todo if image in failed), cached, failed)
