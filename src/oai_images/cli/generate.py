"""``oai-images generate``: the PSAI module's Get-OAIImageGeneration at a terminal.

Its API options are generated from the spec (see `_fields`); the rest say where images go and how to talk
to the server.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .._errors import OAIImagesError
from ._common import client_options, make_client, read_prompt, translated_errors
from ._fields import FieldsCommand, field_values
from ._output import Names, Outcome, listed_on_failure, report, say, spinner, total_usage
from .history import no_history_option, record_generation

if TYPE_CHECKING:
    from .. import ImagesClient

__all__ = ["generate"]


def _operation() -> Any:
    from oai_images_api.api.images import CREATE_IMAGE  # noqa: PLC0415 -- loads the models: only when needed

    return CREATE_IMAGE


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


class _GenerateCommand(FieldsCommand):
    """A command whose help ends with the valid values per model, read from the rules table when shown."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_epilog(ctx, formatter)
        from ..rules import MODEL_RULES  # noqa: PLC0415 -- only when help is shown, to keep start-up fast

        groups: dict[int, list[str]] = {}  # models that share one rules object are listed together
        for model, rules in MODEL_RULES.items():
            groups.setdefault(id(rules), []).append(model)
        blocks = ["Valid values per model (checked before any request; --no-validate skips the checks):"]
        for models in groups.values():
            rules = MODEL_RULES[models[0]]
            sizes = ", ".join(rules.sizes)
            if rules.free_sizes:
                sizes += ", or WxH: multiples of 16, 1:3 to 3:1, at most 3840x2160"
            lines = [", ".join(models) + (f" ({rules.note})" if rules.note else ""), f"  size: {sizes}"]
            lines.append(f"  n: {'1' if rules.max_n == 1 else f'1 to {rules.max_n}'}")
            lines.append(f"  prompt: at most {rules.max_prompt_chars} characters")
            for name, values in rules.values.items():
                if name != "size" and rules.accepts(name):
                    lines.append(f"  {name.replace('_', '-')}: {', '.join(values)}")
            blocks.append("\n".join(lines))
        blocks.append(
            "With no --model the API uses dall-e-2, unless a GPT-only option (--background, --moderation,\n"
            "--output-format, ...) is given. Any other model name is sent with only the model-independent\n"
            "checks, for compatible servers with models of their own."
        )
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
    default=Path("images"),
    show_default=True,
    help="The folder images are saved in.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of the paths.")
@no_history_option
@client_options
def generate(
    prompt: str | None,
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
    **options: Any,
) -> None:
    """Generate images from PROMPT and save them; print one path per line.

    PROMPT `-` (or no PROMPT, with text piped in) reads the prompt from standard input. Revised prompts go
    to standard error. Exit status: 0 success, 2 invalid arguments or parameters (nothing is sent), 1 API or
    network failure, 130 interrupted.
    """
    prompt = read_prompt(prompt)
    fields = field_values(options)
    streaming = fields.get("partial_images") is not None
    names = Names(out.expanduser(), prompt)
    with translated_errors(debug=debug):
        client = make_client(
            emulator=emulator,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            no_validate=no_validate,
        )
        with client:
            if streaming:
                outcome, paths = _streamed(client, prompt, fields, names)
            else:
                outcome, paths = _answered(client, prompt, fields, names)
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
    client: ImagesClient, prompt: str, fields: dict[str, Any], names: Names
) -> tuple[Outcome, list[Path]]:
    """Generate in one answer, then save every image (a URL is downloaded now, before it expires)."""
    with spinner("Generating"):
        outcome = Outcome.of(client.generate(prompt, **fields))
    paths: list[Path] = []
    with listed_on_failure(paths, say):
        for index, image in enumerate(outcome.images, 1):
            paths.append(names.save(image, index))
    return outcome, paths


def _streamed(
    client: ImagesClient, prompt: str, fields: dict[str, Any], names: Names
) -> tuple[Outcome, list[Path]]:
    """Generate in streaming mode, saving every image the moment it arrives: partial images (their paths
    on stderr) and each final one, so a failure later in the stream loses nothing already paid for."""  # noqa: D205, D209 - one sentence over two lines
    from .. import CompletedImageEvent  # noqa: PLC0415 -- loaded with the facade anyway

    finals: list[CompletedImageEvent] = []
    paths: list[Path] = []
    with spinner("Generating") as say:
        events = client.generate_stream(prompt, **fields)
        with contextlib.closing(events), listed_on_failure(paths, say):
            for event in events:
                if isinstance(event, CompletedImageEvent):
                    finals.append(event)
                    paths.append(names.save(event.image, len(finals)))
                    continue
                path = names.save(event.image, len(finals) + 1, f"-partial{(event.index or 0) + 1}")
                names.partials.append(path)
                say(f"partial image: {path}")
    last = finals[-1] if finals else None
    outcome = Outcome(
        images=[event.image for event in finals],
        created=last.created_at if last else None,
        request_id=last.request_id if last else None,
        usage=total_usage([event.usage for event in finals]),
    )
    return outcome, paths


def _applied_model(fields: dict[str, Any]) -> str | None:
    """The model the request named, else the API's documented default (None when that is not one model)."""
    from ..rules import DEFAULT_MODEL, resolve_model  # noqa: PLC0415 -- loaded with the facade anyway

    if fields.get("model"):
        return str(fields["model"])
    # The rules table decides which default applies; only dall-e-2 is one model the API names.
    return DEFAULT_MODEL if resolve_model(fields) == DEFAULT_MODEL else None
