"""The history of command-line generations: recorded by generate and batch, listed by `oai-images history`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from oai_images.cli.history import HISTORY_NAME, History
from oai_images.emulator import EmulatorServer
from tests.test_cli import SECRET, run


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
