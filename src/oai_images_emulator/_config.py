"""The emulator's settings, and the small grammars for faults and latency shared by flags, env and headers."""

from __future__ import annotations

import dataclasses
import os
import random
import time
from collections.abc import Callable, Mapping
from typing import Literal, cast

from ._azure import DEFAULT_AZURE_DEPLOYMENTS

__all__ = ["FAULT_KINDS", "EmulatorConfig", "FaultSpec", "Latency", "parse_fault", "parse_latency"]

FaultKind = Literal[
    "rate_limit", "server_error", "service_unavailable", "hang", "drop", "truncate", "not_json"
]
FAULT_KINDS: tuple[FaultKind, ...] = (
    "rate_limit",
    "server_error",
    "service_unavailable",
    "hang",
    "drop",
    "truncate",
    "not_json",
)
ENV_PREFIX = "OAI_IMAGES_EMULATOR_"


@dataclasses.dataclass(frozen=True)
class FaultSpec:
    """One injected fault, parsed from text such as ``"rate_limit;times=2;retry_after=3"``.

    Attributes:
        kind: What goes wrong (one of ``FAULT_KINDS``).
        times: Fail only the first ``times`` matching requests, then answer normally; None: always fail.
        retry_after: The ``retry-after`` seconds of a 429 (or of a 503), None for the config's value.
        status: The status of a ``not_json`` or ``truncate`` answer, None for 200.
    """

    kind: FaultKind
    times: int | None = None
    retry_after: int | None = None
    status: int | None = None


@dataclasses.dataclass(frozen=True)
class Latency:
    """A delay before answering: fixed (``low == high``) or uniformly random in ``[low, high]`` ms."""

    low_ms: float = 0.0
    high_ms: float = 0.0

    def pick_seconds(self, rng: random.Random) -> float:
        """The delay for one request, in seconds."""
        if self.high_ms <= self.low_ms:
            return self.low_ms / 1000
        return rng.uniform(self.low_ms, self.high_ms) / 1000


def parse_fault(text: str) -> FaultSpec | None:
    """Parse a fault spec: ``KIND[;times=K][;retry_after=S][;status=CODE]``; empty or ``none`` gives None.

    Raises:
        ValueError: The kind is unknown or an option is malformed.
    """
    parts = [part.strip() for part in text.split(";") if part.strip()]
    if not parts or parts[0].lower() == "none":
        return None
    kind = parts[0].lower().replace("-", "_")
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault {parts[0]!r}; expected one of {', '.join(FAULT_KINDS)}")
    options: dict[str, int] = {}
    for part in parts[1:]:
        name, sep, value = part.partition("=")
        name = name.strip().lower()
        if not sep or name not in {"times", "retry_after", "status"}:
            raise ValueError(f"unknown fault option {part!r}; expected times=, retry_after= or status=")
        try:
            number = int(value.strip())
        except ValueError:
            raise ValueError(f"fault option {name} needs a whole number, got {value.strip()!r}") from None
        if number < 0 or (name == "status" and not 100 <= number <= 599):
            raise ValueError(f"fault option {name}={number} is out of range")
        options[name] = number
    return FaultSpec(
        kind=kind,
        times=options.get("times"),
        retry_after=options.get("retry_after"),
        status=options.get("status"),
    )


def parse_latency(text: str) -> Latency:
    """Parse a latency: ``"250"`` (fixed milliseconds) or ``"100-500"`` (uniformly random in that range).

    Raises:
        ValueError: The text is not one or two non-negative numbers.
    """
    low_text, sep, high_text = text.strip().partition("-")
    try:
        low = float(low_text)
        high = float(high_text) if sep else low
    except ValueError:
        raise ValueError(f"latency must be MS or LOW-HIGH in milliseconds, got {text!r}") from None
    if low < 0 or high < low:
        raise ValueError(f"latency must be MS or LOW-HIGH with 0 <= LOW <= HIGH, got {text!r}")
    return Latency(low, high)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(f"must be 1 or more, got {text!r}")
    return value


def _non_negative(text: str) -> float:
    value = float(text)
    if value < 0:
        raise ValueError(f"must be 0 or more, got {text!r}")
    return value


