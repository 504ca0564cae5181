"""The `oai-images` command line: the seed's Get-OAIImageGeneration at a terminal.

Start-up stays fast: this module imports click and the error classes only. The facade, the rules table,
rich and the emulator are imported inside the commands that need them, so `oai-images --help` loads none
of them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from ._errors import OAIImagesError  # light, and the package has imported it already
from ._serve import serve

if TYPE_CHECKING:
    from . import GeneratedImage, ImageResult, ImagesClient

_NO_KEY = (
    "no API key: set OPENAI_API_KEY (export OPENAI_API_KEY=sk-...), or try the offline emulator with "
    "--emulator, or point --base-url at a compatible server"
)

#: Exit codes, as PRODUCT.md fixes them.
EXIT_OK = 0
EXIT_API_ERROR = 1
EXIT_INVALID = 2
EXIT_INTERRUPTED = 130

_EXAMPLES = """\b
Examples:
  # The seed's first example: the API's default model and values
  oai-images generate "Generate a beautiful landscape image"
  # The seed's second example, with values the API accepts
  oai-images generate "Generate a cute cat image" -m dall-e-2 -n 5 -r b64_json
  # dall-e-3 in landscape, HD, natural style, opened in the default viewer
  oai-images generate "a lighthouse at dusk" -m dall-e-3 -s 1792x1024 -q hd --style natural --show
  # gpt-image-2 streaming two partial images per image before the final one
  oai-images generate "a paper crane" -m gpt-image-2 --partial-images 2
  # gpt-image-2 with a free size, a transparent WebP, JSON for scripts
  oai-images generate "a paper crane" -m gpt-image-2 -s 1536x864 --background transparent \\
      --output-format webp --json
  # The prompt from stdin, offline against the built-in emulator
  echo "an otter" | oai-images generate - --emulator -m gpt-image-1.5
"""


class _GenerateCommand(click.Command):
    """A command whose help ends with the valid values per model, read from the rules table when shown."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_epilog(ctx, formatter)
        from ._rules import MODEL_RULES  # noqa: PLC0415 -- only when help is shown, to keep start-up fast

        groups: dict[object, list[str]] = {}  # models that share one rules object are listed together
        for model, rules in MODEL_RULES.items():
            groups.setdefault(rules, []).append(model)
        blocks = ["Valid values per model (checked before any request; --no-validate skips the checks):"]
        for models in groups.values():
            rules = MODEL_RULES[models[0]]
            sizes = ", ".join(rules.sizes)
            if rules.free_sizes:
                sizes += ", or WxH: multiples of 16, 1:3 to 3:1, at most 3840x2160"
            lines = [", ".join(models) + (f" ({rules.note})" if rules.note else ""), f"  size: {sizes}"]
            lines.append(f"  n: {'1' if rules.max_n == 1 else f'1 to {rules.max_n}'}")
            lines.append(f"  prompt: at most {rules.max_prompt_chars} characters")
            for option, values in (
                ("quality", rules.qualities),
                ("response-format", rules.response_formats),
                ("style", rules.styles),
                ("background", rules.backgrounds),
                ("moderation", rules.moderations),
                ("output-format", rules.output_formats),
            ):
                if values:
                    lines.append(f"  {option}: {', '.join(values)}")
            blocks.append("\n".join(lines))
        blocks.append(
            "With no --model the API uses dall-e-2, unless a GPT-only option (--background, --moderation,\n"
            "--output-format, ...) is given. Any other model name is sent with only the model-independent\n"
            "checks, for compatible servers with models of their own."
        )
        for block in blocks:
            formatter.write_paragraph()
            formatter.write_text("\b\n" + block)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="oai-images")
def main() -> None:
    """Generate images with OpenAI's image API, or serve the offline emulator.

    The API key comes from OPENAI_API_KEY; OPENAI_BASE_URL, OPENAI_ORG_ID and OPENAI_PROJECT_ID are read
    too. Try everything offline with `oai-images generate ... --emulator`.
    """


