"""``oai-images batch --via batch-api``, run for real: the emulator's Batch API on loopback and in-process."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from PIL import Image

from oai_images.batchapi import JOURNAL_NAME
from oai_images.cli.history import HISTORY_NAME
from oai_images_emulator import EmulatorServer
from tests.conftest import FakeClock
from tests.test_cli import EXE, SECRET, run

KEY = {"OPENAI_API_KEY": SECRET}


@pytest.fixture
def batch_server(server: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> EmulatorServer:
    """The loopback emulator, its batches taking 4 s of its fake clock (they end when a test moves it)."""
    monkeypatch.setattr(server.state.config, "batch_seconds", 4.0)
    return server


def _batch_calls(server: EmulatorServer, method: str = "POST") -> list[str]:
    """The paths of the Batch API calls the server received (``/v1/batches...``)."""
    return [
        request.path
        for request in server.state.requests
        if request.method == method and request.path.startswith("/v1/batches")
    ]


def _journal(out: Path) -> tuple[list[tuple[str, str]], list[tuple[str, str, int]]]:
    """(batch id, status) of each batch and (custom id, state, attempts) of each line, from the journal."""
    with contextlib.closing(sqlite3.connect(out / JOURNAL_NAME)) as db:
        batches = db.execute("SELECT batch_id, status FROM batchapi_batches WHERE lines > 0 ORDER BY part")
        lines = db.execute("SELECT custom_id, state, attempts FROM batchapi_lines ORDER BY rowid")
        return list(batches.fetchall()), list(lines.fetchall())


def _requests_file(tmp_path: Path) -> Path:
    requests = tmp_path / "requests.jsonl"
    requests.write_text(
        '{"id": "fox", "prompt": "a red fox", "model": "dall-e-2", "size": "256x256"}\n'
        '{"prompt": "a blue whale", "model": "dall-e-2", "size": "512x512"}\n'
    )
    return requests


def _batch_api(
    requests: Path, out: Path, server: EmulatorServer, *extra: str
) -> subprocess.CompletedProcess[str]:
    command = ["batch", str(requests), "--out", str(out), "--via", "batch-api", "--base-url", server.base_url]
    return run(*command, *extra, env=KEY)


def _popen(requests: Path, out: Path, server: EmulatorServer, *extra: str) -> subprocess.Popen[str]:
    """The command as a process of its own, to act while it waits (SIGINT, the fake clock)."""
    command = [EXE, "batch", str(requests), "--out", str(out), "--via", "batch-api", *extra]
    env = {key: value for key, value in os.environ.items() if not key.startswith("OPENAI_")}
    env.update(KEY, OPENAI_BASE_URL=server.base_url)
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _first_poll(server: EmulatorServer) -> None:
    """Wait until the command has created its batch and asked for its status."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not _batch_calls(server, "GET"):
        time.sleep(0.02)


@pytest.mark.slow
def test_batch_api_submits_once_then_wait_collects_images(
    tmp_path: Path, batch_server: EmulatorServer, clock: FakeClock
) -> None:
    """Submit; the same command again submits nothing; --wait saves decodable images named by custom id."""
    requests, out = _requests_file(tmp_path), tmp_path / "out"
    first = _batch_api(requests, out, batch_server)
    assert first.returncode == 0, first.stderr
    assert "submitted 2 new lines in 1 batch" in first.stderr
    assert "still running" in first.stderr
    assert "--via batch-api" in first.stderr  # how to follow up
    assert first.stdout == ""
    assert len(_batch_calls(batch_server)) == 1
    (batch_id, status), *_ = _journal(out)[0]
    assert status == "validating"
    assert batch_id in first.stderr

    again = _batch_api(requests, out, batch_server)
    assert again.returncode == 0, again.stderr
    assert "submitted" not in again.stderr
    assert len(_batch_calls(batch_server)) == 1  # no second batch
    assert f"/v1/batches/{batch_id}" in _batch_calls(batch_server, "GET")  # its status was asked
    batches, lines = _journal(out)
    assert [batch[0] for batch in batches] == [batch_id]
    assert [(custom_id, attempts) for custom_id, _, attempts in lines] == [("fox", 1), ("00002", 1)]
    assert again.stdout == ""  # still validating: nothing to save yet

    clock.now += 10  # the batch has run
    waited = _batch_api(requests, out, batch_server, "--wait")
    assert waited.returncode == 0, waited.stderr
    assert len(_batch_calls(batch_server)) == 1
    assert _journal(out)[0] == [(batch_id, "completed")]
    assert waited.stdout.split() == [str(out / "fox-a-red-fox.png"), str(out / "00002-a-blue-whale.png")]
    with Image.open(out / "fox-a-red-fox.png") as fox, Image.open(out / "00002-a-blue-whale.png") as whale:
        assert fox.size == (256, 256)
        assert whale.size == (512, 512)
    assert "2 saved, 0 failed" in waited.stderr

    last = _batch_api(requests, out, batch_server)
    assert last.returncode == 0, last.stderr
    assert last.stdout == ""  # nothing downloaded again
    assert "still running" not in last.stderr


