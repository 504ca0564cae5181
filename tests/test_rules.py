"""The rules table: Get-OAIImageGeneration's rules exactly, today's models, agreement with generated code."""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

import attrs
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from oai_images_api.api.images import CREATE_IMAGE, CREATE_IMAGE_EDIT, CREATE_IMAGE_VARIATION
from oai_images_api.models import CreateImageEditRequest, CreateImageRequest, SvgOptions, SvgOptionsReasoning
from oai_images_api.models.image_model import ImageModel
from oai_images_api.models.image_size import ImageSize
from oai_images_api.models.input_fidelity import InputFidelity

from oai_images import InvalidParameterError
from oai_images.rules import (
    DEFAULT_MODEL,
    MODEL_RULES,
    OPERATION_RULES,
    ImageInfo,
    field_schemas,
    gpt_only_fields,
    parse_size,
    resolve_model,
    validate,
)

FIELDS = field_schemas(CREATE_IMAGE)
GPT_ONLY_FIELDS = gpt_only_fields()
# The fields whose values are a closed enum in the generated code (model and size are open).
_ENUM_FIELDS = tuple(name for name, rule in FIELDS.items() if rule.values and "str" not in rule.kinds)


def validate_request(fields: dict[str, Any]) -> None:
    """The rules' check of a generation request."""
    validate(CREATE_IMAGE, fields)


ROOT = Path(__file__).resolve().parent.parent

# The Get-OAIImageGeneration function of the PSAI PowerShell module: the values its parameters take.
SEED_MODELS = ("dall-e-2", "dall-e-3")
SEED_SIZES = ("256x256", "512x512", "1024x1024", "1792x1024", "1024x1792")
SEED_QUALITIES = ("standard", "hd")
SEED_STYLES = ("vivid", "natural")
SEED_FORMATS = ("url", "b64_json")


def _rejects(fields: dict[str, Any]) -> InvalidParameterError:
    with pytest.raises(InvalidParameterError) as caught:
        validate_request(fields)
    return caught.value


@pytest.mark.parametrize("size", ["256x256", "512x512", "1024x1024"])
@pytest.mark.parametrize("n", [1, 5, 10])
def test_seed_dall_e_2_accepts_its_sizes_and_n(size: str, n: int) -> None:
    """dall-e-2: sizes 256x256, 512x512, 1024x1024 and n from 1 to 10."""
    validate_request({"prompt": "p", "model": "dall-e-2", "size": size, "n": n})


@pytest.mark.parametrize("size", ["1024x1024", "1792x1024", "1024x1792"])
@pytest.mark.parametrize("quality", SEED_QUALITIES)
@pytest.mark.parametrize("style", SEED_STYLES)
@pytest.mark.parametrize("response_format", SEED_FORMATS)
def test_seed_dall_e_3_accepts_its_values(size: str, quality: str, style: str, response_format: str) -> None:
    """dall-e-3: its three sizes, standard/hd, vivid/natural, url/b64_json, with n=1."""
    validate_request(
        {
            "prompt": "p",
            "model": "dall-e-3",
            "n": 1,
            "size": size,
            "quality": quality,
            "style": style,
            "response_format": response_format,
            "user": "user-123",
        }
    )


def test_seed_dall_e_2_size_message_names_model_and_allowed() -> None:
    """The message names the parameter, the value, the model and the allowed sizes in documented order."""
    error = _rejects({"prompt": "p", "model": "dall-e-2", "size": "1792x1024"})
    assert (error.param, error.value) == ("size", "1792x1024")
    assert error.allowed == ("256x256", "512x512", "1024x1024")
    assert str(error) == "size '1792x1024' is not valid for dall-e-2; allowed: 256x256, 512x512, 1024x1024"


