"""AzureImagesClient and AsyncAzureImagesClient: the wire of the official AzureOpenAI, rules per deployment.

The parity tests send the same call through the official ``openai`` client (over ``httpx2``, its HTTP
library) and through ours, each into a mock transport, and compare method, URL with query, the
credential header and the JSON body.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from io import BytesIO
from typing import Any

import httpx
import httpx2
import openai
import pytest
from PIL import Image
from pytest_httpx import HTTPXMock

from oai_images import (
    AsyncAzureImagesClient,
    AuthenticationError,
    AzureImagesClient,
    BadRequestError,
    ImagesClient,
    InvalidParameterError,
    MissingAPIKeyError,
    NotFoundError,
    OAIImagesError,
)
from tests.conftest import Facade

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
        (
            401,
            {
                "code": "401",
                "message": "Access denied due to invalid subscription key or wrong API endpoint.",
            },
            AuthenticationError,
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


@pytest.mark.slow
def test_sync_azure_bulk_run_goes_to_the_deployment(tmp_path: Any) -> None:
    """Sync Azure generate_many runs on an async twin with every Azure setting: the lines succeed."""
    options: dict[str, Any] = {"emulator": True, "azure_deployment": "gpt-image-1.5"}
    with AzureImagesClient(**options, deployment_models={"gpt-image-1.5": "gpt-image-1.5"}) as client:
        summary = client.generate_many([{"prompt": "a fox"}, {"prompt": "a cat"}], out=tmp_path)
    assert (summary.done, summary.failed) == (2, [])
    assert len(list(tmp_path.glob("*.png"))) == 2


@pytest.mark.slow
def test_sync_bulk_run_keeps_the_auth_header(tmp_path: Any, server: Any) -> None:
    """A header-keyed server: the bulk run's twin sends the key in that header too, never as Bearer.

    (The emulator itself wants a bearer key, so it refuses the line; what matters is what was sent.)
    """
    with ImagesClient(api_key="k-0123456789", base_url=server.base_url, auth_header="X-Api-Key") as client:
        summary = client.generate_many(
            [{"prompt": "a fox", "model": "dall-e-2", "size": "256x256"}], out=tmp_path
        )
    assert summary.total == 1
    headers = server.state.requests[-1].headers
    assert "x-api-key" in headers
    assert "authorization" not in headers


def test_azure_bulk_lines_are_checked_against_the_deployments_model(tmp_path: Any) -> None:
    """A line the deployment's model refuses stops the run before anything is sent, naming the field."""
    from oai_images.bulk import InvalidLineError

    options: dict[str, Any] = {"emulator": True, "azure_deployment": "house"}
    with (
        AzureImagesClient(**options, deployment_models={"house": "dall-e-3"}) as client,
        pytest.raises(InvalidLineError) as caught,
    ):
        client.generate_many([{"prompt": "a fox"}, {"prompt": "a cat", "n": 2}], out=tmp_path)
    assert caught.value.param == "n"
    assert not list(tmp_path.glob("*.png"))
