"""AzureImagesClient and AsyncAzureImagesClient: the wire of the official AzureOpenAI, rules per deployment.

The parity tests send the same call through the official ``openai`` client (over ``httpx2``, its HTTP
library) and through ours, each into a mock transport, and compare method, URL with query, the
credential header and the JSON body.
"""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Callable, Iterator, Mapping
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx
import httpx2
import openai
import pytest
from click.testing import CliRunner
from PIL import Image
from pytest_httpx import HTTPXMock

from oai_images import (
    AsyncAzureImagesClient,
    AzureImagesClient,
    BadRequestError,
    ImagesClient,
    InvalidParameterError,
    MissingAPIKeyError,
    NotFoundError,
    OAIImagesError,
)
from oai_images.cli import main
from oai_images.emulator import EmulatorServer
from oai_images.testing import ImagesEmulator, ImagesEmulatorServer
from tests.conftest import Facade
from tests.test_cli import EXE, run

ENDPOINT = "https://my-resource.openai.azure.com"
VERSION = "2025-04-01-preview"
KEY = "azure-key-0123456789abcdef"
TOKEN = "entra-token-0123456789abcdef"
AZURE_ENV = ("AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY", "OPENAI_API_VERSION", "AZURE_OPENAI_AD_TOKEN")
ANSWER = {"created": 1764000000, "data": [{"b64_json": "aGVsbG8="}]}

Wire = tuple[str, str, dict[str, str], object]
AnyAzure = AzureImagesClient | AsyncAzureImagesClient


@pytest.fixture(autouse=True)
def no_azure_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No Azure or OpenAI variable of the developer's shell leaks into a test."""
    for name in (*AZURE_ENV, "OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID"):
        monkeypatch.delenv(name, raising=False)


def _wire(method: str, url: object, headers: Mapping[str, str], content: bytes) -> Wire:
    """What parity compares: the credential headers only (user agents and telemetry differ by design)."""
    auth = {
        name.lower(): value for name, value in headers.items() if name.lower() in ("api-key", "authorization")
    }
    return method, str(url), auth, json.loads(content)


def official_wire(factory: Callable[[httpx2.Client], Any], call: Mapping[str, Any]) -> Wire:
    """The request the official client sends for ``images.generate(prompt=..., **call)``."""
    seen: list[Wire] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(_wire(request.method, request.url, request.headers, request.content))
        return httpx2.Response(200, json=ANSWER)

    client = factory(httpx2.Client(transport=httpx2.MockTransport(handler)))
    client.images.generate(prompt="a lighthouse", **call)
    return seen[0]


def our_wire(options: Mapping[str, Any], call: Mapping[str, Any]) -> Wire:
    """The request AzureImagesClient sends for ``generate("a lighthouse", **call)``."""
    seen: list[Wire] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(_wire(request.method, request.url, request.headers, request.content))
        return httpx.Response(200, json=ANSWER)

    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        AzureImagesClient(http_client=http, **options).generate("a lighthouse", **call)
    return seen[0]


def _token() -> str:
    return TOKEN


