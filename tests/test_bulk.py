"""Bulk generation: reading and checking requests, the journal, and generate_many on both clients.

Runs against the emulator on a real loopback port (the ``server`` fixture), whose recorded requests show
exactly what was sent.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import anyio
import pytest
from PIL import Image

from oai_images import ImagesClient, InvalidParameterError
from oai_images.bulk import (
    JOURNAL_NAME,
    BulkEvent,
    BulkSummary,
    InvalidLineError,
    LineSaved,
    LineSkipped,
    RunStarted,
    load,
    read_requests,
)
from oai_images_emulator import EmulatorServer, parse_fault
from tests.conftest import Facade

FIELDS = {"model": "dall-e-2", "size": "256x256", "response_format": "b64_json"}


async def _many(
    facade: Facade, server: EmulatorServer, requests: Any, out: Path, **options: Any
) -> BulkSummary:
    client = facade.client(base_url=server.base_url)
    try:
        if isinstance(client, ImagesClient):
            return client.generate_many(requests, out=out, **options)
        return await client.generate_many(requests, out=out, **options)
    finally:
        await facade.close(client)


def _sent_prompts(server: EmulatorServer) -> list[str]:
    return [request.json["prompt"] for request in server.state.requests if isinstance(request.json, dict)]


def _images(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir() if not path.name.startswith("."))


# --- input -----------------------------------------------------------------------------------------------


def test_read_requests_txt_skips_blank_and_comment_lines(tmp_path: Path) -> None:
    """A .txt file gives one request a prompt line, numbered by its line in the file."""
    file = tmp_path / "prompts.txt"
    file.write_text("a fox\n\n# a comment\n  a whale  \n")
    requests = read_requests(file)
    assert [(r.number, dict(r.fields), r.label) for r in requests] == [
        (1, {"prompt": "a fox"}, "00001"),
        (4, {"prompt": "a whale"}, "00004"),
    ]


def test_read_requests_jsonl_takes_fields_and_ids(tmp_path: Path) -> None:
    """A .jsonl line holds the prompt, generate fields and an optional id (not sent)."""
    file = tmp_path / "requests.jsonl"
    file.write_text(json.dumps({"id": "hero", "prompt": "a fox", "n": 2, **FIELDS}) + "\n")
    (request,) = read_requests(file)
    assert request.id == "hero"
    assert request.label == "hero"
    assert dict(request.fields) == {"prompt": "a fox", "n": 2, **FIELDS}


def test_read_requests_csv_converts_cells_by_field_kind(tmp_path: Path) -> None:
    """CSV cells become the field's type (n an integer); an empty cell leaves the field unset."""
    file = tmp_path / "requests.csv"
    file.write_text("prompt,n,model,size\na fox,2,dall-e-2,\n")
    (request,) = read_requests(file)
    assert dict(request.fields) == {"prompt": "a fox", "n": 2, "model": "dall-e-2"}


@pytest.mark.parametrize(
    ("name", "text", "line", "param"),
    [
        ("bad.jsonl", '{"prompt": "ok"}\n{"prompt": "x", "size": "13x13", "model": "dall-e-2"}\n', 2, "size"),
        ("bad.jsonl", '{"prompt": "ok"}\n\n{"prompt": "x", "colour": "red"}\n', 3, "colour"),
        ("bad.jsonl", "not json\n", 1, "line"),
        ("bad.csv", "prompt,n\nok,1\nx,many\n", 3, "n"),
        ("bad.jsonl", '{"id": "a", "prompt": "x"}\n{"id": "a", "prompt": "y"}\n', 2, "id"),
        ("bad.jsonl", '{"id": "../up", "prompt": "x"}\n', 1, "id"),
        ("bad.jsonl", '{"prompt": "x", "stream": true}\n', 1, "stream"),
        ("bad.txt", "a fox\n" + "x" * 40000 + "\n", 2, "prompt"),
    ],
)
def test_read_requests_names_the_bad_line(
    tmp_path: Path, name: str, text: str, line: int, param: str
) -> None:
    """One bad line: an InvalidLineError naming the line, the field and what is allowed."""
    file = tmp_path / name
    file.write_text(text)
    with pytest.raises(InvalidLineError) as caught:
        read_requests(file)
    assert caught.value.line == line
    assert caught.value.param == param
    assert caught.value.allowed
    assert f"{name}:{line}:" in str(caught.value)