@pytest.mark.slow
def test_batch_api_records_collected_images_in_the_history(
    tmp_path: Path, batch_server: EmulatorServer, history_home: Path
) -> None:
    """Each collected line is one `batch-api` row of the history, with prompt and file; --no-history: none."""
    batch_server.state.config.batch_seconds = 0.0
    requests = _requests_file(tmp_path)
    quiet = _batch_api(requests, tmp_path / "quiet", batch_server, "--wait", "--no-history")
    assert quiet.returncode == 0, quiet.stderr
    assert not (history_home / HISTORY_NAME).exists()
    done = _batch_api(requests, tmp_path / "out", batch_server, "--wait")
    assert done.returncode == 0, done.stderr
    with contextlib.closing(sqlite3.connect(history_home / HISTORY_NAME)) as db:
        rows = db.execute("SELECT kind, prompt, model, paths FROM generations ORDER BY id").fetchall()
    assert [(kind, prompt, model) for kind, prompt, model, _ in rows] == [
        ("batch-api", "a red fox", "dall-e-2"),
        ("batch-api", "a blue whale", "dall-e-2"),
    ]
    assert json.loads(rows[0][3]) == [str(tmp_path / "out" / "fox-a-red-fox.png")]


@pytest.mark.slow
def test_batch_api_against_served_emulator_on_loopback(tmp_path: Path) -> None:
    """`oai-images serve --batch-seconds 1`, then submit, follow up and --wait, as real processes."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [EXE, "serve", "--port", str(port), "--batch-seconds", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        prompts = tmp_path / "prompts.txt"
        prompts.write_text("a red fox\n\na blue whale\n")
        out = tmp_path / "out"
        command = ["batch", str(prompts), "--out", str(out), "--via", "batch-api"]
        env = {**KEY, "OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1"}
        first = run(*command, env=env)
        assert first.returncode == 0, first.stderr
        again = run(*command, env=env)
        assert again.returncode == 0, again.stderr
        assert "submitted" not in again.stderr
        waited = run(*command, "--wait", env=env)
        assert waited.returncode == 0, waited.stderr
        batches, lines = _journal(out)
        assert len(batches) == 1
        assert batches[0][1] == "completed"
        assert lines == [("00001", "done", 1), ("00003", "done", 1)]  # named by line number, as live runs
        for name in ("00001-a-red-fox.png", "00003-a-blue-whale.png"):
            with Image.open(out / name) as image:
                image.verify()
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.slow
def test_batch_api_with_the_in_process_emulator_waits_and_saves(tmp_path: Path) -> None:
    """--emulator: the batch runs in the command's own process, so the command waits for it and saves."""
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a red fox\n")
    out = tmp_path / "out"
    env = {"OAI_IMAGES_EMULATOR_BATCH_SECONDS": "0.5"}
    done = run("batch", str(prompts), "--out", str(out), "--via", "batch-api", "--emulator", env=env)
    assert done.returncode == 0, done.stderr
    assert "waiting for them" in done.stderr
    assert done.stdout.split() == [str(out / "00001-a-red-fox.png")]
    with Image.open(out / "00001-a-red-fox.png") as image:
        image.verify()
    again = run("batch", str(prompts), "--out", str(out), "--via", "batch-api", "--emulator", env=env)
    assert again.returncode == 0, again.stderr
    assert again.stdout == ""


@pytest.mark.slow
def test_batch_api_invalid_line_exits_2_and_sends_nothing(
    tmp_path: Path, batch_server: EmulatorServer
) -> None:
    """An invalid line: exit 2 naming the line, the field and what is allowed; no request, no journal."""
    requests = tmp_path / "requests.jsonl"
    requests.write_text('{"prompt": "ok"}\n{"prompt": "x", "model": "dall-e-2", "size": "13x13"}\n')
    out = tmp_path / "out"
    done = _batch_api(requests, out, batch_server, "--wait")
    assert done.returncode == 2
    assert "requests.jsonl:2:" in done.stderr
    assert "size" in done.stderr
    assert "256x256" in done.stderr
    assert len(batch_server.state.requests) == 0
    assert not (out / JOURNAL_NAME).exists()