PARITY = {
    "key, deployment in the client": (
        lambda http: openai.AzureOpenAI(
            azure_endpoint=ENDPOINT,
            azure_deployment="img",
            api_version=VERSION,
            api_key=KEY,
            http_client=http,
        ),
        {"size": "1024x1024", "quality": "high", "n": 2},
        {"azure_endpoint": ENDPOINT, "azure_deployment": "img", "api_version": VERSION, "api_key": KEY},
        {"size": "1024x1024", "quality": "high", "n": 2},
    ),
    "key, deployment as model": (
        lambda http: openai.AzureOpenAI(
            azure_endpoint=ENDPOINT + "/", api_version=VERSION, api_key=KEY, http_client=http
        ),
        {"model": "img", "output_format": "webp"},
        {"azure_endpoint": ENDPOINT + "/", "api_version": VERSION, "api_key": KEY},
        {"model": "img", "output_format": "webp"},
    ),
    "token provider": (
        lambda http: openai.AzureOpenAI(
            azure_endpoint=ENDPOINT,
            azure_deployment="img",
            api_version=VERSION,
            azure_ad_token_provider=_token,
            http_client=http,
        ),
        {"background": "transparent"},
        {
            "azure_endpoint": ENDPOINT,
            "azure_deployment": "img",
            "api_version": VERSION,
            "azure_ad_token_provider": _token,
        },
        {"background": "transparent"},
    ),
    "static token": (
        lambda http: openai.AzureOpenAI(
            azure_endpoint=ENDPOINT, api_version=VERSION, azure_ad_token=TOKEN, http_client=http
        ),
        {"model": "img"},
        {"azure_endpoint": ENDPOINT, "api_version": VERSION, "azure_ad_token": TOKEN},
        {"model": "img"},
    ),
    # AzureOpenAI cannot reach the v1 form (it puts /deployments/ in any images URL); Microsoft documents
    # the official OpenAI client at {endpoint}/openai/v1/ for it, so that is the reference.
    "v1, key": (
        lambda http: openai.OpenAI(base_url=f"{ENDPOINT}/openai/v1/", api_key=KEY, http_client=http),
        {"model": "img", "size": "1536x1024"},
        {"azure_endpoint": ENDPOINT, "api_version": "v1", "api_key": KEY},
        {"model": "img", "size": "1536x1024"},
    ),
    "v1, token provider, deployment in the client": (
        lambda http: openai.OpenAI(base_url=f"{ENDPOINT}/openai/v1/", api_key=_token, http_client=http),
        {"model": "img"},
        {
            "azure_endpoint": ENDPOINT,
            "api_version": "v1",
            "azure_deployment": "img",
            "azure_ad_token_provider": _token,
        },
        {},
    ),
}


@pytest.mark.parametrize("case", PARITY.values(), ids=PARITY.keys())
def test_azure_wire_matches_the_official_client(
    case: tuple[Callable[[httpx2.Client], Any], dict[str, Any], dict[str, Any], dict[str, Any]],
) -> None:
    """Method, URL with api-version, credential header and body are those the official client sends."""
    official_factory, official_call, options, call = case
    assert our_wire(options, call) == official_wire(official_factory, official_call)


def test_azure_wire_matches_the_official_client_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """AZURE_OPENAI_ENDPOINT, AZURE_OPENAI_API_KEY and OPENAI_API_VERSION are read as officially."""
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", ENDPOINT)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_API_VERSION", VERSION)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-not-for-azure")
    official = official_wire(lambda http: openai.AzureOpenAI(http_client=http), {"model": "img"})
    ours = our_wire({}, {"model": "img"})
    assert ours == official
    assert ours[2] == {"api-key": KEY}


def test_azure_ad_token_env_wins_over_the_key_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """With no credential given, AZURE_OPENAI_AD_TOKEN comes before AZURE_OPENAI_API_KEY, as officially."""
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    monkeypatch.setenv("AZURE_OPENAI_AD_TOKEN", TOKEN)
    options = {"azure_endpoint": ENDPOINT, "api_version": VERSION}
    official = official_wire(
        lambda http: openai.AzureOpenAI(azure_endpoint=ENDPOINT, api_version=VERSION, http_client=http),
        {"model": "img"},
    )
    assert our_wire(options, {"model": "img"}) == official
    assert official[2] == {"authorization": f"Bearer {TOKEN}"}


async def test_async_azure_wire_matches_the_official_async_client() -> None:
    """AsyncAzureImagesClient with an async token provider sends what AsyncAzureOpenAI sends."""

    async def provider() -> str:
        return TOKEN

    seen: list[Wire] = []

    def ours(request: httpx.Request) -> httpx.Response:
        seen.append(_wire(request.method, request.url, request.headers, request.content))
        return httpx.Response(200, json=ANSWER)

    def theirs(request: httpx2.Request) -> httpx2.Response:
        seen.append(_wire(request.method, request.url, request.headers, request.content))
        return httpx2.Response(200, json=ANSWER)

    official = openai.AsyncAzureOpenAI(
        azure_endpoint=ENDPOINT,
        azure_deployment="img",
        api_version=VERSION,
        azure_ad_token_provider=provider,
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(theirs)),
    )
    await official.images.generate(prompt="a lighthouse", size="1024x1536")
    async with httpx.AsyncClient(transport=httpx.MockTransport(ours)) as http:
        client = AsyncAzureImagesClient(
            azure_endpoint=ENDPOINT,
            azure_deployment="img",
            api_version=VERSION,
            azure_ad_token_provider=provider,
            http_client=http,
        )
        await client.generate("a lighthouse", size="1024x1536")
    assert seen[1] == seen[0]