@pytest.mark.parametrize(
    ("fields", "param", "allowed"),
    [
        ({"model": "dall-e-3", "n": 2}, "n", ("1",)),
        ({"model": "dall-e-2", "n": 11}, "n", ("an integer from 1 to 10",)),
        ({"model": "dall-e-2", "n": 0}, "n", ("an integer from 1 to 10",)),
        ({"model": "dall-e-2", "style": "vivid"}, "style", ()),
        ({"model": "dall-e-2", "quality": "hd"}, "quality", ("standard",)),
        ({"model": "dall-e-3", "size": "256x256"}, "size", ("1024x1024", "1792x1024", "1024x1792")),
        ({"model": "dall-e-3", "style": "dramatic"}, "style", ("vivid", "natural")),
        ({"model": "dall-e-3", "response_format": "json"}, "response_format", ("url", "b64_json")),
        ({"model": "dall-e-3", "quality": "high"}, "quality", ("standard", "hd")),
        ({"model": "dall-e-3", "prompt": "x" * 4001}, "prompt", ("at most 4000 characters",)),
        ({"model": "dall-e-2", "prompt": "x" * 1001}, "prompt", ("at most 1000 characters",)),
        ({"model": "dall-e-3", "background": "opaque"}, "background", ()),
        ({"model": "dall-e-2", "output_format": "png"}, "output_format", ()),
        ({"model": "dall-e-3", "stream": True}, "stream", ()),
    ],
)
def test_seed_rules_reject(fields: dict[str, Any], param: str, allowed: tuple[str, ...]) -> None:
    """Each seed rule rejects with the parameter and the allowed values."""
    error = _rejects({"prompt": "p", **fields})
    assert error.param == param
    assert error.allowed == allowed
    assert param in str(error)


def test_no_model_means_dall_e_2_rules() -> None:
    """With no model, the API's documented default dall-e-2 applies, and the message says so."""
    validate_request({"prompt": "p", "size": "512x512", "n": 10})
    error = _rejects({"prompt": "p", "style": "natural"})
    assert "dall-e-2 (the API's default model when none is given)" in str(error)
    assert resolve_model({"prompt": "p"}) == DEFAULT_MODEL == "dall-e-2"


def test_no_model_with_a_gpt_only_field_means_gpt_rules() -> None:
    """A GPT-only field without a model switches the API's default to a GPT image model."""
    validate_request({"prompt": "p", "background": "transparent", "size": "1536x1024"})
    assert _rejects({"prompt": "p", "output_format": "webp", "size": "512x512"}).param == "size"


@pytest.mark.parametrize(
    "model", ["gpt-image-1", "gpt-image-1-mini", "gpt-image-1.5", "gpt-image-2", "gpt-image-2.5-flare"]
)
def test_gpt_models_accept_their_common_fields(model: str) -> None:
    """Every GPT image model takes the named sizes, the GPT qualities and the GPT-only fields."""
    for size in ("1024x1024", "1536x1024", "1024x1536", "auto"):
        for quality in ("low", "medium", "high", "auto"):
            validate_request(
                {
                    "prompt": "p" * 32000,
                    "model": model,
                    "size": size,
                    "quality": quality,
                    "n": 10,
                    "background": "transparent",
                    "moderation": "low",
                    "output_format": "webp",
                    "output_compression": 0,
                    "safety_identifier": "h",
                }
            )


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"model": "gpt-image-1", "response_format": "b64_json"}, "response_format"),
        ({"model": "gpt-image-1", "style": "vivid"}, "style"),
        ({"model": "gpt-image-1", "quality": "hd"}, "quality"),
        ({"model": "gpt-image-1.5", "size": "1536x864"}, "size"),
        ({"model": "gpt-image-2", "quality": "xhigh"}, "quality"),
        ({"model": "gpt-image-1", "prompt": "p" * 32001}, "prompt"),
        ({"model": "gpt-image-1", "background": "transparent", "output_format": "jpeg"}, "background"),
        ({"model": "gpt-image-1", "output_compression": 50}, "output_compression"),
        ({"model": "gpt-image-1", "output_compression": 50, "output_format": "png"}, "output_compression"),
        ({"model": "gpt-image-1", "output_compression": 101, "output_format": "jpeg"}, "output_compression"),
        ({"model": "gpt-image-1", "partial_images": 2}, "partial_images"),
        ({"model": "gpt-image-1", "stream": True, "partial_images": 4}, "partial_images"),
        ({"model": "gpt-image-2.5-flare", "frame_count": 4}, "frame_count"),
        ({"model": "gpt-image-2.5-flare", "output_format": "gif", "frame_count": 17}, "frame_count"),
        ({"model": "gpt-image-2.5-flare", "svg": {"model": "m"}}, "svg"),
        ({"model": "gpt-image-2.5-flare", "output_format": "svg", "n": 2}, "n"),
        ({"model": "gpt-image-2.6-flare", "quality": "max"}, "quality"),
        ({"model": "chatgpt-image-latest", "quality": "xhigh"}, "quality"),
        ({"model": "gpt-image-2.5-flare", "output_format": "svg", "svg": {"reasoning": "high"}}, "svg"),
        ({"model": "gpt-image-2.5-flare", "output_format": "svg", "svg": {"bogus": 1}}, "svg"),
        (
            {"model": "gpt-image-2.5-flare", "output_format": "svg", "svg": {"reasoning": {"effort": 5}}},
            "svg",
        ),
        ({"model": "gpt-image-1", "prompt": "a \ud800 fox"}, "prompt"),
    ],
)
def test_gpt_rules_reject(fields: dict[str, Any], param: str) -> None:
    """Cross-field and per-model rules of the GPT image models."""
    assert _rejects({"prompt": "p", **fields}).param == param


