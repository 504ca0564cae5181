"""Azure OpenAI's routes on the emulator, so Azure clients (the official ``AzureOpenAI`` and ours) work too.

Two URL forms reach the same generation and edit endpoints:

- ``POST /openai/deployments/{deployment}/images/{generations,edits}?api-version=...``: the deployment in the
  URL says which model draws; ``api-version`` is required;
- ``POST /openai/v1/images/{generations,edits}``: the deployment is the body's ``model``.

Both take the key in an ``api-key`` header or a token in ``Authorization: Bearer``. This layer answers
Azure's own errors (no credential, no ``api-version``, a deployment the emulator does not know) and passes
every other request on to the OpenAI route, with the deployment's model in the body and the credential as
a bearer: one generation code path, whatever the URL form. An edit's body (a multipart upload, possibly
large) is not rewritten: it streams on, and the edit route reads the deployment from ``scope["state"]``
(`azure_model`) once it has parsed the body.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Final, cast
from urllib.parse import parse_qs, unquote, urlencode

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._asgi import read_body

__all__ = [
    "AZURE_V1_GENERATIONS_PATH",
    "DEFAULT_AZURE_DEPLOYMENTS",
    "AzureRoutes",
    "azure_model",
    "is_azure_generations",
    "is_azure_images",
]

#: The deployments an emulator knows unless configured otherwise: each named after its model.
DEFAULT_AZURE_DEPLOYMENTS: Final[Mapping[str, str]] = {
    "gpt-image-2": "gpt-image-2",
    "gpt-image-1.5": "gpt-image-1.5",
    "gpt-image-1": "gpt-image-1",
    "dall-e-3": "dall-e-3",
}
AZURE_V1_GENERATIONS_PATH: Final = "/openai/v1/images/generations"
_DEPLOYMENT_PATH: Final = re.compile(r"/openai/deployments/([^/]+)/images/generations")
#: Azure's edit routes: the deployment form (group 1: the deployment) and the v1 form.
_EDITS_PATH: Final = re.compile(r"/openai/(?:deployments/([^/]+)|v1)/images/edits")
#: Where the Azure layer tells the edit route about the deployment: ``("deployment", name)`` for the
#: deployment form, ``("v1", None)`` for the v1 form (the deployment is the body's ``model``).
_AZURE_STATE_KEY: Final = "oai_images_emulator.azure"
#: Azure's files and batches routes (deployment form, or v1 with ``/v1``), served by the OpenAI ones.
_FILES_AND_BATCHES: Final = re.compile(r"/openai(/v1)?(/(?:files|batches)(?:/[^?]*)?)")
_ACCESS_DENIED: Final = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key "
    "for an active subscription and use a correct regional API endpoint for your resource."
)
_DEPLOYMENT_NOT_FOUND: Final = (
    "The API deployment for this resource does not exist. If you created the deployment within the last 5 "
    "minutes, please wait a moment and try again."
)


def is_azure_generations(path: str) -> bool:
    """Whether a request path is one of Azure's generation routes."""
    return path == AZURE_V1_GENERATIONS_PATH or _DEPLOYMENT_PATH.fullmatch(path) is not None


def is_azure_images(path: str) -> bool:
    """Whether a request path is one of Azure's image routes (generations or edits)."""
    return is_azure_generations(path) or _EDITS_PATH.fullmatch(path) is not None


def azure_model(
    scope: Scope, fields: dict[str, object], deployments: Mapping[str, str]
) -> JSONResponse | None:
    """For an edit that came through an Azure route, put the deployment's model in ``fields["model"]``.

    Returns:
        None (the fields are ready, or the request did not come through Azure), or Azure's answer: 400 when
        the v1 form names no deployment, 404 ``DeploymentNotFound`` for a deployment the emulator does not
        know.
    """
    azure = cast("tuple[str, str | None] | None", scope.get("state", {}).get(_AZURE_STATE_KEY))
    if azure is None:
        return None
    form, deployment = azure
    named = fields.get("model") if form == "v1" else deployment
    if named is None:
        message = "Missing required parameter: 'model'."
        return _azure_error(400, "missing_required_parameter", message, param="model")
    model = deployments.get(named) if isinstance(named, str) else None
    if model is None:
        return _azure_error(404, "DeploymentNotFound", _DEPLOYMENT_NOT_FOUND)
    fields["model"] = model
    return None


def _azure_error(status: int, code: str, message: str, *, param: str | None = None) -> JSONResponse:
    """Azure's error envelope: the ``{"error": {...}}`` of OpenAI, with Azure's codes."""
    return JSONResponse(
        {"error": {"code": code, "message": message, "param": param, "type": None}}, status_code=status
    )