# --- a mock Azure for the behaviour of our clients ------------------------------------------------------


class MockAzure:
    """Records requests and answers each with the next canned response (the last one repeats)."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.answers: list[httpx.Response] = [httpx.Response(200, json=ANSWER)]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        """Record the request and answer it."""
        self.requests.append(request)
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]

    def client(self, kind: str, **options: Any) -> AnyAzure:
        """A sync or async Azure client over this mock, with no retry wait."""
        options.setdefault("azure_endpoint", ENDPOINT)
        options.setdefault("api_version", VERSION)
        if "azure_ad_token" not in options and "azure_ad_token_provider" not in options:
            options.setdefault("api_key", KEY)
        if kind == "sync":
            return AzureImagesClient(
                http_client=httpx.Client(transport=httpx.MockTransport(self)), sleep=lambda _: None, **options
            )

        async def sleep(_: float) -> None:
            return None

        http = httpx.AsyncClient(transport=httpx.MockTransport(self))
        return AsyncAzureImagesClient(http_client=http, sleep=sleep, **options)


@pytest.fixture
def azure() -> MockAzure:
    """A mock Azure endpoint."""
    return MockAzure()


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    """Each test once with AzureImagesClient and once with AsyncAzureImagesClient."""
    return str(request.param)


async def generate(client: AnyAzure, prompt: str = "a lighthouse", **fields: Any) -> Any:
    """``generate`` on either client."""
    if isinstance(client, AzureImagesClient):
        return client.generate(prompt, **fields)
    return await client.generate(prompt, **fields)


async def stream(client: AnyAzure, **fields: Any) -> list[Any]:
    """Every event of ``generate_stream`` on either client."""
    if isinstance(client, AzureImagesClient):
        return list(client.generate_stream("a lighthouse", **fields))
    return [event async for event in client.generate_stream("a lighthouse", **fields)]


async def test_azure_token_provider_is_called_per_request(azure: MockAzure, kind: str) -> None:
    """Each request carries the provider's current token, so a refreshed token is used at once."""
    tokens = iter([f"{TOKEN}-1", f"{TOKEN}-2"])
    client = azure.client(kind, azure_deployment="img", azure_ad_token_provider=lambda: next(tokens))
    await generate(client)
    await generate(client)
    assert [r.headers["authorization"] for r in azure.requests] == [f"Bearer {TOKEN}-1", f"Bearer {TOKEN}-2"]
    assert all("api-key" not in r.headers for r in azure.requests)


async def test_azure_token_provider_token_is_redacted_from_errors(azure: MockAzure, kind: str) -> None:
    """A server that echoes the provider's token does not get it into the error."""
    azure.answers = [httpx.Response(401, json={"error": {"code": "401", "message": f"bad token {TOKEN}"}})]
    client = azure.client(kind, azure_deployment="img", azure_ad_token_provider=lambda: TOKEN)
    with pytest.raises(OAIImagesError) as caught:
        await generate(client)
    assert TOKEN not in str(caught.value)
    assert TOKEN not in repr(caught.value.body if hasattr(caught.value, "body") else None)


async def test_azure_provider_returning_no_token_is_reported(azure: MockAzure, kind: str) -> None:
    """A provider that returns an empty token fails with an OAIImagesError, before sending."""
    client = azure.client(kind, azure_deployment="img", azure_ad_token_provider=lambda: "")
    with pytest.raises(OAIImagesError, match="azure_ad_token_provider"):
        await generate(client)
    assert azure.requests == []


async def test_azure_streams_to_the_deployment_url(azure: MockAzure, kind: str) -> None:
    """generate_stream is inherited: it goes to the deployment URL with the api-key header."""
    event = {"type": "image_generation.completed", "b64_json": "aGVsbG8="}
    text = f"event: image_generation.completed\ndata: {json.dumps(event)}\n\n"
    azure.answers = [httpx.Response(200, text=text, headers={"content-type": "text/event-stream"})]
    client = azure.client(kind, azure_deployment="img")
    events = await stream(client)
    assert len(events) == 1
    request = azure.requests[0]
    assert str(request.url) == f"{ENDPOINT}/openai/deployments/img/images/generations?api-version={VERSION}"
    assert request.headers["api-key"] == KEY
    assert json.loads(request.content)["stream"] is True


