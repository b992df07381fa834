"""Example settings, the example table's columns and the vocabulary a model needs (prompt types,
BIO labels, marker tokens)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import pyarrow as pa

from clinprompt.corpus.schema import DatasetSchema
from clinprompt.errors import ConfigError
from clinprompt.study import Strategy

PAIR_MARKERS = ("[s1]", "[e1]", "[s2]", "[e2]")
TRIGGER_MARKERS = ("[t]", "[/t]")
IGNORE_INDEX = -100

_INTS, _STRINGS = pa.list_(pa.int32()), pa.list_(pa.string())
EXAMPLE_SCHEMA = pa.schema(
    [
        ("example_id", pa.string()),
        ("document", pa.string()),
        ("split", pa.string()),
        ("institution", pa.string()),
        ("window", pa.int32()),
        ("task", pa.string()),
        ("query_type", pa.string()),
        ("prompt_index", pa.int32()),
        ("trigger_id", pa.string()),
        ("trigger_role", pa.string()),
        ("trigger_start", pa.int64()),
        ("trigger_end", pa.int64()),
        ("input_ids", _INTS),
        ("token_type_ids", pa.list_(pa.int8())),
        ("token_starts", _INTS),
        ("token_ends", _INTS),
        ("marker_positions", _INTS),
        ("answer_starts", _INTS),
        ("answer_ends", _INTS),
        ("answer_ids", _STRINGS),
        ("labels", pa.list_(pa.int16())),
        ("arg1_id", pa.string()),
        ("arg2_id", pa.string()),
        ("label", pa.int16()),
        ("labels_allowed", pa.list_(pa.bool_())),
        ("value_starts", _INTS),
        ("value_ends", _INTS),
        ("value_labels", pa.list_(pa.int16())),
    ]
)
_NULLABLE = {pa.int16(): pd.Int16Dtype(), pa.int32(): pd.Int32Dtype(), pa.int64(): pd.Int64Dtype()}

Span = tuple[str, int, int]  # (concept type, first token, last token) in the document


@dataclass(frozen=True)
class ExampleSettings:
    """How examples are cut: strategy, position budget, overlap, prompt and sampling options.

    `prompt_tokens` is the length of an input-mode soft prompt (0 for deep prompts);
    `negative_ratio` keeps at most ratio x positives of the empty-answer MRC rows of the
    train split (None keeps all); the chunk overlap is `stride`, capped at half a budget.
    `context_length` is the context tokens of every row whatever the strategy (None: as many
    as `max_length` leaves beside the hard query, see `context_tokens`); `trigger_markers`
    marks the trigger as `[t] .. [/t]` in hard relation rows too (soft rows always mark it).
    `max_span_width` is the span head's: longer gold answers are counted (`spans_too_long`).
    """

    strategy: str
    max_length: int = 512
    stride: int = 128
    prompt_tokens: int = 0
    negative_ratio: float | None = None
    seed: int = 0
    max_trigger_tokens: int = 16
    max_span_width: int = 32
    context_length: int | None = None
    trigger_markers: bool = True

    def __post_init__(self) -> None:
        if self.prompt_tokens and not self.kind.soft:
            raise ConfigError(f"prompt_tokens applies to soft prompts, not '{self.strategy}'")
        for name in ("max_length", "max_trigger_tokens", "max_span_width"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.stride < 0 or self.prompt_tokens < 0:
            raise ConfigError("stride and prompt_tokens must be >= 0")
        if self.context_length is not None and self.context_length < 3:
            raise ConfigError(f"context_length must be at least 3, got {self.context_length}")
        if self.negative_ratio is not None and self.negative_ratio < 0:
            raise ConfigError(f"negative_ratio must be >= 0, got {self.negative_ratio}")

    @property
    def kind(self) -> Strategy:
        """The strategy (checked)."""
        return Strategy.named(self.strategy)

    @property
    def markers(self) -> list[str]:
        """The marker tokens the strategy puts into its inputs."""
        if self.kind.entity_markers:
            return list(PAIR_MARKERS)
        return list(TRIGGER_MARKERS) if self.kind.soft or self.trigger_markers else []


@dataclass
class ExampleSet:
    """An example table, the marker tokens added to the tokenizer and diagnostic counts."""

    frame: pd.DataFrame
    added_tokens: list[str]
    counts: dict[str, int] = field(default_factory=dict)


# --------------------------------------------------------------------------- vocabulary


def prompt_types(schema: DatasetSchema) -> list[str]:
    """The soft prompts in `prompt_index` order: concept types, then relation types."""
    return [*schema.concept_types, *schema.relation_types]


def bio_label_names(schema: DatasetSchema) -> list[str]:
    """BIO label names by id: `O`, then `B-<type>`, `I-<type>` per concept type."""
    return ["O", *(f"{p}-{t}" for t in schema.concept_types for p in ("B", "I"))]


def add_marker_tokens(tokenizer, settings: ExampleSettings) -> list[int]:
    """Add the strategy's markers to the tokenizer as special tokens (idempotent); their ids.

    The model must then resize its input embeddings to `len(tokenizer)`.
    """
    markers = settings.markers
    if markers:
        tokenizer.add_tokens(markers, special_tokens=True)
    return [int(i) for i in tokenizer.convert_tokens_to_ids(markers)]
