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
import dataclasses
import inspect
import os
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Final
from urllib.parse import quote

import httpx

from ._backends import load_backend
from ._client import (
    MAX_DOWNLOAD_BYTES,
    MAX_ERROR_BODY_BYTES,
    MAX_STREAM_LINE_BYTES,
    AsyncImagesClient,
    ImagesClient,
    _ClientBase,
    _HttpT,
    _SleepT,
)
from ._errors import InvalidParameterError, MissingAPIKeyError, OAIImagesError
from ._redact import register_secret
from ._results import AsyncDownload, Download, ImageResult
from ._settings import DEFAULT_TIMEOUT, without_password

if TYPE_CHECKING:
    from oai_images_api.api import Operation

    from ._retries import OnRetry, RetryBudget

__all__ = ["V1", "AsyncAzureImagesClient", "AzureImagesClient"]

#: The ``api_version`` that selects the v1 form: ``{endpoint}/openai/v1/images/...``, no ``api-version``.
V1: Final = "v1"
#: The version the in-process emulator is called with when none is given (Azure's for the GPT image models).
EMULATOR_API_VERSION: Final = "2025-04-01-preview"
MISSING_CREDENTIALS_MESSAGE: Final = (
    "no Azure credentials: pass api_key=..., azure_ad_token=... or azure_ad_token_provider=..., or set "
    "AZURE_OPENAI_API_KEY or AZURE_OPENAI_AD_TOKEN"
)
#: Marks the requests that go to the API (not to an image URL): they get a fresh token from the provider.
_API_REQUEST: Final = "oai_images.azure_api_request"


@dataclasses.dataclass(frozen=True)
class _Azure:
    """Where requests go and which rules apply: the Azure half of a client's configuration."""

    endpoint: str
    deployment: str | None
    api_version: str
    deployment_models: Mapping[str, str]
    model_family: str | None

    @property
    def v1(self) -> bool:
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
        return found

    def model_of(self, deployment: str) -> str | None:
        """The model behind a deployment, when the user said which it is."""
        return self.deployment_models.get(deployment, self.model_family)

    def url(self, path: str, fields: Mapping[str, object]) -> httpx.URL:
        """The request URL of an operation path (``/images/generations``), built as ``AzureOpenAI`` does."""
        if self.v1:
            return httpx.URL(f"{self.endpoint}/openai/v1{path}")
        deployment = quote(self.deployment_of(fields), safe="")
        return httpx.URL(
            f"{self.endpoint}/openai/deployments/{deployment}{path}", params={"api-version": self.api_version}
        )


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


def _checked_token(token: object) -> str:
    """A token the provider returned, once it is a non-empty string.

    Raises:
        OAIImagesError: It is not.
    """
    if not isinstance(token, str) or not token.strip():
        kind = type(token).__name__ if not isinstance(token, str) else "an empty string"
        raise OAIImagesError(f"azure_ad_token_provider returned {kind}; it must return a non-empty token")
    return token.strip()