@pytest.mark.parametrize(
    ("options", "fields", "param"),
    [
        ({"deployment_models": {"img": "gpt-image-1.5"}}, {"size": "1536x864"}, "size"),
        ({"deployment_models": {"img": "dall-e-3"}}, {"n": 2}, "n"),
        ({"model_family": "gpt-image-1.5"}, {"response_format": "url"}, "response_format"),
        ({}, {"quality": "ultra"}, "quality"),
        ({}, {"n": 11}, "n"),
        ({}, {"colour": "red"}, "colour"),
    ],
)
async def test_azure_rules_of_the_deployments_model_apply_before_sending(
    azure: MockAzure, kind: str, options: dict[str, Any], fields: dict[str, Any], param: str
) -> None:
    """The named model's rules (or the model-independent ones) reject a bad value with zero requests."""
    client = azure.client(kind, azure_deployment="img", **options)
    with pytest.raises(InvalidParameterError) as caught:
        await generate(client, **fields)
    assert caught.value.param == param
    assert azure.requests == []


async def test_azure_unnamed_deployment_gets_only_model_independent_checks(
    azure: MockAzure, kind: str
) -> None:
    """A deployment whose model is not named may take any model's values; its name goes on the wire."""
    client = azure.client(kind, azure_deployment="dall-e-3")
    await generate(client, size="1536x864", n=3, quality="high")
    body = json.loads(azure.requests[0].content)
    assert body == {"prompt": "a lighthouse", "size": "1536x864", "n": 3, "quality": "high"}


async def test_azure_mapped_deployment_keeps_its_name_on_the_wire(azure: MockAzure, kind: str) -> None:
    """Validated as gpt-image-2, sent as the deployment "img" (v1 form: in the body's model)."""
    client = azure.client(kind, api_version="v1", deployment_models={"img": "gpt-image-2"})
    await generate(client, model="img", size="1536x864")
    request = azure.requests[0]
    assert str(request.url) == f"{ENDPOINT}/openai/v1/images/generations"
    assert json.loads(request.content) == {"prompt": "a lighthouse", "model": "img", "size": "1536x864"}


async def test_azure_without_a_deployment_is_refused_before_sending(azure: MockAzure, kind: str) -> None:
    """No azure_deployment and no model: nothing says where to send, so nothing is sent."""
    client = azure.client(kind)
    with pytest.raises(InvalidParameterError) as caught:
        await generate(client)
    assert caught.value.param == "model"
    assert "azure_deployment" in str(caught.value)
    assert azure.requests == []


@pytest.mark.parametrize(
    ("status", "error", "cls"),
    [
        (
            400,
            {
                "code": "content_policy_violation",
                "message": "Your request was rejected as a result of our safety system.",
                "param": None,
                "type": None,
                "inner_error": {"code": "ResponsibleAIPolicyViolation", "content_filter_results": {}},
            },
            BadRequestError,
        ),
        (
            404,
            {"code": "DeploymentNotFound", "message": "The API deployment for this resource does not exist."},
            NotFoundError,
        ),
    ],
)
async def test_azure_error_codes_map_into_the_error_tree(
    azure: MockAzure, kind: str, status: int, error: dict[str, Any], cls: type[Exception]
) -> None:
    """Azure's codes come in the same envelope: the class of the status, with Azure's code and message."""
    azure.answers = [httpx.Response(status, json={"error": error})]
    client = azure.client(kind, azure_deployment="img")
    with pytest.raises(cls) as caught:
        await generate(client)
    assert getattr(caught.value, "code", None) == error["code"]
    assert error["message"] in str(caught.value)
    assert len(azure.requests) == 1  # neither is retried


def test_azure_credentials_are_mutually_exclusive() -> None:
    """api_key, azure_ad_token and azure_ad_token_provider: at most one, and the key is not shown."""
    with pytest.raises(InvalidParameterError) as caught:
        AzureImagesClient(azure_endpoint=ENDPOINT, api_version=VERSION, api_key=KEY, azure_ad_token=TOKEN)
    assert "mutually exclusive" in str(caught.value)
    assert KEY not in str(caught.value)
    assert TOKEN not in str(caught.value)