@pytest.mark.parametrize(
    ("size", "problem"),
    [
        ("1000x1000", "multiples of 16"),
        ("3856x1024", "aspect ratio"),
        ("512x1600", "aspect ratio"),
        ("3840x2176", "largest size"),
        ("4096x2048", "largest size"),
        ("big", None),
    ],
)
def test_free_sizes_reject_outside_the_rule(size: str, problem: str | None) -> None:
    """gpt-image-2's free sizes: multiples of 16, ratio within 1:3..3:1, at most 3840x2160."""
    error = _rejects({"prompt": "p", "model": "gpt-image-2", "size": size})
    assert error.param == "size"
    if problem:
        assert problem in str(error)


@pytest.mark.parametrize("size", ["1536x864", "3840x2160", "2160x3840", "3840x1280", "16x48", "2880x2880"])
def test_free_sizes_accept_inside_the_rule(size: str) -> None:
    """Sizes inside the free-size rule pass for gpt-image-2 and later."""
    for model in ("gpt-image-2", "gpt-image-2-2026-04-21", "gpt-image-2.5-sunburst", "gpt-image-2.6-flare"):
        validate_request({"prompt": "p", "model": model, "size": size})


def test_preview_formats_are_open_to_every_gpt_model() -> None:
    """GIF and SVG (preview formats tied to no model by the reference) pass for GPT models, not dall-e."""
    for model in ("gpt-image-1", "gpt-image-2", "gpt-image-2.6-sunburst", "chatgpt-image-latest"):
        validate_request({"prompt": "p", "model": model, "output_format": "gif", "frame_count": 4})
        validate_request(
            {"prompt": "p", "model": model, "output_format": "svg", "svg": {"reasoning": {"effort": "low"}}}
        )
    assert _rejects({"prompt": "p", "model": "dall-e-3", "output_format": "gif"}).param == "output_format"


def test_svg_keys_are_the_generated_models_fields() -> None:
    """The nested svg check knows exactly the fields of the generated SvgOptions and its reasoning."""
    svg = FIELDS["svg"].nested
    assert svg is not None
    assert {f.name for f in attrs.fields(SvgOptions)} - {"additional_properties"} == set(svg)
    reasoning = {f.name for f in attrs.fields(SvgOptionsReasoning)} - {"additional_properties"}
    assert svg["reasoning"].nested is not None
    assert reasoning == set(svg["reasoning"].nested)


def test_unknown_model_gets_only_model_independent_checks() -> None:
    """A compatible server's own model: any WxH size and n, but schema enums and ranges still hold."""
    validate_request(
        {"prompt": "p", "model": "my-server-model", "size": "999x777", "style": "vivid", "n": 10}
    )
    assert resolve_model({"prompt": "p", "model": "my-server-model"}) is None
    assert _rejects({"prompt": "p", "model": "my-server-model", "quality": "ultra"}).param == "quality"
    assert _rejects({"prompt": "p", "model": "my-server-model", "n": 11}).param == "n"
    assert _rejects({"prompt": "p", "model": "my-server-model", "size": "huge"}).param == "size"


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({}, "prompt"),
        ({"prompt": ""}, "prompt"),
        ({"prompt": 5}, "prompt"),
        ({"prompt": "p", "model": ""}, "model"),
        ({"prompt": "p", "n": True}, "n"),
        ({"prompt": "p", "n": 1.0}, "n"),
        ({"prompt": "p", "n": None}, "n"),
        ({"prompt": "p", "user": 7}, "user"),
        ({"prompt": "p", "stream": "yes"}, "stream"),
        ({"prompt": "p", "svg": "x"}, "svg"),
        ({"prompt": "p", "seed": 3}, "seed"),
    ],
)
def test_schema_rejects_wrong_types_and_unknown_fields(fields: dict[str, Any], param: str) -> None:
    """Types, required prompt and unknown field names are checked for every model."""
    assert _rejects(fields).param == param


