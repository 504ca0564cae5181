"""Saving and reporting what a command generated: file names, the rescue folder, the --json document.

Every image is saved the moment it is in hand (a URL is downloaded at once, before it expires), and an
image that cannot be saved where asked is saved in a rescue folder instead: it was paid for.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .._files import DEFAULT_NAME, rescue_folders
from ._common import InvalidInput

if TYPE_CHECKING:
    from .. import CompletedImageEvent, GeneratedImage, ImageResult, PartialImageEvent
    from ..pricing import Cost

__all__ = [
    "Names",
    "Outcome",
    "RetryNotices",
    "listed_on_failure",
    "report",
    "save_answer",
    "save_options",
    "save_stream",
    "say",
    "spinner",
    "total_usage",
]


_F = TypeVar("_F", bound=Callable[..., Any])


NAME_HELP = (
    "How files in --out are named (the extension comes from the image): {slug} of the prompt, {index} "
    "(from 1; {index:02d} pads it), {id} (8 hex digits of the image's SHA-256), {time} (when it was "
    "created). A taken name gets -v2."
)


def check_template(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """--name: a valid template, checked before anything is sent."""
    if value is not None:
        from .._files import check_name_template  # noqa: PLC0415 -- light, but only with --name

        try:
            check_name_template(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc), ctx, param) from exc
    return value


def save_options(function: _F) -> _F:
    """Where a command's images go and how they are reported, the same for every command that saves:
    ``--show``, ``-o/--out``, ``--name``, ``--output-file``, ``--overwrite``, ``--json`` (see `names_for`)."""  # noqa: D205, D209
    decorators = (
        click.option(
            "--show",
            is_flag=True,
            help="Open each image in the default viewer (Get-OAIImageGeneration's -Show).",
        ),
        click.option(
            "-o",
            "--out",
            type=click.Path(file_okay=False, path_type=Path),
            default=None,
            show_default="images",
            help="The folder images are saved in (created if missing).",
        ),
        click.option("--name", "name_template", metavar="TEMPLATE", callback=check_template, help=NAME_HELP),
        click.option(
            "--output-file",
            type=click.Path(dir_okay=False, path_type=Path),
            help="Save the one image as this file instead; with no --output-format its extension asks for "
            "the format; an existing file is an error unless --overwrite.",
        ),
        click.option("--overwrite", is_flag=True, help="Let --output-file replace an existing file."),
        click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of the paths."),
    )
    for decorator in reversed(decorators):
        function = decorator(function)
    return function


_EXTENSIONS = {
    "png": (".png",),
    "jpeg": (".jpg", ".jpeg"),
    "webp": (".webp",),
    "gif": (".gif",),
    "svg": (".svg",),
}
_IMAGE_SUFFIXES = frozenset(suffix for suffixes in _EXTENSIONS.values() for suffix in suffixes)


def names_for(
    out: Path | None,
    template: str | None,
    output_file: Path | None,
    overwrite: bool,
    fields: dict[str, Any],
    *,
    default_template: str | None = None,
) -> Names:
    """Where the images go, checked before anything is sent (a paid image must have somewhere to go).

    Raises:
        InvalidInput: --output-file with --out, --name or more than one image; an extension that is not
            the format's; an existing file without --overwrite; an --out that names a file.
    """
    from .._files import DEFAULT_NAME  # noqa: PLC0415 -- light, loaded with the facade anyway

    if output_file is None:
        folder = (out or Path("images")).expanduser()
        if folder.suffix.lower() in _IMAGE_SUFFIXES and not folder.is_dir():
            raise InvalidInput(
                f"--out {out} names a file, but --out is the folder images are saved in; to save one image "
                f"as that file use --output-file {out}"
            )
        if overwrite:
            raise InvalidInput("--overwrite is for --output-file; in --out a taken name gets -v2 instead")
        return Names(folder, template or default_template or DEFAULT_NAME)
    given = [option for option, value in (("--out", out), ("--name", template)) if value is not None]
    if given:
        raise InvalidInput(f"--output-file names the file itself: it does not go with {' or '.join(given)}")
    n = fields.get("n", 1)
    if isinstance(n, int) and n > 1:
        raise InvalidInput(
            f"--output-file saves one image, but -n {n} asks for {n}: use --out DIR (and --name) instead"
        )
    path = output_file.expanduser()
    suffix = path.suffix.lower()
    format_from_extension(suffix, fields)
    expected = format_of(fields)
    if suffix and expected is not None and suffix not in _EXTENSIONS.get(expected, ()):
        wanted = " or ".join(_EXTENSIONS.get(expected, (f".{expected}",)))
        raise InvalidInput(
            f"--output-file {output_file}: the image will be {expected}, so the file must end in {wanted} "
            "(or set --output-format to match the name)"
        )
    if expected is not None and not suffix:
        path = path.with_name(path.name + _EXTENSIONS.get(expected, (f".{expected}",))[0])
    if os.path.lexists(path) and not path.is_file() and not path.is_dir():
        # A link to nothing: the save could not make the file (and would fall back to a rescue folder).
        raise InvalidInput(f"--output-file {path} is a link to nothing ({os.readlink(path)}); name a file")
    if path.exists() and not overwrite:
        raise InvalidInput(f"--output-file {path} exists; pass --overwrite to replace it")
    if path.is_dir():
        raise InvalidInput(f"--output-file {path} is a folder; use --out for a folder")
    return Names(path.parent, output_file=path, overwrite=overwrite)


def format_from_extension(suffix: str, fields: dict[str, Any]) -> None:
    """Ask for the format an --output-file's extension names (``fox.webp``: webp) when no --output-format
    says otherwise and the model takes it; a model that cannot is then refused by the name check."""  # noqa: D205, D209
    if "output_format" in fields:
        return
    wanted = next((fmt for fmt, suffixes in _EXTENSIONS.items() if suffix in suffixes), None)
    if wanted is None or wanted == "png":
        return
    from ..rules import MODEL_RULES, resolve_model  # noqa: PLC0415 -- loaded with the facade anyway

    rules = MODEL_RULES.get(resolve_model(fields) or "")
    if rules is not None and wanted in rules.allowed("output_format"):
        fields["output_format"] = wanted


def format_of(fields: dict[str, Any]) -> str | None:
    """The format the image will come in: --output-format, else PNG for every model the rules know."""
    fmt = fields.get("output_format")
    if isinstance(fmt, str):
        return fmt.lower()
    from ..rules import resolve_model  # noqa: PLC0415 -- loaded with the facade anyway

    # Every known model answers PNG by default (dall-e always); another model's server decides.
    return "png" if resolve_model(fields) is not None else None


def shown_path(path: Path | str) -> str:
    """A saved file's path as every command prints it (plain or JSON, saved now or before): relative to the
    working folder when it is inside it, else absolute."""  # noqa: D205, D209
    absolute = Path(path).absolute()
    try:
        return str(absolute.relative_to(Path.cwd()))
    except ValueError:
        return str(absolute)


def say(text: str) -> None:
    """A line on standard error."""
    click.echo(text, err=True)


_stdout_closed = False


def emit(text: str) -> None:
    """A line of output on standard output; once its reader has gone (``| head``), nothing more.

    A closed pipe must not stop paid work: the run goes on, its images are saved and its summary still
    reaches standard error. Standard output is pointed at the null device, so that Python's own flush at
    exit does not complain either.
    """
    global _stdout_closed  # noqa: PLW0603 - one standard output per process
    if _stdout_closed:
        return
    try:
        click.echo(text)
    except BrokenPipeError:
        _stdout_closed = True
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)


@contextlib.contextmanager
def spinner(text: str) -> Iterator[Callable[[str], None]]:
    """A spinner with the elapsed time on standard error, when it is a terminal and rich is installed.

    Yields how to print a line to standard error meanwhile (above the spinner, not through it).
    """
    if not sys.stderr.isatty():
        yield say
        return
    try:
        from rich.console import Console  # noqa: PLC0415 -- optional (the `cli` extra), and not for --help
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn  # noqa: PLC0415
    except ImportError:
        yield say
        return
    columns = (SpinnerColumn(), TextColumn(f"{text}…"), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        progress.add_task(text, total=None)
        yield lambda line: progress.console.print(line, markup=False, highlight=False)


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What a generation gave, whether it came in one answer or streamed."""

    images: list[GeneratedImage]
    created: int | None
    request_id: str | None
    usage: object
    cost: Cost | None = None

    @classmethod
    def of(cls, result: ImageResult) -> Outcome:
        """The outcome of one answer."""
        return cls(result.images, result.created, result.request_id, result.usage, result.cost)

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
            "cost": None if self.cost is None else self.cost.to_dict(),
        }
        if partials:
            document["partial_images"] = [str(path) for path in partials]
        return document


