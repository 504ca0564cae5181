"""The history of command-line generations: recorded by generate and batch, listed by `oai-images history`."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from oai_images.cli.history import HISTORY_NAME, History
from oai_images_emulator import EmulatorServer
from tests.test_cli import EXE, SECRET, run


def run_in(cwd: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The console script in ``cwd``, with no OpenAI variables and no input."""
    clean = {key: value for key, value in os.environ.items() if not key.startswith("OPENAI_")}
    return subprocess.run(
        [EXE, *args], cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        env={**clean, **env}, timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.slow
def test_history_records_generate_and_batch(tmp_path: Path, history_home: Path) -> None:
    """A generate and each batch line are listed newest first, with model, size, request id and paths."""
    out = tmp_path / "out"
    done = run("generate", "a lighthouse", "--emulator", "-m", "dall-e-2", "-s", "256x256", "--out", str(out))
    assert done.returncode == 0, done.stderr
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a fox\n")
    assert run("batch", str(prompts), "--emulator", "--out", str(out)).returncode == 0
    listed = run("history", "--json")
    assert listed.returncode == 0, listed.stderr
    newest, oldest = (json.loads(line) for line in listed.stdout.splitlines())
    assert (newest["kind"], newest["prompt"]) == ("batch", "a fox")
    assert (oldest["kind"], oldest["prompt"], oldest["model"], oldest["size"]) == (
        "generate",
        "a lighthouse",
        "dall-e-2",
        "256x256",
    )
    assert oldest["request_id"].startswith("req_")
    assert Path(oldest["paths"][0]).is_file()
    assert Path(oldest["paths"][0]).is_absolute()
    assert (history_home / HISTORY_NAME).is_file()


@pytest.mark.slow
def test_history_off_with_flag_or_env(tmp_path: Path, history_home: Path) -> None:
    """--no-history and OAI_IMAGES_NO_HISTORY=1 record nothing."""
    out = str(tmp_path / "out")
    assert run("generate", "a fox", "--emulator", "--no-history", "--out", out).returncode == 0
    assert (
        run("generate", "a fox", "--emulator", "--out", out, env={"OAI_IMAGES_NO_HISTORY": "1"}).returncode
        == 0
    )
    assert not (history_home / HISTORY_NAME).exists()
    listed = run("history")
    assert listed.returncode == 0
    assert "no history yet" in listed.stderr


@pytest.mark.slow
def test_history_never_holds_the_key(server: EmulatorServer, tmp_path: Path, history_home: Path) -> None:
    """The API key is in no byte of the history database."""
    done = run(
        "generate",
        "a fox",
        "--base-url",
        server.base_url,
        "--out",
        str(tmp_path),
        env={"OPENAI_API_KEY": SECRET},
    )
    assert done.returncode == 0, done.stderr
    assert SECRET.encode() not in b"".join(path.read_bytes() for path in history_home.iterdir())


def test_history_lists_with_search_and_limit(history_home: Path) -> None:
    """--search matches prompts; --limit keeps the newest; the plain listing shows prompt and paths."""
    store = History(history_home)
    for prompt in ("a red fox", "a blue whale", "a red car"):
        store.record(
            "generate", {"prompt": prompt}, model="dall-e-2", request_id="req_1", usage=None, paths=["x.png"]
        )
    store.close()
    from click.testing import CliRunner

    from oai_images.cli import main

    result = CliRunner().invoke(main, ["history", "--search", "red", "--limit", "1", "--json"])
    assert result.exit_code == 0, result.output
    (entry,) = (json.loads(line) for line in result.output.splitlines())
    assert entry["prompt"] == "a red car"
    plain = CliRunner().invoke(main, ["history"])
    assert "a blue whale" in plain.output
    assert plain.output.count("x.png") == 3


@pytest.mark.slow
def test_history_records_inputs_answers_and_how_a_batch_ran(tmp_path: Path) -> None:
    """An edit records its input image and mask, a variation its input's absolute path; a Batch API line
    its request id and usage, as "batch-api" (a live batch line stays "batch")."""  # noqa: D205, D209
    from PIL import Image

    home = tmp_path / "home"
    env = {"OAI_IMAGES_HOME": str(home), "OAI_IMAGES_MODEL": "gpt-image-1.5"}
    Image.new("RGBA", (256, 256), (200, 30, 30, 255)).save(tmp_path / "in.png")
    Image.new("RGBA", (256, 256), (0, 0, 0, 0)).save(tmp_path / "mask.png")
    edited = run_in(
        tmp_path, "edit", "a hat", "in.png", "--mask", "mask.png", "-m", "dall-e-2", "-s", "256x256",
        "--emulator", env=env,
    )  # fmt: skip
    assert edited.returncode == 0, edited.stderr
    varied = run_in(tmp_path, "vary", "in.png", "-s", "256x256", "--emulator", env=env)
    assert varied.returncode == 0, varied.stderr
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a fox\n")
    live = run_in(tmp_path, "batch", "prompts.txt", "-o", "live", "--emulator", env=env)
    assert live.returncode == 0, live.stderr
    api = run_in(tmp_path, "batch", "prompts.txt", "-o", "api", "--via", "batch-api", "--emulator", env=env)
    assert api.returncode == 0, api.stderr
    listed = run_in(tmp_path, "history", "--json", "--all", env=env)
    entries = {entry["kind"]: entry for entry in map(json.loads, listed.stdout.splitlines())}
    assert entries["edit"]["fields"]["image"] == [str(tmp_path / "in.png")]
    assert entries["edit"]["fields"]["mask"] == str(tmp_path / "mask.png")
    assert entries["vary"]["fields"]["image"] == str(tmp_path / "in.png")
    assert entries["batch-api"]["request_id"].startswith("req_")
    assert entries["batch-api"]["usage"]["total_tokens"] > 0
    assert entries["batch"]["request_id"].startswith("req_")
