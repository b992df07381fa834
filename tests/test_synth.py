"""The synthetic embedded corpora: deterministic, schema-valid, and as hard as promised."""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from itertools import pairwise
from pathlib import Path

import pytest

from clinprompt.brat import Document, Entity, iter_ann_files, read_document, validate_corpus
from clinprompt.errors import ConfigError
from clinprompt.schema import load_schema
from clinprompt.synth import CANARY_IDENTIFIERS, KINDS, write_synthetic_corpus
from clinprompt.synth_drug_lexicon import MEDICATIONS
from clinprompt.synth_note import CANARY_NAMES, CANARY_RECORD_NUMBERS

SEED = 11
# A sentence ends at a period followed by white space, or at a blank line / list line end.
SENTENCE_END = re.compile(r"\.\s|\n\n|\n(?=\d+\. )")


@pytest.fixture(scope="module")
def corpora(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Both corpora at their default sizes."""
    root = tmp_path_factory.mktemp("synth")
    for kind in KINDS:
        write_synthetic_corpus(kind, root / kind, seed=SEED)
    return {kind: root / kind for kind in KINDS}


def load(folder: Path) -> list[Document]:
    """Every document of one BRAT folder."""
    return [read_document(path)[0] for path in iter_ann_files(folder)]


def tree_digest(root: Path) -> str:
    """One hash over every file's relative path and bytes."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def covered(entity: Entity) -> set[int]:
    """Character positions of an entity's fragments."""
    return {i for start, end in entity.fragments for i in range(start, end)}


def sentence_of(text: str, offset: int) -> int:
    """Index of the sentence that holds `offset`."""
    return len(SENTENCE_END.findall(text[:offset]))


# --------------------------------------------------------------------------- contract


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_same_seed_gives_byte_identical_corpus(kind: str, tmp_path: Path) -> None:
    documents = {"train": 6, "dev": 2, "test": 3}
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        write_synthetic_corpus(kind, tmp_path / name, seed=seed, documents=documents)
    assert tree_digest(tmp_path / "a") == tree_digest(tmp_path / "b")
    assert tree_digest(tmp_path / "a") != tree_digest(tmp_path / "c")


def test_default_layout_and_summary(tmp_path: Path) -> None:
    summary = write_synthetic_corpus("sdoh", tmp_path, seed=1)
    parts = {(p["split"], p["institution"]): p["documents"] for p in summary["parts"]}
    assert parts == {("train", "MIMIC"): 30, ("train", "UW"): 30, ("test", "MIMIC"): 15,
                     ("test", "UW"): 15}  # fmt: skip
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.glob("*/*")) == [
        "test/MIMIC", "test/UW", "train/MIMIC", "train/UW",
    ]  # fmt: skip
    assert len(list((tmp_path / "train" / "UW").glob("*.ann"))) == 30
    assert all(p["events"] > 0 and p["entities"] > 0 for p in summary["parts"])


def test_rerun_with_fewer_documents_leaves_no_stale_files(tmp_path: Path) -> None:
    write_synthetic_corpus("drug_ade", tmp_path, documents={"train": 5, "test": 0})
    write_synthetic_corpus("drug_ade", tmp_path, documents={"train": 3, "test": 0})
    assert len(list((tmp_path / "train" / "MIMIC").iterdir())) == 6


@pytest.mark.parametrize(
    ("kind", "documents", "institutions", "message"),
    [
        ("notes", None, None, "unknown synthetic corpus kind 'notes'"),
        ("sdoh", {"validation": 3}, None, "unknown split 'validation'"),
        ("sdoh", {"train": -1}, None, "documents.train"),
        ("drug_ade", None, ["UW"], "no notes for institution 'UW'"),
    ],
)
def test_bad_request_is_a_config_error(kind, documents, institutions, message, tmp_path) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        write_synthetic_corpus(kind, tmp_path, documents=documents, institutions=institutions)


def test_cli_prints_counts_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from clinprompt.cli import main

    status = main(["synth", "drug_ade", str(tmp_path), "--seed", "3", "--train", "2",
                   "--dev", "1", "--test", "1"])  # fmt: skip
    out = capsys.readouterr().out
    assert status == 0
    assert out.splitlines()[0].split("\t")[:3] == ["split", "institution", "documents"]
    assert [line.split("\t")[:3] for line in out.splitlines()[1:]] == [
        ["train", "MIMIC", "2"], ["dev", "MIMIC", "1"], ["test", "MIMIC", "1"],
    ]  # fmt: skip
    assert not any(canary in out for canary in CANARY_IDENTIFIERS)


