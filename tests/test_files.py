"""Atomic image writes under interrupts: a KeyboardInterrupt landing anywhere inside a save leaves no
temporary file behind."""  # noqa: D205, D209 - one sentence

from __future__ import annotations

import os
import random
import sys
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from oai_images import _files
from tests.conftest import PNG


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