@pytest.mark.slow
def test_batch_api_refuses_options_that_do_not_apply(tmp_path: Path, batch_server: EmulatorServer) -> None:
    """--concurrency with batch-api, --cancel live, --cancel with --retry-failed: exit 2, no request."""
    requests = _requests_file(tmp_path)
    out = tmp_path / "out"
    concurrency = _batch_api(requests, out, batch_server, "--concurrency", "4")
    assert concurrency.returncode == 2
    assert "--concurrency" in concurrency.stderr
    live_cancel = run(
        "batch", str(requests), "--out", str(out), "--cancel", "--base-url", batch_server.base_url
    )
    assert live_cancel.returncode == 2
    assert "--via batch-api" in live_cancel.stderr
    both = _batch_api(requests, out, batch_server, "--cancel", "--retry-failed")
    assert both.returncode == 2
    assert len(batch_server.state.requests) == 0


@pytest.mark.slow
def test_batch_api_cancel_cancels_the_running_batches(
    tmp_path: Path, batch_server: EmulatorServer, clock: FakeClock
) -> None:
    """--cancel asks the server to cancel each running batch; its lines end failed, for --retry-failed."""
    batch_server.state.config.batch_seconds = 600.0
    requests, out = _requests_file(tmp_path), tmp_path / "out"
    assert _batch_api(requests, out, batch_server).returncode == 0
    (batch_id, _), *_ = _journal(out)[0]
    cancelled = _batch_api(requests, out, batch_server, "--cancel")
    assert cancelled.returncode == 0, cancelled.stderr
    assert f"/v1/batches/{batch_id}/cancel" in _batch_calls(batch_server)
    status = _journal(out)[0][0][1]
    assert status in ("cancelling", "cancelled")
    assert f"{batch_id}: {status}" in cancelled.stderr
    clock.now += 700  # cancelling takes a moment (a share of the batch's time)
    nothing = _batch_api(requests, out, batch_server, "--cancel", "--wait")
    assert nothing.returncode == 0, nothing.stderr
    assert _journal(out)[0] == [(batch_id, "cancelled")]
    assert {state for _, state, _ in _journal(out)[1]} == {"failed"}  # they never ran
    assert "cancelled" in nothing.stderr
    assert len([path for path in _batch_calls(batch_server) if path.endswith("/cancel")]) == 1


@pytest.mark.slow
def test_batch_api_retry_failed_resubmits_the_failed_lines(
    tmp_path: Path, batch_server: EmulatorServer
) -> None:
    """A line the server refuses fails (exit 1, with why); --retry-failed submits it again as a new batch."""
    batch_server.state.config.batch_seconds = 0.0
    requests = tmp_path / "requests.jsonl"
    # 13x13 passes with --no-validate; the emulator refuses it, as the API would, in the batch's error file.
    requests.write_text(
        '{"id": "odd", "prompt": "x", "model": "dall-e-2", "size": "13x13"}\n'
        '{"id": "ok", "prompt": "a fox", "model": "dall-e-2", "size": "256x256"}\n'
    )
    out = tmp_path / "out"
    first = _batch_api(requests, out, batch_server, "--no-validate", "--wait")
    assert first.returncode == 1, first.stderr
    assert "line 1 (odd) failed" in first.stderr
    assert "13x13" in first.stderr
    assert "--no-validate --wait --retry-failed" in first.stderr  # the follow-up keeps the options
    assert first.stdout.split() == [str(out / "ok-a-fox.png")]
    assert len(_batch_calls(batch_server)) == 1

    retried = _batch_api(requests, out, batch_server, "--no-validate", "--retry-failed", "--wait")
    assert retried.returncode == 1, retried.stderr  # the server refuses it again
    assert "submitted the failed lines again in 1 new batch" in retried.stderr
    assert len(_batch_calls(batch_server)) == 2
    batches, lines = _journal(out)
    assert len(batches) == 2
    assert lines == [("odd", "failed", 2), ("ok", "done", 1)]