@main.command(cls=_GenerateCommand, epilog=_EXAMPLES)
@click.argument("prompt")
@click.option("-m", "--model", help="The model: dall-e-2, dall-e-3, a GPT image model, or a server's own.")
@click.option("-n", "--n", "n", type=int, help="How many images: 1 to 10 (dall-e-3: only 1).")
@click.option("-q", "--quality", help="standard or hd (dall-e-3); low, medium, high or auto (GPT models).")
@click.option("-r", "--response-format", help="url or b64_json (dall-e only). URLs are saved at once.")
@click.option("-s", "--size", help="WIDTHxHEIGHT such as 1024x1024, or auto (GPT models). See below.")
@click.option("--style", help="vivid or natural (dall-e-3 only).")
@click.option("--user", help="An identifier of your end user (deprecated: prefer --safety-identifier).")
@click.option("--safety-identifier", help="A stable identifier of your end user, to help detect abuse.")
@click.option("--background", help="transparent, opaque or auto (GPT models).")
@click.option("--moderation", help="low or auto (GPT models).")
@click.option("--output-format", help="png, jpeg or webp (GPT models; gif and svg in preview).")
@click.option("--output-compression", type=int, help="0 to 100, with --output-format jpeg or webp.")
@click.option("--complexity", help="Preview: how much detail to aim for.")
@click.option("--frame-count", type=int, help="Preview, gif only: 2 to 16 frames.")
@click.option("--frame-duration-ms", type=int, help="Preview, gif only: milliseconds per frame.")
@click.option("--svg-model", help="Preview, svg only: the model that writes the SVG.")
@click.option("--svg-reasoning-effort", help="Preview, svg only: that model's reasoning effort (e.g. low).")
@click.option(
    "--partial-images",
    type=int,
    help="Stream (GPT models): save 0 to 3 partial images per image as they arrive, then the final one.",
)
@click.option("--show", is_flag=True, help="Open each image in the default viewer (the seed's -Show).")
@click.option(
    "-o",
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("images"),
    show_default=True,
    help="The folder images are saved in.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of the paths.")