# --------------------------------------------------------------------------- validity


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_document_is_schema_valid(kind: str, corpora: dict[str, Path]) -> None:
    schema = load_schema(KINDS[kind].schema)
    folders = sorted(corpora[kind].glob("*/*"))
    assert folders
    for folder in folders:
        assert validate_corpus(folder, schema) == []


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_canaries_in_every_header_and_never_annotated(kind, corpora) -> None:
    for folder in sorted(corpora[kind].glob("*/*")):
        for doc in load(folder):
            header = "\n".join(doc.text.split("\n")[:3])
            assert any(name in header for name in CANARY_NAMES), doc.doc_id
            assert any(number in header for number in CANARY_RECORD_NUMBERS), doc.doc_id
            assert not any(c in e.text for e in doc.entities for c in CANARY_IDENTIFIERS)


# --------------------------------------------------------------------------- drug-ADE phenomena


@pytest.fixture(scope="module")
def drug_docs(corpora: dict[str, Path]) -> list[Document]:
    return load(corpora["drug_ade"] / "train" / "MIMIC") + load(
        corpora["drug_ade"] / "test" / "MIMIC"
    )


def test_drug_ade_discontinuous_and_line_crossing_mentions(drug_docs) -> None:
    multi = [(d, e) for d in drug_docs for e in d.entities if len(e.fragments) > 1]
    at_newline = [
        e for d, e in multi
        if any("\n" in d.text[a[1] : b[0]] for a, b in pairwise(e.fragments))
    ]  # fmt: skip
    gapped = [
        e for d, e in multi
        if any(d.text[a[1] : b[0]].strip() for a, b in pairwise(e.fragments))
    ]  # fmt: skip
    assert len(at_newline) >= 5
    assert len(gapped) >= 3  # "metoprolol [tartrate was changed to] succinate"


def test_drug_ade_nested_and_overlapping_entities(drug_docs) -> None:
    kinds: Counter[str] = Counter()
    for doc in drug_docs:
        for i, a in enumerate(doc.entities):
            for b in doc.entities[i + 1 :]:
                if covered(a) & covered(b):
                    kinds["same type" if a.type == b.type else "different types"] += 1
                    if covered(a) <= covered(b) or covered(b) <= covered(a):
                        kinds["nested"] += 1
    assert kinds["nested"] >= 3 and kinds["same type"] >= 3 and kinds["different types"] >= 3


def test_drug_ade_relations_within_and_across_sentences(drug_docs) -> None:
    across, crowded = 0, 0
    for doc in drug_docs:
        sentence = {e.id: sentence_of(doc.text, e.start) for e in doc.entities}
        across += sum(sentence[r.arg1] != sentence[r.arg2] for r in doc.relations)
        # drugs that have an attribute in their own sentence, per sentence
        described = {(sentence[r.arg2], r.arg2) for r in doc.relations
                     if sentence[r.arg1] == sentence[r.arg2]}  # fmt: skip
        crowded += sum(n >= 2 for n in Counter(s for s, _ in described).values())
    assert across >= 10
    assert crowded >= 10


def test_drug_ade_sentences_with_nothing_to_find(drug_docs) -> None:
    empty = 0
    for doc in drug_docs:
        taken = set().union(*(covered(e) for e in doc.entities))
        start = doc.text.index("Brief Hospital Course:\n") + len("Brief Hospital Course:\n")
        end = doc.text.index("\n\nDischarge Medications:")
        bounds = [
            start,
            *(start + m.end() for m in SENTENCE_END.finditer(doc.text[start:end])),
            end,
        ]
        empty += sum(not taken & set(range(a, b)) for a, b in pairwise(bounds))
    assert empty >= 20


def test_drug_ade_same_string_different_labels(drug_docs) -> None:
    labels = defaultdict(set)
    for doc in drug_docs:
        for e in doc.entities:
            labels[e.text].add(e.type)
    assert sum({"Reason", "ADE"} <= types for types in labels.values()) >= 5
    # drug names left unannotated where the patient does not take them (family history)
    unannotated = 0
    for doc in drug_docs:
        drugs = set().union(*(covered(e) for e in doc.entities if e.type == "Drug"))
        for med in MEDICATIONS:
            for match in re.finditer(rf"(?<!\w){re.escape(med.name)}(?!\w)", doc.text):
                unannotated += match.start() not in drugs
    assert unannotated >= 5


