"""Corpus statistics: counts per type, split and institution; no note text."""

from __future__ import annotations

from clinprompt.corpus import build_tables
from clinprompt.stats import corpus_statistics, count_documents, statistics_html
from tests.test_corpus import drug_doc, sdoh_doc


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
    from clinprompt.brat import write_document
    from clinprompt.corpus import CorpusPart
    from clinprompt.schema import load_schema

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
