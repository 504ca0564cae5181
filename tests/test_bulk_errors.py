"""Bulk runs fail with documented errors naming the file, line and fix: never a raw sqlite3, csv, recursion
or type error, and nothing is sent."""  # noqa: D205, D209

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from oai_images import ImagesClient, InvalidParameterError, OAIImagesError
from oai_images.bulk import JOURNAL_NAME, InvalidLineError, JournalError, read_requests


@pytest.mark.parametrize("concurrency", [0, -5, "8", True, 2.5, None])
def test_generate_many_refuses_a_concurrency_that_is_no_count(tmp_path: Path, concurrency: Any) -> None:
    """A concurrency of 0, -5, "8", True, 2.5 or None: InvalidParameterError naming it; nothing is written."""
    with ImagesClient(emulator=True) as client, pytest.raises(InvalidParameterError) as caught:
        client.generate_many(["a fox"], out=tmp_path / "out", concurrency=concurrency)
    assert caught.value.param == "concurrency"
    assert "at least 1" in str(caught.value)
    assert not (tmp_path / "out").exists()


def test_generate_many_refuses_an_out_that_is_a_file(tmp_path: Path) -> None:
    """An out naming a file: InvalidParameterError naming it, not a FileExistsError."""
    target = tmp_path / "not-a-folder"
    target.write_text("mine")
    with ImagesClient(emulator=True) as client, pytest.raises(InvalidParameterError) as caught:
        client.generate_many(["a fox"], out=target)
    assert caught.value.param == "out"
    assert str(target) in str(caught.value)
    assert target.read_text() == "mine"


@pytest.mark.parametrize("damage", ["corrupt", "directory"])
def test_a_journal_that_cannot_be_used_is_a_journal_error(tmp_path: Path, damage: str) -> None:
    """A corrupt journal, or one that cannot be opened: JournalError naming the file and the fix."""
    journal = tmp_path / JOURNAL_NAME
    if damage == "corrupt":
        journal.write_bytes(b"this is no database at all" * 100)
    else:
        journal.mkdir()
    with ImagesClient(emulator=True) as client, pytest.raises(JournalError) as caught:
        client.generate_many(["a fox"], out=tmp_path)
    assert isinstance(caught.value, OAIImagesError)
    assert str(journal) in str(caught.value)
    assert "move it away" in str(caught.value)
    assert not [path for path in tmp_path.iterdir() if path.suffix == ".png"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes read-only files")
def test_a_read_only_journal_is_a_journal_error(tmp_path: Path) -> None:
    """A journal the user may not write: JournalError, not sqlite3.OperationalError."""
    journal = tmp_path / JOURNAL_NAME
    sqlite3.connect(journal).close()
    journal.chmod(0o444)
    with ImagesClient(emulator=True) as client, pytest.raises(JournalError):
        client.generate_many(["a fox"], out=tmp_path)


@pytest.mark.parametrize(
    ("name", "content", "line"),
    [
        ("deep.jsonl", '{"prompt": "ok"}\n' + "[" * 100_000 + "]" * 100_000 + "\n", 2),
        ("deep-cell.csv", "prompt,svg\nok,\n" + "a fox," + "[" * 100_000 + "\n", 3),
        ("huge-cell.csv", "prompt\n" + '"' + "x" * 200_000 + '"\n', 2),
    ],
)
def test_malformed_input_lines_are_invalid_lines(tmp_path: Path, name: str, content: str, line: int) -> None:
    """Nesting deeper than the recursion limit, a cell over csv's size limit: InvalidLineError naming the
    file and the line."""  # noqa: D205, D209
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(InvalidLineError) as caught:
        read_requests(path, validate=True)
    assert caught.value.line == line
    assert name in str(caught.value)
