"""What each model accepts, as data, and the check that applies it before a request is sent.

- The model table (`._table`): `MODEL_RULES` per model and `OPERATION_RULES` per operation, the one place
  per model fact. The emulator, the command line's help and ``oai-images models`` read it too.
- The check (`._validate`): `validate` a request against its operation's schema (which the generator writes
  into each operation's `FieldInfo`) and its model's rules.
- The input images of edits and variations are checked as `ImageInfo`, which the facade reads from a file's
  first bytes (beside the check of them, in ``oai_images._uploads``) and the emulator from the decoded image.
"""

from .._uploads import ImageInfo
from ._table import (
    DEFAULT_GPT_MODEL,
    DEFAULT_MODEL,
    FREE_SIZE_RULE,
    GPT_CROSS_FIELD_RULES,
    MODEL_RULES,
    OPERATION_RULES,
    InputRules,
    ModelRules,
    OperationRules,
    Requires,
    effective_fields,
    free_size_problem,
    gpt_only_fields,
    operation_rules,
    parse_size,
    resolve_model,
)
from ._validate import FieldSchema, field_schemas, known_fields, validate

__all__ = [
    "DEFAULT_GPT_MODEL",
    "DEFAULT_MODEL",
    "FREE_SIZE_RULE",
    "GPT_CROSS_FIELD_RULES",
    "MODEL_RULES",
    "OPERATION_RULES",
    "FieldSchema",
    "ImageInfo",
    "InputRules",
    "ModelRules",
    "OperationRules",
    "Requires",
    "effective_fields",
    "field_schemas",
    "free_size_problem",
    "gpt_only_fields",
    "known_fields",
    "operation_rules",
    "parse_size",
    "resolve_model",
    "validate",
]
