"""The offline emulator: an OpenAI-compatible images server, in-process or on 127.0.0.1.

It answers ``POST /v1/images/generations`` with the validation and error envelope of the real API (the
same rules the SDK checks), real image files of the requested size and format, URLs that expire, streamed
partial images, and injected latency and faults for resilience tests. Azure OpenAI's routes are served too
(see `_azure`), for the deployments in `EmulatorConfig.azure_deployments`. It also runs the Batch API for
image generations (``/v1/files``, ``/v1/batches``), each batch taking ``EmulatorConfig.batch_seconds``.

Needs the ``emulator`` extra (``pip install 'oai-images[emulator]'``); ``import oai_images`` never imports
this package.

Three ways to run it:

- ``oai-images serve`` (or `run_server`) on a port;
- `EmulatorTransport` / `AsyncEmulatorTransport` in-process, with `EMULATOR_BASE_URL`
  (``ImagesClient(emulator=True)`` uses them);
- the ``images_emulator`` and ``images_emulator_server`` pytest fixtures of ``oai_images.testing``.
"""

from __future__ import annotations

try:
    import PIL
    import starlette
    import uvicorn
except ImportError as exc:  # pragma: no cover (the dev install has the extra)
    raise ImportError(
        f"the oai-images emulator needs the 'emulator' extra ({exc.name} is missing): "
        "pip install 'oai-images[emulator]'"
    ) from exc

from ._app import EmulatorApp, RecordedRequest, create_app
from ._config import EmulatorConfig, FaultSpec, Latency, parse_fault, parse_latency
from ._server import EmulatorServer, is_loopback, run_server
from ._transport import (
    EMULATOR_API_KEY,
    EMULATOR_BASE_URL,
    AsyncEmulatorTransport,
    EmulatorTransport,
    backend,
)

__all__ = [
    "EMULATOR_API_KEY",
    "EMULATOR_BASE_URL",
    "AsyncEmulatorTransport",
    "EmulatorApp",
    "EmulatorConfig",
    "EmulatorServer",
    "EmulatorTransport",
    "FaultSpec",
    "Latency",
    "RecordedRequest",
    "backend",
    "create_app",
    "is_loopback",
    "parse_fault",
    "parse_latency",
    "run_server",
]

del PIL, starlette, uvicorn