def test_long_values_are_shortened_in_messages() -> None:
    """A long rejected value is shortened in the message, not printed whole."""
    error = _rejects({"prompt": "p", "model": "my-model", "size": "x" * 500})
    assert len(str(error)) < 300
    assert error.value == "x" * 500


def test_parse_size() -> None:
    """parse_size reads WxH and refuses anything else."""
    assert parse_size("1536x864") == (1536, 864)
    for text in ("auto", "1536X864", "0x10", "10x", "x10", " 10x10", "10x10 ", "-16x16"):
        assert parse_size(text) is None


# --- agreement with the generated code and the spec -------------------------------------------------


def test_table_names_exactly_the_generated_models() -> None:
    """Every model of the generated ImageModel enum has rules, and the table names no other."""
    assert set(MODEL_RULES) == set(get_args(ImageModel))


def test_table_values_exist_in_the_generated_enums() -> None:
    """Every value in the table is a member of the generated enum of its field."""
    for model, rules in MODEL_RULES.items():
        for field in _ENUM_FIELDS:
            assert set(rules.allowed(field)) <= set(FIELDS[field].values), (model, field)
        assert set(rules.sizes) <= set(get_args(ImageSize)), model


def test_generated_enum_values_are_all_covered() -> None:
    """Every member of every generated enum is accepted by some model, so no spec value is forgotten."""
    for field in _ENUM_FIELDS:
        covered = {value for rules in MODEL_RULES.values() for value in rules.allowed(field)}
        assert covered == set(FIELDS[field].values), field
    sizes = {size for rules in MODEL_RULES.values() for size in rules.sizes}
    assert sizes == set(get_args(ImageSize))


def test_fields_are_the_generated_request_fields() -> None:
    """The rules cover exactly the fields of the generated CreateImageRequest; GPT-only fields exist."""
    generated = {field.name for field in attrs.fields(CreateImageRequest)} - {"additional_properties"}
    assert set(FIELDS) == generated
    edit_fields = {field.name for field in attrs.fields(CreateImageEditRequest)}
    assert set(GPT_ONLY_FIELDS) <= generated | edit_fields


def test_ranges_agree_with_the_spec() -> None:
    """Integer ranges in FIELDS are the spec's minimum and maximum (the generator does not emit them)."""
    spec = yaml.safe_load((ROOT / "openapi" / "images.yaml").read_text())
    properties = spec["components"]["schemas"]["CreateImageRequest"]["properties"]
    for name, rule in FIELDS.items():
        if "int" not in rule.kinds:
            continue
        schema = properties[name]
        schema = next((s for s in schema.get("anyOf", [schema]) if s.get("type") == "integer"), schema)
        assert rule.info is not None, name
        assert (rule.info.minimum, rule.info.maximum) == (schema.get("minimum"), schema.get("maximum")), name


# --- Get-OAIImageGeneration as a property: the rules accept exactly what it allows ----------------


def _seed_allows(model: str, size: str, n: int, quality: str | None, style: str | None) -> bool:
    """An oracle written from Get-OAIImageGeneration's rules, independent of the table."""
    if model == "dall-e-2":
        sizes_ok = size in ("256x256", "512x512", "1024x1024")
        # Get-OAIImageGeneration: quality and style are only supported for dall-e-3; today's spec adds
        # "standard is the only option for dall-e-2".
        return sizes_ok and 1 <= n <= 10 and quality in (None, "standard") and style is None
    return size in ("1024x1024", "1792x1024", "1024x1792") and n == 1


@given(
    model=st.sampled_from(SEED_MODELS),
    size=st.sampled_from(SEED_SIZES),
    n=st.integers(min_value=1, max_value=10),
    quality=st.none() | st.sampled_from(SEED_QUALITIES),
    style=st.none() | st.sampled_from(SEED_STYLES),
    response_format=st.none() | st.sampled_from(SEED_FORMATS),
)
def test_seed_space_accepted_exactly_as_documented(
    model: str, size: str, n: int, quality: str | None, style: str | None, response_format: str | None
) -> None:
    """Across Get-OAIImageGeneration's whole parameter space, a request passes iff it allows it."""
    optional = {"quality": quality, "style": style, "response_format": response_format}
    fields = {"prompt": "p", "model": model, "size": size, "n": n}
    fields.update({key: value for key, value in optional.items() if value is not None})
    try:
        validate_request(fields)
        accepted = True
    except InvalidParameterError:
        accepted = False
    assert accepted == _seed_allows(model, size, n, quality, style)


