"""``oai-images batch``, run for real: end to end on the emulator, exit codes, and resuming after kill -9."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from oai_images.bulk import JOURNAL_NAME
from oai_images_emulator import EmulatorServer, Latency
from tests.test_cli import EXE, SECRET, run


def _images(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir() if not path.name.startswith("."))


def _saved(out: Path) -> dict[int, str]:
    """Line number → state, from the journal."""
    if not (out / JOURNAL_NAME).exists():
        return {}
    with contextlib.closing(sqlite3.connect(out / JOURNAL_NAME)) as db:
        try:
            return dict(db.execute("SELECT line, state FROM lines").fetchall())
        except sqlite3.OperationalError:  # the run has not created its table yet
            return {}


@pytest.mark.slow
def test_batch_runs_end_to_end_on_the_emulator(tmp_path: Path) -> None:
    """`batch prompts.txt --emulator` saves one image a line, prints the paths; again, it skips them all."""
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a red fox\na blue whale\na green frog\n")
    out = tmp_path / "out"
    done = run("batch", str(prompts), "--out", str(out), "--emulator")
    assert done.returncode == 0, done.stderr
    assert _images(out) == ["00001-a-red-fox.png", "00002-a-blue-whale.png", "00003-a-green-frog.png"]
    assert sorted(Path(line).name for line in done.stdout.split()) == _images(out)
    assert "3 done" in done.stderr
    again = run("batch", str(prompts), "--out", str(out), "--emulator", "--resume")
    assert again.returncode == 0, again.stderr
    assert "0 done, 3 skipped" in again.stderr
    assert again.stdout == ""


@pytest.mark.slow
def test_batch_invalid_line_exits_2_and_sends_nothing(tmp_path: Path, server: EmulatorServer) -> None:
    """An invalid line: exit 2 naming the line, the field and what is allowed; no request is sent."""
    requests = tmp_path / "requests.jsonl"
    requests.write_text('{"prompt": "ok"}\n{"prompt": "x", "model": "dall-e-2", "size": "13x13"}\n')
    done = run("batch", str(requests), "--out", str(tmp_path / "out"), "--base-url", server.base_url)
    assert done.returncode == 2
    assert "requests.jsonl:2:" in done.stderr
    assert "size" in done.stderr
    assert "256x256" in done.stderr
    assert len(server.state.requests) == 0


@pytest.mark.slow
def test_batch_json_prints_a_line_per_request_and_a_summary(tmp_path: Path) -> None:
    """--json: one JSON line per saved line, then the summary; the key appears nowhere."""
    requests = tmp_path / "requests.csv"
    requests.write_text("id,prompt,n\nfox,a fox,2\n")
    done = run(
        "batch",
        str(requests),
        "--out",
        str(tmp_path / "out"),
        "--emulator",
        "--json",
        env={"OPENAI_API_KEY": SECRET},
    )
    assert done.returncode == 0, done.stderr
    saved, summary = (json.loads(line) for line in done.stdout.splitlines())
    assert saved["event"] == "saved"
    assert [Path(path).name for path in saved["paths"]] == ["fox-a-fox-1.png", "fox-a-fox-2.png"]
    assert (summary["event"], summary["done"], summary["failed"]) == ("summary", 1, [])
    assert SECRET not in done.stdout + done.stderr


@pytest.mark.slow
def test_batch_failed_lines_exit_1_with_the_reasons(tmp_path: Path, server: EmulatorServer) -> None:
    """A line the server refuses: exit 1, the line and reason in the summary, --retry-failed suggested."""
    from oai_images_emulator import parse_fault

    server.state.config.fault = parse_fault("server_error")
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a fox\n")
    done = run(
        "batch",
        str(prompts),
        "--out",
        str(tmp_path / "out"),
        "--base-url",
        server.base_url,
        "--max-retries",
        "0",
        env={"OPENAI_API_KEY": SECRET},
    )
    assert done.returncode == 1
    assert "line 1: " in done.stderr
    assert "--retry-failed" in done.stderr


@pytest.mark.slow
def test_batch_killed_midway_resumes_without_paying_twice(tmp_path: Path, server: EmulatorServer) -> None:
    """Killed midway (SIGKILL), a resume re-sends only the in-flight lines; each line ends with its image."""
    server.state.config.latency = Latency(150, 150)
    lines = 24
    concurrency = 3
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("".join(f"prompt number {index}\n" for index in range(1, lines + 1)))
    out = tmp_path / "out"
    command = [EXE, "batch", str(prompts), "--out", str(out), "--base-url", server.base_url]
    command += ["--concurrency", str(concurrency)]
    env = {key: value for key, value in os.environ.items() if not key.startswith("OPENAI_")}
    env["OPENAI_API_KEY"] = SECRET
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if sum(state == "saved" for state in _saved(out).values()) >= 6:
                break
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    states = _saved(out)
    saved_before = {line for line, state in states.items() if state == "saved"}
    assert 6 <= len(saved_before) < lines, "the run was not killed midway"
    sent_first = len(server.state.requests)
    server.state.reset()

    done = run(*command[1:], env={"OPENAI_API_KEY": SECRET})
    assert done.returncode == 0, done.stderr
    resent = {
        int(request.json["prompt"].split()[-1])
        for request in server.state.requests
        if isinstance(request.json, dict)
    }
    assert not resent & saved_before  # no saved line is paid for twice
    assert resent == set(range(1, lines + 1)) - saved_before
    # Sent again: only what was in flight at the kill, each line awaiting its answer (at most --concurrency)
    # or answered and being written (at most as many).
    in_flight = sent_first - len(saved_before)
    assert in_flight <= 2 * concurrency
    assert sent_first + len(server.state.requests) == lines + in_flight
    assert f"{len(saved_before)} skipped" in done.stderr
    assert _images(out) == sorted(f"{index:05d}-prompt-number-{index}.png" for index in range(1, lines + 1))
    assert set(_saved(out).values()) == {"saved"}


@pytest.mark.slow
def test_batch_ctrl_c_saves_in_flight_and_exits_130(tmp_path: Path, server: EmulatorServer) -> None:
    """SIGINT: sending stops, the requests in flight land and are saved, exit 130 with how to resume."""
    server.state.config.latency = Latency(300, 300)
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("".join(f"prompt number {index}\n" for index in range(1, 41)))
    out = tmp_path / "out"
    command = [EXE, "batch", str(prompts), "--out", str(out), "--base-url", server.base_url, "-c", "2"]
    env = {key: value for key, value in os.environ.items() if not key.startswith("OPENAI_")}
    env["OPENAI_API_KEY"] = SECRET
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and sum(state == "saved" for state in _saved(out).values()) < 2:
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "Resume with: oai-images batch" in stderr
    states = _saved(out)
    assert set(states.values()) == {"saved"}  # every request sent landed and was saved
    assert len(_images(out)) == len(states) == len(server.state.requests) < 40


@pytest.mark.slow
def test_batch_rerun_exits_1_while_failed_lines_remain(tmp_path: Path, server: EmulatorServer) -> None:
    """A rerun after a run whose line failed still exits 1 and names it, until --retry-failed saves it."""
    from oai_images_emulator import parse_fault

    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a red fox\na blue whale\n")
    out = tmp_path / "out"
    command = ("batch", str(prompts), "--out", str(out), "--base-url", server.base_url, "--max-retries", "0")
    server.state.config.fault = parse_fault("server_error;times=1")
    try:
        first = run(*command, "--concurrency", "1", env={"OPENAI_API_KEY": SECRET})
    finally:
        server.state.config.fault = None
    assert first.returncode == 1, first.stderr
    again = run(*command, env={"OPENAI_API_KEY": SECRET})
    assert again.returncode == 1, again.stderr
    assert "1 failed before" in again.stderr
    assert "--retry-failed" in again.stderr
    fixed = run(*command, "--retry-failed", env={"OPENAI_API_KEY": SECRET})
    assert fixed.returncode == 0, fixed.stderr
    assert len(_images(out)) == 2


@pytest.mark.slow
def test_batch_piped_into_head_finishes_its_paid_work(tmp_path: Path) -> None:
    """`oai-images batch … | head -1`: the closed pipe stops the printing, not the run; all is saved."""
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("".join(f"a fox number {index}\n" for index in range(6)))
    out = tmp_path / "out"
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("OPENAI_", "OAI_IMAGES_EMU"))
    }
    env["OAI_IMAGES_EMULATOR_LATENCY_MS"] = "150"
    command = [EXE, "batch", str(prompts), "--out", str(out), "--emulator", "--concurrency", "1"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    first = process.stdout.readline()
    process.stdout.close()  # what head does after its line
    _, stderr = process.communicate(timeout=120)
    assert first.strip().endswith(".png")
    assert process.returncode == 0, stderr
    assert "unexpected" not in stderr
    assert "6 done" in stderr
    assert len(_images(out)) == 6


def test_batch_reports_every_bad_line_in_one_run(tmp_path: Path, server: EmulatorServer) -> None:
    """Several bad lines (not JSON, a size the model refuses, a duplicate id): one run names them all,
    exit 2, nothing sent; over 20 bad lines, the first 20 and how many more."""  # noqa: D205, D209
    requests = tmp_path / "requests.jsonl"
    requests.write_text(
        '{"prompt": "ok", "id": "a"}\n'
        "not json\n"
        '{"prompt": "x", "model": "dall-e-2", "size": "13x13"}\n'
        '{"prompt": "y", "id": "a"}\n'
        '{"prompt": "fine"}\n'
    )
    done = run("batch", str(requests), "--out", str(tmp_path / "out"), "--base-url", server.base_url)
    assert done.returncode == 2
    assert "3 lines cannot be sent" in done.stderr
    for where in ("requests.jsonl:2:", "requests.jsonl:3:", "requests.jsonl:4:"):
        assert where in done.stderr
    assert len(server.state.requests) == 0
    many = tmp_path / "many.txt"
    many.write_text("".join(f"{'x' * 1001}\n" for _ in range(25)))
    lots = run("batch", str(many), "-o", str(tmp_path / "out2"), "--base-url", server.base_url)
    assert lots.returncode == 2
    assert "25 lines cannot be sent" in lots.stderr
    assert "and 5 more" in lots.stderr


@pytest.mark.slow
def test_batch_takes_the_api_options_of_generate(tmp_path: Path) -> None:
    """`batch -m … -s … -q …` applies to every line that does not set the field; a line's own field wins."""
    from PIL import Image

    requests = tmp_path / "requests.jsonl"
    requests.write_text('{"prompt": "a fox"}\n{"prompt": "a cat", "size": "1024x1024"}\n')
    out = tmp_path / "out"
    done = run(
        "batch", str(requests), "--out", str(out), "--emulator", "-m", "gpt-image-1.5", "-s", "1536x1024",
        "-q", "low",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    sizes = {}
    for path in sorted(out.glob("*.png")):
        with Image.open(path) as image:
            sizes[path.name] = image.size
    assert sizes == {"00001-a-fox.png": (1536, 1024), "00002-a-cat.png": (1024, 1024)}


@pytest.mark.slow
def test_batch_prints_paths_one_way_plain_json_saved_or_skipped(tmp_path: Path) -> None:
    """The paths a batch prints are the same whatever way: relative to the working folder when inside it,
    in plain output and in --json, for lines saved now and lines skipped as saved before."""  # noqa: D205, D209
    (tmp_path / "prompts.txt").write_text("a red fox\n")
    env = {key: value for key, value in os.environ.items() if not key.startswith("OPENAI_")}

    def batch(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [EXE, "batch", "prompts.txt", "-o", "out", "--emulator", *extra], cwd=tmp_path, env=env,
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

    plain = batch()
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.strip() == "out/00001-a-red-fox.png"
    again = batch("--json")
    skipped = [json.loads(line) for line in again.stdout.splitlines() if '"skipped"' in line]
    assert skipped[0]["paths"] == ["out/00001-a-red-fox.png"]