def test_azure_without_credentials_or_settings_says_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    """No credential (OPENAI_API_KEY is no Azure key), no endpoint, no version: each is named."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-not-for-azure")
    with pytest.raises(MissingAPIKeyError, match="AZURE_OPENAI_API_KEY"):
        AzureImagesClient(azure_endpoint=ENDPOINT, api_version=VERSION)
    with pytest.raises(InvalidParameterError, match="AZURE_OPENAI_ENDPOINT"):
        AzureImagesClient(api_key=KEY, api_version=VERSION)
    with pytest.raises(InvalidParameterError, match="OPENAI_API_VERSION"):
        AzureImagesClient(api_key=KEY, azure_endpoint=ENDPOINT)
    with pytest.raises(InvalidParameterError) as caught:
        AzureImagesClient(api_key=KEY, azure_endpoint=ENDPOINT, api_version=VERSION, model_family="gpt-9")
    assert caught.value.param == "model_family"


def test_azure_repr_shows_the_endpoint_not_the_key() -> None:
    """The repr names endpoint, deployment and version, never the key."""
    client = AzureImagesClient(
        azure_endpoint=ENDPOINT, azure_deployment="img", api_version=VERSION, api_key=KEY
    )
    assert repr(client) == (
        f"AzureImagesClient(azure_endpoint={ENDPOINT!r}, azure_deployment='img', api_version={VERSION!r}, "
        "max_retries=2, validate=True)"
    )
    assert client.azure_deployment == "img"
    assert client.api_version == VERSION
    client.close()


# --- header-keyed compatible servers ------------------------------------------------------------------


async def test_auth_header_carries_the_key_instead_of_bearer(facade: Facade, httpx_mock: HTTPXMock) -> None:
    """auth_header="X-Api-Key" sends the key there as it is, with no Authorization, and redacts it."""
    secret = "header-key-0123456789"
    httpx_mock.add_response(status_code=400, json={"error": {"message": f"bad key {secret}", "type": "x"}})
    client = facade.client(api_key=secret, auth_header="X-Api-Key")
    with pytest.raises(BadRequestError) as caught:
        await facade.generate(client=client)
    await facade.close(client)
    request = httpx_mock.get_requests()[0]
    assert request.headers["x-api-key"] == secret
    assert "authorization" not in request.headers
    assert secret not in str(caught.value)
    assert secret not in repr(caught.value.body)


def test_auth_header_must_be_a_header_name() -> None:
    """A name no header can have is refused at construction."""
    with pytest.raises(InvalidParameterError) as caught:
        ImagesClient(api_key=KEY, base_url="http://127.0.0.1:9/v1", auth_header="X Api Key")
    assert caught.value.param == "auth_header"


# --- the emulator -------------------------------------------------------------------------------------


def _size(data: bytes) -> tuple[int, int]:
    with Image.open(BytesIO(data)) as image:
        return image.size


async def test_azure_emulator_in_process_generates_real_images(kind: str) -> None:
    """AzureImagesClient(emulator=True, azure_deployment=...) draws with the deployment's model."""
    options: dict[str, Any] = {"emulator": True, "azure_deployment": "gpt-image-2"}
    if kind == "sync":
        with AzureImagesClient(**options) as client:
            data = client.generate("a fox", size="1536x864").images[0].read()
    else:
        async with AsyncAzureImagesClient(**options) as aclient:
            data = await (await aclient.generate("a fox", size="1536x864")).images[0].aread()
    assert _size(data) == (1536, 864)


def test_azure_emulator_in_process_v1_form() -> None:
    """The v1 form reaches the emulator too, the deployment sent as model."""
    with AzureImagesClient(emulator=True, api_version="v1", azure_deployment="dall-e-3") as client:
        result = client.generate("a fox", size="1792x1024", response_format="b64_json")
    assert _size(result.images[0].read()) == (1792, 1024)


@pytest.fixture(scope="module")
def azure_server() -> Iterator[EmulatorServer]:
    """The emulator on a loopback port, with one extra deployment."""
    from oai_images.emulator import EmulatorConfig

    config = EmulatorConfig()
    config.azure_deployments["my-images"] = "gpt-image-1.5"
    with EmulatorServer(config) as running:
        yield running


