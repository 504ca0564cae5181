"""The emulator's Azure routes: both URL forms, api-key or bearer, Azure's errors, for both clients."""

from __future__ import annotations

import base64
from io import BytesIO
from typing import Any

import httpx
import openai
import pytest
from PIL import Image

from oai_images import AsyncAzureImagesClient, AzureImagesClient
from oai_images.testing import ImagesEmulator, ImagesEmulatorServer
from oai_images_emulator import EmulatorConfig, EmulatorServer
from tests.conftest import FakeClock
from tests.test_azure import KEY, TOKEN, VERSION, no_azure_env

__all__ = ["no_azure_env"]  # the autouse fixture, imported to apply here too


@pytest.fixture(scope="module")
def server_config(clock: FakeClock) -> EmulatorConfig:
    """The module's served emulator (the ``server`` fixture) knows one extra deployment, my-images."""
    config = EmulatorConfig(clock=clock, hang_seconds=5)
    config.azure_deployments["my-images"] = "gpt-image-1.5"
    return config


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    """Each test once with AzureImagesClient and once with AsyncAzureImagesClient."""
    return str(request.param)


def _size(data: bytes) -> tuple[int, int]:
    with Image.open(BytesIO(data)) as image:
        return image.size


@pytest.mark.slow
def test_official_azure_client_generates_from_the_emulator_on_loopback(server: EmulatorServer) -> None:
    """openai.AzureOpenAI, pointed at the served emulator, gets a real image of the requested size."""
    endpoint = server.base_url.removesuffix("/v1")
    with openai.AzureOpenAI(azure_endpoint=endpoint, api_key="any-key", api_version=VERSION) as client:
        result = client.images.generate(prompt="a fox", model="my-images", size="1024x1536")
    assert result.data
    assert result.data[0].b64_json is not None
    assert _size(base64.b64decode(result.data[0].b64_json)) == (1024, 1536)
    recorded = server.state.requests[-1]
    assert recorded.path == "/openai/deployments/my-images/images/generations"
    assert recorded.headers["api-key"] == "[redacted]"


@pytest.mark.slow
async def test_our_azure_client_generates_from_the_emulator_on_loopback(
    server: EmulatorServer, kind: str
) -> None:
    """Both URL forms and both auth kinds work over the network against the served emulator."""
    endpoint = server.base_url.removesuffix("/v1")
    for options in (
        {"api_version": VERSION, "api_key": "any-key", "azure_deployment": "my-images"},
        {"api_version": "v1", "azure_ad_token_provider": lambda: "token", "azure_deployment": "my-images"},
    ):
        if kind == "sync":
            with AzureImagesClient(azure_endpoint=endpoint, **options) as client:
                data = client.generate("a fox", size="1536x1024").images[0].read()
        else:
            async with AsyncAzureImagesClient(azure_endpoint=endpoint, **options) as aclient:
                data = await (await aclient.generate("a fox", size="1536x1024")).images[0].aread()
        assert _size(data) == (1536, 1024)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("path", "headers", "body", "status", "code"),
    [
        (
            "/openai/deployments/gpt-image-2/images/generations",
            {"api-key": "k"},
            {"prompt": "x"},
            400,
            "MissingApiVersionParameter",
        ),
        (
            f"/openai/deployments/nope/images/generations?api-version={VERSION}",
            {"api-key": "k"},
            {"prompt": "x"},
            404,
            "DeploymentNotFound",
        ),
        (
            "/openai/v1/images/generations",
            {"authorization": "Bearer t"},
            {"prompt": "x", "model": "nope"},
            404,
            "DeploymentNotFound",
        ),
        (
            "/openai/v1/images/generations",
            {"api-key": "k"},
            {"prompt": "x"},
            400,
            "missing_required_parameter",
        ),
        (
            f"/openai/deployments/gpt-image-2/images/generations?api-version={VERSION}",
            {},
            {"prompt": "x"},
            401,
            "401",
        ),
        (
            f"/openai/deployments/dall-e-3/images/generations?api-version={VERSION}",
            {"api-key": "k"},
            {"prompt": "x", "size": "1536x1024"},
            400,
            "invalid_size",
        ),
    ],
)
def test_emulator_answers_azure_errors(
    server: EmulatorServer,
    path: str,
    headers: dict[str, str],
    body: dict[str, Any],
    status: int,
    code: str,
) -> None:
    """Missing api-version, unknown deployment, missing model or credential: Azure's status and code."""
    endpoint = server.base_url.removesuffix("/v1")
    response = httpx.post(endpoint + path, json=body, headers=headers)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_azure_client_through_the_images_emulator_fixture(images_emulator: ImagesEmulator) -> None:
    """The in-process pytest fixture serves Azure's routes: the request is recorded as sent."""
    from oai_images_emulator import EmulatorTransport

    with (
        httpx.Client(transport=EmulatorTransport(app=images_emulator.app)) as http,
        AzureImagesClient(
            azure_endpoint="http://azure.invalid", api_key=KEY, api_version=VERSION, http_client=http
        ) as client,
    ):
        result = client.generate("a fox", model="dall-e-3", response_format="b64_json")
    assert result.images[0].revised_prompt
    recorded = images_emulator.requests[0]
    assert recorded.path == "/openai/deployments/dall-e-3/images/generations"
    assert recorded.headers["api-key"] == "[redacted]"
    assert recorded.json == {"prompt": "a fox", "model": "dall-e-3", "response_format": "b64_json"}


