"""`oai-images serve`'s options, made from the emulator's configuration: each `Setting` of `EmulatorConfig`
is one option and one environment variable, read by one parser, and `EmulatorConfig.from_env` agrees."""  # noqa: D205, D209

from __future__ import annotations

import dataclasses
import os
import subprocess
from pathlib import Path
from typing import Any

import click
import httpx
import pytest
from click.testing import CliRunner

import oai_images_emulator.cli
from oai_images.cli import main
from oai_images.cli.serve import serve as stand_in
from oai_images_emulator import EmulatorConfig
from oai_images_emulator._config import ENV_PREFIX, Setting, settings
from tests.test_cli import _HIDE_EMULATOR, EXE, run

#: A good and a bad value for every setting, by its variable's name (a new setting must add its own).
SAMPLES = {
    "SEED": ("7", "many"),
    "URL_LIFETIME": ("5", "-1"),
    "LATENCY_MS": ("10-20", "fast"),
    "FAULT": ("drop;times=1", "meteor"),
    "RETRY_AFTER": ("4", "-2"),
    "HANG_SECONDS": ("2.5", "long"),
    "MAX_IMAGES": ("7", "0"),
    "MAX_BYTES": ("1000", "0"),
    "BATCH_SECONDS": ("3", "-1"),
    "MAX_BATCH_STORE_BYTES": ("5000000", "0"),
    "AZURE_DEPLOYMENTS": ("house=dall-e-3", "house=dall-e-9"),
    "RATE_LIMIT_RPM": ("600", "0"),
    "RATE_LIMIT_BURST": ("5", "0"),
    "MAX_JSON_BODY_BYTES": ("2048", "0"),
    "MAX_EDIT_BODY_BYTES": ("4096", "0"),
    "MAX_FILE_BODY_BYTES": ("8192", "1.5"),
}
SETTINGS = settings()


def _id(item: tuple[dataclasses.Field[Any], Setting]) -> str:
    return item[1].env


def _served_config(
    monkeypatch: pytest.MonkeyPatch, args: list[str], env: dict[str, str] | None = None
) -> EmulatorConfig:
    """The config `oai-images serve ARGS` hands to the server (which is not started)."""
    seen: list[EmulatorConfig] = []

    def fake_run_server(config: EmulatorConfig, **options: Any) -> None:
        seen.append(config)

    monkeypatch.setattr(oai_images_emulator.cli, "run_server", fake_run_server)
    result = CliRunner().invoke(main, ["serve", *args], env=env)
    assert result.exit_code == 0, result.output
    assert len(seen) == 1
    return seen[0]


def test_every_setting_has_samples() -> None:
    """Every field declared with a Setting is exercised below, and no sample is left without its field."""
    assert {setting.env for _, setting in SETTINGS} == set(SAMPLES)
    assert len({setting.option_name for _, setting in SETTINGS}) == len(SETTINGS)


