"""``oai-images serve``: the offline emulator on a local port.

Only click is imported at module level; uvicorn, Starlette and Pillow load when the command runs, so
``oai-images --help`` stays fast and works without the ``emulator`` extra.
"""

from __future__ import annotations

import click

__all__ = ["serve"]

_ENV = "OAI_IMAGES_EMULATOR_"
# An epilog, not part of the docstring: click keeps a paragraph as written only after a line holding just
# "\b" (the backspace character), which a raw docstring cannot contain.
_EXAMPLES = """\b
Examples:
  oai-images serve
  oai-images serve --port 0 --latency-ms 200-800
  oai-images serve --fault 'rate_limit;times=2;retry_after=1'
  oai-images serve --rate-limit-rpm 600 --latency-ms 300
  OPENAI_BASE_URL=http://127.0.0.1:8787/v1 OPENAI_API_KEY=sk-any oai-images generate "a fox" -m gpt-image-2
"""
_FAULTS = "rate_limit, server_error, service_unavailable, hang, drop, truncate, not_json"


@click.command(epilog=_EXAMPLES)
@click.option("--host", default="127.0.0.1", show_default=True, envvar=_ENV + "HOST", help="Address to bind.")
@click.option(
    "--port",
    "-p",
    type=click.IntRange(0, 65535),
    default=8787,
    show_default=True,
    envvar=_ENV + "PORT",
    help="Port to bind (0 picks a free one).",
)
@click.option(
    "--allow-remote",
    is_flag=True,
    help="Allow a non-loopback --host. The emulator accepts any key: do not expose it to a network you "
    "do not trust.",
)
@click.option("--seed", type=int, envvar=_ENV + "SEED", help="Seed mixed into every drawing. [default: 0]")
@click.option(
    "--url-lifetime",
    type=click.FloatRange(min=0),
    envvar=_ENV + "URL_LIFETIME",
    help="Seconds an image URL works. [default: 3600, like the real API]",
)
@click.option(
    "--latency-ms",
    envvar=_ENV + "LATENCY_MS",
    help="Delay before each answer: MS fixed, or LOW-HIGH uniformly random (e.g. 100-500).",
)
@click.option(
    "--fault",
    envvar=_ENV + "FAULT",
    help=f"Fault injected into every generation: one of {_FAULTS}; add ';times=K' to fail only the first "
    "K requests, ';retry_after=S' for the 429/503 retry-after, ';status=CODE' for not_json/truncate. A "
    "request's x-emulator-fault header overrides it.",
)
@click.option(
    "--retry-after",
    type=click.IntRange(min=0),
    envvar=_ENV + "RETRY_AFTER",
    help="The retry-after seconds of an injected 429 or 503. [default: 1]",
)
@click.option(
    "--hang-seconds",
    type=click.FloatRange(min=0),
    envvar=_ENV + "HANG_SECONDS",
    help="How long a 'hang' fault holds a request. [default: 600]",
)
@click.option(
    "--max-images",
    type=click.IntRange(min=1),
    envvar=_ENV + "MAX_IMAGES",
    help="At most this many images are kept for URL downloads. [default: 256]",
)
@click.option(
    "--azure-deployment",
    "azure_deployments",
    multiple=True,
    metavar="NAME=MODEL",
    envvar=_ENV + "AZURE_DEPLOYMENTS",
    help="An Azure deployment to serve, besides gpt-image-2, gpt-image-1.5, gpt-image-1 and dall-e-3 "
    "(each named after its model); repeatable.",
)
@click.option(
    "--rate-limit-rpm",
    type=click.IntRange(min=1),
    envvar=_ENV + "RATE_LIMIT_RPM",
    help="Allow this many generation requests a minute, answering the API's x-ratelimit-* headers and a 429 "
    "with retry-after over it. [default: no limit]",
)
@click.option(
    "--rate-limit-burst",
    type=click.IntRange(min=1),
    envvar=_ENV + "RATE_LIMIT_BURST",
    help="How many requests the rate limit lets through at once when unused. [default: a minute's worth]",
)
@click.option(
    "--batch-seconds",
    type=click.FloatRange(min=0),
    envvar=_ENV + "BATCH_SECONDS",
    help="How long a Batch API batch takes from creation to completion (the real API: up to 24 h). "
    "[default: 10]",
)
@click.option(
    "--max-json-body-bytes",
    type=click.IntRange(min=1),
    envvar=_ENV + "MAX_JSON_BODY_BYTES",
    help="The largest body of a JSON request (generations, batches); larger is a 413. [default: 1 MiB]",
)
@click.option(
    "--max-edit-body-bytes",
    type=click.IntRange(min=1),
    envvar=_ENV + "MAX_EDIT_BODY_BYTES",
    help="The largest body of an edit or variation; larger is a 413. [default: 64 MiB]",
)
@click.option(
    "--max-file-body-bytes",
    type=click.IntRange(min=1),
    envvar=_ENV + "MAX_FILE_BODY_BYTES",
    help="The largest body of a /v1/files upload; larger is a 413. [default: 513 MiB]",
)
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    default="info",
    show_default=True,
    help="uvicorn's log level.",
)
def serve(  # noqa: PLR0912 - one branch per option
    *,
    host: str,
    port: int,
    allow_remote: bool,
    seed: int | None,
    url_lifetime: float | None,
    latency_ms: str | None,
    fault: str | None,
    retry_after: int | None,
    hang_seconds: float | None,
    max_images: int | None,
    azure_deployments: tuple[str, ...],
    rate_limit_rpm: int | None,
    rate_limit_burst: int | None,
    batch_seconds: float | None,
    max_json_body_bytes: int | None,
    max_edit_body_bytes: int | None,
    max_file_body_bytes: int | None,
    log_level: str,
) -> None:
    """Serve the offline emulator: POST /v1/images/generations, like the real API, with no key or network.

    Azure OpenAI's routes are served too (/openai/deployments/NAME/images/generations?api-version=... and
    /openai/v1/images/generations): point an Azure client at the printed URL without its /v1.

    It also runs the Batch API for image generations (/v1/files, /v1/batches), each batch taking
    --batch-seconds.

    Point any OpenAI client at the printed base URL with any non-empty API key. Every option also reads
    an OAI_IMAGES_EMULATOR_* environment variable (OAI_IMAGES_EMULATOR_FAULT, ..._LATENCY_MS, ...).
    Per request, the headers x-emulator-fault and x-emulator-latency-ms override --fault and --latency-ms.
    """
    try:
        from ..emulator import (  # noqa: PLC0415 -- heavy: the server and Pillow
            EmulatorConfig,
            is_loopback,
            parse_fault,
            parse_latency,
            run_server,
        )
    except ImportError as exc:
        from ._common import NO_EMULATOR, InvalidInput  # noqa: PLC0415 -- only on this error

        raise InvalidInput(NO_EMULATOR.replace("--emulator needs", "serve needs")) from exc
    if not allow_remote and not is_loopback(host):
        raise click.UsageError(
            f"--host {host} is not a loopback address; the emulator accepts any key, so binding it to a "
            "network needs --allow-remote."
        )
    config = EmulatorConfig()
    try:
        if latency_ms:
            config.latency = parse_latency(latency_ms)
        if fault:
            config.fault = parse_fault(fault)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--latency-ms/--fault") from exc
    if seed is not None:
        config.seed = seed
    if url_lifetime is not None:
        config.url_lifetime = url_lifetime
    if retry_after is not None:
        config.retry_after = retry_after
    if hang_seconds is not None:
        config.hang_seconds = hang_seconds
    if max_images is not None:
        config.max_stored_images = max_images
    config.azure_deployments.update(_deployments(azure_deployments))
    config.rate_limit_rpm = rate_limit_rpm
    config.rate_limit_burst = rate_limit_burst
    if batch_seconds is not None:
        config.batch_seconds = batch_seconds
    if max_json_body_bytes is not None:
        config.max_json_body_bytes = max_json_body_bytes
    if max_edit_body_bytes is not None:
        config.max_edit_body_bytes = max_edit_body_bytes
    if max_file_body_bytes is not None:
        config.max_file_body_bytes = max_file_body_bytes

    def ready(base_url: str) -> None:
        click.echo(f"oai-images emulator listening on {base_url}", err=True)
        click.echo(base_url)

    try:
        run_server(
            config, host=host, port=port, allow_remote=allow_remote, on_ready=ready, log_level=log_level
        )
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    except KeyboardInterrupt:  # pragma: no cover (uvicorn handles Ctrl+C itself)
        pass


def _deployments(specs: tuple[str, ...]) -> dict[str, str]:
    """``NAME=MODEL`` options as a mapping.

    Raises:
        click.BadParameter: A spec is not ``NAME=MODEL``, or names a model the rules do not know.
    """
    from ..rules import MODEL_RULES  # noqa: PLC0415 -- loads the rules table, only when serving

    deployments: dict[str, str] = {}
    for spec in specs:
        name, sep, model = (part.strip() for part in spec.partition("="))
        if not sep or not name or model not in MODEL_RULES:
            known = ", ".join(MODEL_RULES)
            message = f"{spec!r} is not NAME=MODEL with a known model ({known})"
            raise click.BadParameter(message, param_hint="--azure-deployment")
        deployments[name] = model
    return deployments