@pytest.mark.slow
def test_official_azure_client_through_the_images_emulator_server_fixture(
    images_emulator_server: ImagesEmulatorServer,
) -> None:
    """The served pytest fixture answers the official AzureOpenAI with a token, on the v1-less base URL."""
    with openai.AzureOpenAI(
        azure_endpoint=images_emulator_server.base_url.removesuffix("/v1"),
        azure_deployment="gpt-image-2",
        azure_ad_token_provider=lambda: TOKEN,
        api_version=VERSION,
    ) as client:
        result = client.images.generate(prompt="a fox", size="1536x864")
    assert result.data
    assert result.data[0].b64_json is not None
    assert _size(base64.b64decode(result.data[0].b64_json)) == (1536, 864)
    assert images_emulator_server.requests[0].headers["authorization"] == "Bearer [redacted]"


def _png(size: tuple[int, int] = (256, 256)) -> bytes:
    buffer = BytesIO()
    Image.new("RGB", size, (20, 120, 200)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.slow
def test_official_azure_client_edits_on_the_emulator(server: EmulatorServer) -> None:
    """openai.AzureOpenAI's images.edit, deployment form with a key and v1 form with a token: a real edit of
    the requested size, by the deployment's model."""  # noqa: D205, D209
    endpoint = server.base_url.removesuffix("/v1")
    with openai.AzureOpenAI(azure_endpoint=endpoint, api_key="any-key", api_version=VERSION) as client:
        result = client.images.edit(
            image=("a.png", _png(), "image/png"), prompt="a hat", model="my-images", size="1024x1536"
        )
    assert result.data
    assert result.data[0].b64_json is not None
    assert _size(base64.b64decode(result.data[0].b64_json)) == (1024, 1536)
    recorded = server.state.requests[-1]
    assert recorded.path == "/openai/deployments/my-images/images/edits"
    assert recorded.headers["api-key"] == "[redacted]"
    with openai.OpenAI(base_url=f"{endpoint}/openai/v1", api_key=TOKEN) as v1:
        answer = v1.images.edit(
            image=("a.png", _png(), "image/png"), prompt="a hat", model="my-images", output_format="jpeg"
        )
    assert answer.data
    assert answer.data[0].b64_json is not None
    assert base64.b64decode(answer.data[0].b64_json).startswith(b"\xff\xd8")
    assert server.state.requests[-1].path == "/openai/v1/images/edits"


@pytest.mark.slow
async def test_our_azure_client_edits_on_the_emulator(server: EmulatorServer, kind: str) -> None:
    """AzureImagesClient edits through both URL forms, uploads and JSON references (a served URL)."""
    endpoint = server.base_url.removesuffix("/v1")
    for options in (
        {"api_version": VERSION, "api_key": "any-key", "azure_deployment": "my-images"},
        {"api_version": "v1", "azure_ad_token_provider": lambda: "token", "azure_deployment": "my-images"},
    ):
        if kind == "sync":
            with AzureImagesClient(azure_endpoint=endpoint, **options) as client:
                data = client.edit("a hat", image=_png(), size="1536x1024").images[0].read()
        else:
            async with AsyncAzureImagesClient(azure_endpoint=endpoint, **options) as aclient:
                data = await (await aclient.edit("a hat", image=_png(), size="1536x1024")).images[0].aread()
        assert _size(data) == (1536, 1024)
        assert server.state.requests[-1].path.endswith("/images/edits")


def test_azure_emulator_client_edits_in_process() -> None:
    """AzureImagesClient(emulator=True) edits in-process, uploads and a JSON edit by data URL alike."""
    from oai_images import ImageURL

    with AzureImagesClient(emulator=True, azure_deployment="gpt-image-1.5") as client:
        uploaded = client.edit("a hat", image=_png(), size="1024x1024")
        data_url = "data:image/png;base64," + base64.b64encode(_png()).decode()
        referenced = client.edit("a hat", image=ImageURL(data_url), size="1024x1024")
    assert _size(uploaded.images[0].read()) == (1024, 1024)
    assert _size(referenced.images[0].read()) == (1024, 1024)


@pytest.mark.parametrize(
    ("path", "headers", "form", "status", "code"),
    [
        ("/openai/deployments/gpt-image-2/images/edits", {"api-key": "k"}, {}, 400,
         "MissingApiVersionParameter"),
        (f"/openai/deployments/nope/images/edits?api-version={VERSION}", {"api-key": "k"}, {}, 404,
         "DeploymentNotFound"),
        ("/openai/v1/images/edits", {"api-key": "k"}, {"model": "nope"}, 404, "DeploymentNotFound"),
        ("/openai/v1/images/edits", {"api-key": "k"}, {}, 400, "missing_required_parameter"),
        (f"/openai/deployments/gpt-image-2/images/edits?api-version={VERSION}", {}, {}, 401, "401"),
        (f"/openai/deployments/dall-e-3/images/edits?api-version={VERSION}", {"api-key": "k"}, {}, 400,
         "invalid_value"),
    ],
)  # fmt: skip
def test_emulator_answers_azure_edit_errors(
    server: EmulatorServer,
    path: str,
    headers: dict[str, str],
    form: dict[str, str],
    status: int,
    code: str,
) -> None:
    """Azure edits: missing api-version, unknown deployment, no model in v1, no credential, a deployment
    whose model cannot edit: Azure's (or the API's) status and code."""  # noqa: D205, D209
    endpoint = server.base_url.removesuffix("/v1")
    response = httpx.post(
        endpoint + path, data={"prompt": "x", **form}, files={"image": ("a.png", _png())}, headers=headers
    )
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