@pytest.mark.parametrize("item", SETTINGS, ids=_id)
def test_a_setting_by_option_by_variable_and_from_env_agree(
    item: tuple[dataclasses.Field[Any], Setting], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`serve --OPTION VALUE`, `OAI_IMAGES_EMULATOR_X=VALUE serve` and `EmulatorConfig.from_env` set the
    field to the same value, which is not its default."""  # noqa: D205, D209
    field, setting = item
    good, _ = SAMPLES[setting.env]
    variable = ENV_PREFIX + setting.env
    expected = getattr(EmulatorConfig.from_env({variable: good}), field.name)
    assert expected != getattr(EmulatorConfig(), field.name)
    by_option = _served_config(monkeypatch, [setting.option_name, good])
    by_variable = _served_config(monkeypatch, [], env={variable: good})
    assert getattr(by_option, field.name) == expected
    assert getattr(by_variable, field.name) == expected
    # Only that field moved: every other one keeps its default.
    for other in dataclasses.fields(EmulatorConfig):
        if other.name not in (field.name, "clock"):
            assert getattr(by_option, other.name) == getattr(EmulatorConfig(), other.name), other.name


@pytest.mark.parametrize("item", SETTINGS, ids=_id)
def test_a_bad_setting_is_refused_naming_the_option_or_the_variable(
    item: tuple[dataclasses.Field[Any], Setting], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A malformed value exits 2 naming the option and the value, before serving; from_env names the
    variable."""  # noqa: D205, D209
    _, setting = item
    _, bad = SAMPLES[setting.env]
    served: list[object] = []
    monkeypatch.setattr(oai_images_emulator.cli, "run_server", lambda *args, **kwargs: served.append(args))
    result = CliRunner().invoke(main, ["serve", setting.option_name, bad])
    assert result.exit_code == 2, result.output
    assert setting.option_name in result.output
    assert bad in result.output
    by_variable = CliRunner().invoke(main, ["serve"], env={ENV_PREFIX + setting.env: bad})
    assert by_variable.exit_code == 2, by_variable.output
    assert setting.option_name in by_variable.output
    assert served == []
    with pytest.raises(ValueError, match=ENV_PREFIX + setting.env):
        EmulatorConfig.from_env({ENV_PREFIX + setting.env: bad})


def test_azure_deployments_add_up_from_repeated_options_and_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """--azure-deployment repeats, its variable takes several (space or comma separated), and both add to
    the default deployments rather than replacing them."""  # noqa: D205, D209
    config = _served_config(
        monkeypatch, ["--azure-deployment", "house=dall-e-3", "--azure-deployment", "cat=gpt-image-1"]
    )
    assert config.azure_deployments == {
        **EmulatorConfig().azure_deployments,
        "house": "dall-e-3",
        "cat": "gpt-image-1",
    }
    variable = ENV_PREFIX + "AZURE_DEPLOYMENTS"
    config = _served_config(monkeypatch, [], env={variable: "house=dall-e-3 cat=gpt-image-1"})
    assert config.azure_deployments["house"] == "dall-e-3"
    assert config.azure_deployments["cat"] == "gpt-image-1"
    from_env = EmulatorConfig.from_env({variable: "house=dall-e-3,cat=gpt-image-1"}).azure_deployments
    assert from_env == config.azure_deployments


def test_help_lists_every_setting_with_its_variable_and_default() -> None:
    """`serve --help` shows each generated option with its help, default and environment variable."""
    result = CliRunner().invoke(main, ["serve", "--help"], terminal_width=400)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for field, setting in SETTINGS:
        (line,) = [line for line in lines if line.strip().startswith(setting.option_name + " ")]
        assert setting.help in line
        assert "[default: " in line
        assert f"[env var: {ENV_PREFIX}{setting.env}]" in line, field.name
    assert "[default: 1048576 (1 MiB)]" in result.output  # byte counts read at a glance
    for option in ("--host", "--port", "--allow-remote", "--log-level"):
        assert option in result.output


def test_the_group_resolves_serve_to_the_emulators_command() -> None:
    """`oai-images serve` runs the emulator package's command, not the stand-in the group lists."""
    ctx = click.Context(main)
    name, command, rest = main.resolve_command(ctx, ["serve", "--port", "0"])
    assert (name, rest) == ("serve", ["--port", "0"])
    assert command is oai_images_emulator.cli.serve
    assert main.get_command(ctx, "serve") is stand_in  # listing the commands loads no emulator


def test_the_stand_in_run_directly_forwards_to_the_emulator(monkeypatch: pytest.MonkeyPatch) -> None:
    """The `serve` stand-in, invoked by itself (as a program embedding it would), runs the real command."""
    refused = CliRunner().invoke(stand_in, ["--host", "0.0.0.0"])
    assert refused.exit_code == 2
    assert "--allow-remote" in refused.output
    seen: list[EmulatorConfig] = []
    monkeypatch.setattr(oai_images_emulator.cli, "run_server", lambda config, **options: seen.append(config))
    assert CliRunner().invoke(stand_in, ["--seed", "5"]).exit_code == 0
    assert seen[0].seed == 5


def test_serve_options_complete_in_the_shell() -> None:
    """Tab completion offers the generated options (the group resolves serve for completion too)."""
    env = {**os.environ, "_OAI_IMAGES_COMPLETE": "bash_complete", "COMP_WORDS": "oai-images serve --rate-l"}
    done = subprocess.run(
        [EXE], env={**env, "COMP_CWORD": "2"}, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "--rate-limit-rpm" in done.stdout
    assert "--rate-limit-burst" in done.stdout


def test_serve_help_without_the_extra_says_what_to_install(tmp_path: Path) -> None:
    """With starlette, uvicorn and Pillow hidden, `serve --help` still answers (exit 0), naming the extra."""
    (tmp_path / "sitecustomize.py").write_text(_HIDE_EMULATOR)
    path = os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))
    done = run("serve", "--help", env={"PYTHONPATH": path})
    assert done.returncode == 0, done.stderr
    assert "pip install 'oai-images[emulator]'" in done.stdout
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_served_emulator_reads_its_variables_and_options() -> None:
    """A real `oai-images serve` process: a cap from the environment and a fault from an option apply."""
    env = {**os.environ, ENV_PREFIX + "MAX_JSON_BODY_BYTES": "2000"}
    with subprocess.Popen(
        [EXE, "serve", "--port", "0", "--fault", "rate_limit;times=1", "--log-level", "warning"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    ) as server:
        try:
            assert server.stdout is not None
            base_url = server.stdout.readline().strip()  # printed once the port is bound
            auth = {"authorization": "Bearer sk-any"}
            with httpx.Client(base_url=base_url, headers=auth, timeout=30) as http:
                body = {"prompt": "a fox", "model": "dall-e-2", "size": "256x256"}
                assert http.post("/images/generations", json=body).status_code == 429  # the fault, once
                assert http.post("/images/generations", json=body).status_code == 200
                too_big = http.post("/images/generations", json={**body, "prompt": "x" * 3000})
                assert too_big.status_code == 413
        finally:
            server.terminate()
            server.wait(timeout=10)