@dataclasses.dataclass
class EmulatorConfig:
    """How the emulator behaves.

    Mutable: a running emulator reads it on every request, except for the ``max_*`` caps, which are read
    when the app is created.

    Attributes:
        seed: Mixed into every drawing; the same prompt, image index and seed give the same bytes.
        url_lifetime: Seconds an image URL works (the real API: 60 minutes).
        latency: A delay before each generation answer, fixed or random.
        fault: A fault injected into generation requests (a per-request ``x-emulator-fault`` header wins).
        retry_after: The ``retry-after`` seconds sent with an injected 429 or 503.
        hang_seconds: How long a ``hang`` fault holds a request before answering normally.
        max_stored_images: At most this many images are kept for URL downloads (least recently used go first).
        max_stored_bytes: At most this many bytes of images are kept for URL downloads.
        max_recorded_requests: At most this many received requests are kept for tests to inspect.
        max_recorded_bytes: At most this many bytes of request bodies are kept (the oldest requests go
            first; a larger body is kept cut to this size).
        batch_seconds: How long a batch of the Batch API takes from creation to completion (the real API:
            up to 24 hours): a tenth validating, most of it answering the lines one after another, a tenth
            finalizing. 0 ends a batch the first time it is looked at.
        batch_window_seconds: A batch still running this many seconds after its creation expires, keeping
            the lines answered so far (the real API: its 24 h completion window).
        max_batch_store_bytes: At most this many bytes of uploaded and produced files are kept on disk; an
            upload beyond it is refused.
        clock: Wall-clock seconds, injectable so a test can expire a URL without waiting.
        azure_deployments: The Azure deployments the emulator serves, deployment name → model; a request
            to another one gets Azure's 404 ``DeploymentNotFound``.
        rate_limit_rpm: Generation requests allowed per minute, with the API's ``x-ratelimit-*`` headers
            on every answer and a 429 (with ``retry-after``) over the limit; None: no limit.
        rate_limit_burst: How many requests the allowance holds when full; None: a whole minute's worth.
        max_json_body_bytes: The largest body of a JSON route (generations, batches): larger is a 413,
            answered before the body is read.
        max_edit_body_bytes: The largest body of an edit or a variation, multipart or JSON (the API takes
            up to 16 images of 50 MB; the emulator less unless told, to stay small).
        max_file_body_bytes: The largest body of a ``/v1/files`` upload (the API's files: 512 MB).
    """

    seed: int = 0
    url_lifetime: float = 3600.0
    latency: Latency = dataclasses.field(default_factory=Latency)
    fault: FaultSpec | None = None
    retry_after: int = 1
    hang_seconds: float = 600.0
    max_stored_images: int = 256
    max_stored_bytes: int = 256 * 1024 * 1024
    max_recorded_requests: int = 1000
    max_recorded_bytes: int = 32 * 1024 * 1024
    batch_seconds: float = 10.0
    batch_window_seconds: float = 24 * 3600.0
    max_batch_store_bytes: int = 4 * 1024**3
    clock: Callable[[], float] = time.time
    azure_deployments: dict[str, str] = dataclasses.field(
        default_factory=lambda: dict(DEFAULT_AZURE_DEPLOYMENTS)
    )
    rate_limit_rpm: int | None = None
    rate_limit_burst: int | None = None
    max_json_body_bytes: int = 1024 * 1024
    max_edit_body_bytes: int = 64 * 1024 * 1024
    max_file_body_bytes: int = 513 * 1024 * 1024

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EmulatorConfig:
        """A config from ``OAI_IMAGES_EMULATOR_*`` variables; unset ones keep their defaults.

        Reads ``SEED``, ``URL_LIFETIME``, ``LATENCY_MS`` (``250`` or ``100-500``), ``FAULT``
        (``rate_limit;times=2``), ``RETRY_AFTER``, ``HANG_SECONDS``, ``MAX_IMAGES``, ``MAX_BYTES``,
        ``RATE_LIMIT_RPM``, ``RATE_LIMIT_BURST``, ``BATCH_SECONDS``, ``MAX_JSON_BODY_BYTES``,
        ``MAX_EDIT_BODY_BYTES`` and ``MAX_FILE_BODY_BYTES``.

        Args:
            environ: The variables to read; ``os.environ`` when None.

        Raises:
            ValueError: A variable is set to a malformed value (the message names it).
        """
        env = os.environ if environ is None else environ
        config = cls()

        def read(name: str, parse: Callable[[str], object]) -> object | None:
            text = env.get(ENV_PREFIX + name, "").strip()
            if not text:
                return None
            try:
                return parse(text)
            except ValueError as exc:
                raise ValueError(f"{ENV_PREFIX}{name}: {exc}") from None

        if (seed := read("SEED", int)) is not None:
            config.seed = cast(int, seed)
        if (lifetime := read("URL_LIFETIME", float)) is not None:
            config.url_lifetime = cast(float, lifetime)
        if (latency := read("LATENCY_MS", parse_latency)) is not None:
            config.latency = cast(Latency, latency)
        config.fault = cast("FaultSpec | None", read("FAULT", parse_fault))
        if (retry_after := read("RETRY_AFTER", int)) is not None:
            config.retry_after = cast(int, retry_after)
        if (hang := read("HANG_SECONDS", float)) is not None:
            config.hang_seconds = cast(float, hang)
        if (max_images := read("MAX_IMAGES", int)) is not None:
            config.max_stored_images = cast(int, max_images)
        if (max_bytes := read("MAX_BYTES", int)) is not None:
            config.max_stored_bytes = cast(int, max_bytes)
        if (rpm := read("RATE_LIMIT_RPM", int)) is not None:
            config.rate_limit_rpm = cast(int, rpm)
        if (burst := read("RATE_LIMIT_BURST", int)) is not None:
            config.rate_limit_burst = cast(int, burst)
        if (batch_seconds := read("BATCH_SECONDS", _non_negative)) is not None:
            config.batch_seconds = cast(float, batch_seconds)
        for name in ("max_json_body_bytes", "max_edit_body_bytes", "max_file_body_bytes"):
            if (cap := read(name.upper(), _positive_int)) is not None:
                setattr(config, name, cap)
        return config