@click.option(
    "--emulator", is_flag=True, help="Use the built-in offline emulator: no key, no network, no cost."
)
@click.option(
    "--base-url", help="The API's base URL [env: OPENAI_BASE_URL; default: https://api.openai.com/v1]."
)
@click.option(
    "--timeout", type=click.FloatRange(min=0, min_open=True), help="Seconds to wait for an answer [600]."
)
@click.option(
    "--max-retries",
    type=click.IntRange(min=0),
    default=2,
    show_default=True,
    help="Retries of a failed request.",
)
@click.option("--no-validate", is_flag=True, help="Send the values as given, without the documented checks.")
@click.option("--debug", is_flag=True, help="Show the traceback of an error.")
def generate(
    prompt: str,
    *,
    out: Path,
    show: bool,
    as_json: bool,
    emulator: bool,
    base_url: str | None,
    timeout: float | None,
    max_retries: int,
    no_validate: bool,
    debug: bool,
    svg_model: str | None,
    svg_reasoning_effort: str | None,
    partial_images: int | None,
    **fields: Any,
) -> None:
    """Generate images from PROMPT and save them; print one path per line.

    PROMPT `-` reads the prompt from standard input. Revised prompts go to standard error.
    Exit status: 0 success, 2 invalid arguments or parameters (nothing is sent), 1 API or network failure.
    """
    if prompt == "-":
        try:
            prompt = sys.stdin.buffer.read().decode("utf-8-sig").strip()  # -sig: drop a byte order mark
        except UnicodeDecodeError as exc:
            raise click.UsageError(f"the prompt on standard input is not UTF-8 text ({exc.reason})") from exc
    chosen = {name: value for name, value in fields.items() if value is not None}
    if svg_model is not None or svg_reasoning_effort is not None:
        chosen["svg"] = _svg_options(svg_model, svg_reasoning_effort)
    names = _Names(out.expanduser(), prompt)
    try:
        client = _client(
            emulator=emulator,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            validate=not no_validate,
        )
        with client:
            if partial_images is None:
                outcome, paths = _answered(client, prompt, chosen, names)
            else:
                outcome, paths = _streamed(client, prompt, chosen, partial_images, names)
        if not outcome.images:
            raise OAIImagesError(f"the server answered without an image (request id {outcome.request_id})")
    except KeyboardInterrupt:
        click.echo("interrupted; no half-written file was left behind", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:  # every failure becomes one line and an exit code
        _fail(exc, debug=debug)
    streamed = {} if partial_images is None else {"stream": True, "partial_images": partial_images}
    model = _applied_model({**chosen, **streamed})
    _report(outcome, paths, names.partials, model=model, as_json=as_json, show=show)


def _svg_options(model: str | None, effort: str | None) -> dict[str, object]:
    """The svg request object from --svg-model and --svg-reasoning-effort."""
    options: dict[str, object] = {} if model is None else {"model": model}
    if effort is not None:
        options["reasoning"] = {"effort": effort}
    return options


def _report(
    outcome: _Outcome,
    paths: list[Path],
    partials: list[Path],
    *,
    model: str | None,
    as_json: bool,
    show: bool,
) -> None:
    """Revised prompts to stderr; the paths (or the --json document) to stdout; --show opens each image."""
    for image in outcome.images:
        if image.revised_prompt:
            click.echo(f"revised prompt: {image.revised_prompt}", err=True)
    if as_json:
        click.echo(json.dumps(outcome.document(paths, partials, model), indent=2))
    else:
        for path in paths:
            click.echo(str(path))
    if show:
        for image in outcome.images:
            try:
                image.show()
            except Exception as exc:  # the images are saved; say why they can't be shown
                click.echo(f"warning: cannot show the image: {exc}", err=True)


def _client(
    *, emulator: bool, base_url: str | None, timeout: float | None, max_retries: int, validate: bool
) -> ImagesClient:
    """The facade client for these options; exits 2 when there is no key and nowhere else to go."""
    from . import ImagesClient  # noqa: PLC0415 -- keep `oai-images --help` fast

    # With --emulator the real key is not read at all: it has no business going anywhere offline.
    api_key = None if emulator else (os.environ.get("OPENAI_API_KEY", "").strip() or None)
    if api_key is None and not emulator:
        if base_url is None:  # OPENAI_BASE_URL alone is no sign of a keyless server: often it is the API's
            raise click.UsageError(_NO_KEY)
        api_key = "unused"  # --base-url names a server of the user's own, which may need no key
    options: dict[str, Any] = {"max_retries": max_retries, "validate": validate, "api_key": api_key}
    if timeout is not None:
        options["timeout"] = timeout
    return ImagesClient(base_url=base_url, emulator=emulator, **options)


def _say(text: str) -> None:
    click.echo(text, err=True)


@contextlib.contextmanager
def _spinner(text: str) -> Iterator[Callable[[str], None]]:
    """A spinner with the elapsed time on standard error, when it is a terminal and rich is installed.

    Yields how to print a line to standard error meanwhile (above the spinner, not through it).
    """
    if not sys.stderr.isatty():
        yield _say
        return
    try:
        from rich.console import Console  # noqa: PLC0415 -- optional (the `cli` extra), and not for --help
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn  # noqa: PLC0415
    except ImportError:
        yield _say
        return
    columns = (SpinnerColumn(), TextColumn(f"{text}…"), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        progress.add_task(text, total=None)
        yield lambda line: progress.console.print(line, markup=False, highlight=False)


def _slug(prompt: str, limit: int = 40) -> str:
    """A filesystem-safe slug of the prompt: ASCII letters, digits and dashes only."""
    text = unicodedata.normalize("NFKD", prompt).encode("ascii", "ignore").decode()
    text = re.sub(r"[^a-zA-Z0-9]+", "-", text).strip("-").lower()
    return text[:limit].rstrip("-") or "image"


@dataclasses.dataclass(frozen=True)
class _Outcome:
    """What a generation gave, whether it came in one answer or streamed."""

    images: list[GeneratedImage]
    created: int | None
    request_id: str | None
    usage: object

    @classmethod
    def of(cls, result: ImageResult) -> _Outcome:
        """The outcome of one answer."""
        return cls(result.images, result.created, result.request_id, result.usage)

    def document(self, paths: list[Path], partials: list[Path], model: str | None) -> dict[str, Any]:
        """The --json document."""
        images: list[dict[str, Any]] = []
        for image, path in zip(self.images, paths, strict=True):
            entry: dict[str, Any] = {"path": str(path), "revised_prompt": image.revised_prompt}
            if image.url:
                entry["url"] = image.url
            images.append(entry)
        to_dict = getattr(self.usage, "to_dict", None)
        document = {
            "model": model,
            "created": self.created,
            "request_id": self.request_id,
            "images": images,
            "usage": to_dict() if callable(to_dict) else self.usage,
        }
        if partials:
            document["partial_images"] = [str(path) for path in partials]
        return document


class _Names:
    """Where images go: <time>-<slug>-<index>[-partial<k>].<ext> in the --out folder.

    An image that cannot be saved there (a full disk, no permission) is saved in a rescue folder instead,
    with a warning: the image was paid for.
    """

    def __init__(self, out: Path, prompt: str) -> None:
        self.out = out
        self.stem = f"{time.strftime('%Y%m%d-%H%M%S')}-{_slug(prompt)}"
        self.partials: list[Path] = []

    def save(self, image: GeneratedImage, index: int, suffix: str = "") -> Path:
        """Save one image (a URL is downloaded now, before it expires) and return its path."""
        name = f"{self.stem}-{index}{suffix}"
        try:
            return _save_unique(image, self.out, name)
        except OSError as exc:
            # A private new folder (mkdtemp), so no other user of the machine can pre-empt it.
            rescue = Path(tempfile.mkdtemp(prefix="oai-images-rescue-"))
            path = _save_unique(image, rescue, name)
            click.echo(f"warning: could not save in {self.out} ({exc}); saved in {rescue} instead", err=True)
            return path


def _answered(
    client: ImagesClient, prompt: str, fields: dict[str, Any], names: _Names
) -> tuple[_Outcome, list[Path]]:
    """Generate in one answer, then save every image (a URL is downloaded now, before it expires)."""
    with _spinner("Generating"):
        outcome = _Outcome.of(client.generate(prompt, **fields))
    paths: list[Path] = []
    with _listed_on_failure(paths, _say):
        for index, image in enumerate(outcome.images, 1):
            paths.append(names.save(image, index))
    return outcome, paths


def _streamed(
    client: ImagesClient, prompt: str, fields: dict[str, Any], partial_images: int, names: _Names
) -> tuple[_Outcome, list[Path]]:
    """Generate in streaming mode, saving every image the moment it arrives: partial images (their paths
    on stderr) and each final one, so a failure later in the stream loses nothing already paid for."""  # noqa: D205, D209 - one sentence over two lines
    from . import CompletedImageEvent  # noqa: PLC0415 -- loaded with the facade anyway

    finals: list[CompletedImageEvent] = []
    paths: list[Path] = []
    with _spinner("Generating") as say:
        events = client.generate_stream(prompt, partial_images=partial_images, **fields)
        with contextlib.closing(events), _listed_on_failure(paths, say):
            for event in events:
                if isinstance(event, CompletedImageEvent):
                    finals.append(event)
                    paths.append(names.save(event.image, len(finals)))
                    continue
                path = names.save(event.image, len(finals) + 1, f"-partial{(event.index or 0) + 1}")
                names.partials.append(path)
                say(f"partial image: {path}")
    last = finals[-1] if finals else None
    outcome = _Outcome(
        images=[event.image for event in finals],
        created=last.created_at if last else None,
        request_id=last.request_id if last else None,
        usage=_total_usage([event.usage for event in finals]),
    )
    return outcome, paths


@contextlib.contextmanager
def _listed_on_failure(paths: list[Path], say: Callable[[str], None]) -> Iterator[None]:
    """On any failure (Ctrl-C too), name the images already saved: they were paid for, and are whole."""
    try:
        yield
    except BaseException:
        for path in paths:
            say(f"saved before the failure: {path}")
        raise


def _total_usage(usages: list[Any]) -> dict[str, Any] | None:
    """The token usage of a whole stream: each completed image event reports its own, so they add up."""
    total: dict[str, Any] = {}
    for usage in usages:
        if usage is not None:
            _add(total, usage.to_dict())
    return total or None


def _add(total: dict[str, Any], part: dict[str, Any]) -> None:
    for key, value in part.items():
        if isinstance(value, dict):
            _add(total.setdefault(key, {}), value)
        elif isinstance(value, int) and not isinstance(value, bool):
            total[key] = total.get(key, 0) + value


def _save_unique(image: GeneratedImage, folder: Path, name: str) -> Path:
    """Save under `name`, or `name-v2`, `name-v3`, ... when a file of that name is already there."""
    folder.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, 1000):
        try:
            return image.save(folder / (name if attempt == 1 else f"{name}-v{attempt}"))
        except FileExistsError:
            continue
    raise FileExistsError(f"no free name for {name} in {folder}")


def _applied_model(fields: dict[str, Any]) -> str | None:
    """The model the request named, else the API's documented default (None when that is not one model)."""
    from ._rules import DEFAULT_MODEL, resolve_model  # noqa: PLC0415 -- loaded with the facade anyway

    if fields.get("model"):
        return str(fields["model"])
    # The rules table decides which default applies; only dall-e-2 is one model the API names.
    return DEFAULT_MODEL if resolve_model(fields) == DEFAULT_MODEL else None


def _fail(exc: Exception, *, debug: bool) -> NoReturn:
    """Print one line for a failure and exit: 2 for what the user can fix before sending, 1 otherwise."""
    from ._errors import APIStatusError, InvalidParameterError  # noqa: PLC0415

    if debug:
        import traceback  # noqa: PLC0415 -- only with --debug

        traceback.print_exception(exc)
    if isinstance(exc, click.UsageError):
        raise exc
    if isinstance(exc, InvalidParameterError):
        missing_key = exc.param == "api_key" and exc.value is None and "no API key" in str(exc)
        message = _NO_KEY if missing_key else str(exc)
        if exc.param in ("stream", "partial_images"):  # the user typed --partial-images, not these fields
            message = f"--partial-images: {message}".replace("stream True is", "streaming is")
        click.echo(f"error: {message}", err=True)
        sys.exit(EXIT_INVALID)
    if isinstance(exc, APIStatusError):
        click.echo(f"error: the API answered {exc.status_code}: {exc}", err=True)
        sys.exit(EXIT_API_ERROR)
    if isinstance(exc, OAIImagesError):
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_API_ERROR)
    if isinstance(exc, OSError):
        click.echo(f"error: could not save: {exc}", err=True)
        sys.exit(EXIT_API_ERROR)
    # A bug of ours or of a library: still one line (the key redacted), the traceback only with --debug.
    text = f"{type(exc).__name__}: {exc}"
    key = os.environ.get("OPENAI_API_KEY", "").strip()
    if key:
        text = text.replace(key, "[redacted]")
    click.echo(f"error: unexpected {text} (--debug shows the traceback)", err=True)
    sys.exit(EXIT_API_ERROR)


main.add_command(serve)