def _accepted(fields: dict[str, Any]) -> bool:
    try:
        validate_request(fields)
    except InvalidParameterError:
        return False
    return True


_SIDES = st.one_of(
    st.integers(min_value=1, max_value=5000), st.integers(min_value=1, max_value=320).map((16).__mul__)
)


@given(width=_SIDES, height=_SIDES)
def test_free_sizes_accepted_exactly_as_documented(width: int, height: int) -> None:
    """gpt-image-2 takes a WxH iff both sides are multiples of 16, 1:3 to 3:1, at most 3840x2160."""
    documented = (
        width % 16 == 0
        and height % 16 == 0
        and max(width, height) <= 3 * min(width, height)
        and max(width, height) <= 3840
        and width * height <= 3840 * 2160
    )
    fields = {"prompt": "p", "model": "gpt-image-2", "size": f"{width}x{height}"}
    assert _accepted(fields) == documented
    named = f"{width}x{height}" in ("1024x1024", "1536x1024", "1024x1536")
    assert _accepted({**fields, "model": "gpt-image-1.5"}) == named


@given(
    output_format=st.none() | st.sampled_from(["png", "jpeg", "webp"]),
    background=st.none() | st.sampled_from(["transparent", "opaque", "auto"]),
    output_compression=st.none() | st.integers(min_value=0, max_value=100),
)
def test_gpt_format_rules_accepted_exactly_as_documented(
    output_format: str | None, background: str | None, output_compression: int | None
) -> None:
    """Compression only with jpeg/webp (its API default, 100, with any format); transparency only with
    png/webp (png being the default)."""  # noqa: D205, D209
    chosen = {
        "output_format": output_format,
        "background": background,
        "output_compression": output_compression,
    }
    fields = {"prompt": "p", "model": "gpt-image-1", **{k: v for k, v in chosen.items() if v is not None}}
    effective = output_format or "png"
    documented = (output_compression in (None, 100) or effective in ("jpeg", "webp")) and (
        background != "transparent" or effective in ("png", "webp")
    )
    assert _accepted(fields) == documented


# --- input images of edits and variations (issue 11) ----------------------------------------------


_MB = 1024 * 1024


def _documented_input_ok(model: str, image: ImageInfo, mask: ImageInfo | None) -> bool:
    """The documented input rules, written out independently of the table."""
    if model == "dall-e-2":
        ok = image.format == "png" and image.byte_size < 4 * _MB and image.width == image.height
        ok = ok and (mask is not None or image.has_alpha)
    else:
        ok = image.format in ("png", "webp", "jpeg") and image.byte_size < 50 * _MB
    if mask is not None:
        ok = ok and mask.format == "png" and mask.byte_size < 4 * _MB and mask.has_alpha
        ok = ok and (mask.width, mask.height) == (image.width, image.height)
    return ok


_images = st.builds(
    ImageInfo,
    format=st.sampled_from(["png", "jpeg", "webp", "gif", ""]),
    width=st.sampled_from([64, 128]),
    height=st.sampled_from([64, 128]),
    byte_size=st.sampled_from([1000, 4 * _MB - 1, 4 * _MB, 50 * _MB - 1, 50 * _MB]),
    has_alpha=st.booleans(),
)


@given(
    model=st.sampled_from(["dall-e-2", "gpt-image-1", "gpt-image-1.5", "gpt-image-2"]),
    image=_images,
    mask=st.none() | _images,
)
def test_edit_inputs_accepted_exactly_as_documented(
    model: str, image: ImageInfo, mask: ImageInfo | None
) -> None:
    """For any image and mask, validate accepts an edit exactly when the documented input rules hold."""
    fields: dict[str, object] = {"prompt": "p", "image": image, "model": model}
    if mask is not None:
        fields["mask"] = mask
    if _documented_input_ok(model, image, mask):
        validate(CREATE_IMAGE_EDIT, fields)
    else:
        with pytest.raises(InvalidParameterError) as caught:
            validate(CREATE_IMAGE_EDIT, fields)
        assert caught.value.param in ("image", "mask")


