"""The emulator's settings, and the small grammars for faults and latency shared by flags, env and headers."""

from __future__ import annotations

import dataclasses
import os
import random
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal

from oai_images.rules import MODEL_RULES

from ._azure import DEFAULT_AZURE_DEPLOYMENTS

__all__ = [
    "ENV_PREFIX",
    "FAULT_KINDS",
    "EmulatorConfig",
    "FaultSpec",
    "Latency",
    "Setting",
    "apply_setting",
    "parse_deployments",
    "parse_fault",
    "parse_latency",
    "settings",
]

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


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(f"must be 0 or more, got {text!r}")
    return value


def _non_negative(text: str) -> float:
    value = float(text)
    if value < 0:
        raise ValueError(f"must be 0 or more, got {text!r}")
    return value


def parse_deployments(text: str) -> dict[str, str]:
    """Azure deployments as ``NAME=MODEL``, several separated by commas or white space.

    Raises:
        ValueError: A part is not ``NAME=MODEL`` with a model the rules table knows.
    """
    deployments: dict[str, str] = {}
    for spec in text.replace(",", " ").split():
        name, sep, model = (part.strip() for part in spec.partition("="))
        if not sep or not name or model not in MODEL_RULES:
            known = ", ".join(MODEL_RULES)
            raise ValueError(f"{spec!r} is not NAME=MODEL with a known model ({known})")
        deployments[name] = model
    return deployments


@dataclasses.dataclass(frozen=True)
class Setting:
    """How one field of `EmulatorConfig` is set from outside: one declaration for the environment variable
    (``OAI_IMAGES_EMULATOR_<env>``) and the ``oai-images serve`` option, both read by `parse`.

    Attributes:
        env: The variable's name after the prefix.
        help: The option's help (the default is added from the field).
        parse: Text to the field's value; raises ValueError with a message for a bad one.
        metavar: How the help shows the option's value.
        option: The option's name, when not ``--`` and ``env`` in lower case with dashes.
        merge: The value is added to the field's (a mapping; the option may repeat), not put in its place.
        default_text: The default as the help shows it, when the field's own would not read well.
    """  # noqa: D205

    env: str
    help: str
    parse: Callable[[str], object]
    metavar: str
    option: str | None = None
    merge: bool = False
    default_text: str | None = None

    @property
    def option_name(self) -> str:
        """The ``oai-images serve`` option that sets the field."""
        return self.option or "--" + self.env.lower().replace("_", "-")


