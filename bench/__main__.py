"""Run every benchmark and write bench/RESULTS.md: `python -m bench [--quick] [--out PATH]`."""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from . import bulk, concurrency, gallery, overhead, payload, startup

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Sizes:
    """How much work each benchmark does."""

    startup_repeats: int
    calls: int
    call_repeats: int
    payload_size: tuple[int, int]
    payload_repeats: int
    requests: int
    concurrency: int
    latency_ms: int
    gallery_images: int


FULL = Sizes(9, 2000, 15, (3840, 2160), 5, 256, 32, 100, 10_000)
QUICK = Sizes(1, 20, 1, (64, 48), 1, 8, 4, 10, 40)


@dataclass(frozen=True)
class Row:
    """One line of the results table."""

    measure: str
    values: str
    ratio: float | None
    versus: str
    target: str
    met: bool | None


def _check(ratio: float | None, limit: float, *, at_least: bool = False) -> bool | None:
    if ratio is None:
        return None
    return ratio >= limit if at_least else ratio <= limit


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b <= 0 else a / b


def _ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1000:.1f} ms"


def _us(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1e6:.0f} µs"


def run(sizes: Sizes, work: Path) -> tuple[list[Row], dict[str, str]]:
    """Measure everything; return the table rows and the raw figures (for the notes)."""
    rows: list[Row] = []
    notes: dict[str, str] = {}

    print("start-up …", file=sys.stderr)
    walls = startup.measure(sizes.startup_repeats)
    base = walls["python"]
    net = {name: max(walls[name] - base, 1e-6) for name in walls if name != "python"}
    ours, official, bare = net["oai-images"], net.get("official"), net["httpx"]
    shown = f"oai-images {_ms(ours)}, official {_ms(official)}, httpx {_ms(bare)}"
    rows.append(
        Row(
            "import + client, net of `python -c pass`",
            shown,
            _ratio(ours, official),
            "official",
            "≤ 0.25",
            _check(_ratio(ours, official), 0.25),
        )
    )
    rows.append(
        Row(
            "import + client, net of `python -c pass`",
            shown,
            _ratio(ours, bare),
            "bare httpx",
            "≤ 1.5",
            _check(_ratio(ours, bare), 1.5),
        )
    )
    if "oai-images --help" in walls:
        notes["`oai-images --help` wall time"] = _ms(walls["oai-images --help"])
    notes["`python -c pass` wall time"] = _ms(base)

    print("per-call overhead …", file=sys.stderr)
    cpu = overhead.measure(sizes.calls, sizes.call_repeats)
    for mode, by_name in cpu.items():
        ours, official, raw = by_name["oai-images"], by_name.get("official"), by_name["raw-httpx"]
        shown = f"oai-images {_us(ours)}, official {_us(official)}, raw httpx {_us(raw)}"
        label = f"CPU per call, {mode}, {sizes.calls} calls"
        rows.append(
            Row(
                label, shown, _ratio(ours, official), "official", "≤ 0.5", _check(_ratio(ours, official), 0.5)
            )
        )
        rows.append(
            Row(label, shown, _ratio(ours, raw), "raw httpx", "≤ 1.1", _check(_ratio(ours, raw), 1.1))
        )

    print("large payload …", file=sys.stderr)
    width, height = sizes.payload_size
    body = work / "payload.json"
    png_bytes = payload.make_payload(body, width, height)
    notes["large payload"] = (
        f"{width}x{height} noise PNG of {png_bytes / 1e6:.1f} MB, "
        f"response JSON of {body.stat().st_size / 1e6:.1f} MB"
    )
    big = payload.measure(body, work, sizes.payload_repeats)
    ours, official, raw = (big.get(name) for name in ("oai-images", "official", "raw-httpx"))
    assert ours is not None
    assert raw is not None
    shown = (
        f"oai-images {_ms(ours['seconds'])}, official {_ms(official and official['seconds'])}, "
        f"floor {_ms(raw['seconds'])}"
    )
    rows.append(
        Row(
            "large payload to file: time",
            shown,
            _ratio(ours["seconds"], raw["seconds"]),
            "raw floor",
            "≤ 1.2",
            _check(_ratio(ours["seconds"], raw["seconds"]), 1.2),
        )
    )
    multiples = {name: figures["peak_bytes"] / png_bytes for name, figures in big.items()}
    shown = ", ".join(f"{name} {value:.2f}x" for name, value in multiples.items())
    rows.append(
        Row(
            "large payload to file: peak memory",
            shown,
            multiples["oai-images"],
            "decoded image",
            "≤ 3",
            _check(multiples["oai-images"], 3),
        )
    )

    print("concurrency …", file=sys.stderr)
    walls = concurrency.measure(sizes.requests, sizes.concurrency, sizes.latency_ms)
    ideal = sizes.requests / sizes.concurrency * sizes.latency_ms / 1000
    fractions = {name: ideal / wall for name, wall in walls.items()}
    shown = ", ".join(f"{name} {_ms(walls[name])} ({fractions[name]:.2f})" for name in walls)
    rows.append(
        Row(
            f"{sizes.requests} requests at concurrency {sizes.concurrency}, {sizes.latency_ms} ms latency",
            shown,
            fractions["oai-images"],
            f"ideal {_ms(ideal)}",
            "≥ 0.9",
            _check(fractions["oai-images"], 0.9, at_least=True),
        )
    )

    print("bulk at the rate limit …", file=sys.stderr)
    figures = bulk.measure(quick=sizes is QUICK)
    label = f"bulk: {figures.requests} requests at {figures.rpm} rpm, sustained throughput"
    shown = f"{figures.sustained_per_second:.2f}/s of {figures.rpm / 60:.2f}/s in {figures.seconds:.1f} s"
    rows.append(
        Row(
            label,
            shown,
            figures.fraction,
            "the rate limit",
            "≥ 0.95",
            _check(figures.fraction, 0.95, at_least=True),
        )
    )
    shown = f"{figures.rate_limited} of {figures.answers} answers"
    rows.append(
        Row(
            "bulk: answers that were 429",
            shown,
            figures.rate_limited_fraction,
            "all answers",
            "≤ 0.01",
            _check(figures.rate_limited_fraction, 0.01),
        )
    )

    print("gallery …", file=sys.stderr)
    rows += _gallery_rows(gallery.measure(sizes.gallery_images), notes)
    return rows, notes


