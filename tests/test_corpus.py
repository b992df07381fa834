"""Corpus tables: Parquet per annotation kind, keys, study view, dev carved from train only."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from clinprompt.corpus.brat import Attribute, Document, Entity, Event, Relation, write_document
from clinprompt.corpus.schema import load_schema
from clinprompt.corpus.tables import (
    CorpusPart,
    CorpusTables,
    SplitDraw,
    build_tables,
    carve_dev,
)
from clinprompt.corpus.validation import validate_parts
from clinprompt.errors import ConfigError, InvalidInputError

DRUG_TEXT = "Aspirin 81 mg daily.\nLisinopril 10\nmg for hypertension."
SDOH_TEXT = "Tobacco: denies. Alcohol: 2 beers daily."


def drug_doc(doc_id: str) -> Document:
    t = DRUG_TEXT
    entities = [
        Entity.from_offsets("T1", "Drug", [(0, 7)], t),
        Entity.from_offsets("T2", "Strength", [(8, 13)], t),
        Entity.from_offsets("T3", "Frequency", [(14, 19)], t),
        Entity.from_offsets("T4", "Drug", [(21, 31)], t),
        Entity.from_offsets("T5", "Strength", [(32, 34), (35, 37)], t),
        Entity.from_offsets("T6", "Reason", [(42, 54)], t),
    ]
    relations = [
        Relation("R1", "Strength-Drug", "T2", "T1"),
        Relation("R2", "Frequency-Drug", "T3", "T1"),
        Relation("R3", "Strength-Drug", "T5", "T4"),
        Relation("R4", "Reason-Drug", "T6", "T4"),
    ]
    return Document(doc_id, t, entities, relations)


def sdoh_doc(doc_id: str) -> Document:
    t = SDOH_TEXT
    entities = [
        Entity.from_offsets("T1", "Tobacco", [(0, 7)], t),
        Entity.from_offsets("T2", "StatusTime", [(9, 15)], t),
        Entity.from_offsets("T3", "Alcohol", [(17, 24)], t),
        Entity.from_offsets("T4", "Amount", [(26, 33)], t),
        Entity.from_offsets("T5", "Frequency", [(34, 39)], t),
    ]
    events = [
        Event("E1", "Tobacco", "T1", (("Status", "T2"),)),
        Event("E2", "Alcohol", "T3", (("Amount", "T4"), ("Frequency", "T5"))),
    ]
    return Document(doc_id, t, entities, events=events,
                    attributes=[Attribute("A1", "StatusTimeVal", "T2", "none")])  # fmt: skip


def write_corpus(folder: Path, make, names: list[str]) -> Path:
    for name in names:
        write_document(make(name), folder)
    return folder


@pytest.fixture
def drug_parts(tmp_path) -> list[CorpusPart]:
    train = write_corpus(tmp_path / "train", drug_doc, [f"d{i:02d}" for i in range(20)])
    test = write_corpus(tmp_path / "test", drug_doc, [f"t{i:02d}" for i in range(5)])
    return [CorpusPart("train", "MIMIC", train), CorpusPart("test", "MIMIC", test)]


def test_tables_hold_every_annotation_with_keys(drug_parts, tmp_path):
    tables, summary = build_tables(drug_parts, load_schema("n2c2-2018"), 0.2, 7)
    assert summary["documents"] == 25
    assert summary["line_counts"]["T"] == 25 * 6 and summary["line_counts"]["R"] == 25 * 4
    ents = tables.entities
    assert len(ents) == 150 and len(tables.relations) == 100
    first = ents[ents["document"] == "MIMIC/test/t00"].iloc[4]
    assert (first["type"], first["start"], first["end"]) == ("Strength", 32, 37)
    assert [dict(f) for f in first["fragments"]] == [
        {"start": 32, "end": 34},
        {"start": 35, "end": 37},
    ]
    assert first["text"] == "10 mg"
    tables.write(tmp_path / "tables")
    again = CorpusTables.read(tmp_path / "tables")
    pd.testing.assert_frame_equal(again.relations, tables.relations)
    assert list(again.entities.columns) == list(tables.entities.columns)


def test_dev_is_carved_from_train_only_and_deterministically(drug_parts):
    schema = load_schema("n2c2-2018")
    first, _ = build_tables(drug_parts, schema, 0.2, 7)
    second, _ = build_tables(drug_parts, schema, 0.2, 7)
    other, _ = build_tables(drug_parts, schema, 0.2, 8)
    docs = first.documents.set_index("document")["split"]
    assert (docs.filter(like="/test/") == "test").all()
    assert (docs == "dev").sum() == 4 and (docs == "train").sum() == 16
    assert docs.equals(second.documents.set_index("document")["split"])
    assert not docs.equals(other.documents.set_index("document")["split"])
    # annotation rows follow their document's split
    merged = first.entities.merge(first.documents[["document", "split"]], on="document")
    assert (merged["split_x"] == merged["split_y"]).all()


def test_carve_dev_per_institution():
    docs = pd.DataFrame({
        "document": [f"{inst}/train/{i}" for inst in ("A", "B") for i in range(10)] + ["A/test/0"],
        "split": ["train"] * 20 + ["test"],
        "institution": ["A"] * 10 + ["B"] * 10 + ["A"],
    })  # fmt: skip
    split = carve_dev(docs, 0.3, 1)
    assert split[:10].eq("dev").sum() == 3 and split[10:20].eq("dev").sum() == 3
    assert split.iloc[20] == "test"


def test_unsplit_folder_is_drawn_into_train_and_test_by_seed(tmp_path):
    folder = write_corpus(tmp_path / "all", drug_doc, [f"d{i:02d}" for i in range(20)])
    schema, part = load_schema("n2c2-2018"), CorpusPart(None, "PubMed", folder)

    def splits(draw: SplitDraw, **options) -> pd.Series:
        tables, _ = build_tables([part], schema, 0.25, 3, split_draw=draw, **options)
        return tables.documents.set_index("doc_id")["split"]

    first = splits(SplitDraw(0.2, 7))
    assert first.value_counts().to_dict() == {"train": 12, "test": 4, "dev": 4}
    assert first.equals(splits(SplitDraw(0.2, 7)))
    assert not first.equals(splits(SplitDraw(0.2, 8)))
    tables, _ = build_tables([part], schema, split_draw=SplitDraw(0.2, 7))
    assert {key for key in tables.documents["document"] if "/test/" in key} == {
        f"PubMed/test/{doc_id}" for doc_id in first.index[first == "test"]
    }
    # the draw reads file names only: a document left out as invalid moves no other to test
    corrupt(folder, "d05")
    kept = splits(SplitDraw(0.2, 7), skip_invalid=True)
    assert (kept == "test").equals(first.drop("d05") == "test")
    with pytest.raises(ConfigError, match="folder without a split, and no split draw given"):
        build_tables([part], schema)


def test_existing_dev_split_is_kept(drug_parts, tmp_path):
    dev = write_corpus(tmp_path / "dev", drug_doc, ["v0", "v1"])
    parts = [*drug_parts, CorpusPart("dev", "MIMIC", dev)]
    tables, _ = build_tables(parts, load_schema("n2c2-2018"), 0.2, 7)
    assert tables.documents["split"].value_counts().to_dict() == {"train": 20, "test": 5, "dev": 2}


def test_sdoh_events_become_relations_with_values(tmp_path):
    folder = write_corpus(tmp_path / "uw", sdoh_doc, ["s1"])
    tables, _ = build_tables([CorpusPart("test", "UW", folder)], load_schema("n2c2-2022-sdoh"))
    rels = tables.relations[["type", "arg1", "arg2"]].values.tolist()
    assert rels == [
        ["StatusTime-Tobacco", "T2", "T1"],
        ["Amount-Alcohol", "T4", "T3"],
        ["Frequency-Alcohol", "T5", "T3"],
    ]
    values = tables.entities.set_index("entity_id")["value"]
    assert values["T2"] == "none" and pd.isna(values["T4"])
    assert list(tables.events["arguments"].iloc[1]) == [
        {"role": "Amount", "id": "T4"}, {"role": "Frequency", "id": "T5"},
    ]  # fmt: skip
    assert set(tables.documents["institution"]) == {"UW"}


def corrupt(folder: Path, name: str) -> None:
    ann = folder / f"{name}.ann"
    ann.write_text(ann.read_text().replace("T2\tStrength 8 13", "T2\tStrength 8 x"))


def test_invalid_document_stops_or_is_skipped_whole(drug_parts):
    corrupt(drug_parts[0].path, "d03")
    schema = load_schema("n2c2-2018")
    with pytest.raises(InvalidInputError) as err:
        build_tables(drug_parts, schema)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"{drug_parts[0].path / 'd03.ann'}: invalid document (2 problems)")
    assert "d03.ann:2: non-integer offset in '8 x'" in message
    assert "R1 Arg1 points at missing id T2" in message
    tables, summary = build_tables(drug_parts, schema, skip_invalid=True)
    assert summary["skipped_invalid_documents"] == 1
    assert summary["documents"] == 24
    assert "MIMIC/train/d03" not in set(tables.documents["document"])


def test_validate_parts_writes_report_or_fails(drug_parts, tmp_path):
    schema = load_schema("n2c2-2018")
    report = validate_parts(drug_parts, schema, tmp_path / "ok.json")
    assert report["documents"] == 25 and report["errors"] == 0
    corrupt(drug_parts[0].path, "d01")
    corrupt(drug_parts[0].path, "d02")
    with pytest.raises(InvalidInputError, match=r"and 3 more errors in 2 documents"):
        validate_parts(drug_parts, schema, tmp_path / "bad.json")
    assert not (tmp_path / "bad.json").exists()
    report = validate_parts(drug_parts, schema, tmp_path / "skip.json", skip_invalid=True)
    assert report["invalid_documents"] == 2 and report["errors"] == 4


def test_drop_annotation_keeps_every_document_and_lists_each_dropped_line(drug_parts, tmp_path):
    # As in a real corpus: many documents with one bad line each (a relation to a missing id).
    names = ["d01", "d02", "d03"]
    for name in names:
        ann = drug_parts[0].path / f"{name}.ann"
        ann.write_text(ann.read_text() + "R9\tStrength-Drug Arg1:T2 Arg2:T99\n")
    schema = load_schema("n2c2-2018")
    tables, summary = build_tables(drug_parts, schema, on_invalid="drop_annotation")
    assert summary["documents"] == 25 and summary["dropped_annotations"] == 3
    assert summary["skipped_invalid_documents"] == 0
    assert "R9" not in set(tables.relations["relation_id"])
    report = validate_parts(drug_parts, schema, tmp_path / "v.json", on_invalid="drop_annotation")
    assert report["errors"] == 0 and report["dropped_annotations"] == 3
    assert json.loads((tmp_path / "v.json").read_text())["dropped"] == [
        f"{drug_parts[0].path / name}.ann:11: R9 Arg2 points at missing id T99" for name in names
    ]
    with pytest.raises(ConfigError, match="on_invalid: 'drop' is not one of stop, drop_annotation"):
        build_tables(drug_parts, schema, on_invalid="drop")


def test_missing_folder_and_duplicate_documents(drug_parts, tmp_path):
    schema = load_schema("n2c2-2018")
    with pytest.raises(InvalidInputError, match="corpus folder not found"):
        build_tables([CorpusPart("train", "MIMIC", tmp_path / "nope")], schema)
    twice = [drug_parts[0], CorpusPart("train", "MIMIC", drug_parts[0].path)]
    with pytest.raises(InvalidInputError, match="document d00 also in"):
        build_tables(twice, schema)
