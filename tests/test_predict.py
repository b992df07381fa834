"""Pair decoding keeps to the schema: a relation type is only predicted for its argument types."""

from __future__ import annotations

from clinprompt.predict import _pair_labels
from clinprompt.schema import load_schema


def test_pair_labels_allow_only_schema_valid_relation_types():
    schema = load_schema("n2c2-2022-sdoh")
    allowed = _pair_labels(schema, "StatusTime", "Alcohol")
    names = [name for name, ok in zip(schema.relation_types, allowed[1:], strict=True) if ok]
    assert allowed[0] and names == ["StatusTime-Alcohol"]
    assert _pair_labels(schema, "StatusTime", "Employment")[1:] == [
        name == "StatusTime-Employment" for name in schema.relation_types
    ]
    drug = load_schema("n2c2-2018")
    assert sum(_pair_labels(drug, "Dosage", "Drug")) == 2  # none + Dosage-Drug
    assert _pair_labels(drug, "Drug", "Dosage") == [True] + [False] * len(drug.relation_types)