#: The gallery's targets: a thumbnail costs about one decode of its image; a rebuild reads no image.
GALLERY_MS_PER_IMAGE = 25.0
GALLERY_REBUILD_SECONDS = 3.0
GALLERY_BYTES_PER_CARD = 1000.0


def _gallery_rows(figures: gallery.GalleryFigures, notes: dict[str, str]) -> list[Row]:
    count = figures.images
    notes["gallery"] = (
        f"{count} images of 1024-1536 px (PNG, JPEG, WebP) and {figures.cards - count} failed lines; "
        f"thumbnails {figures.thumbnails_bytes / 1e6:.1f} MB beside the page"
    )
    return [
        Row(
            f"gallery: {count} images, first build (every thumbnail made)",
            f"{figures.first_seconds:.1f} s, {figures.ms_per_image:.1f} ms an image",
            None,
            "absolute",
            f"≤ {GALLERY_MS_PER_IMAGE:.0f} ms an image",
            figures.ms_per_image <= GALLERY_MS_PER_IMAGE,
        ),
        Row(
            f"gallery: {count} images, second build (thumbnails cached)",
            _ms(figures.second_seconds),
            None,
            "absolute",
            f"≤ {GALLERY_REBUILD_SECONDS:.0f} s",
            figures.second_seconds <= GALLERY_REBUILD_SECONDS,
        ),
        Row(
            f"gallery: {count} images, page size",
            f"{figures.page_bytes / 1e6:.2f} MB, {figures.bytes_per_card:.0f} bytes a card",
            None,
            "absolute",
            f"≤ {GALLERY_BYTES_PER_CARD:.0f} bytes a card",
            figures.bytes_per_card <= GALLERY_BYTES_PER_CARD,
        ),
    ]


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    system = f"{platform.system()} {platform.release()}"
    return f"{cpu}, {os.cpu_count()} cores, {system}, Python {platform.python_version()}"


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def report(rows: list[Row], notes: dict[str, str], sizes: Sizes) -> str:
    """The RESULTS.md text."""
    met = lambda value: "n/a" if value is None else ("met" if value else "**missed**")  # noqa: E731
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`python -m bench`); every run rewrites this file. Ratios are oai-images",
        "over the named baseline, measured in the same run (medians of repeated runs). Lower is better,",
        "except for the concurrency fraction of the ideal wall time.",
        "",
        f"- date: {datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {_machine()}",
        "- versions: " + ", ".join(f"{name} {_version(name)}" for name in ("oai-images", "openai", "httpx")),
        f"- sizes: {sizes}",
        "",
        "| measure | figures | ratio | versus | target | result |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        ratio = "n/a" if row.ratio is None else f"{row.ratio:.2f}"
        lines.append(
            f"| {row.measure} | {row.values} | {ratio} | {row.versus} | {row.target} | {met(row.met)} |"
        )
    lines += ["", "Notes:", ""]
    lines += [f"- {key}: {value}" for key, value in notes.items()]
    return "\n".join(lines) + "\n"


def main() -> None:
    """Run the benchmarks and write the report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run, not a measurement")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md", help="where to write the report")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    with tempfile.TemporaryDirectory() as work:
        rows, notes = run(sizes, Path(work))
    text = report(rows, notes, sizes)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
