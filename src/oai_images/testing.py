r"""pytest fixtures for testing code that uses oai-images, against the offline emulator.

Installed as a pytest plugin (entry point ``oai_images``), so the fixtures need no import:

.. code-block:: python

    def test_thumbnail(images_emulator):
        result = images_emulator.client.generate("a fox", model="gpt-image-1.5", size="1024x1024")
        assert result.images[0].read().startswith(b"\x89PNG")
        assert images_emulator.requests[0].json["model"] == "gpt-image-1.5"

    def test_survives_rate_limits(images_emulator):
        images_emulator.set_fault("rate_limit;times=2")
        images_emulator.client.generate("a fox")          # retried twice, without waiting
        assert images_emulator.sleeps == [1.0, 1.0]       # the server's retry-after

Fixtures:

- ``images_emulator_config``: the `EmulatorConfig` the other two start from; override it in a
  ``conftest.py`` to change the seed, URL lifetime, latency or faults for a whole suite.
- ``images_emulator``: the emulator in-process (no port), with ready clients.
- ``images_emulator_server``: the emulator served by uvicorn on 127.0.0.1 with a free port, for code that
  takes a base URL (``.base_url``) or runs in a subprocess.

Importing this module is cheap (it runs at every pytest start-up): the emulator, the clients, uvicorn and
Pillow are imported when a fixture is first used.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import httpx

    from oai_images_emulator import EmulatorApp, EmulatorConfig, EmulatorServer, RecordedRequest

    from . import AsyncImagesClient, ImagesClient

__all__ = [
    "EMULATOR_API_KEY",
    "ImagesEmulator",
    "ImagesEmulatorServer",
    "images_emulator",
    "images_emulator_config",
    "images_emulator_server",
]

#: The API key the fixtures' clients send; the emulator accepts any non-empty key.
EMULATOR_API_KEY = "sk-emulator"


class ImagesEmulator:
    """The emulator in-process: its config, the requests it received, and clients wired to it.

    The clients never really sleep between retries: each wait is appended to `sleeps` instead, so a test
    of retry behaviour runs instantly and can assert on the waits.

    Attributes:
        app: The emulator's ASGI app.
        base_url: The base URL the clients use.
        sleeps: The retry waits the clients would have slept, in seconds.
    """

    def __init__(self, app: EmulatorApp, base_url: str) -> None:
        self.app = app
        self.base_url = base_url
        self.sleeps: list[float] = []
        self._client: ImagesClient | None = None
        self._http: httpx.Client | None = None
        self._async_client: AsyncImagesClient | None = None

    @property
    def config(self) -> EmulatorConfig:
        """The live config: changing an attribute takes effect with the next request."""
        return self.app.state.config

    @property
    def requests(self) -> list[RecordedRequest]:
        """The generation requests received so far, oldest first (faulted ones included)."""
        return list(self.app.state.requests)

    def set_fault(self, spec: str | None) -> None:
        """Inject a fault into the following requests, e.g. ``"rate_limit;times=2"``; None for none.

        Raises:
            ValueError: The spec is malformed.
        """
        from oai_images_emulator import parse_fault  # noqa: PLC0415 -- keeps plugin start-up cheap

        self.config.fault = parse_fault(spec) if spec else None
        self.app.state.fault_counts.clear()

    def set_latency(self, spec: str | None) -> None:
        """Delay the following answers: ``"250"`` ms fixed, ``"100-500"`` random, None for none.

        Raises:
            ValueError: The spec is malformed.
        """
        from oai_images_emulator import Latency, parse_latency  # noqa: PLC0415 -- keeps plugin start-up cheap

        self.config.latency = parse_latency(spec) if spec else Latency()

    def reset(self) -> None:
        """Forget the recorded requests, the retry waits and the fault counters."""
        self.app.state.reset()
        self.sleeps.clear()

    def _http_client(self) -> httpx.Client | None:
        import httpx  # noqa: PLC0415 -- keeps plugin start-up cheap

        from oai_images_emulator import EmulatorTransport  # noqa: PLC0415 -- keeps plugin start-up cheap

        return httpx.Client(transport=EmulatorTransport(app=self.app))

    def _async_http_client(self) -> httpx.AsyncClient | None:
        import httpx  # noqa: PLC0415 -- keeps plugin start-up cheap

        from oai_images_emulator import AsyncEmulatorTransport  # noqa: PLC0415 -- keeps plugin start-up cheap

        return httpx.AsyncClient(transport=AsyncEmulatorTransport(app=self.app))

    @property
    def client(self) -> ImagesClient:
        """An `ImagesClient` sending to this emulator (made on first use, closed by the fixture)."""
        if self._client is None:
            from . import ImagesClient  # noqa: PLC0415 -- keeps plugin start-up cheap

            self._http = self._http_client()
            self._client = ImagesClient(
                api_key=EMULATOR_API_KEY,
                base_url=self.base_url,
                http_client=self._http,
                sleep=self.sleeps.append,
            )
        return self._client

    @property
    def async_client(self) -> AsyncImagesClient:
        """An `AsyncImagesClient` sending to this emulator (made on first use)."""
        if self._async_client is None:
            from . import AsyncImagesClient  # noqa: PLC0415 -- keeps plugin start-up cheap

            async def record(seconds: float) -> None:
                self.sleeps.append(seconds)

            sleep: Callable[[float], Awaitable[None]] = record
            self._async_client = AsyncImagesClient(
                api_key=EMULATOR_API_KEY,
                base_url=self.base_url,
                http_client=self._async_http_client(),
                sleep=sleep,
            )
        return self._async_client

    def close(self) -> None:
        """Close the sync client this handle made (the async one holds no thread or socket of its own)."""
        if self._client is not None:
            self._client.close()
        if self._http is not None:
            self._http.close()  # an injected http_client is the caller's to close
        self._client = self._http = None
        self._async_client = None


class ImagesEmulatorServer(ImagesEmulator):
    """The emulator on a real 127.0.0.1 port (uvicorn in a thread); clients go over the network.

    Attributes:
        base_url: ``http://127.0.0.1:PORT/v1``, for any OpenAI-compatible client.
        server: The running server.
    """

    def __init__(self, server: EmulatorServer) -> None:
        super().__init__(server.app, server.base_url)
        self.server = server

    def _http_client(self) -> httpx.Client | None:
        return None  # the client makes its own, which goes over the network

    def _async_http_client(self) -> httpx.AsyncClient | None:
        return None


@pytest.fixture
def images_emulator_config() -> EmulatorConfig:
    """The config the emulator fixtures start from; override this fixture to change it for a suite."""
    from oai_images_emulator import EmulatorConfig  # noqa: PLC0415 -- keeps plugin start-up cheap

    return EmulatorConfig()


@pytest.fixture
def images_emulator(images_emulator_config: EmulatorConfig) -> Iterator[ImagesEmulator]:
    """The offline emulator in-process, with ready sync and async clients and the requests it received."""
    from oai_images_emulator import EMULATOR_BASE_URL, create_app  # noqa: PLC0415 -- keeps plugin start-up cheap

    handle = ImagesEmulator(create_app(images_emulator_config), EMULATOR_BASE_URL)
    yield handle
    handle.close()


@pytest.fixture
def images_emulator_server(images_emulator_config: EmulatorConfig) -> Iterator[ImagesEmulatorServer]:
    """The offline emulator served on 127.0.0.1 with a free port; stopped after the test."""
    from oai_images_emulator import EmulatorServer  # noqa: PLC0415 -- keeps plugin start-up cheap

    with EmulatorServer(images_emulator_config) as server:
        handle = ImagesEmulatorServer(server)
        yield handle
        handle.close()