@pytest.mark.slow
def test_official_azure_client_generates_from_the_emulator_on_loopback(azure_server: EmulatorServer) -> None:
    """openai.AzureOpenAI, pointed at the served emulator, gets a real image of the requested size."""
    endpoint = azure_server.base_url.removesuffix("/v1")
    client = openai.AzureOpenAI(azure_endpoint=endpoint, api_key="any-key", api_version=VERSION)
    result = client.images.generate(prompt="a fox", model="my-images", size="1024x1536")
    assert result.data
    assert result.data[0].b64_json is not None
    assert _size(base64.b64decode(result.data[0].b64_json)) == (1024, 1536)
    recorded = azure_server.state.requests[-1]
    assert recorded.path == "/openai/deployments/my-images/images/generations"
    assert recorded.headers["api-key"] == "[redacted]"


@pytest.mark.slow
async def test_our_azure_client_generates_from_the_emulator_on_loopback(
    azure_server: EmulatorServer, kind: str
) -> None:
    """Both URL forms and both auth kinds work over the network against the served emulator."""
    endpoint = azure_server.base_url.removesuffix("/v1")
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
    azure_server: EmulatorServer,
    path: str,
    headers: dict[str, str],
    body: dict[str, Any],
    status: int,
    code: str,
) -> None:
    """Missing api-version, unknown deployment, missing model or credential: Azure's status and code."""
    endpoint = azure_server.base_url.removesuffix("/v1")
    response = httpx.post(endpoint + path, json=body, headers=headers)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


# --- the command line ---------------------------------------------------------------------------------


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
def test_cli_sends_to_an_azure_endpoint_from_the_environment(
    azure_server: EmulatorServer, tmp_path: Path
) -> None:
    """AZURE_OPENAI_ENDPOINT, OPENAI_API_VERSION and AZURE_OPENAI_API_KEY suffice; the key is not shown."""
    env = {
        "AZURE_OPENAI_ENDPOINT": azure_server.base_url.removesuffix("/v1"),
        "OPENAI_API_VERSION": VERSION,
        "AZURE_OPENAI_API_KEY": KEY,
    }
    done = run("generate", "a fox", "--azure-deployment", "my-images", "-o", str(tmp_path), env=env)
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).is_file()
    assert azure_server.state.requests[-1].path == "/openai/deployments/my-images/images/generations"
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


def test_azure_client_through_the_images_emulator_fixture(images_emulator: ImagesEmulator) -> None:
    """The in-process pytest fixture serves Azure's routes: the request is recorded as sent."""
    from oai_images.emulator import EmulatorTransport

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


async def test_azure_result_names_the_deployment_as_its_model(azure: MockAzure, kind: str) -> None:
    """With the deployment in the client and no model in the call, the result's model is the deployment."""
    client = azure.client(kind, azure_deployment="img")
    result = await generate(client)
    assert result.model == "img"
    assert "model" not in json.loads(azure.requests[0].content)  # as AzureOpenAI sends it


def test_azure_sync_client_refuses_an_async_token_provider(azure: MockAzure) -> None:
    """An async provider on the sync client is reported (not sent as a coroutine's repr), nothing sent."""

    async def provider() -> str:
        return TOKEN

    client = azure.client("sync", azure_deployment="img", azure_ad_token_provider=provider)
    assert isinstance(client, AzureImagesClient)
    with pytest.raises(OAIImagesError, match="AsyncAzureImagesClient"):
        client.generate("a lighthouse")
    assert azure.requests == []


def test_azure_endpoint_must_be_an_http_url() -> None:
    """An endpoint without scheme or host is named as azure_endpoint, before anything is sent."""
    with pytest.raises(InvalidParameterError) as caught:
        AzureImagesClient(azure_endpoint="my-resource.openai.azure.com", api_key=KEY, api_version=VERSION)
    assert caught.value.param == "azure_endpoint"


async def test_azure_content_filter_annotations_are_tolerated(azure: MockAzure, kind: str) -> None:
    """Azure's extra content-filter fields in a 200 answer do not break parsing; the image arrives."""
    filtered = {"filtered": False, "severity": "safe"}
    item = {"b64_json": "aGVsbG8=", "content_filter_results": {"hate": filtered, "violence": filtered}}
    body = {"created": 1, "data": [item], "prompt_filter_results": [{"prompt_index": 0}]}
    azure.answers = [httpx.Response(200, json=body)]
    client = azure.client(kind, azure_deployment="img")
    result = await generate(client)
    assert [image.b64_json for image in result.images] == ["aGVsbG8="]