@pytest.mark.slow
def test_batch_api_changed_line_is_a_new_line(tmp_path: Path, batch_server: EmulatorServer) -> None:
    """A line edited after it was submitted is submitted as <id>-v2; the first images stay."""
    batch_server.state.config.batch_seconds = 0.0
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a red fox\n")
    out = tmp_path / "out"
    assert _batch_api(prompts, out, batch_server, "--wait").returncode == 0
    prompts.write_text("a red fox in the snow\n")
    changed = _batch_api(prompts, out, batch_server, "--wait")
    assert changed.returncode == 0, changed.stderr
    assert changed.stdout.split() == [str(out / "00001-v2-a-red-fox-in-the-snow.png")]
    assert (out / "00001-a-red-fox.png").is_file()
    again = _batch_api(prompts, out, batch_server, "--wait")
    assert "submitted" not in again.stderr


@pytest.mark.slow
def test_batch_api_json_prints_progress_lines_and_a_summary(
    tmp_path: Path, batch_server: EmulatorServer, clock: FakeClock
) -> None:
    """--json --wait: progress, saved, batch and summary JSON lines on stdout; the key appears nowhere."""
    process = _popen(_requests_file(tmp_path), tmp_path / "out", batch_server, "--wait", "--json")
    assert process.stdout is not None
    first = process.stdout.readline()  # the first poll's progress: printed while the batch still runs
    clock.now += 10  # the batch ends: the next poll sees it
    rest, stderr = process.communicate(timeout=60)
    stdout = first + rest
    assert process.returncode == 0, stderr
    documents = [json.loads(line) for line in stdout.splitlines()]
    events = [document["event"] for document in documents]
    assert events[0] == "progress"
    assert documents[0]["batches"][0]["status"] in ("validating", "in_progress")
    assert {"completed": 2, "failed": 0, "total": 2}.items() <= documents[-5].items()
    assert events[-4:] == ["saved", "saved", "batch", "summary"]
    saved = documents[-4]
    assert saved.pop("cost")["batch"] is True  # a Batch API line, priced at its discount
    assert saved == {
        "event": "saved",
        "id": "fox",
        "line": 1,
        "paths": [str(tmp_path / "out" / "fox-a-red-fox.png")],
    }
    assert documents[-1]["lines"] == {"submitted": 0, "done": 2, "failed": 0}
    assert documents[-1]["via"] == "batch-api"
    assert SECRET not in stdout + stderr


@pytest.mark.slow
def test_batch_api_ctrl_c_exits_130_with_the_follow_up(tmp_path: Path, batch_server: EmulatorServer) -> None:
    """SIGINT while waiting: exit 130 and the command that picks the job up; the batch stays submitted."""
    batch_server.state.config.batch_seconds = 600.0
    requests, out = _requests_file(tmp_path), tmp_path / "out"
    process = _popen(requests, out, batch_server, "--wait")
    _first_poll(batch_server)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert f"Follow up with: oai-images batch {requests} --out {out} --via batch-api --wait" in stderr
    assert "Traceback" not in stderr
    (batch_id, status), *_ = _journal(out)[0]
    assert batch_id is not None
    assert status == "validating"


@pytest.mark.slow
def test_batch_api_run_refuses_a_folder_another_run_uses(
    batch_server: EmulatorServer, tmp_path: Path
) -> None:
    """Two overlapping --via batch-api runs into one folder: the second sends nothing and says why (exit 1);
    the server sees one batch."""  # noqa: D205, D209
    requests, out = _requests_file(tmp_path), tmp_path / "out"
    first = _popen(requests, out, batch_server, "--wait")
    try:
        _first_poll(batch_server)
        second = _batch_api(requests, out, batch_server)
        live = run("batch", str(requests), "--out", str(out), "--base-url", batch_server.base_url, env=KEY)
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=60)
    assert second.returncode == 1, second.stderr
    assert "another oai-images run is using" in second.stderr
    assert live.returncode == 1, live.stderr
    assert "another oai-images run is using" in live.stderr
    assert _batch_calls(batch_server) == ["/v1/batches"]


@pytest.mark.slow
def test_batch_api_follow_up_repeats_the_api_options(batch_server: EmulatorServer, tmp_path: Path) -> None:
    """The command printed to collect later carries -m/-s as given, so it makes the very same lines (and
    running it submits nothing new)."""  # noqa: D205, D209
    requests, out = _requests_file(tmp_path), tmp_path / "out"
    first = _batch_api(requests, out, batch_server, "-m", "dall-e-2", "-s", "256x256")
    assert first.returncode == 0, first.stderr
    assert "--model dall-e-2 --size 256x256" in first.stderr
    again = _batch_api(requests, out, batch_server, "-m", "dall-e-2", "-s", "256x256")
    assert again.returncode == 0, again.stderr
    assert _batch_calls(batch_server).count("/v1/batches") == 1  # one creation in all
