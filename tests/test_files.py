"""Files: one naming scheme for `GeneratedImage.save` and the CLI, and atomic writes under interrupts."""

from __future__ import annotations

import base64
import os
import random
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oai_images import GeneratedImage, _files
from oai_images._files import (
    DEFAULT_NAME,
    Naming,
    check_name_template,
    display_problem,
    file_stem,
    slug,
    write_image,
)
from tests.conftest import PNG

WHEN = time.mktime((2026, 11, 29, 13, 5, 2, 0, 0, -1))
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"{port}{i}" for port in ("COM", "LPT") for i in range(1, 10))}
FULLWIDTH = "\uff26\uff55\uff4c\uff4c \uff26\uff2f\uff38"  # "Full FOX" in fullwidth letters


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("A lighthouse at dusk!", "a-lighthouse-at-dusk"),
        ("../../etc/passwd", "etc-passwd"),
        ("Crème brûlée 🍮", "creme-brulee"),
        ("日本の猫", "日本の猫"),
        (FULLWIDTH, "full-fox"),  # NFKC
        ("кот в сапогах", "кот-в-сапогах"),
        ("नमस्ते दुनिया", "नमस्ते-दुनिया"),  # combining vowel signs stay with their letters
        (None, "image"),
        ("", "image"),
    ],
)
def test_slug_keeps_letters_of_every_script(prompt: str | None, expected: str) -> None:
    """Letters and digits of any script stay (Latin loses its accents); everything else is a dash."""
    assert slug(prompt) == expected


def test_slug_of_prompts_without_letters_differs_by_prompt() -> None:
    """Prompts with no letter at all (emoji) get distinct hashed slugs, never one shared name."""
    first, second = slug("🍮🍮"), slug("🦊")
    assert first.startswith("image-")
    assert first != second
    assert len(first) == len("image-") + 8


def test_two_non_latin_prompts_never_share_a_slug() -> None:
    """Different Japanese prompts, the bug of issue 15 (both were `image`), give different slugs."""
    assert slug("日本の猫") != slug("日本の犬")


@given(st.text(max_size=300))
def test_slug_is_always_file_name_safe(prompt: str) -> None:
    """Whatever the prompt: no separator, no dot, no space, at most 60 bytes, never empty."""
    text = slug(prompt)
    assert text
    assert not set(text) & set('/\\:*?"<>|. \t\n\x00')
    assert len(text.encode("utf-8", "surrogatepass")) <= 60
    assert text == text.strip("-")


@given(st.text(max_size=300), st.integers(min_value=1, max_value=10_000))
def test_file_stem_is_always_safe(prompt: str, index: int) -> None:
    """A stem from the default template is bounded, separator-free, and no Windows device name."""
    stem = file_stem(DEFAULT_NAME, PNG, prompt=prompt, index=index, when=WHEN)
    assert "/" not in stem
    assert "\\" not in stem
    assert ".." not in stem
    assert len(stem.encode("utf-8", "surrogatepass")) <= 160
    assert stem.split(".")[0].upper() not in _RESERVED


def test_file_stem_fills_every_field() -> None:
    """{slug}, {index} (with a format), {id} (the bytes' SHA-256) and {time} (local) are filled in."""
    stem = file_stem("{time}_{slug}_{index:03d}_{id}", PNG, prompt="A red fox", index=7, when=WHEN)
    assert stem.startswith("20261129-130502_a-red-fox_007_")
    assert len(stem.rsplit("_", 1)[1]) == 8
    assert file_stem("{id}", PNG, prompt=None, index=1) != file_stem("{id}", b"other", prompt=None, index=1)


@pytest.mark.parametrize("template", ["{slug}", "CON", "nul-{index}"])
def test_file_stem_avoids_windows_device_names(template: str) -> None:
    """A name that would be a Windows device (CON, NUL.png) is changed."""
    stem = file_stem(template, PNG, prompt="con", index=1)
    assert stem.split(".")[0].upper() not in _RESERVED


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("{prompt}", "not one of"),
        ("{slug.__class__}", "not one of"),
        ("{slug!r}", "not one of"),
        ("{index:{slug}}", "not one of"),
        ("{slug:>9}", "only {index}"),
        ("out/{slug}", "path separator"),
        ("..\\{slug}", "path separator"),
        ("{slug", "not a valid template"),
        ("{index:q}", "not a valid template"),
        ("...", "empty file name"),
    ],
)
def test_check_name_template_refuses_what_is_unsafe(template: str, problem: str) -> None:
    """Unknown fields, attribute access, conversions, separators and empty names are refused."""
    with pytest.raises(ValueError, match=r"template|uses|separator|only|empty") as caught:
        check_name_template(template)
    assert problem in str(caught.value)