class AzureRoutes:
    """An ASGI layer that serves Azure's routes by handing them, rewritten, to the OpenAI route.

    Args:
        app: The app with the OpenAI route.
        generations_path: The OpenAI route's path (``/v1/images/generations``).
        deployments: Returns the deployments the emulator knows (deployment → model), read per request
            so that a change to the config takes effect at once.
    """

    def __init__(
        self, app: ASGIApp, generations_path: str, deployments: Callable[[], Mapping[str, str]]
    ) -> None:
        self.app = app
        self.generations_path = generations_path
        self.deployments = deployments

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (match := _FILES_AND_BATCHES.fullmatch(scope["path"])) is not None:
            await self._files_and_batches(
                scope, receive, send, v1=match.group(1) is not None, path=match.group(2)
            )
            return
        if scope["type"] == "http" and (edit := _EDITS_PATH.fullmatch(scope["path"])) is not None:
            deployment = unquote(edit.group(1)) if edit.group(1) is not None else None
            state = {**scope.get("state", {}), _AZURE_STATE_KEY: ("v1", None)}
            if deployment is not None:
                state[_AZURE_STATE_KEY] = ("deployment", deployment)
            await self._files_and_batches(
                {**scope, "state": state}, receive, send, v1=deployment is None, path="/images/edits"
            )
            return
        if scope["type"] != "http" or not is_azure_generations(scope["path"]):
            await self.app(scope, receive, send)
            return
        if scope["method"] != "POST":
            message = f"Method not allowed ({scope['method']} {scope['path']})."
            await _azure_error(405, "405", message)(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        body = await read_body(receive)
        answer, rewritten = self._route(scope, headers, body)
        if answer is not None:
            await answer(scope, receive, send)
            return
        forwarded = {k: v for k, v in headers.items() if k not in ("api-key", "content-length")}
        if "authorization" not in forwarded:
            forwarded["authorization"] = f"Bearer {headers['api-key'].strip()}"
        forwarded["content-length"] = str(len(rewritten))
        inner = {
            **scope,
            "path": self.generations_path,
            "raw_path": self.generations_path.encode(),
            "query_string": b"",
            "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in forwarded.items()],
        }
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": rewritten, "more_body": False}
            return await receive()

        await self.app(inner, replay, send)

    async def _files_and_batches(
        self, scope: Scope, receive: Receive, send: Send, *, v1: bool, path: str
    ) -> None:
        """Azure's files, batches and edits routes: the OpenAI ones under Azure's auth and ``api-version``
        rules.

        The body is passed on as it streams in (an input file may be 200 MB).
        """  # noqa: D205 - one sentence over two lines
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        if not v1 and not any(value.strip() for value in query.get("api-version", [])):
            message = "The api-version query parameter (?api-version=) is required for all requests."
            await _azure_error(400, "MissingApiVersionParameter", message)(scope, receive, send)
            return
        if not _authorized(headers):
            await _azure_error(401, "401", _ACCESS_DENIED)(scope, receive, send)
            return
        forwarded = [(k, v) for k, v in scope["headers"] if k.lower() != b"api-key"]
        if "authorization" not in headers:
            forwarded.append((b"authorization", f"Bearer {headers['api-key'].strip()}".encode("latin-1")))
        rest = {name: values for name, values in query.items() if name != "api-version"}
        inner = {
            **scope,
            "path": "/v1" + path,
            "raw_path": ("/v1" + path).encode(),
            "query_string": urlencode(rest, doseq=True).encode("latin-1"),
            "headers": forwarded,
        }
        await self.app(inner, receive, send)

    def _route(  # noqa: PLR0911 - one return per Azure answer
        self, scope: Scope, headers: Mapping[str, str], body: bytes
    ) -> tuple[JSONResponse | None, bytes]:
        """Azure's error answer, or None and the body to pass on (with the deployment's model in it)."""
        match = _DEPLOYMENT_PATH.fullmatch(scope["path"])
        if match is not None:
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            if not any(value.strip() for value in query.get("api-version", [])):
                message = "The api-version query parameter (?api-version=) is required for all requests."
                return _azure_error(400, "MissingApiVersionParameter", message), body
        if not _authorized(headers):
            return _azure_error(401, "401", _ACCESS_DENIED), body
        try:
            decoded: object = json.loads(body)
        except (ValueError, RecursionError):
            decoded = None  # the OpenAI route answers it, as the API does
        fields = decoded if isinstance(decoded, dict) else None
        if match is not None:
            deployment: object = unquote(match.group(1))
        elif fields is None:
            return None, body
        else:
            deployment = fields.get("model")
            if deployment is None:
                message = "Missing required parameter: 'model'."
                return _azure_error(400, "missing_required_parameter", message, param="model"), body
        model = self.deployments().get(deployment) if isinstance(deployment, str) else None
        if model is None:
            return _azure_error(404, "DeploymentNotFound", _DEPLOYMENT_NOT_FOUND), body
        if fields is None:
            return None, body
        return None, json.dumps({**fields, "model": model}).encode()


def _authorized(headers: Mapping[str, str]) -> bool:
    """Whether a request carries a credential: a non-empty ``api-key``, or a bearer token."""
    if headers.get("api-key", "").strip():
        return True
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and bool(token.strip())