class Names:
    """Where images go: into the --out folder, named by the --name template, or to one --output-file.

    The names come from the one scheme `GeneratedImage.save` uses for a folder (`oai_images._files`):
    ``<time>-<slug>-<index>[-partial<k>].<ext>`` by default, ``-v2`` added rather than replacing a file.
    An image that cannot be saved where asked (a full disk, no permission) is saved in a rescue folder
    instead, with a warning: the image was paid for.
    """

    def __init__(
        self,
        out: Path,
        template: str = DEFAULT_NAME,
        *,
        output_file: Path | None = None,
        overwrite: bool = False,
    ) -> None:
        self.out = out
        self.template = template
        self.output_file = output_file
        self.overwrite = overwrite
        self.partials: list[Path] = []

    def save(self, image: GeneratedImage, suffix: str = "") -> Path:
        """Save one image (a URL is downloaded now, before it expires) and return its path.

        Where the target fails: a private rescue folder, then the user's cache folder, then the working
        folder. When all fail, the error names the image (its URL, when it has one) that could not be kept.

        Args:
            image: The image, its prompt and index set by the client.
            suffix: Added to the name: ``-partial1`` for the first partial image of it.
        """
        try:
            if self.output_file is not None:
                target = self.output_file
                if suffix:
                    target = target.with_name(f"{target.stem}{suffix}{target.suffix}")
                return image.save(target, overwrite=self.overwrite)
            self.out.mkdir(parents=True, exist_ok=True)  # so that save() takes it for a folder
            return image.save(self.out, name=self.template + suffix)
        except OSError as exc:
            first = exc
        where = self.output_file or self.out
        for folder in rescue_folders():
            try:
                path = _save_in(image, folder, self.template + suffix)
            except OSError:
                continue
            say(f"warning: could not save as {where} ({first}); saved in {path.parent} instead")
            return path
        lost = f" (its URL, valid for 60 minutes: {image.url})" if image.url else ""
        which = f"image {image.index}{suffix}" if image.index is not None else f"the image{suffix}"
        raise OSError(f"{which} could not be kept anywhere{lost}; as {where}: {first}")