def test_read_requests_rejects_other_files(tmp_path: Path) -> None:
    """Only .txt, .jsonl and .csv files are read."""
    file = tmp_path / "prompts.md"
    file.write_text("a fox\n")
    with pytest.raises(InvalidParameterError, match=r"\.txt, \.jsonl, \.csv"):
        read_requests(file)


def test_load_keys_follow_the_fields_sent() -> None:
    """The same fields give the same key; changed fields a new one; a repeated request its own key."""
    first = load(["a fox", {"prompt": "a fox", "model": "dall-e-3"}, "a fox"], validate=True)
    again = load(["a fox"], validate=True)
    assert first[0].key == again[0].key
    assert len({request.key for request in first}) == 3


# --- generate_many --------------------------------------------------------------------------------------


async def test_generate_many_saves_every_line_and_journals_it(
    facade: Facade, server: EmulatorServer, tmp_path: Path
) -> None:
    """Each line's images are saved, named by id or number and slug, and the journal says saved."""
    requests: list[Any] = [
        {"prompt": "a red fox", **FIELDS},
        {"id": "whale", "prompt": "a blue whale", "n": 2, **FIELDS},
    ]
    events: list[BulkEvent] = []
    summary = await _many(facade, server, requests, tmp_path, concurrency=2, on_event=events.append)
    assert (summary.done, summary.skipped, summary.failed) == (2, 0, [])
    assert _images(tmp_path) == [
        "00001-a-red-fox.png",
        "whale-a-blue-whale-1.png",
        "whale-a-blue-whale-2.png",
    ]
    with Image.open(tmp_path / "00001-a-red-fox.png") as image:
        assert image.size == (256, 256)
    rows = sqlite3.connect(tmp_path / JOURNAL_NAME).execute("SELECT state, request_id FROM lines").fetchall()
    assert sorted(state for state, _ in rows) == ["saved", "saved"]
    assert all(request_id and request_id.startswith("req_") for _, request_id in rows)
    assert isinstance(events[0], RunStarted)
    assert sum(isinstance(event, LineSaved) for event in events) == 2


async def test_generate_many_again_skips_saved_lines(
    facade: Facade, server: EmulatorServer, tmp_path: Path
) -> None:
    """Running again sends only lines not saved; a changed field makes a new line."""
    requests: list[Any] = [{"prompt": f"a fox {index}", **FIELDS} for index in range(3)]
    await _many(facade, server, requests, tmp_path)
    server.state.reset()
    requests[1] = {**requests[1], "size": "512x512"}
    events: list[BulkEvent] = []
    summary = await _many(facade, server, requests, tmp_path, on_event=events.append)
    assert (summary.done, summary.skipped) == (1, 2)
    assert _sent_prompts(server) == ["a fox 1"]
    assert sum(isinstance(event, LineSkipped) for event in events) == 2


async def test_generate_many_invalid_line_sends_nothing(
    facade: Facade, server: EmulatorServer, tmp_path: Path
) -> None:
    """A bad request anywhere: InvalidLineError with its position, and zero requests sent."""
    requests: list[Any] = ["a fox", {"prompt": "a whale", "model": "dall-e-3", "n": 3}]
    with pytest.raises(InvalidLineError) as caught:
        await _many(facade, server, requests, tmp_path)
    assert (caught.value.line, caught.value.param) == (2, "n")
    assert server.state.requests == type(server.state.requests)()
    assert not (tmp_path / JOURNAL_NAME).exists()


