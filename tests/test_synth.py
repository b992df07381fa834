"""The synthetic embedded corpora: deterministic, schema-valid, and as hard as promised."""

from __future__ import annotations

import hashlib
import random
import re
from collections import Counter, defaultdict
from itertools import pairwise
from pathlib import Path

import pandas as pd
import pytest
import yaml

from clinprompt.corpus.brat import Document, Entity
from clinprompt.corpus.brat_parser import iter_ann_files, read_document
from clinprompt.corpus.schema import load_schema
from clinprompt.corpus.stats import BASELINE_COLUMNS, dictionary_baseline
from clinprompt.corpus.tables import CorpusPart, build_tables
from clinprompt.corpus.validation import validate_corpus
from clinprompt.errors import ConfigError
from clinprompt.synth import drug_lexicon
from clinprompt.synth.corpora import (
    CANARY_IDENTIFIERS,
    KINDS,
    planned_parts,
    write_synthetic_corpus,
)
from clinprompt.synth.drug_lexicon import MEDICATIONS, held_out_medication
from clinprompt.synth.note import (
    CANARY_NAMES,
    CANARY_RECORD_NUMBERS,
    CORE_VOCABULARY,
    HELD_OUT_SHARE,
    Vocabulary,
    held_out,
)
from clinprompt.synth.sdoh import MIMIC_WORDS, UW_WORDS
from tests.conftest import REPO

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


def test_cli_prints_counts_and_dictionary_baseline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from clinprompt.cli import main

    status = main(["synth", "sdoh", str(tmp_path), "--seed", "3", "--train", "4",
                   "--dev", "1", "--test", "2"])  # fmt: skip
    out = capsys.readouterr().out
    assert status == 0
    counts, baseline = out.split("\n\n")
    assert counts.splitlines()[0].split("\t")[:3] == ["split", "institution", "documents"]
    assert [line.split("\t")[:3] for line in counts.splitlines()[1:]] == [
        ["train", "MIMIC", "4"], ["train", "UW", "4"], ["dev", "MIMIC", "1"], ["dev", "UW", "1"],
        ["test", "MIMIC", "2"], ["test", "UW", "2"],
    ]  # fmt: skip
    # the dictionary of every training note (train and dev), scored on each institution's test
    expected = corpus_baseline(tmp_path, "sdoh", {"train": 4, "dev": 1, "test": 2})
    assert baseline.splitlines() == ["\t".join(BASELINE_COLUMNS)] + [
        f"{r.train_institution}\t{r.test_institution}\t{r.test_strings}\t"
        f"{r.seen_share:.3f}\t{r.dictionary_f1:.3f}"
        for r in expected.itertuples()
    ]
    assert len(expected) == 4 and expected["dictionary_f1"].between(0, 1).all()
    assert not any(canary in out for canary in CANARY_IDENTIFIERS)


def test_cli_without_test_notes_prints_counts_only(tmp_path, capsys) -> None:
    from clinprompt.cli import main

    assert main(["synth", "drug_ade", str(tmp_path), "--train", "2", "--test", "0"]) == 0
    assert capsys.readouterr().out.splitlines()[1].split("\t")[:3] == ["train", "MIMIC", "2"]


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


def labels_of(docs: list[Document]) -> dict[str, set[str]]:
    """Entity types each lower-cased mention string carries."""
    labels = defaultdict(set)
    for doc in docs:
        for e in doc.entities:
            labels[e.text.lower()].add(e.type)
    return labels


def test_drug_ade_same_string_reason_or_ade_by_context(corpora, drug_docs) -> None:
    train = labels_of(load(corpora["drug_ade"] / "train" / "MIMIC"))
    test = labels_of(load(corpora["drug_ade"] / "test" / "MIMIC"))
    both = {text for text, types in test.items() if {"Reason", "ADE"} <= types}
    assert sum({"Reason", "ADE"} <= types for types in train.values()) >= 5
    assert len(both) >= 3
    # held-out conditions are ambiguous too: unseen in training, Reason and ADE in test
    assert {text for text in both if text not in train}
    # the context decides: each Reason is linked as a Reason, each ADE as an ADE
    for doc in drug_docs:
        linked = {r.arg1: r.type for r in doc.relations}
        for e in doc.entities:
            if e.type in ("Reason", "ADE") and e.id in linked:
                assert linked[e.id] == f"{e.type}-Drug"


def test_drug_ade_drug_names_left_unannotated(drug_docs) -> None:
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