def test_save_into_a_folder_names_files_like_the_command_line(tmp_path: Path) -> None:
    """save('out/') uses the command line's default scheme: <time>-<slug>-<index>, created time first."""
    b64 = base64.b64encode(PNG).decode()
    image = GeneratedImage(b64_json=b64, prompt="日本の猫", index=2, created=int(WHEN))
    path = image.save(f"{tmp_path}/out/")
    expected = file_stem(DEFAULT_NAME, PNG, prompt="日本の猫", index=2, when=int(WHEN))
    assert path.name == f"{expected}.png"
    assert path.name == "20261129-130502-日本の猫-2.png"


def test_save_into_a_folder_adds_v2_instead_of_replacing(tmp_path: Path) -> None:
    """The same name twice: the second file is -v2, the first is kept as it was."""
    naming = Naming("{slug}", prompt="a cat")
    first = write_image(PNG, tmp_path, naming=naming)
    second = write_image(PNG + b"2", tmp_path, naming=naming)
    assert (first.name, second.name) == ("a-cat.png", "a-cat-v2.png")
    assert first.read_bytes() == PNG
    assert write_image(PNG + b"3", tmp_path, naming=naming, overwrite=True) == first
    assert sorted(os.listdir(tmp_path)) == ["a-cat-v2.png", "a-cat.png"]


def test_save_with_a_name_template(tmp_path: Path) -> None:
    """save(folder, name=...) applies the template; a bad one raises ValueError before writing."""
    image = GeneratedImage(b64_json=base64.b64encode(PNG).decode(), prompt="a fox", index=3)
    assert image.save(tmp_path, name="fox-{index:02d}").name == "fox-03.png"
    with pytest.raises(ValueError, match="not one of"):
        image.save(tmp_path, name="{nope}")
    assert os.listdir(tmp_path) == ["fox-03.png"]


def test_display_problem_says_there_is_no_display(monkeypatch: pytest.MonkeyPatch) -> None:
    """On Linux without DISPLAY or WAYLAND_DISPLAY the reason names both variables; with one, none."""
    monkeypatch.setattr("oai_images._files.sys.platform", "linux")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert "no display" in display_problem()
    assert "WAYLAND_DISPLAY" in display_problem()
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    assert display_problem() == ""


# --- atomic writes under interrupts: a KeyboardInterrupt anywhere in a save leaves no temporary file ---


class _InterruptAt:
    """A trace function raising KeyboardInterrupt at the k-th line run in `_files` (its calls into the
    standard library raise from the line that made them)."""  # noqa: D205, D209 - one sentence

    def __init__(self, k: int) -> None:
        self.k = k
        self.lines = 0

    def __call__(self, frame: FrameType, event: str, arg: Any) -> Any:
        if event == "call" and frame.f_code.co_filename != _files.__file__:
            return None
        if event == "line":
            self.lines += 1
            if self.lines == self.k:
                raise KeyboardInterrupt
        return self


def _count_lines(folder: Path) -> int:
    counter = _InterruptAt(-1)
    sys.settrace(counter)
    try:
        _files.write_image(PNG, folder / "probe.png")
    finally:
        sys.settrace(None)
    return counter.lines


def test_write_image_interrupted_anywhere_leaves_no_partial_file(tmp_path: Path) -> None:
    """3,000 saves, each interrupted at a random line (the clean-up's included): no .part file is left."""
    lines = _count_lines(tmp_path)
    assert lines > 10
    rng = random.Random(7)
    interrupted = 0
    for run in range(3000):
        trace = _InterruptAt(rng.randint(1, lines))
        sys.settrace(trace)
        try:
            _files.write_image(PNG, tmp_path / f"image-{run}.png")
        except KeyboardInterrupt:
            interrupted += 1
        finally:
            sys.settrace(None)
    assert interrupted == 3000
    assert sorted(path.name for path in tmp_path.glob(".oai-images-*")) == []


def test_write_image_cleans_up_when_the_first_removal_is_interrupted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An interrupt inside the clean-up's unlink: the removal is retried, then the interrupt goes on."""
    real_unlink = os.unlink
    calls: list[str] = []

    def unlink(path: str) -> None:
        calls.append(path)
        if len(calls) == 1:
            raise KeyboardInterrupt
        real_unlink(path)

    def failing_link(source: Any, target: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "unlink", unlink)
    monkeypatch.setattr(os, "link", failing_link)
    with pytest.raises(KeyboardInterrupt):
        _files.write_image(PNG, tmp_path / "a.png")
    assert len(calls) >= 2
    assert list(tmp_path.iterdir()) == []
