"""``oai-images vary``: variations of an image (dall-e-2), saved and reported like ``generate``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .._errors import OAIImagesError
from ._common import check_model_name, client_options, make_client, translated_errors
from ._fields import FieldsCommand, field_values
from ._output import RetryNotices, names_for, report, save_answer, save_options, say, spinner
from .history import no_history_option, record_generation

__all__ = ["vary"]


def _operation() -> Any:
    from oai_images_api.api.images import CREATE_IMAGE_VARIATION  # noqa: PLC0415 -- only when needed

    return CREATE_IMAGE_VARIATION


_EXAMPLES = """\b
Examples:
  oai-images vary otter.png -n 3 -s 512x512
  oai-images vary otter.png --emulator --json
"""


@click.command(cls=FieldsCommand, epilog=_EXAMPLES, operation=_operation)
@click.argument("image", type=click.Path(dir_okay=False))
@save_options
@client_options
@no_history_option
def vary(
    image: str,
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
    """Make variations of IMAGE (a square PNG under 4 MB) and save them; print one path per line.

    dall-e-2 only: retired by OpenAI on 2026-05-12, still served by compatible servers (and the emulator).
    Exit status: 0 success, 2 invalid arguments or inputs (nothing is sent), 1 API or network failure,
    130 interrupted.
    """
    fields: dict[str, Any] = field_values(options)
    check_model_name(fields, no_validate=no_validate, emulator=emulator)
    # Named after the input, since a variation has no prompt: <time>-<input>-variation-<index>.
    from .._files import slug  # noqa: PLC0415 -- light, loaded with the facade anyway

    default = f"{{time}}-{slug(Path(image).stem)}-variation-{{index}}"
    names = names_for(out, name_template, output_file, overwrite, fields, default_template=default)
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
            with spinner("Making variations") as line:
                notices.say = line
                result = client.create_variation(Path(image), **fields)
            notices.say = say
            outcome, paths = save_answer(result, names)
        if not outcome.images:
            raise OAIImagesError(f"the server answered without an image (request id {outcome.request_id})")
    model = str(fields.get("model") or "dall-e-2")
    report(outcome, paths, names.partials, model=model, as_json=as_json, show=show)
    record_generation(
        "vary",
        {"image": str(Path(image).resolve()), **fields},
        model=model,
        request_id=outcome.request_id,
        usage=outcome.usage,
        cost=outcome.cost,
        paths=paths,
    )