class _AzureBase(_ClientBase[_HttpT, _SleepT]):
    """The configuration, URLs, auth and validation both Azure clients share."""

    _azure: _Azure
    _token_provider: Callable[[], str | Awaitable[str]] | None

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
        organization: str | None = None,
        project: str | None = None,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        max_retries: int = 2,
        http_client: _HttpT | None = None,
        validate: bool = True,
        emulator: bool = False,
        sleep: _SleepT | None = None,
        jitter: Callable[[], float] | None = None,
        on_retry: OnRetry | None = None,
        max_download_bytes: int = MAX_DOWNLOAD_BYTES,
        max_error_body_bytes: int = MAX_ERROR_BODY_BYTES,
        max_stream_line_bytes: int = MAX_STREAM_LINE_BYTES,
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
            organization: As for ``ImagesClient``.
            project: As for ``ImagesClient``.
            timeout: As for ``ImagesClient``.
            max_retries: As for ``ImagesClient``.
            http_client: As for ``ImagesClient``.
            validate: As for ``ImagesClient``.
            emulator: Send to the built-in emulator in-process: the endpoint and key default to its own,
                and the version to ``2025-04-01-preview``.
            sleep: As for ``ImagesClient``.
            jitter: As for ``ImagesClient``.
            on_retry: As for ``ImagesClient``.
            max_download_bytes: As for ``ImagesClient``.
            max_error_body_bytes: As for ``ImagesClient``.
            max_stream_line_bytes: As for ``ImagesClient``.

        Raises:
            InvalidParameterError: No endpoint or no version, more than one credential, or a model the
                rules do not know in ``deployment_models`` or ``model_family``.
            MissingAPIKeyError: No credential at all (and no injected ``http_client`` to carry one).
        """
        backend = load_backend("emulator") if emulator else None
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
        if (
            api_key is None
            and azure_ad_token is None
            and azure_ad_token_provider is None
            and http_client is None
        ):
            raise MissingAPIKeyError(MISSING_CREDENTIALS_MESSAGE)
        endpoint = _checked_endpoint(endpoint)
        # The key goes in api-key on the deployment form (as AzureOpenAI sends it); tokens, and the key on
        # the v1 form (as the official OpenAI client sends it there), go as Authorization: Bearer.
        header = "api-key" if api_key is not None and version != V1 else None
        super().__init__(
            api_key=api_key or azure_ad_token,
            base_url=f"{endpoint}/openai/v1" if version == V1 else f"{endpoint}/openai",
            organization=organization,
            project=project,
            timeout=timeout,
            max_retries=max_retries,
            # mypy checks each constraint of the TypeVars on its own here, pairing the base's with ours
            http_client=http_client,  # type: ignore[arg-type]
            validate=validate,
            emulator=emulator,
            sleep=sleep,  # type: ignore[arg-type]  # same as http_client
            jitter=jitter,
            on_retry=on_retry,
            auth_header=header,
            max_download_bytes=max_download_bytes,
            max_error_body_bytes=max_error_body_bytes,
            max_stream_line_bytes=max_stream_line_bytes,
        )
        if (api_key or azure_ad_token) is None:
            # Settings fall back on OPENAI_API_KEY, a key for another service: never send it to Azure.
            self._settings = dataclasses.replace(self._settings, api_key=None)
        self._token_provider = azure_ad_token_provider
        self._azure = _Azure(
            endpoint=endpoint,
            deployment=_given(azure_deployment),
            api_version=version,
            deployment_models=_checked_models(deployment_models, model_family),
            model_family=model_family,
        )

    def __repr__(self) -> str:
        azure = self._azure
        return (
            f"{type(self).__name__}(azure_endpoint={without_password(azure.endpoint)!r}, "
            f"azure_deployment={azure.deployment!r}, api_version={azure.api_version!r}, "
            f"max_retries={self._max_retries}, validate={self._validate})"
        )

    @property
    def azure_deployment(self) -> str | None:
        """The deployment requests go to, unless a call names one."""
        return self._azure.deployment

    @property
    def api_version(self) -> str:
        """The API version requests name (``"v1"`` for the v1 form)."""
        return self._azure.api_version

    def _validate_fields(self, operation: Operation, fields: Mapping[str, object]) -> None:
        """Check the fields by the rules of the deployment's model, while the wire keeps its name.

        A deployment whose model the user did not name gets only the checks that hold for every model.
        """
        from . import rules  # noqa: PLC0415 - loaded at the first request, not at import

        deployment = self._azure.deployment_of(fields)
        model = self._azure.model_of(deployment)
        if model is None:
            # A name the rules table does not know: its rules are the model-independent ones.
            model = deployment if deployment not in rules.MODEL_RULES else f"azure deployment {deployment}"
        rules.validate(operation, {**fields, "model": model})

    def _request_url(self, operation: Operation, fields: Mapping[str, object]) -> httpx.URL:
        return self._azure.url(operation.path, fields)

    def _request(
        self, http: httpx.Client | httpx.AsyncClient, operation: Operation, fields: Mapping[str, object]
    ) -> httpx.Request:
        if self._azure.v1 and "model" not in fields and self._azure.deployment is not None:
            fields = {**fields, "model": self._azure.deployment}
        request = super()._request(http, operation, fields)
        request.extensions[_API_REQUEST] = True
        return request

    def _result(
        self,
        response: httpx.Response,
        fields: Mapping[str, object],
        budget: RetryBudget,
        *,
        download: Download | None = None,
        adownload: AsyncDownload | None = None,
    ) -> ImageResult:
        """The result, whose ``model`` is the deployment when the call named none (the URL did)."""
        if "model" not in fields and self._azure.deployment is not None:
            fields = {**fields, "model": self._azure.deployment}
        return super()._result(response, fields, budget, download=download, adownload=adownload)

    def _authorize(self, request: httpx.Request, token: object) -> None:
        """Put a fresh token on an API request; it becomes the secret redacted from what comes back."""
        token = _checked_token(token)
        register_secret(token)  # a fresh token is redacted from httpx's and httpcore's log records too
        if token != self._settings.api_key:
            self._settings = dataclasses.replace(self._settings, api_key=token)
        request.headers["Authorization"] = f"Bearer {token}"


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


class AzureImagesClient(_AzureBase[httpx.Client, Callable[[float], None]], ImagesClient):
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

    @property
    def _async_class(self) -> type[AsyncImagesClient]:
        return AsyncAzureImagesClient

    def _send(
        self,
        request: httpx.Request,
        *,
        http: httpx.Client | None = None,
        budget: RetryBudget | None = None,
        stream: bool = False,
        follow_redirects: bool = False,
    ) -> httpx.Response:
        if self._token_provider is not None and request.extensions.get(_API_REQUEST):
            token = self._token_provider()
            if inspect.isawaitable(token):
                if inspect.iscoroutine(token):
                    token.close()  # never awaited: closed, so Python does not warn about it
                message = (
                    "azure_ad_token_provider returned an awaitable; AzureImagesClient needs one that returns "
                    "the token (AsyncAzureImagesClient takes async providers)"
                )
                raise OAIImagesError(message)
            self._authorize(request, token)
            if budget is not None:  # made before the token was fetched: redact the token it sends
                budget.secret = self._settings.api_key
        return super()._send(
            request, http=http, budget=budget, stream=stream, follow_redirects=follow_redirects
        )


class AsyncAzureImagesClient(
    _AzureBase[httpx.AsyncClient, Callable[[float], Awaitable[None]]], AsyncImagesClient
):
    """:class:`AsyncImagesClient` for Azure OpenAI; configured as :class:`AzureImagesClient`.

    ``azure_ad_token_provider`` may return the token or an awaitable of it (``azure.identity.aio``).
    """

    async def _send(
        self,
        request: httpx.Request,
        *,
        http: httpx.AsyncClient | None = None,
        budget: RetryBudget | None = None,
        stream: bool = False,
        follow_redirects: bool = False,
    ) -> httpx.Response:
        if self._token_provider is not None and request.extensions.get(_API_REQUEST):
            token = self._token_provider()
            if inspect.isawaitable(token):
                token = await token
            self._authorize(request, token)
            if budget is not None:  # made before the token was fetched: redact the token it sends
                budget.secret = self._settings.api_key
        return await super()._send(
            request, http=http, budget=budget, stream=stream, follow_redirects=follow_redirects
        )
