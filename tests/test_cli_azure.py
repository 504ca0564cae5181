"""The command line's Azure options: generate's --azure-endpoint, --azure-deployment, --api-version."""

from __future__ import annotations

import base64
import json
import subprocess
from io import BytesIO
from pathlib import Path

import openai
import pytest
from click.testing import CliRunner
from PIL import Image

from oai_images.cli import main
from oai_images_emulator import EmulatorConfig, EmulatorServer
from tests.conftest import FakeClock
from tests.test_azure import KEY, VERSION, no_azure_env
from tests.test_cli import EXE, run

__all__ = ["no_azure_env"]  # the autouse fixture, imported to apply here too


@pytest.fixture(scope="module")
def server_config(clock: FakeClock) -> EmulatorConfig:
    """The module's served emulator (the ``server`` fixture) knows one extra deployment, my-images."""
    config = EmulatorConfig(clock=clock, hang_seconds=5)
    config.azure_deployments["my-images"] = "gpt-image-1.5"
    return config


def _size(data: bytes) -> tuple[int, int]:
    with Image.open(BytesIO(data)) as image:
        return image.size


def test_cli_help_lists_the_azure_options_in_their_own_section() -> None:
    """The generate help shows --azure-endpoint, --azure-deployment and --api-version under their heading."""
    result = CliRunner().invoke(main, ["generate", "--help"], terminal_width=120)
    assert result.exit_code == 0
    options, _, azure = result.output.partition("Azure OpenAI options:")
    for option in ("--azure-endpoint", "--azure-deployment", "--api-version"):
        assert option in azure
        assert option not in options
    assert "--base-url" in options


@pytest.mark.slow
def test_cli_generates_through_the_emulators_azure_route(tmp_path: Path) -> None:
    """--emulator --azure-deployment draws with the deployment's model and reports the deployment."""
    done = run(
        "generate", "a fox", "--emulator", "--azure-deployment", "gpt-image-1.5", "-s", "1536x1024",
        "-o", str(tmp_path), "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["model"] == "gpt-image-1.5"
    with Image.open(document["images"][0]["path"]) as image:
        assert image.size == (1536, 1024)


@pytest.mark.slow
def test_cli_sends_to_an_azure_endpoint_from_the_environment(server: EmulatorServer, tmp_path: Path) -> None:
    """AZURE_OPENAI_ENDPOINT, OPENAI_API_VERSION and AZURE_OPENAI_API_KEY suffice; the key is not shown."""
    env = {
        "AZURE_OPENAI_ENDPOINT": server.base_url.removesuffix("/v1"),
        "OPENAI_API_VERSION": VERSION,
        "AZURE_OPENAI_API_KEY": KEY,
    }
    done = run("generate", "a fox", "--azure-deployment", "my-images", "-o", str(tmp_path), env=env)
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).is_file()
    assert server.state.requests[-1].path == "/openai/deployments/my-images/images/generations"
    failed = run("generate", "a fox", "--azure-deployment", "nope", "-o", str(tmp_path), env=env)
    assert failed.returncode == 1
    assert "404" in failed.stderr
    assert "does not exist" in failed.stderr
    assert KEY not in failed.stdout + failed.stderr + done.stdout + done.stderr


def test_cli_azure_without_credentials_exits_2() -> None:
    """An Azure endpoint with no key or token: exit 2 naming the variables, nothing sent."""
    result = CliRunner().invoke(
        main, ["generate", "a fox", "--azure-endpoint", "http://127.0.0.1:9", "--api-version", "v1"]
    )
    assert result.exit_code == 2
    assert "AZURE_OPENAI_API_KEY" in result.output


def test_cli_azure_deployment_without_an_endpoint_exits_2() -> None:
    """--azure-deployment with neither --azure-endpoint nor --emulator is refused, not silently ignored."""
    result = CliRunner().invoke(main, ["generate", "a fox", "--azure-deployment", "img"])
    assert result.exit_code == 2
    assert "--azure-endpoint" in result.output


@pytest.mark.slow
def test_cli_serve_azure_deployment_serves_the_official_azure_client() -> None:
    """`oai-images serve --azure-deployment house=dall-e-3` in a process; AzureOpenAI draws with dall-e-3."""
    with subprocess.Popen(
        [EXE, "serve", "--port", "0", "--azure-deployment", "house=dall-e-3", "--log-level", "warning"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as server:
        try:
            assert server.stdout is not None
            base_url = server.stdout.readline().strip()  # printed once the port is bound
            with openai.AzureOpenAI(
                azure_endpoint=base_url.removesuffix("/v1"), api_key="any-key", api_version=VERSION
            ) as client:
                result = client.images.generate(
                    prompt="a house", model="house", size="1792x1024", response_format="b64_json"
                )
        finally:
            server.terminate()
    assert result.data
    assert result.data[0].b64_json is not None
    assert _size(base64.b64decode(result.data[0].b64_json)) == (1792, 1024)
    assert result.data[0].revised_prompt  # dall-e-3 revises its prompts


def test_cli_serve_refuses_a_malformed_azure_deployment() -> None:
    """--azure-deployment needs NAME=MODEL with a model the rules know; refused before serving."""
    result = CliRunner().invoke(main, ["serve", "--port", "0", "--azure-deployment", "house=dall-e-9"])
    assert result.exit_code == 2
    assert "NAME=MODEL" in result.output


@pytest.mark.slow
def test_cli_uses_azure_only_when_asked(server: EmulatorServer, tmp_path: Path) -> None:
    """An exported AZURE_OPENAI_ENDPOINT alone takes no command over: OPENAI_BASE_URL and --base-url still
    apply; an --azure-* option or OAI_IMAGES_PROVIDER=azure selects Azure, and a missing version is
    named as the command line's option and variable."""  # noqa: D205, D209
    azure_env = {"AZURE_OPENAI_ENDPOINT": server.base_url.removesuffix("/v1"), "AZURE_OPENAI_API_KEY": KEY}
    plain = run(
        "generate", "a fox", "-o", str(tmp_path), "-m", "dall-e-2",
        env={**azure_env, "OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "sk-test-0123456789"},
    )  # fmt: skip
    assert plain.returncode == 0, plain.stderr
    assert server.state.requests[-1].path == "/v1/images/generations"
    flag = run(
        "generate", "a fox", "-o", str(tmp_path), "-m", "dall-e-2", "--base-url", server.base_url,
        env={**azure_env, "OPENAI_API_KEY": "sk-test-0123456789"},
    )  # fmt: skip
    assert flag.returncode == 0, flag.stderr
    assert server.state.requests[-1].path == "/v1/images/generations"
    switched = run(
        "generate", "a fox", "-o", str(tmp_path), "-m", "gpt-image-1.5",
        env={**azure_env, "OAI_IMAGES_PROVIDER": "azure", "OPENAI_API_VERSION": VERSION},
    )  # fmt: skip
    assert switched.returncode == 0, switched.stderr
    assert server.state.requests[-1].path == "/openai/deployments/gpt-image-1.5/images/generations"
    no_version = run("generate", "a fox", "--azure-deployment", "gpt-image-1.5", env=azure_env)
    assert no_version.returncode == 2
    assert "--api-version" in no_version.stderr
    assert "OPENAI_API_VERSION" in no_version.stderr
    assert "api_version=" not in no_version.stderr
    wrong = run("generate", "a fox", env={**azure_env, "OAI_IMAGES_PROVIDER": "aws"})
    assert wrong.returncode == 2
    assert "OAI_IMAGES_PROVIDER" in wrong.stderr
