"""The images behind ``url`` responses: kept for a while, bounded in count and bytes."""

from __future__ import annotations

import dataclasses
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Final, Literal

__all__ = ["EXPIRED", "ImageStore", "StoredImage"]

#: What `ImageStore.get` returns for an image whose lifetime has passed.
EXPIRED: Final = "expired"


@dataclasses.dataclass(frozen=True)
class StoredImage:
    """One stored image file."""

    content: bytes
    media_type: str
    expires_at: float


class ImageStore:
    """A least-recently-used store with a lifetime per entry and caps on entries and bytes.

    Expired entries are purged on every write and every read, so memory is bounded by the caps, never by
    the number of requests served. ``get`` tells an expired entry (still remembered, as a tombstone with
    no content) from one that never existed or was evicted, so the server can answer 403 or 404 like the
    real image host.
    """

    def __init__(
        self, *, clock: Callable[[], float], max_entries: int, max_bytes: int, max_tombstones: int = 4096
    ) -> None:
        self._clock = clock
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, StoredImage] = OrderedDict()
        self._expired: OrderedDict[str, None] = OrderedDict()
        self._max_tombstones = max_tombstones
        self._bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    @property
    def total_bytes(self) -> int:
        """The bytes held by the stored images."""
        with self._lock:
            return self._bytes

    def put(self, content: bytes, *, media_type: str, extension: str, lifetime: float) -> str:
        """Store an image and return its new random name (``<token>.<extension>``)."""
        name = f"img-{secrets.token_urlsafe(18)}.{extension}"
        with self._lock:
            self._purge_expired()
            self._entries[name] = StoredImage(content, media_type, self._clock() + lifetime)
            self._bytes += len(content)
            while self._entries and (len(self._entries) > self.max_entries or self._bytes > self.max_bytes):
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= len(evicted.content)
        return name

    def get(self, name: str) -> StoredImage | Literal["expired"] | None:
        """The stored image; `EXPIRED` once its lifetime passed; None if it never existed or was evicted."""
        with self._lock:
            self._purge_expired()
            entry = self._entries.get(name)
            if entry is not None:
                self._entries.move_to_end(name)
                return entry
            return EXPIRED if name in self._expired else None

    def _purge_expired(self) -> None:
        now = self._clock()
        for name in [name for name, entry in self._entries.items() if entry.expires_at <= now]:
            self._bytes -= len(self._entries.pop(name).content)
            self._expired[name] = None
        while len(self._expired) > self._max_tombstones:
            self._expired.popitem(last=False)
