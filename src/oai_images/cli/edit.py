"""``oai-images edit``: edit or extend images given a prompt, saved and reported like ``generate``.

Its API options are generated from the spec's edit operation (see `_fields`); the images are arguments
and the mask an option. Each input is checked before anything is sent: it exists, its real format suits
the model, its size, and the mask's alpha channel and dimensions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .._errors import OAIImagesError
from ._common import (
    azure_deployment,
    azure_options,
    check_model_name,
    client_options,
    make_client,
    read_prompt,
    translated_errors,
)
from ._fields import FieldsCommand, field_values
from ._output import RetryNotices, names_for, report, save_answer, save_options, save_stream, say, spinner
from .history import no_history_option, record_generation

__all__ = ["edit", "input_of"]


def _operation() -> Any:
    from oai_images_api.api.images import CREATE_IMAGE_EDIT  # noqa: PLC0415 -- loads the models when needed

    return CREATE_IMAGE_EDIT


_EXAMPLES = """\b
Examples:
  # gpt-image-1.5 (the API's default for edits) with two reference images
  oai-images edit "put the lotion and the soap in a gift basket" lotion.png soap.jpg
  # dall-e-2: only where the mask is transparent changes
  oai-images edit "a flamingo in the pool" pool.png --mask pool-mask.png -m dall-e-2 -s 512x512
  # keep faces close to the input, as WebP, streaming one partial image
  oai-images edit "make it a watercolour" portrait.jpg --input-fidelity high --output-format webp \\
      --partial-images 1
  # images by URL or uploaded file id (sent as a JSON edit)
  oai-images edit "add snow" https://example.com/street.png file-abc123
  # offline, against the built-in emulator
  oai-images edit "add a red scarf" cat.png --emulator --json
"""


def input_of(text: str) -> object:
    """An IMAGE argument as the facade takes it: an existing path; else an http(s) or data URL as an
    ImageURL, and a ``file-…`` id as a FileID; else the path (whose absence the facade reports)."""  # noqa: D205, D209
    from .. import FileID, ImageURL  # noqa: PLC0415 -- loaded with the facade anyway

    if Path(text).exists():
        return Path(text)
    if text.startswith(("https://", "http://", "data:")):
        return ImageURL(text)
    if text.startswith("file-") and "/" not in text:
        return FileID(text)
    return Path(text)


def _inputs(inputs: list[Any], mask: str | None, markup: str | None) -> dict[str, Any]:
    """The inputs of an edit as its history records them: absolute paths, or the URLs and file ids."""

    def shown(item: object) -> str:
        if isinstance(item, Path):
            return str(item.resolve())
        return str(getattr(item, "url", None) or getattr(item, "id", None) or item)

    recorded: dict[str, Any] = {"image": [shown(item) for item in inputs]}
    if mask is not None:
        recorded["mask"] = shown(input_of(mask))
    if markup is not None:
        recorded["markup"] = str(Path(markup).resolve())
    return recorded


@click.command(
    cls=FieldsCommand,
    epilog=_EXAMPLES,
    operation=_operation,
    skip=frozenset({"stream"}),  # --partial-images streams
)
@click.argument("prompt")
@click.argument("images", metavar="IMAGE...", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "--mask",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="A PNG with an alpha channel, the size of the first image: its transparent pixels are edited.",
)
@click.option(
    "--markup",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="Preview (gpt-image-2.5 and later): a transparent PNG the size of the first image, laid over it "
    "to guide the edit. Not with --mask.",
)
@save_options
@client_options
@azure_options
@no_history_option
def edit(
    prompt: str,
    images: tuple[str, ...],
    *,
    mask: str | None,
    markup: str | None,
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
    """Edit IMAGE(s) as PROMPT says and save the results; print one path per line.

    IMAGE is a PNG, WebP or JPEG file (dall-e-2: one square PNG under 4 MB; GPT image models: up to 16
    files under 50 MB each), or an https:// URL or file-… id for a JSON edit. PROMPT `-` reads standard
    input. Exit status: 0 success, 2 invalid arguments or inputs (nothing is sent), 1 API or network
    failure, 130 interrupted.
    """
    prompt = read_prompt(prompt)
    fields: dict[str, Any] = field_values(options)
    check_model_name(fields, no_validate=no_validate, emulator=emulator)
    streaming = fields.get("partial_images") is not None
    names = names_for(out, name_template, output_file, overwrite, fields)
    notices = RetryNotices()
    with translated_errors(debug=debug):
        inputs: list[Any] = [input_of(text) for text in images]  # paths, ImageURL or FileID
        image = inputs[0] if len(inputs) == 1 else inputs
        masked: Any = input_of(mask) if mask is not None else None
        marks = Path(markup) if markup is not None else None
        client = make_client(
            emulator=emulator,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            no_validate=no_validate,
            on_retry=notices,
        )
        with client:
            with spinner("Editing") as line:
                notices.say = line
                if streaming:
                    events = client.edit_stream(prompt, image=image, mask=masked, markup=marks, **fields)
                    outcome, paths = save_stream(events, names, line)
                else:
                    result = client.edit(prompt, image=image, mask=masked, markup=marks, **fields)
            notices.say = say
            if not streaming:  # saved while the client is open: a URL is downloaded over its connections
                outcome, paths = save_answer(result, names)
        if not outcome.images:
            raise OAIImagesError(f"the server answered without an image (request id {outcome.request_id})")
    model = _applied_model(fields)
    report(outcome, paths, names.partials, model=model, as_json=as_json, show=show)
    record_generation(
        "edit",
        {"prompt": prompt, **fields, **_inputs(inputs, mask, markup)},
        model=model,
        request_id=outcome.request_id,
        usage=outcome.usage,
        cost=outcome.cost,
        paths=paths,
        revised_prompts=[image.revised_prompt for image in outcome.images],
    )


def _applied_model(fields: dict[str, Any]) -> str | None:
    """The model the request named, else the API's documented default for edits."""
    from ..rules import resolve_model  # noqa: PLC0415 -- loaded with the facade anyway

    if fields.get("model"):
        return str(fields["model"])
    if (deployment := azure_deployment()) is not None:  # on Azure the deployment is the model
        return deployment
    return resolve_model(fields, "create_image_edit")
