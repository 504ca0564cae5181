"""``oai-images generate``: the PSAI module's Get-OAIImageGeneration at a terminal.

Its API options are generated from the spec (see `_fields`); the rest say where images go and how to talk
to the server.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .._errors import OAIImagesError
from ._common import (
    InvalidInput,
    azure_deployment,
    azure_options,
    check_model_name,
    client_options,
    make_client,
    read_prompt,
    translated_errors,
    with_default_model,
)
from ._fields import FieldsCommand, field_values
from ._output import Names, Outcome, RetryNotices, report, save_answer, save_stream, say, spinner
from .history import no_history_option, record_generation

if TYPE_CHECKING:
    from .. import ImagesClient

__all__ = ["generate"]


def _operation() -> Any:
    from oai_images_api.api.images import CREATE_IMAGE  # noqa: PLC0415 -- loads the models: only when needed

    return CREATE_IMAGE


_EXAMPLES = """\b
Examples:
  # gpt-image-2 in landscape, high quality, opened in the default viewer
  oai-images generate "a lighthouse at dusk" -m gpt-image-2 -s 1536x1024 -q high --show
  # One file, named by you (its extension must match the format)
  oai-images generate "a red fox" -m gpt-image-1.5 --output-format webp --output-file fox.webp
  # Four images into a folder, named by a template
  oai-images generate "a red fox" -m gpt-image-2 -n 4 -o foxes --name "fox-{index:02d}-{id}"
  # gpt-image-2 with a free size, a transparent WebP, JSON for scripts
  oai-images generate "a paper crane" -m gpt-image-2 -s 1536x864 --background transparent \\
      --output-format webp --json
  # gpt-image-2 streaming two partial images per image before the final one
  oai-images generate "a paper crane" -m gpt-image-2 --partial-images 2
  # The prompt piped in, offline against the built-in emulator
  echo "an otter" | oai-images generate --emulator -m gpt-image-1.5
  # Get-OAIImageGeneration's examples (PSAI module), for servers that still serve dall-e
  oai-images generate "Generate a cute cat image" -m dall-e-2 -n 5 -r b64_json
  oai-images generate "a lighthouse at dusk" -m dall-e-3 -s 1792x1024 -q hd --style natural
"""

_NAME_HELP = (
    "How files in --out are named (the extension comes from the image): {slug} of the prompt, {index} "
    "(from 1; {index:02d} pads it), {id} (8 hex digits of the image's SHA-256), {time} (when it was "
    "created). A taken name gets -v2."
)


def _check_template(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """--name: a valid template, checked before anything is sent."""
    if value is not None:
        from .._files import check_name_template  # noqa: PLC0415 -- light, but only with --name

        try:
            check_name_template(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc), ctx, param) from exc
    return value


class _GenerateCommand(FieldsCommand):
    """A command whose help ends with the valid values per model, read from the rules table when shown."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_epilog(ctx, formatter)
        from ..rules import known_fields  # noqa: PLC0415 -- only when help is shown
        from .models import model_blocks  # noqa: PLC0415 -- reads the rules table: only when help is shown

        blocks = [
            "Valid values per model (checked before any request; --no-validate skips the checks; "
            "`oai-images models` shows them again, --json for scripts):",
            *model_blocks(known_fields(_operation())),
            "With no --model the API uses dall-e-2, unless a GPT-only option (--background, --moderation,\n"
            "--output-format, ...) is given: name a model. Any other model name is sent with only the\n"
            "model-independent checks, for compatible servers with models of their own.",
        ]
        for block in blocks:
            formatter.write_paragraph()
            formatter.write_text("\b\n" + block)


