"""AzureImagesClient and AsyncAzureImagesClient: the images clients with Azure OpenAI's URLs and auth.

They are the clients of ``_client.py`` with three things changed, configured the way the official
``openai.AzureOpenAI`` is: where a request goes (the deployment in the URL and ``api-version`` in the
query, or the v1 form with the deployment as ``model``), which header carries the credential (``api-key``
for a key, ``Authorization: Bearer`` for a Microsoft Entra ID token, fetched per request from a provider),
and which model's rules apply (a deployment's name says nothing of its model, so the user says it).
Every method, result and error is inherited, so an operation added to ``ImagesClient`` works on Azure too.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Awaitable, Callable, Mapping
from typing import Final, Unpack
from urllib.parse import quote

import httpx

from ._auth import Credential, KeyAuth, TokenProviderAuth
from ._backends import Backend, load_backend
from ._client import AsyncImagesClient, ClientOptions, ImagesClient
from ._errors import InvalidParameterError, MissingAPIKeyError
from ._settings import ClientConfig, Route, account_headers, without_password

__all__ = ["V1", "AsyncAzureImagesClient", "AzureImagesClient", "AzureRoute"]

#: The ``api_version`` that selects the v1 form: ``{endpoint}/openai/v1/images/...``, no ``api-version``.
V1: Final = "v1"
#: The version the in-process emulator is called with when none is given (Azure's for the GPT image models).
EMULATOR_API_VERSION: Final = "2025-04-01-preview"
MISSING_CREDENTIALS_MESSAGE: Final = (
    "no Azure credentials: pass api_key=..., azure_ad_token=... or azure_ad_token_provider=..., or set "
    "AZURE_OPENAI_API_KEY or AZURE_OPENAI_AD_TOKEN"
)
#: The operations whose URL names the deployment (in the deployment form); files and batches do not.
_DEPLOYMENT_PATHS: Final = "/images/"
#: Path segments a deployment name cannot be: they would send the request to another route.
_DOT_SEGMENTS: Final = (".", "..")


class AzureRoute(Route):
    """Azure OpenAI's URLs, and the rules of the model behind each deployment.

    The deployment form puts images requests under ``{endpoint}/openai/deployments/{deployment}`` and every
    request under ``?api-version=``; files and batches go to ``{endpoint}/openai/files`` and
    ``/openai/batches``. The v1 form sends everything to ``{endpoint}/openai/v1`` with the deployment as
    ``model``. The built-in rules know models, not deployments, so the user says which model each
    deployment serves (``deployment_models``, ``model_family``).
    """

    def __init__(
        self,
        *,
        endpoint: str,
        deployment: str | None,
        api_version: str,
        deployment_models: Mapping[str, str],
        model_family: str | None,
    ) -> None:
        super().__init__(f"{endpoint}/openai/v1" if api_version == V1 else f"{endpoint}/openai")
        self.endpoint = endpoint
        self.deployment = deployment
        self.api_version = api_version
        self.deployment_models = deployment_models
        self.model_family = model_family

    @property
    def v1(self) -> bool:
        """Whether this is the v1 form."""
        return self.api_version == V1

    def deployment_of(self, fields: Mapping[str, object]) -> str:
        """The deployment a request goes to: the client's (the call's ``model`` in the v1 form).

        Raises:
            InvalidParameterError: No deployment is named anywhere, or ``model`` is not a name.
        """
        model = fields.get("model")
        if model is not None and (not isinstance(model, str) or not model.strip()):
            message = f"model {model!r} is not a deployment name"
            raise InvalidParameterError("model", model, ("the name of an Azure deployment",), message)
        found = (model or self.deployment) if self.v1 else (self.deployment or model)
        if found is None:
            message = (
                "no Azure deployment: pass azure_deployment=... to the client, or model=<deployment name> "
                "to the call"
            )
            raise InvalidParameterError("model", None, ("the name of an Azure deployment",), message)
        return _checked_deployment("model", found)

    def url(self, path: str, fields: Mapping[str, object]) -> httpx.URL:
        """The request URL of an operation path, built as ``AzureOpenAI`` builds it."""
        if self.v1:
            return super().url(path, fields)
        if path.startswith(_DEPLOYMENT_PATHS):
            deployment = quote(self.deployment_of(fields), safe="")
            path = f"/deployments/{deployment}{path}"
        return httpx.URL(f"{self.base_url}{path}", params={"api-version": self.api_version})

    def outgoing(self, fields: Mapping[str, object]) -> Mapping[str, object]:
        """The v1 form names the deployment as ``model`` when the call named none."""
        if self.v1 and "model" not in fields and self.deployment is not None:
            return {**fields, "model": self.deployment}
        return fields

    def rules_fields(self, fields: Mapping[str, object]) -> Mapping[str, object]:
        """The fields with the deployment's model, for the rules; a deployment whose model the user did not
        name gets only the checks that hold for every model."""  # noqa: D205, D209
        from .rules import MODEL_RULES  # noqa: PLC0415 - loaded at the first request, not at import

        deployment = self.deployment_of(fields)
        model = self.deployment_models.get(deployment, self.model_family)
        if model is None:
            # A name the rules table does not know: its rules are the model-independent ones.
            model = deployment if deployment not in MODEL_RULES else f"azure deployment {deployment}"
        return {**fields, "model": model}

    def model_named(self, fields: Mapping[str, object]) -> str | None:
        """The model the call named, else the deployment the URL names."""
        return super().model_named(fields) or self.deployment

    def batch_fields(self, fields: Mapping[str, object]) -> Mapping[str, object]:
        """A batch line names its deployment as ``model`` (an Azure batch runs lines of many deployments)."""
        return {**fields, "model": self.deployment_of(fields)}

    def describe(self) -> str:
        """The route for a repr."""
        return (
            f"azure_endpoint={without_password(self.endpoint)!r}, azure_deployment={self.deployment!r}, "
            f"api_version={self.api_version!r}"
        )


def _checked_deployment(param: str, name: str) -> str:
    """A deployment name that stays one path segment.

    Raises:
        InvalidParameterError: ``.`` or ``..``, which a URL resolves to another route.
    """
    if name.strip() in _DOT_SEGMENTS:
        message = (
            f"{param} {name!r} is not a deployment name (a dot segment would send the request elsewhere)"
        )
        raise InvalidParameterError(param, name, ("the name of an Azure deployment",), message)
    return name


def _checked_models(deployment_models: Mapping[str, str] | None, model_family: str | None) -> dict[str, str]:
    """The deployment → model mapping, once every model named is one the rules table knows.

    Raises:
        InvalidParameterError: A model the rules table does not know.
    """
    from .rules import MODEL_RULES  # noqa: PLC0415 - the table loads only for Azure clients that name models

    models = dict(deployment_models or {})
    named = [("model_family", model_family)] if model_family is not None else []
    named += [(f"deployment_models[{name!r}]", model) for name, model in models.items()]
    for param, model in named:
        if model not in MODEL_RULES:
            known = tuple(MODEL_RULES)
            message = f"{param} {model!r} is not a model the rules know; known: {', '.join(known)}"
            raise InvalidParameterError(param, model, known, message)
    return models


def _resolve_credentials(
    api_key: str | None, azure_ad_token: str | None, provider: object | None, *, environ: bool
) -> tuple[str | None, str | None]:
    """The key and the static token, as ``AzureOpenAI`` resolves them.

    At most one credential may be given; with none, ``AZURE_OPENAI_AD_TOKEN`` comes before
    ``AZURE_OPENAI_API_KEY`` (unless ``environ`` is False: a real credential has no business going to
    the in-process emulator). ``OPENAI_API_KEY`` is never read: it is a key for another service.

    Raises:
        InvalidParameterError: More than one credential was given.
    """
    given = [
        name for name, value in _named_credentials(api_key, azure_ad_token, provider) if value is not None
    ]
    if len(given) > 1:
        message = f"{' and '.join(given)} are mutually exclusive: pass only one"
        raise InvalidParameterError(given[1], "(not shown)", ("only one credential",), message)
    if not given and environ:
        azure_ad_token = os.environ.get("AZURE_OPENAI_AD_TOKEN") or None
        if azure_ad_token is None:
            api_key = os.environ.get("AZURE_OPENAI_API_KEY") or None
    return api_key, azure_ad_token


def _named_credentials(*values: object) -> zip[tuple[str, object]]:
    return zip(("api_key", "azure_ad_token", "azure_ad_token_provider"), values, strict=True)


def _checked_endpoint(text: str) -> str:
    """The endpoint without a trailing slash, once it is an absolute http(s) URL with nothing after the host.

    Raises:
        InvalidParameterError: It is not.
    """
    url = None
    with contextlib.suppress(httpx.InvalidURL):
        url = httpx.URL(text)
    if url is None or url.scheme not in ("http", "https") or not url.host or url.query or url.fragment:
        shown = without_password(text)
        message = f"azure_endpoint {shown!r} is not an http(s) URL such as https://NAME.openai.azure.com"
        raise InvalidParameterError("azure_endpoint", shown, ("https://NAME.openai.azure.com",), message)
    return text.rstrip("/")


def _given(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _azure_config(
    *,
    azure_endpoint: str | None,
    azure_deployment: str | None,
    api_version: str | None,
    api_key: str | None,
    azure_ad_token: str | None,
    azure_ad_token_provider: Callable[[], str | Awaitable[str]] | None,
    deployment_models: Mapping[str, str] | None,
    model_family: str | None,
    options: dict[str, object],
) -> ClientConfig:
    """The configuration of an Azure client: Azure's route and credential, the common options as given.

    Raises:
        InvalidParameterError: No endpoint or no version, more than one credential, a dot segment as the
            deployment, or a model the rules do not know in ``deployment_models`` or ``model_family``.
        MissingAPIKeyError: No credential at all (and no injected ``http_client`` to carry one).
    """
    backend: Backend | None = load_backend("emulator") if options.pop("emulator", False) else None
    api_key, azure_ad_token = _resolve_credentials(
        api_key, azure_ad_token, azure_ad_token_provider, environ=backend is None
    )
    if backend is not None:
        origin = httpx.URL(backend.base_url).copy_with(path="/", query=None)
        azure_endpoint = azure_endpoint or str(origin)
        api_version = api_version or EMULATOR_API_VERSION
        if azure_ad_token is None and azure_ad_token_provider is None:
            api_key = api_key or backend.api_key
    endpoint = _given(azure_endpoint) or _given(os.environ.get("AZURE_OPENAI_ENDPOINT"))
    version = _given(api_version) or _given(os.environ.get("OPENAI_API_VERSION"))
    if endpoint is None:
        message = "no Azure endpoint: pass azure_endpoint=... or set AZURE_OPENAI_ENDPOINT"
        raise InvalidParameterError("azure_endpoint", None, ("https://NAME.openai.azure.com",), message)
    if version is None:
        message = (
            "no Azure API version: pass api_version=... (a version such as 2025-04-01-preview, or 'v1' "
            "for the v1 API) or set OPENAI_API_VERSION"
        )
        raise InvalidParameterError("api_version", None, ("2025-04-01-preview", V1), message)
    auth: Credential | None
    if azure_ad_token_provider is not None:
        auth = TokenProviderAuth(azure_ad_token_provider)
    elif azure_ad_token is not None:
        auth = KeyAuth(_header_secret("azure_ad_token", azure_ad_token))
    elif api_key is not None:
        # The key goes in api-key on the deployment form (as AzureOpenAI sends it); on the v1 form as
        # Authorization: Bearer, as the official OpenAI client sends it there.
        auth = KeyAuth(_header_secret("api_key", api_key), None if version == V1 else "api-key")
    elif options.get("http_client") is None:
        raise MissingAPIKeyError(MISSING_CREDENTIALS_MESSAGE)
    else:
        auth = None
    deployment = _given(azure_deployment)
    route = AzureRoute(
        endpoint=_checked_endpoint(endpoint),
        deployment=_checked_deployment("azure_deployment", deployment) if deployment else None,
        api_version=version,
        deployment_models=_checked_models(deployment_models, model_family),
        model_family=model_family,
    )
    headers = account_headers(options.pop("organization", None), options.pop("project", None))  # type: ignore[arg-type]
    options.pop("http_client", None)
    return ClientConfig.build(route=route, auth=auth, headers=headers, backend=backend, **options)  # type: ignore[arg-type]


def _header_secret(name: str, value: str) -> str:
    """A credential a header can carry (surrounding white space dropped); never shown in the error.

    Raises:
        InvalidParameterError: It holds control or non-ASCII characters.
    """
    value = value.strip()
    if value.isascii() and value.isprintable() and value:
        return value
    message = (
        f"{name} (not shown) holds characters an HTTP header cannot carry (control or non-ASCII characters)"
    )
    raise InvalidParameterError(name, None, ("printable ASCII characters",), message)


class AzureImagesClient(ImagesClient):
    """:class:`ImagesClient` for Azure OpenAI: the same methods and results, Azure's URLs and auth.

    Configured as the official ``openai.AzureOpenAI`` is (the same arguments and environment variables)::

        with AzureImagesClient(
            azure_endpoint="https://my-resource.openai.azure.com",
            azure_deployment="my-gpt-image",
            api_version="2025-04-01-preview",
            deployment_models={"my-gpt-image": "gpt-image-1.5"},
        ) as client:
            result = client.generate("a lighthouse at dusk", size="1536x1024")
    """

    def __init__(
        self,
        *,
        azure_endpoint: str | None = None,
        azure_deployment: str | None = None,
        api_version: str | None = None,
        api_key: str | None = None,
        azure_ad_token: str | None = None,
        azure_ad_token_provider: Callable[[], str] | None = None,
        deployment_models: Mapping[str, str] | None = None,
        model_family: str | None = None,
        **options: Unpack[ClientOptions[httpx.Client, Callable[[float], None]]],
    ) -> None:
        """Configure the client as ``openai.AzureOpenAI`` is configured; nothing is sent yet.

        Args:
            azure_endpoint: The resource's endpoint, ``https://NAME.openai.azure.com``; else
                ``AZURE_OPENAI_ENDPOINT``.
            azure_deployment: The deployment requests go to. Without it, each call's ``model`` names
                the deployment (as with ``AzureOpenAI``). In the v1 form it is the default ``model``.
            api_version: The data-plane API version, ``2025-04-01-preview`` say; else
                ``OPENAI_API_VERSION``. ``"v1"`` selects the v1 form, ``{endpoint}/openai/v1/images/...``
                with the deployment sent as ``model`` (the key then goes as ``Authorization: Bearer``,
                as the official ``OpenAI`` client sends it to that URL).
            api_key: The resource's key, sent as ``api-key``; else ``AZURE_OPENAI_API_KEY``. Never shown.
            azure_ad_token: A Microsoft Entra ID token, sent as ``Authorization: Bearer``; else
                ``AZURE_OPENAI_AD_TOKEN`` (which wins over ``AZURE_OPENAI_API_KEY``).
            azure_ad_token_provider: Returns a token; called for every request, so tokens refresh
                (``azure.identity.get_bearer_token_provider``); for the async client it may return an
                awaitable (``azure.identity.aio``). At most one of the three credentials may be given.
            deployment_models: Which model each deployment serves, ``{"img": "gpt-image-1.5"}``: its rules
                are then checked before sending, while the request still names the deployment. A
                deployment not listed gets only the checks that hold for every model.
            model_family: The model of every deployment not in ``deployment_models``.
            **options: ``organization``, ``project``, ``timeout``, ``max_retries``, ``http_client``,
                ``validate``, ``emulator`` (the endpoint and key then default to the emulator's, and the
                version to ``2025-04-01-preview``), ``sleep``, ``jitter``, ``on_retry`` and the size caps,
                as :class:`ImagesClient` takes them.

        Raises:
            InvalidParameterError: No endpoint or no version, more than one credential, or a model the
                rules do not know in ``deployment_models`` or ``model_family``.
            MissingAPIKeyError: No credential at all (and no injected ``http_client`` to carry one).
        """
        config = _azure_config(
            azure_endpoint=azure_endpoint,
            azure_deployment=azure_deployment,
            api_version=api_version,
            api_key=api_key,
            azure_ad_token=azure_ad_token,
            azure_ad_token_provider=azure_ad_token_provider,
            deployment_models=deployment_models,
            model_family=model_family,
            options=dict(options),
        )
        self._start(config, options.get("http_client"))

    @property
    def azure_deployment(self) -> str | None:
        """The deployment requests go to, unless a call names one."""
        return _route(self).deployment

    @property
    def api_version(self) -> str:
        """The API version requests name (``"v1"`` for the v1 form)."""
        return _route(self).api_version


class AsyncAzureImagesClient(AsyncImagesClient):
    """:class:`AsyncImagesClient` for Azure OpenAI; configured as :class:`AzureImagesClient`.

    ``azure_ad_token_provider`` may return the token or an awaitable of it (``azure.identity.aio``).
    """

    def __init__(
        self,
        *,
        azure_endpoint: str | None = None,
        azure_deployment: str | None = None,
        api_version: str | None = None,
        api_key: str | None = None,
        azure_ad_token: str | None = None,
        azure_ad_token_provider: Callable[[], str | Awaitable[str]] | None = None,
        deployment_models: Mapping[str, str] | None = None,
        model_family: str | None = None,
        **options: Unpack[ClientOptions[httpx.AsyncClient, Callable[[float], Awaitable[None]]]],
    ) -> None:
        """Configure the client; the arguments are those of :class:`AzureImagesClient`."""
        config = _azure_config(
            azure_endpoint=azure_endpoint,
            azure_deployment=azure_deployment,
            api_version=api_version,
            api_key=api_key,
            azure_ad_token=azure_ad_token,
            azure_ad_token_provider=azure_ad_token_provider,
            deployment_models=deployment_models,
            model_family=model_family,
            options=dict(options),
        )
        self._start(config, options.get("http_client"))

    @property
    def azure_deployment(self) -> str | None:
        """The deployment requests go to, unless a call names one."""
        return _route(self).deployment

    @property
    def api_version(self) -> str:
        """The API version requests name (``"v1"`` for the v1 form)."""
        return _route(self).api_version


def _route(client: ImagesClient | AsyncImagesClient) -> AzureRoute:
    route = client.config.route
    assert isinstance(route, AzureRoute)  # an Azure client is built with one
    return route