def _save_in(image: GeneratedImage, folder: Callable[[], tuple[Path, bool]], template: str) -> Path:
    """Save in a fallback folder; one made for the purpose is removed again when the save fails."""
    where, new = folder()
    try:
        where.mkdir(parents=True, exist_ok=True)  # so that save() takes it for a folder
        return image.save(where, name=template)
    except OSError:
        if new:
            with contextlib.suppress(OSError):
                where.rmdir()  # only when empty
        raise


class RetryNotices:
    """The client's ``on_retry``: one line on standard error per retry, above the spinner if there is one.

    ``rate limited, retrying in 3 s (1/2)``.
    """

    def __init__(self) -> None:
        self.say: Callable[[str], None] = say

    def __call__(self, delay: float, attempt: int, max_retries: int, reason: str) -> None:
        """Say that a retry is coming, and when."""
        self.say(f"{reason}, retrying in {_seconds(delay)} s ({attempt}/{max_retries})")


def _seconds(delay: float) -> str:
    """Seconds as a person reads them: ``3``, ``0.5``, ``2.7``."""
    if delay >= 10:
        return f"{delay:.0f}"
    return f"{delay:.1f}".removesuffix(".0")


@contextlib.contextmanager
def listed_on_failure(paths: list[Path], say: Callable[[str], None]) -> Iterator[None]:
    """On any failure (Ctrl-C too), name the images already saved: they were paid for, and are whole."""
    try:
        yield
    except BaseException:
        for path in paths:
            say(f"saved before the failure: {path}")
        raise