@click.command(
    cls=_GenerateCommand,
    epilog=_EXAMPLES,
    operation=_operation,
    skip=frozenset({"stream"}),  # --partial-images streams
)
@click.argument("prompt", required=False)
@click.option(
    "--show", is_flag=True, help="Open each image in the default viewer (Get-OAIImageGeneration's -Show)."
)
@click.option(
    "-o",
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    show_default="images",
    help="The folder images are saved in (created if missing).",
)
@click.option("--name", "name_template", metavar="TEMPLATE", callback=_check_template, help=_NAME_HELP)
@click.option(
    "--output-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Save the one image as this file instead; its extension must match the format (.png unless "
    "--output-format says otherwise); an existing file is an error unless --overwrite.",
)
@click.option("--overwrite", is_flag=True, help="Let --output-file replace an existing file.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of the paths.")
@no_history_option
@client_options
@azure_options
def generate(
    prompt: str | None,
    *,
    out: Path | None,
    name_template: str | None,
    output_file: Path | None,
    overwrite: bool,
    show: bool,
    as_json: bool,
    emulator: bool,
    base_url: str | None,
    timeout: float | None,
    max_retries: int,
    no_validate: bool,
    debug: bool,
    **options: Any,
) -> None:
    """Generate images from PROMPT and save them; print one path per line.

    PROMPT `-` (or no PROMPT, with text piped in) reads the prompt from standard input. Revised prompts go
    to standard error. Exit status: 0 success, 2 invalid arguments or parameters (nothing is sent), 1 API or
    network failure, 130 interrupted.
    """
    prompt = read_prompt(prompt)
    fields = with_default_model(field_values(options))
    check_model_name(fields, no_validate=no_validate, emulator=emulator)
    streaming = fields.get("partial_images") is not None
    names = _names(out, name_template, output_file, overwrite, fields)
    notices = RetryNotices()
    with translated_errors(debug=debug):
        client = make_client(
            emulator=emulator,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            no_validate=no_validate,
            on_retry=notices,
        )
        with client:
            if streaming:
                outcome, paths = _streamed(client, prompt, fields, names, notices)
            else:
                outcome, paths = _answered(client, prompt, fields, names, notices)
        if not outcome.images:
            raise OAIImagesError(f"the server answered without an image (request id {outcome.request_id})")
    model = _applied_model({**fields, "stream": True} if streaming else fields)
    report(outcome, paths, names.partials, model=model, as_json=as_json, show=show)
    record_generation(
        "generate",
        {"prompt": prompt, **fields},
        model=model,
        request_id=outcome.request_id,
        usage=outcome.usage,
        paths=paths,
        revised_prompts=[i.revised_prompt for i in outcome.images],
    )


def _answered(
    client: ImagesClient, prompt: str, fields: dict[str, Any], names: Names, notices: RetryNotices
) -> tuple[Outcome, list[Path]]:
    """Generate in one answer, then save every image (a URL is downloaded now, before it expires)."""
    with spinner("Generating") as line:
        notices.say = line
        result = client.generate(prompt, **fields)
    notices.say = say
    return save_answer(result, names)


def _streamed(
    client: ImagesClient, prompt: str, fields: dict[str, Any], names: Names, notices: RetryNotices
) -> tuple[Outcome, list[Path]]:
    """Generate in streaming mode, saving every image the moment it arrives (see `save_stream`)."""
    with spinner("Generating") as line:
        notices.say = line
        outcome = save_stream(client.generate_stream(prompt, **fields), names, line)
    notices.say = say
    return outcome


#: The file extensions of each output format.
_EXTENSIONS = {
    "png": (".png",),
    "jpeg": (".jpg", ".jpeg"),
    "webp": (".webp",),
    "gif": (".gif",),
    "svg": (".svg",),
}
_IMAGE_SUFFIXES = frozenset(suffix for suffixes in _EXTENSIONS.values() for suffix in suffixes)


def _names(
    out: Path | None,
    template: str | None,
    output_file: Path | None,
    overwrite: bool,
    fields: dict[str, Any],
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
        return Names(folder, template or DEFAULT_NAME)
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
    _format_from_extension(suffix, fields)
    expected = _format_of(fields)
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


def _format_from_extension(suffix: str, fields: dict[str, Any]) -> None:
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


def _format_of(fields: dict[str, Any]) -> str | None:
    """The format the image will come in: --output-format, else PNG for every model the rules know."""
    fmt = fields.get("output_format")
    if isinstance(fmt, str):
        return fmt.lower()
    from ..rules import resolve_model  # noqa: PLC0415 -- loaded with the facade anyway

    # Every known model answers PNG by default (dall-e always); another model's server decides.
    return "png" if resolve_model(fields) is not None else None


def _applied_model(fields: dict[str, Any]) -> str | None:
    """The model the request named, else the API's documented default (None when that is not one model)."""
    from ..rules import DEFAULT_MODEL, resolve_model  # noqa: PLC0415 -- loaded with the facade anyway

    if fields.get("model"):
        return str(fields["model"])
    if (deployment := azure_deployment()) is not None:  # on Azure the deployment is the model
        return deployment
    # The rules table decides which default applies; only dall-e-2 is one model the API names.
    return DEFAULT_MODEL if resolve_model(fields) == DEFAULT_MODEL else None
