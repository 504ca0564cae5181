"""The gallery of a large run: build time (thumbnails made, then cached) and the page's size.

`python -m bench.gallery [--images 10000]` makes a run's output folder as a bulk run leaves it: eight real
images from the emulator (1024x1024 and 1536x1024 PNG, 1024x1536 JPEG, 1024x1024 WebP, two of each),
hard-linked under as many names as asked (distinct files to the gallery, which keys thumbnails by path,
but no disk filled), and a journal written by the bulk engine's own `Journal`, with one line in a hundred
failed. Then `build_gallery` runs twice: the first build decodes every image and writes its thumbnail, the
second finds them all in the cache.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SHAPES = [
    ("1024x1024", "png"),
    ("1536x1024", "png"),
    ("1024x1536", "jpeg"),
    ("1024x1024", "webp"),
]


@dataclass(frozen=True)
class GalleryFigures:
    """What one measurement found."""

    images: int
    cards: int
    first_seconds: float
    second_seconds: float
    page_bytes: int
    thumbnails_bytes: int

    @property
    def ms_per_image(self) -> float:
        """The first build's time per image, in milliseconds."""
        return self.first_seconds / self.images * 1000

    @property
    def bytes_per_card(self) -> float:
        """The page's size per card."""
        return self.page_bytes / self.cards


def _sources(folder: Path) -> list[Path]:
    """Eight real images from the emulator, two of each shape and format."""
    from oai_images import ImagesClient

    sources = []
    with ImagesClient(emulator=True) as client:
        for number, (size, output_format) in enumerate(SHAPES * 2):
            result = client.generate(
                f"a lighthouse at dusk, take {number}",
                model="gpt-image-1",
                size=size,
                output_format=output_format,
            )
            sources.append(result.images[0].save(folder / f"source-{number}"))
    return sources


def make_run(folder: Path, images: int) -> None:
    """A run's output folder of ``images`` saved lines (and one failed line a hundred) with its journal."""
    from oai_images.bulk import Journal

    sources = _sources(folder.parent)
    folder.mkdir(parents=True, exist_ok=True)
    journal = Journal(folder)
    try:
        for number in range(1, images + images // 100 + 1):
            key = f"line-{number}"
            fields = {"prompt": f"a lighthouse at dusk, number {number}", "model": "gpt-image-1"}
            journal.sending(key, line=number, line_id=None, fields=json.dumps(fields))
            if number % 101 == 0:
                journal.failed(key, "the API answered 400: your request was rejected by the safety system")
                continue
            source = sources[number % len(sources)]
            target = folder / f"{number:05d}-a-lighthouse-at-dusk-number-{number}{source.suffix}"
            os.link(source, target)
            journal.saved(
                key,
                paths=[target],
                request_id=f"req_{number:032x}",
                revised_prompts=[f"A lighthouse at dusk, number {number}, in warm evening light."],
                usage={"input_tokens": 12, "output_tokens": 4160, "total_tokens": 4172},
            )
    finally:
        journal.close()


def measure(images: int) -> GalleryFigures:
    """Build the gallery of a run of ``images`` images twice; the figures."""
    from oai_images.gallery import THUMB_FOLDER, build_gallery

    with tempfile.TemporaryDirectory() as work:
        folder = Path(work) / "run"
        make_run(folder, images)
        started = time.perf_counter()
        first = build_gallery(folder)
        first_seconds = time.perf_counter() - started
        started = time.perf_counter()
        second = build_gallery(folder)
        second_seconds = time.perf_counter() - started
        assert first.images == images, (first.images, images)
        assert first.thumbnails_made == images, first
        assert second.thumbnails_made == 0, second
        thumbs = sum(path.stat().st_size for path in (folder / THUMB_FOLDER).iterdir())
        return GalleryFigures(
            images=images,
            cards=second.cards,
            first_seconds=first_seconds,
            second_seconds=second_seconds,
            page_bytes=second.page.stat().st_size,
            thumbnails_bytes=thumbs,
        )


def main() -> None:
    """Measure once and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=10_000, help="how many images the run has")
    figures = measure(parser.parse_args().images)
    print(
        f"{figures.images} images ({figures.cards} cards): first build {figures.first_seconds:.1f} s "
        f"({figures.ms_per_image:.1f} ms an image), second build {figures.second_seconds:.2f} s; "
        f"page {figures.page_bytes / 1e6:.1f} MB ({figures.bytes_per_card:.0f} bytes a card), "
        f"thumbnails {figures.thumbnails_bytes / 1e6:.1f} MB"
    )


if __name__ == "__main__":
    main()