# --------------------------------------------------------------------------- SDoH phenomena


def sdoh_docs(corpora: dict[str, Path], institution: str) -> list[Document]:
    root = corpora["sdoh"]
    return load(root / "train" / institution) + load(root / "test" / institution)


def test_sdoh_events_shared_arguments_and_values(corpora) -> None:
    docs = sdoh_docs(corpora, "MIMIC") + sdoh_docs(corpora, "UW")
    shared = sum(
        n >= 2
        for doc in docs
        for n in Counter(ref for ev in doc.events for _, ref in ev.arguments).values()
    )
    roles = {
        role.rstrip("0123456789") for doc in docs for ev in doc.events for role, _ in ev.arguments
    }
    repeated_roles = sum(
        role[-1].isdigit() for doc in docs for ev in doc.events for role, _ in ev.arguments
    )
    values = defaultdict(set)
    for doc in docs:
        for attr in doc.attributes:
            values[attr.type].add(attr.value)
    assert shared >= 5
    assert roles == {"Status", "Amount", "Frequency", "Type", "Method", "Duration", "History"}
    assert repeated_roles > 0
    assert values["StatusTimeVal"] == {"none", "current", "past", "future"}
    assert len(values["StatusEmployVal"]) >= 5
    assert values["TypeLivingVal"] == {"alone", "with_family", "with_others", "homeless"}
    assert {ev.type for doc in docs for ev in doc.events} == {
        "Alcohol", "Drug", "Tobacco", "Employment", "LivingStatus",
    }  # fmt: skip


def test_sdoh_nested_entities_and_lines_with_nothing(corpora) -> None:
    docs = sdoh_docs(corpora, "MIMIC") + sdoh_docs(corpora, "UW")
    nested = sum(
        covered(a) < covered(b)
        for doc in docs for a in doc.entities for b in doc.entities
    )  # fmt: skip
    empty_lines = 0
    for doc in docs:
        taken = set().union(*(covered(e) for e in doc.entities))
        body = doc.text.index("\n\n")
        for match in re.finditer(r"[^.\n]{12,}", doc.text[body:]):
            empty_lines += not taken & set(range(body + match.start(), body + match.end()))
    assert nested >= 10
    assert empty_lines >= 30


def test_sdoh_institutions_differ_in_vocabulary(corpora) -> None:
    def vocabulary(institution: str) -> Counter[str]:
        return Counter(
            token
            for doc in sdoh_docs(corpora, institution)
            for token in re.findall(r"[a-z/-]+", doc.text[doc.text.index("\n\n") :].lower())
        )

    mimic, uw = vocabulary("MIMIC"), vocabulary("UW")
    only_mimic = [t for t, n in mimic.most_common(40) if n >= 5 and t not in uw]
    only_uw = [t for t, n in uw.most_common(40) if n >= 5 and t not in mimic]
    assert len(only_mimic) >= 5, only_mimic
    assert len(only_uw) >= 5, only_uw


# --------------------------------------------------------------------------- difficulty


def dictionary_f1(train: list[Document], test: list[Document]) -> float:
    """Strict F1 of tagging every training mention string wherever it occurs in test."""
    lexicon = defaultdict(set)
    for doc in train:
        for e in doc.entities:
            lexicon[e.text].add(e.type)
    gold = {(d.doc_id, e.type, e.start, e.end) for d in test for e in d.entities}
    predicted = {
        (doc.doc_id, type_, m.start(), m.end())
        for doc in test
        for text, types in lexicon.items()
        for m in re.finditer(rf"(?<!\w){re.escape(text)}(?!\w)", doc.text)
        for type_ in types
    }
    hits = len(gold & predicted)
    return 2 * hits / (len(gold) + len(predicted))


@pytest.mark.parametrize(
    ("kind", "train_institution", "test_institution", "ceiling"),
    [
        ("drug_ade", "MIMIC", "MIMIC", 0.85),
        ("sdoh", "MIMIC", "MIMIC", 0.87),
        ("sdoh", "UW", "UW", 0.87),
        ("sdoh", "MIMIC", "UW", 0.4),
        ("sdoh", "UW", "MIMIC", 0.4),
    ],
)
def test_dictionary_lookup_does_not_solve_it(
    kind, train_institution, test_institution, ceiling, corpora
) -> None:
    train = load(corpora[kind] / "train" / train_institution)
    test = load(corpora[kind] / "test" / test_institution)
    assert 0.05 < dictionary_f1(train, test) < ceiling