def corpus_baseline(
    root: Path, kind: str, documents: dict[str, int] | None = None, institutions=None
) -> pd.DataFrame:
    """The dictionary baseline of a written corpus, every training note in the dictionary."""
    parts = [
        CorpusPart(split, institution, root / split / institution)
        for split, institution, _ in planned_parts(kind, documents, institutions)
    ]
    tables, _ = build_tables(parts, load_schema(KINDS[kind].schema))
    return dictionary_baseline(tables, training_splits=("train", "dev"))


def in_domain(baseline: pd.DataFrame) -> pd.DataFrame:
    """The rows whose training and test institution are the same, by institution."""
    same = baseline[baseline["train_institution"] == baseline["test_institution"]]
    return same.set_index("test_institution")


def embedded_default(kind: str) -> dict:
    """The `synthetic` settings of the embedded default's dataset of `kind`."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text(encoding="utf-8"))
    (settings,) = [
        d["synthetic"] for d in config["datasets"].values() if d["synthetic"]["kind"] == kind
    ]
    return settings


def test_held_out_split_follows_the_dictionary_key() -> None:
    assert held_out("Former Some Day Smoker") == held_out("former  some day\nsmoker")
    assert not any(held_out(word) for word in CORE_VOCABULARY)
    words = [f"{n} mg" for n in range(200)]
    assert 0.35 < sum(map(held_out, words)) / len(words) < 0.65


def test_vocabulary_of_training_and_test_notes() -> None:
    rng = random.Random(0)
    words = tuple(f"word {n}" for n in range(40))
    training = {w for w in words if not held_out(w)}
    assert {Vocabulary.for_split(s).test for s in ("train", "dev", "test")} == {False, True}
    drawn = [Vocabulary.for_split("train").choice(rng, words) for _ in range(300)]
    assert set(drawn) <= training and len(set(drawn)) > len(training) // 2
    drawn = [Vocabulary.for_split("test").choice(rng, words) for _ in range(1000)]
    assert abs(sum(w not in training for w in drawn) / 1000 - HELD_OUT_SHARE) < 0.06
    sample = Vocabulary(test=True).sample(rng, words, 30)
    assert len(set(sample)) == 30
    with pytest.raises(ValueError, match="no training entry"):
        Vocabulary().choice(rng, [w for w in words if w not in training])


def lexicons() -> dict[str, tuple]:
    """Every plain-string lexicon of both corpora, by name."""
    tables = {f"MIMIC {k}": v for k, v in MIMIC_WORDS.items()}
    tables |= {f"UW {k}": v for k, v in UW_WORDS.items()}
    tables |= {f"form {k}": v for k, v in drug_lexicon.FORMS.items()}
    tables |= {f"route {k}": v for k, v in drug_lexicon.ROUTES.items()}
    for name in ("FREQUENCIES", "SIG_FREQUENCIES", "AS_NEEDED", "DOSAGES", "DURATIONS",
                 "ALLERGY_DRUGS", "ALLERGY_REACTIONS", "CONDITIONS", "DRUG_LEVELS"):  # fmt: skip
        tables[name] = getattr(drug_lexicon, name)
    return tables


def test_every_lexicon_has_training_vocabulary_and_much_held_out() -> None:
    assert [name for name, words in lexicons().items() if all(map(held_out, words))] == []
    entries = {w for words in lexicons().values() for w in words}
    assert 0.35 < sum(map(held_out, entries)) / len(entries) < 0.65
    held = [m for m in MEDICATIONS if held_out_medication(m)]
    assert len(held) >= 40 and len(MEDICATIONS) - len(held) >= 40


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_test_mentions_mostly_unseen_in_training(kind, corpora, tmp_path) -> None:
    settings = embedded_default(kind)
    write_synthetic_corpus(kind, tmp_path, settings["seed"], settings["documents"],
                           settings["institutions"])  # fmt: skip
    for baseline in (
        corpus_baseline(corpora[kind], kind),
        corpus_baseline(tmp_path, kind, settings["documents"], settings["institutions"]),
    ):
        same = in_domain(baseline)
        assert sorted(same.index) == sorted(KINDS[kind].notes)
        assert (same["seen_share"] <= 0.6).all(), same
        assert (same["test_strings"] >= 10).all()


def test_dictionary_lookup_does_not_solve_it(corpora) -> None:
    for kind in KINDS:
        baseline = corpus_baseline(corpora[kind], kind)
        same = in_domain(baseline)
        assert same["dictionary_f1"].between(0.3, 0.65).all(), same
        # cross-institution stays harder than in-domain
        for row in baseline.itertuples():
            if row.train_institution != row.test_institution:
                assert row.dictionary_f1 < same.loc[row.test_institution, "dictionary_f1"] - 0.2