def test_operation_rules_name_who_can_edit_and_vary() -> None:
    """dall-e-3 cannot edit, JSON edits are GPT-only, and only dall-e-2 makes variations."""
    assert "dall-e-3" not in OPERATION_RULES["create_image_edit"].models()
    assert "dall-e-2" in OPERATION_RULES["create_image_edit"].models()
    assert "dall-e-2" not in OPERATION_RULES["create_image_edit_json"].models()
    assert OPERATION_RULES["create_image_variation"].models() == ("dall-e-2",)
    assert resolve_model({}, CREATE_IMAGE_EDIT) == "gpt-image-1.5"
    assert resolve_model({}, CREATE_IMAGE_VARIATION) == "dall-e-2"


def test_input_fidelity_values_exist_in_the_generated_enum() -> None:
    """The table's input_fidelity values are members of the generated InputFidelity."""
    for rules in MODEL_RULES.values():
        assert set(rules.allowed("input_fidelity")) <= set(get_args(InputFidelity))


# --- options checked once for many prompts ------------------------------------------------------------


def test_options_that_passed_still_check_each_new_prompt() -> None:
    """Options remembered as valid spare only their own checks: every prompt is still checked, for its
    type, its blankness and the model's length (dall-e-2: 1000 characters)."""  # noqa: D205, D209
    options = {"model": "dall-e-2", "size": "256x256", "n": 2}
    validate(CREATE_IMAGE, {"prompt": "a lighthouse", **options})
    validate(CREATE_IMAGE, {"prompt": "x" * 1000, **options})
    with pytest.raises(InvalidParameterError, match="prompt is 1001 characters long; dall-e-2 accepts"):
        validate(CREATE_IMAGE, {"prompt": "x" * 1001, **options})
    with pytest.raises(InvalidParameterError) as blank:
        validate(CREATE_IMAGE, {"prompt": "   ", **options})
    assert blank.value.param == "prompt"
    with pytest.raises(InvalidParameterError) as surrogate:
        validate(CREATE_IMAGE, {"prompt": "\ud800", **options})
    assert surrogate.value.param == "prompt"
    # gpt-image-1 takes 32000 characters: the same prompt passes with other options.
    validate(CREATE_IMAGE, {"prompt": "x" * 1001, "model": "gpt-image-1", "size": "1024x1024"})


def test_options_are_remembered_by_value_and_type() -> None:
    """A remembered combination is never mistaken for another: True is not 1, "2" is not 2."""
    validate(CREATE_IMAGE, {"prompt": "p", "model": "gpt-image-1", "n": 1})
    with pytest.raises(InvalidParameterError) as boolean:
        validate(CREATE_IMAGE, {"prompt": "p", "model": "gpt-image-1", "n": True})
    assert boolean.value.param == "n"
    with pytest.raises(InvalidParameterError) as text:
        validate(CREATE_IMAGE, {"prompt": "p", "model": "gpt-image-1", "n": "1"})
    assert text.value.param == "n"
    with pytest.raises(InvalidParameterError) as size:
        validate(CREATE_IMAGE, {"prompt": "p", "model": "gpt-image-1", "n": 1, "size": "256x256"})
    assert size.value.param == "size"


_PROMPTS = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", " ", "\t\n", "\ud800", "a\udfff", "x" * 999, "x" * 1000, "x" * 1001, "x" * 4001]),
    st.builds(lambda n: "y" * n, st.integers(min_value=3990, max_value=4010)),
)


@given(prompts=st.lists(_PROMPTS, min_size=1, max_size=6), model=st.sampled_from(sorted(MODEL_RULES)))
def test_remembered_options_judge_every_prompt_as_the_whole_check_does(
    prompts: list[str], model: str
) -> None:
    """With its options remembered, a prompt passes or fails exactly as under the whole check (run without
    the memory), and a failure names the prompt."""  # noqa: D205, D209
    from oai_images.rules import _validate as checks

    for prompt in prompts:
        fields = {"prompt": prompt, "model": model}
        try:
            checks._validate(CREATE_IMAGE, fields)
        except InvalidParameterError as exc:
            whole: str | None = exc.param
        else:
            whole = None
        if whole is None:
            validate(CREATE_IMAGE, fields)
        else:
            with pytest.raises(InvalidParameterError) as remembered:
                validate(CREATE_IMAGE, fields)
            assert remembered.value.param == whole
