"""``oai-images edit`` and ``oai-images vary``, run as real subprocesses of the installed console script."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from tests.test_cli import SECRET, Recorder, _base_url, recorder, run

__all__ = ["recorder"]  # the fixture, imported for the tests below

pytestmark = pytest.mark.slow


def picture(path: Path, size: tuple[int, int] = (256, 256), mode: str = "RGBA", fmt: str = "PNG") -> Path:
    """A red image; with an alpha channel its centre is fully transparent."""
    image = Image.new("RGBA", size, (200, 40, 40, 255))
    w, h = size
    image.paste((0, 0, 0, 0), (w // 4, h // 4, 3 * w // 4, 3 * h // 4))
    image.convert(mode).save(path, fmt)
    return path


def size_of(path: str | Path) -> tuple[int, int]:
    """An image file's size, the file closed again."""
    with Image.open(path) as image:
        return image.size


def test_edit_emulator_saves_the_edited_image(tmp_path: Path) -> None:
    """A dall-e-2 edit with a mask saves one PNG of the requested size and prints its path."""
    image = picture(tmp_path / "pool.png", mode="RGB")
    mask = picture(tmp_path / "mask.png")
    out = tmp_path / "out"
    done = run(
        "edit", "a flamingo", str(image), "--mask", str(mask), "-m", "dall-e-2", "-s", "512x512",
        "--emulator", "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    [line] = done.stdout.splitlines()
    saved = Path(line)
    assert saved.parent == out
    assert saved.name.endswith("-a-flamingo-1.png")
    assert size_of(saved) == (512, 512)


def test_edit_json_with_several_images_streaming(tmp_path: Path) -> None:
    """Two images, --partial-images 1 and --json: the document names the model, the image and the partial."""
    first = picture(tmp_path / "a.png")
    second = picture(tmp_path / "b.jpg", mode="RGB", fmt="JPEG")
    done = run(
        "edit", "a gift basket", str(first), str(second), "--partial-images", "1", "--json",
        "--emulator", "--out", str(tmp_path),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["model"] == "gpt-image-1.5"
    assert len(document["images"]) == 1
    assert len(document["partial_images"]) == 1
    assert size_of(document["images"][0]["path"]) == (1024, 1024)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{jpeg}", "-m", "dall-e-2"], "is a JPEG file; dall-e-2 accepts PNG"),
        (["{missing}"], "does not exist"),
        (["{png}", "--mask", "{jpeg}"], "a mask must be a PNG"),
        (["{png}", "-m", "dall-e-3"], "cannot edit images"),
        (["{png}", "-m", "gpt-image-2", "--input-fidelity", "high"], "input_fidelity"),
    ],
)
def test_edit_invalid_inputs_exit_2_and_send_nothing(
    recorder: Recorder, tmp_path: Path, args: list[str], message: str
) -> None:
    """An input the API would refuse exits 2 with a message naming it; no request reaches the server."""
    paths = {
        "jpeg": str(picture(tmp_path / "photo.png", mode="RGB", fmt="JPEG")),
        "png": str(picture(tmp_path / "a.png")),
        "missing": str(tmp_path / "missing.png"),
    }
    filled = [arg.format(**paths) for arg in args]
    done = run("edit", "x", *filled, "--base-url", _base_url(recorder), env={"OPENAI_API_KEY": SECRET})
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert recorder.requests == []


def test_edit_api_failure_exits_1(recorder: Recorder, tmp_path: Path) -> None:
    """A server error exits 1 after the upload (the multipart body reached the server, file included)."""
    image = picture(tmp_path / "a.png")
    done = run(
        "edit", "x", str(image), "--base-url", _base_url(recorder), "--max-retries", "0",
        env={"OPENAI_API_KEY": SECRET},
    )  # fmt: skip
    assert done.returncode == 1
    [(method, path, body)] = recorder.requests
    assert (method, path) == ("POST", "/v1/images/edits")
    assert image.read_bytes() in body
    assert SECRET not in done.stderr


