"""Corpus statistics: counts per type, split and institution; no note text."""

from __future__ import annotations

import json

import pytest

from clinprompt.corpus.brat import Document, Entity, write_document
from clinprompt.corpus.schema import load_schema
from clinprompt.corpus.stats import (
    AnnotationCounts,
    corpus_statistics,
    dictionary_baseline,
    format_baseline,
    statistics_html,
    write_statistics,
)
from clinprompt.corpus.tables import CorpusPart, build_tables
from tests.test_corpus import drug_doc, sdoh_doc


def count_documents(docs) -> AnnotationCounts:
    counts = AnnotationCounts()
    for doc in docs:
        counts.add(doc)
    return counts


def test_count_documents_per_type():
    counts = count_documents([drug_doc("a"), drug_doc("b"), sdoh_doc("c")])
    assert counts.documents == 3
    assert counts.entities["Drug"] == 4 and counts.entities["Tobacco"] == 1
    assert counts.relations["Strength-Drug"] == 4
    assert counts.events == {"Tobacco": 1, "Alcohol": 1}
    assert counts.attributes == {"StatusTimeVal=none": 1}
    text = counts.format()
    assert text.splitlines()[0] == "documents\t3"
    assert "  Drug\t4" in text and "events\t2" in text


def test_statistics_table_and_html(tmp_path):
    for i in range(4):
        write_document(sdoh_doc(f"m{i}"), tmp_path / "m")
        write_document(sdoh_doc(f"u{i}"), tmp_path / "u")
    parts = [CorpusPart("train", "MIMIC", tmp_path / "m"), CorpusPart("test", "UW", tmp_path / "u")]
    tables, _ = build_tables(parts, load_schema("n2c2-2022-sdoh"), 0.25, 1)
    table = corpus_statistics(tables)
    assert list(table.columns) == ["train MIMIC", "dev MIMIC", "test UW", "total"]
    assert table.loc[("documents", "documents")].tolist() == [3, 1, 4, 8]
    assert table.loc[("relations", "Amount-Alcohol"), "total"] == 8
    assert table.loc[("attributes", "StatusTimeVal=none"), "test UW"] == 4
    html = statistics_html(table, "t")
    assert html.startswith("<!DOCTYPE html>") and "Amount-Alcohol" in html
    assert "denies" not in html and "beers" not in html


def uw_test_doc(doc_id: str) -> Document:
    """Two mention strings the drug_doc training notes have (Aspirin, daily), two they lack."""
    text = "Aspirin 325 mg daily for gout."
    spans = [("Drug", 0, 7), ("Strength", 8, 14), ("Frequency", 15, 20), ("Reason", 25, 29)]
    entities = [
        Entity.from_offsets(f"T{i}", kind, [(start, end)], text)
        for i, (kind, start, end) in enumerate(spans, start=1)
    ]
    return Document(doc_id, text, entities)


@pytest.fixture
def baseline_tables(tmp_path):
    for i in range(4):
        write_document(drug_doc(f"m{i}"), tmp_path / "m")
    write_document(uw_test_doc("u0"), tmp_path / "u")
    parts = [CorpusPart("train", "MIMIC", tmp_path / "m"), CorpusPart("test", "UW", tmp_path / "u")]
    tables, _ = build_tables(parts, load_schema("n2c2-2018"), 0.25, 1)
    return tables


def test_dictionary_baseline_seen_share_and_strict_f1(baseline_tables):
    baseline = dictionary_baseline(baseline_tables)
    # 4 test strings, 2 seen; dictionary finds Aspirin and daily: P 1, R 0.5
    assert baseline.to_dict("records") == [
        {"train_institution": "MIMIC", "test_institution": "UW", "test_strings": 4,
         "seen_share": 0.5, "dictionary_f1": pytest.approx(2 / 3)},
    ]  # fmt: skip
    assert format_baseline(baseline).splitlines() == [
        "train_institution\ttest_institution\ttest_strings\tseen_share\tdictionary_f1",
        "MIMIC\tUW\t4\t0.500\t0.667",
    ]
    assert dictionary_baseline(baseline_tables, training_splits=("none",)).empty


def test_statistics_page_reports_the_dictionary_baseline(baseline_tables, tmp_path):
    baseline_tables.write(tmp_path / "tables")
    write_statistics(tmp_path / "tables", tmp_path / "statistics.html", "t")
    html = (tmp_path / "statistics.html").read_text(encoding="utf-8")
    assert "Dictionary baseline" in html and "dictionary_f1" in html
    assert "<td>0.500</td>" in html and "<td>0.667</td>" in html
    assert "Aspirin" not in html and "gout" not in html


def test_statistics_page_counts_the_dropped_lines(baseline_tables, tmp_path):
    baseline_tables.write(tmp_path / "tables")
    validation = tmp_path / "validation.json"
    validation.write_text(json.dumps({"dropped_annotations": 0, "dropped": []}))
    write_statistics(tmp_path / "tables", tmp_path / "clean.html", "t", validation)
    assert "dropped" not in (tmp_path / "clean.html").read_text(encoding="utf-8")
    validation.write_text(json.dumps({"dropped_annotations": 2, "dropped": ["a:3: x", "a:4: y"]}))
    write_statistics(tmp_path / "tables", tmp_path / "statistics.html", "t", validation)
    html = (tmp_path / "statistics.html").read_text(encoding="utf-8")
    assert "2 invalid annotation lines were dropped" in html and "a:3" not in html