async def test_generate_many_paces_through_429s(
    facade: Facade, server: EmulatorServer, tmp_path: Path
) -> None:
    """Against a rate limit, 429s are waited out as retry-after says, and every line ends saved."""
    server.state.config.rate_limit_rpm, server.state.config.rate_limit_burst = 600, 2
    try:
        summary = await _many(
            facade, server, [f"a fox {index}" for index in range(6)], tmp_path, concurrency=6
        )
    finally:
        server.state.config.rate_limit_rpm = server.state.config.rate_limit_burst = None
    assert summary.done == 6
    assert len(_images(tmp_path)) == 6
    assert len(server.state.requests) == 6 + summary.rate_limited


async def test_generate_many_reports_failed_lines_and_skips_them_later(
    facade: Facade, server: EmulatorServer, tmp_path: Path
) -> None:
    """A refused line is failed with the reason; a later run skips it unless retry_failed."""
    server.state.config.fault = parse_fault("server_error")
    try:
        summary = await _many(facade, server, ["a fox"], tmp_path)
    finally:
        server.state.config.fault = None
    ((request, reason),) = summary.failed
    assert request.prompt == "a fox"
    assert "500" in reason
    again = await _many(facade, server, ["a fox"], tmp_path)
    assert (again.done, again.skipped) == (0, 1)
    retried = await _many(facade, server, ["a fox"], tmp_path, retry_failed=True)
    assert retried.done == 1
    assert _images(tmp_path) == ["00001-a-fox.png"]


async def test_generate_many_refuses_a_folder_another_run_uses(
    facade: Facade, server: EmulatorServer, tmp_path: Path
) -> None:
    """Two runs into one folder would pay twice for the same lines: the second stops before sending."""
    from oai_images import OAIImagesError
    from oai_images.bulk import Journal

    running = Journal(tmp_path)
    try:
        with pytest.raises(OAIImagesError, match="another oai-images run"):
            await _many(facade, server, ["a fox"], tmp_path)
    finally:
        running.close()
    assert len(server.state.requests) == 0
    assert (await _many(facade, server, ["a fox"], tmp_path)).done == 1


async def test_generate_many_sweeps_stale_partial_files(
    facade: Facade, server: EmulatorServer, tmp_path: Path
) -> None:
    """A write cut short by kill -9 leaves a hidden file: the next run removes it; a fresh one stays."""
    import os

    stale, fresh = tmp_path / ".oai-images-0123456789ab.part", tmp_path / ".oai-images-ba9876543210.part"
    stale.write_bytes(b"half an image")
    fresh.write_bytes(b"another run's write")
    os.utime(stale, (0, 0))
    await _many(facade, server, ["a fox"], tmp_path)
    assert not stale.exists()
    assert fresh.exists()


async def test_generate_many_never_replaces_another_lines_image(
    facade: Facade, server: EmulatorServer, tmp_path: Path
) -> None:
    """A changed line whose name is taken by the old line's image gets a -v2 name; both images stay."""
    await _many(facade, server, [{"prompt": "a fox", **FIELDS}], tmp_path)
    before = (tmp_path / "00001-a-fox.png").read_bytes()
    summary = await _many(facade, server, [{"prompt": "a fox", **FIELDS, "size": "512x512"}], tmp_path)
    assert summary.done == 1
    assert _images(tmp_path) == ["00001-a-fox-v2.png", "00001-a-fox.png"]
    assert (tmp_path / "00001-a-fox.png").read_bytes() == before


async def test_generate_many_finishes_through_429s_that_name_no_limit(
    facade: Facade, server: EmulatorServer, tmp_path: Path
) -> None:
    """The emulator's own 429 fault (retry-after, no x-ratelimit-limit-requests) pauses the run; it ends."""
    from oai_images_emulator import parse_fault

    server.state.config.fault = parse_fault("rate_limit;times=2;retry_after=1")
    try:
        with anyio.fail_after(60):  # it stalled for ever before
            summary = await _many(facade, server, [f"a fox {index}" for index in range(3)], tmp_path)
    finally:
        server.state.config.fault = None
    assert summary.done == 3
    assert summary.rate_limited == 2
    assert len(server.state.requests) == 3 + 2