def total_usage(usages: list[Any]) -> dict[str, Any] | None:
    """The token usage of a whole stream: each completed image event reports its own, so they add up."""
    total: dict[str, Any] = {}
    for usage in usages:
        if usage is not None:
            _add(total, usage.to_dict())
    return total or None


def stream_cost(costs: list[Cost]) -> Cost | None:
    """The cost of a whole stream: each completed image event prices its own image, so they add up."""
    if not costs:
        return None
    from ..pricing import CostBreakdown, total  # noqa: PLC0415 -- loaded with the facade anyway

    amount, unknown = total(costs)
    first = costs[0]
    if unknown:
        return dataclasses.replace(first, usd=None, breakdown=None, images=len(costs))
    parts = [cost.breakdown or CostBreakdown() for cost in costs]
    summed = CostBreakdown(*(sum(getattr(part, name) for part in parts) for name in CostBreakdown.__slots__))
    return dataclasses.replace(
        first, usd=amount, breakdown=summed, images=len(costs), exact=all(cost.exact for cost in costs)
    )


def _add(total: dict[str, Any], part: dict[str, Any]) -> None:
    for key, value in part.items():
        if isinstance(value, dict):
            _add(total.setdefault(key, {}), value)
        elif isinstance(value, int) and not isinstance(value, bool):
            total[key] = total.get(key, 0) + value


def report(
    outcome: Outcome,
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
        if outcome.cost is not None:
            click.echo(cost_line(outcome.cost), err=True)
    if show:
        for image in outcome.images:
            try:
                image.show()
            except Exception as exc:  # the images are saved; say why they can't be shown
                click.echo(f"warning: {exc}", err=True)


def cost_line(cost: Cost) -> str:
    """The one line a command prints of a cost: ``cost $0.042`` (from usage), ``cost ≈ $0.042`` (an
    estimate), or ``cost unknown (why)``."""  # noqa: D205, D209
    if cost.usd is None:
        return f"cost unknown ({cost.note})" if cost.note else "cost unknown"
    return f"cost {cost}"


def save_answer(result: ImageResult, names: Names) -> tuple[Outcome, list[Path]]:
    """Save every image of one answer (a URL is downloaded now, before it expires); warn when a retry may
    have billed the generation twice."""  # noqa: D205, D209 - one sentence over two lines
    if result.possibly_billed > 1:
        say(
            f"warning: the answer broke off and was retried; {result.possibly_billed} generations may "
            "have been billed for these images"
        )
    outcome = Outcome.of(result)
    paths: list[Path] = []
    with listed_on_failure(paths, say):
        for image in outcome.images:
            paths.append(names.save(image))
    return outcome, paths


def save_stream(
    events: Iterator[PartialImageEvent | CompletedImageEvent], names: Names, line: Callable[[str], None]
) -> tuple[Outcome, list[Path]]:
    """Save every streamed image the moment it arrives: partial images (their paths on ``line``) and each
    final one, so a failure later in the stream loses nothing already paid for. Closes ``events``."""  # noqa: D205, D209 - one sentence over two lines
    from .. import CompletedImageEvent  # noqa: PLC0415 -- loaded with the facade anyway

    finals: list[CompletedImageEvent] = []
    paths: list[Path] = []
    with contextlib.ExitStack() as stack, listed_on_failure(paths, line):
        close = getattr(events, "close", None)
        if callable(close):
            stack.callback(close)
        for event in events:
            if isinstance(event, CompletedImageEvent):
                finals.append(event)
                paths.append(names.save(event.image))
                continue
            path = names.save(event.image, f"-partial{event.index or 1}")
            names.partials.append(path)
            line(f"partial image: {path}")
    last = finals[-1] if finals else None
    outcome = Outcome(
        images=[event.image for event in finals],
        created=last.created_at if last else None,
        request_id=last.request_id if last else None,
        usage=total_usage([event.usage for event in finals]),
        cost=stream_cost([event.cost for event in finals]),
    )
    return outcome, paths
