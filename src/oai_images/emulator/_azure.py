"""Azure OpenAI's routes on the emulator, so Azure clients (the official ``AzureOpenAI`` and ours) work too.

Two URL forms reach the same generation endpoint:

- ``POST /openai/deployments/{deployment}/images/generations?api-version=...``: the deployment in the URL
  says which model draws; ``api-version`` is required;
- ``POST /openai/v1/images/generations``: the deployment is the body's ``model``.

Both take the key in an ``api-key`` header or a token in ``Authorization: Bearer``. This layer answers
Azure's own errors (no credential, no ``api-version``, a deployment the emulator does not know) and passes
every other request on to the OpenAI route, with the deployment's model in the body and the credential as
a bearer: one generation code path, whatever the URL form.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Final
from urllib.parse import parse_qs, unquote, urlencode

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._asgi import read_body

__all__ = ["AZURE_V1_GENERATIONS_PATH", "DEFAULT_AZURE_DEPLOYMENTS", "AzureRoutes", "is_azure_generations"]

#: The deployments an emulator knows unless configured otherwise: each named after its model.
DEFAULT_AZURE_DEPLOYMENTS: Final[Mapping[str, str]] = {
    "gpt-image-2": "gpt-image-2",
    "gpt-image-1.5": "gpt-image-1.5",
    "gpt-image-1": "gpt-image-1",
    "dall-e-3": "dall-e-3",
}
AZURE_V1_GENERATIONS_PATH: Final = "/openai/v1/images/generations"
_DEPLOYMENT_PATH: Final = re.compile(r"/openai/deployments/([^/]+)/images/generations")
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
        """Azure's files and batches routes: the OpenAI ones under Azure's auth and ``api-version`` rules.

        The body is passed on as it streams in (an input file may be 200 MB).
        """
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
