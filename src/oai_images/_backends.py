"""In-process backends (the emulator), found through an entry point so the facade never imports them.

A backend is a server that runs inside the client's process: it provides httpx transports that answer
requests with no network, the base URL those requests name, and the key it expects. The emulator package
registers one under the entry point group ``oai_images.backends`` (name ``emulator``); the dependency
points from the emulator to the facade, never back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from ._errors import InvalidParameterError

if TYPE_CHECKING:
    import httpx

__all__ = ["ENTRY_POINT_GROUP", "Backend", "load_backend"]

ENTRY_POINT_GROUP = "oai_images.backends"


class Backend(Protocol):
    """What an in-process backend provides to ``ImagesClient(emulator=True)``."""

    @property
    def base_url(self) -> str:
        """The base URL requests to the backend name (never a real host)."""
        ...

    @property
    def api_key(self) -> str:
        """The key the backend accepts (never a real key)."""
        ...

    def transport(self) -> httpx.BaseTransport:
        """A new transport for a sync httpx client."""
        ...

    def async_transport(self) -> httpx.AsyncBaseTransport:
        """A new transport for an async httpx client."""
        ...


def load_backend(name: str) -> Backend:
    """The backend registered under ``name``.

    Raises:
        InvalidParameterError: Nothing is registered under that name, or it cannot be imported (the
            emulator without its extra installed); the message says what to install.
    """
    # Imported here: only emulator=True needs it, and reading the installed distributions takes a while.
    from importlib.metadata import entry_points  # noqa: PLC0415

    install = "pip install 'oai-images[emulator]'"
    found = entry_points(group=ENTRY_POINT_GROUP, name=name)
    if not found:
        message = f"no in-process backend named {name!r} is installed; {install}"
        raise InvalidParameterError("emulator", True, (install,), message)
    try:
        backend: Backend = next(iter(found)).load()
    except ImportError as exc:
        missing = f" ({exc.name} is missing)" if exc.name else ""
        message = f"emulator=True needs the emulator extra{missing}: {install}"
        raise InvalidParameterError("emulator", True, (install,), message) from exc
    return backend