async def test_generate_many_stops_when_its_folder_is_deleted(
    facade: Facade, server: EmulatorServer, tmp_path: Path
) -> None:
    """The output folder deleted mid-run: nothing more is sent, the folder is not recreated without its
    journal, and the images that landed after it went are in a rescue folder the error names."""  # noqa: D205, D209
    import shutil

    from oai_images.bulk import OutputFolderGone

    out = tmp_path / "out"
    at_deletion: list[int] = []

    def on_event(event: BulkEvent) -> None:
        if isinstance(event, LineSaved) and out.exists():
            # A save may be writing its temporary file meanwhile: remove until the folder is gone.
            while out.exists():
                shutil.rmtree(out, ignore_errors=True)
            at_deletion.append(len(server.state.requests))

    with pytest.raises(OutputFolderGone) as caught:
        await _many(
            facade, server, [f"a fox {index}" for index in range(6)], out, concurrency=1, on_event=on_event
        )
    summary = caught.value.summary
    sent = len(server.state.requests)
    # Nothing was sent after the folder went: at most the one request already on its way (concurrency 1).
    assert at_deletion[0] <= sent <= at_deletion[0] + 1 < 6
    assert not out.exists() or not [path for path in out.iterdir() if path.suffix == ".png"]
    rescued = [path for path in summary.paths if path.parent != out]
    assert len(rescued) <= sent - 1  # a line written before the folder went is gone with it
    assert all(path.exists() and str(path.parent) in str(caught.value) for path in rescued)


async def test_generate_many_keeps_paid_images_when_no_disk_takes_them(
    facade: Facade, server: EmulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No folder can be written (a full disk): the line fails naming its request id, the bytes are kept in
    the summary, the run stops sending, and no ExceptionGroup escapes."""  # noqa: D205, D209
    import errno

    from oai_images.bulk import _engine

    def full(data: bytes, destination: Path, **options: Any) -> Path:
        raise OSError(errno.ENOSPC, "No space left on device", str(destination))

    monkeypatch.setattr(_engine, "write_image", full)
    summary = await _many(facade, server, [f"a fox {index}" for index in range(8)], tmp_path, concurrency=1)
    sent = len(server.state.requests)
    assert sent < 8  # the run stopped sending (what was on its way when the first write failed landed)
    assert summary.done == 0
    assert len(summary.unsaved) == len(summary.failed) == sent
    assert all(data.startswith(b"\x89PNG") for _, _, data in summary.unsaved)
    assert all("req_" in error and "written anywhere" in error for _, error in summary.failed)
    assert not summary.interrupted


def test_the_journal_reads_more_lines_than_one_statement_takes(tmp_path: Path) -> None:
    """Entries and costs of 1,201 lines (SQLite caps one statement's parameters: they are asked in parts)
    all come back, each with its own state and cost."""  # noqa: D205, D209
    from oai_images.bulk import Journal
    from oai_images.pricing import Cost

    journal = Journal(tmp_path)
    try:
        keys = [f"key-{number}" for number in range(1201)]
        for number, key in enumerate(keys):
            journal.sending(key, line=number + 1, line_id=None, fields="{}")
            if number % 2 == 0:
                cost = Cost(usd=number / 1000, exact=True)
                journal.saved(key, paths=[], request_id=None, revised_prompts=[], usage=None, cost=cost)
        entries = journal.entries(keys)
        costs = journal.costs(keys)
    finally:
        journal.close()
    assert sorted(entries) == sorted(keys)
    assert [entries[key].state for key in keys[:4]] == ["saved", "sent", "saved", "sent"]
    assert len(costs) == 601
    saved = {key: number / 1000 for number, key in enumerate(keys) if number % 2 == 0}
    assert {key: cost.usd if cost is not None else None for key, cost in costs.items()} == saved