def _setting(default: object = dataclasses.MISSING, **setting: Any) -> Any:
    """A dataclass field that the environment and ``oai-images serve`` can set (see `Setting`)."""
    metadata = {"setting": Setting(**setting)}
    if callable(default):  # a class or a function: a factory (the default is mutable)
        return dataclasses.field(default_factory=default, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def settings() -> list[tuple[dataclasses.Field[Any], Setting]]:
    """The fields of `EmulatorConfig` that the environment and ``oai-images serve`` set, in order."""
    return [
        (field, field.metadata["setting"])
        for field in dataclasses.fields(EmulatorConfig)
        if "setting" in field.metadata
    ]


_FAULTS = ", ".join(FAULT_KINDS)
_MIB = 1024 * 1024


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

    seed: int = _setting(0, env="SEED", parse=int, metavar="N", help="Seed mixed into every drawing.")
    url_lifetime: float = _setting(
        3600.0,
        env="URL_LIFETIME",
        parse=_non_negative,
        metavar="SECONDS",
        help="Seconds an image URL works (the real API: 3600).",
    )
    latency: Latency = _setting(  # noqa: RUF009 - returns a dataclasses.field
        Latency,
        env="LATENCY_MS",
        parse=parse_latency,
        metavar="MS|LOW-HIGH",
        default_text="0",
        help="Delay before each answer: MS fixed, or LOW-HIGH uniformly random (e.g. 100-500). A request's "
        "x-emulator-latency-ms header overrides it.",
    )
    fault: FaultSpec | None = _setting(  # noqa: RUF009 - returns a dataclasses.field
        None,
        env="FAULT",
        parse=parse_fault,
        metavar="FAULT",
        default_text="none",
        help=f"Fault injected into every image request: one of {_FAULTS}; add ';times=K' to fail only the "
        "first K requests, ';retry_after=S' for the 429/503 retry-after, ';status=CODE' for "
        "not_json/truncate. A request's x-emulator-fault header overrides it.",
    )
    retry_after: int = _setting(
        1,
        env="RETRY_AFTER",
        parse=_non_negative_int,
        metavar="SECONDS",
        help="The retry-after seconds of an injected 429 or 503.",
    )
    hang_seconds: float = _setting(
        600.0,
        env="HANG_SECONDS",
        parse=_non_negative,
        metavar="SECONDS",
        help="How long a 'hang' fault holds a request.",
    )
    max_stored_images: int = _setting(
        256,
        env="MAX_IMAGES",
        parse=_positive_int,
        metavar="N",
        help="At most this many images are kept for URL downloads.",
    )
    max_stored_bytes: int = _setting(
        256 * _MIB,
        env="MAX_BYTES",
        parse=_positive_int,
        metavar="BYTES",
        help="At most this many bytes of images are kept for URL downloads.",
    )
    max_recorded_requests: int = 1000
    max_recorded_bytes: int = 32 * _MIB
    batch_seconds: float = _setting(
        10.0,
        env="BATCH_SECONDS",
        parse=_non_negative,
        metavar="SECONDS",
        help="How long a Batch API batch takes from creation to completion (the real API: up to 24 h).",
    )
    batch_window_seconds: float = 24 * 3600.0
    max_batch_store_bytes: int = _setting(
        4 * 1024 * _MIB,
        env="MAX_BATCH_STORE_BYTES",
        parse=_positive_int,
        metavar="BYTES",
        help="At most this many bytes of uploaded and Batch API files are kept on disk.",
    )
    clock: Callable[[], float] = time.time
    azure_deployments: dict[str, str] = _setting(  # noqa: RUF009 - returns a dataclasses.field
        lambda: dict(DEFAULT_AZURE_DEPLOYMENTS),
        env="AZURE_DEPLOYMENTS",
        parse=parse_deployments,
        metavar="NAME=MODEL",
        option="--azure-deployment",
        merge=True,
        default_text=", ".join(f"{name}={model}" for name, model in DEFAULT_AZURE_DEPLOYMENTS.items()),
        help="An Azure deployment to serve, besides the default ones (each named after its model); "
        "repeatable.",
    )
    rate_limit_rpm: int | None = _setting(
        None,
        env="RATE_LIMIT_RPM",
        parse=_positive_int,
        metavar="N",
        default_text="no limit",
        help="Allow this many image requests a minute, answering the API's x-ratelimit-* headers and a 429 "
        "with retry-after over it.",
    )
    rate_limit_burst: int | None = _setting(
        None,
        env="RATE_LIMIT_BURST",
        parse=_positive_int,
        metavar="N",
        default_text="a minute's worth",
        help="How many requests the rate limit lets through at once when unused.",
    )
    max_json_body_bytes: int = _setting(
        _MIB,
        env="MAX_JSON_BODY_BYTES",
        parse=_positive_int,
        metavar="BYTES",
        help="The largest body of a JSON request (generations, batches); larger is a 413.",
    )
    max_edit_body_bytes: int = _setting(
        64 * _MIB,
        env="MAX_EDIT_BODY_BYTES",
        parse=_positive_int,
        metavar="BYTES",
        help="The largest body of an edit or variation; larger is a 413.",
    )
    max_file_body_bytes: int = _setting(
        513 * _MIB,
        env="MAX_FILE_BODY_BYTES",
        parse=_positive_int,
        metavar="BYTES",
        help="The largest body of a /v1/files upload; larger is a 413.",
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EmulatorConfig:
        """A config from ``OAI_IMAGES_EMULATOR_*`` variables; unset ones keep their defaults.

        Reads the variable of every field declared with a `Setting` (``SEED``, ``URL_LIFETIME``,
        ``LATENCY_MS`` (``250`` or ``100-500``), ``FAULT`` (``rate_limit;times=2``), ``RETRY_AFTER``,
        ``MAX_IMAGES``, ``AZURE_DEPLOYMENTS`` (``NAME=MODEL,...``), ... : `settings`).

        Args:
            environ: The variables to read; ``os.environ`` when None.

        Raises:
            ValueError: A variable is set to a malformed value (the message names it).
        """
        env = os.environ if environ is None else environ
        config = cls()
        for field, setting in settings():
            text = env.get(ENV_PREFIX + setting.env, "").strip()
            if not text:
                continue
            try:
                apply_setting(config, field.name, setting, setting.parse(text))
            except ValueError as exc:
                raise ValueError(f"{ENV_PREFIX}{setting.env}: {exc}") from None
        return config


def apply_setting(config: EmulatorConfig, name: str, setting: Setting, value: object) -> None:
    """Set the field ``name`` of ``config`` to a value its `Setting` parsed (merged into the field's mapping
    when `Setting.merge`)."""  # noqa: D205, D209
    if setting.merge:
        getattr(config, name).update(value)
    else:
        setattr(config, name, value)