def test_edit_markup_and_preview_fields(tmp_path: Path) -> None:
    """--markup, --complexity and --frame-count reach the emulator: a gif of that many frames is saved."""
    image = picture(tmp_path / "pool.png", mode="RGB")
    marks = picture(tmp_path / "marks.png")
    done = run(
        "edit", "a flamingo", str(image), "--markup", str(marks), "-m", "gpt-image-2.5-flare",
        "--complexity", "high", "--output-format", "gif", "--frame-count", "3", "-s", "1024x1024",
        "--emulator", "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with Image.open(done.stdout.splitlines()[0]) as saved:
        assert (saved.format, getattr(saved, "n_frames", 1)) == ("GIF", 3)
    refused = run(
        "edit", "x", str(image), "--markup", str(marks), "--mask", str(marks), "-m", "gpt-image-2.5-flare",
        "--emulator", "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert refused.returncode == 2
    assert "markup" in refused.stderr


def test_edit_help_lists_the_generated_options() -> None:
    """The edit options come from the spec: --input-fidelity is there, the uploads are arguments."""
    done = run("edit", "--help")
    assert done.returncode == 0
    assert "--input-fidelity" in done.stdout
    assert "--mask FILE" in done.stdout
    assert "--image" not in done.stdout


def test_vary_emulator_saves_n_variations(tmp_path: Path) -> None:
    """The vary command saves n PNGs of the size, named after the input."""
    image = picture(tmp_path / "otter.png", mode="RGB")
    done = run("vary", str(image), "-n", "2", "-s", "256x256", "--emulator", "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    paths = [Path(line) for line in done.stdout.splitlines()]
    assert len(paths) == 2
    assert all("otter-variation" in path.name for path in paths)
    assert all(size_of(path) == (256, 256) for path in paths)


def test_vary_not_square_exits_2_and_sends_nothing(recorder: Recorder, tmp_path: Path) -> None:
    """A non-square image is refused before any request."""
    image = picture(tmp_path / "wide.png", size=(64, 32))
    done = run("vary", str(image), "--base-url", _base_url(recorder), env={"OPENAI_API_KEY": SECRET})
    assert done.returncode == 2
    assert "only square images" in done.stderr
    assert recorder.requests == []


@pytest.mark.slow
def test_edit_and_vary_take_the_output_options_of_generate(tmp_path: Path) -> None:
    """The edit and vary commands take --output-file (its extension asks for the format), --overwrite
    and --name, as generate does: one option set for every command that saves."""  # noqa: D205, D209
    image = picture(tmp_path / "in.png", mode="RGBA", fmt="PNG")
    edited = run("edit", "a hat", str(image), "--emulator", "-m", "gpt-image-1.5", "--output-file",
                 str(tmp_path / "hat.webp"))  # fmt: skip
    assert edited.returncode == 0, edited.stderr
    with Image.open(tmp_path / "hat.webp") as saved:
        assert saved.format == "WEBP"
    again = run("edit", "a hat", str(image), "--emulator", "-m", "gpt-image-1.5", "--output-file",
                str(tmp_path / "hat.webp"))  # fmt: skip
    assert again.returncode == 2
    assert "--overwrite" in again.stderr
    replaced = run("edit", "a hat", str(image), "--emulator", "-m", "gpt-image-1.5", "--output-file",
                   str(tmp_path / "hat.webp"), "--overwrite")  # fmt: skip
    assert replaced.returncode == 0, replaced.stderr
    square = picture(tmp_path / "square.png", mode="RGBA", fmt="PNG")
    varied = run("vary", str(square), "--emulator", "-n", "2", "-o", str(tmp_path / "vars"),
                 "--name", "var-{index:02d}")  # fmt: skip
    assert varied.returncode == 0, varied.stderr
    assert sorted(path.name for path in (tmp_path / "vars").iterdir()) == ["var-01.png", "var-02.png"]
