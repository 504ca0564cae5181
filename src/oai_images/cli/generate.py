"""``oai-images generate``: the PSAI module's Get-OAIImageGeneration at a terminal.

Its API options are generated from the spec (see `_fields`); the rest say where images go and how to talk
to the server.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .._errors import OAIImagesError
from ._common import (
    azure_deployment,
    azure_options,
    check_max_cost,
    check_model_name,
    client_options,
    make_client,
    max_cost_option,
    read_prompt,
    translated_errors,
    with_default_model,
)
from ._fields import FieldsCommand, field_values
from ._output import (
    Names,
    Outcome,
    RetryNotices,
    names_for,
    report,
    save_answer,
    save_options,
    save_stream,
    say,
    spinner,
)
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
@save_options
@max_cost_option
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
    max_cost: float | None,
    **options: Any,
) -> None:
    """Generate images from PROMPT and save them; print one path per line.

    PROMPT `-` (or no PROMPT, with text piped in) reads the prompt from standard input. Revised prompts and
    the cost (`cost $0.042` from the answer's usage, `cost ≈ $0.042` when estimated) go to standard error;
    --json has the cost too. Exit status: 0 success, 2 invalid arguments or parameters (nothing is sent, a
    --max-cost below the estimate too), 1 API or network failure, 130 interrupted.
    """
    prompt = read_prompt(prompt)
    fields = with_default_model(field_values(options))
    check_model_name(fields, no_validate=no_validate, emulator=emulator)
    streaming = fields.get("partial_images") is not None
    names = names_for(out, name_template, output_file, overwrite, fields)
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
            request = {"prompt": prompt, **fields, **({"stream": True} if streaming else {})}
            check_max_cost(client, request, max_cost, "this generation")
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
        cost=outcome.cost,
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
def _applied_model(fields: dict[str, Any]) -> str | None:
    """The model the request named, else the API's documented default (None when that is not one model)."""
    from ..rules import DEFAULT_MODEL, resolve_model  # noqa: PLC0415 -- loaded with the facade anyway

    if fields.get("model"):
        return str(fields["model"])
    if (deployment := azure_deployment()) is not None:  # on Azure the deployment is the model
        return deployment
    # The rules table decides which default applies; only dall-e-2 is one model the API names.
    return DEFAULT_MODEL if resolve_model(fields) == DEFAULT_MODEL else None
