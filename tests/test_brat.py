"""The BRAT standoff layer: every line kind, every bad-input class, lossless round trips."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

from clinprompt.corpus.brat import (
    Attribute,
    Document,
    Entity,
    Equivalence,
    Event,
    Normalization,
    Note,
    Problem,
    Relation,
    format_ann,
    write_document,
)
from clinprompt.corpus.brat_parser import iter_ann_files, parse_document, read_document
from clinprompt.corpus.schema import load_schema
from clinprompt.corpus.validation import iter_corpus, validate_corpus
from clinprompt.errors import InvalidInputError

FIXTURES = Path(__file__).parent / "fixtures" / "brat"
BAD = FIXTURES / "bad"

# `bad/lines/lines.ann`: one bad line per class after two good ones and a blank line. Line
# problems come in file order, then the references checked once the whole file is read.
BAD_LINES_PROBLEMS = [
    "4: unknown line kind 'X'",
    "5: missing tab after the annotation id",
    "6: missing tab before the text field",
    "7: cannot parse text-bound annotation: expected 'Type start end[;start end]'",
    "8: non-integer offset in 'zero 7'",
    "9: offsets '0 7 9' are not two integers",
    "10: negative offset -1 7",
    "11: reversed offsets 7 0",
    "12: empty fragment 3 3",
    "13: fragments 14 19 and 16 20 overlap",
    "14: offsets 14 25 beyond the text's 21 characters",
    "15: malformed annotation id 'T'",
    "16: duplicate id T1 (first on line 1)",
    "17: cannot parse relation: expected 'Type Arg1:ID Arg2:ID'",
    "20: cannot parse event: expected 'Type:TRIGGER [Role:ID ...]'",
    "22: cannot parse attribute: expected 'Type ID [Value]'",
    "24: cannot parse normalization: expected 'Type ID DB:KEY'",
    "26: cannot parse note: expected 'Type ID<TAB>text'",
    "28: cannot parse equivalence: expected 'Type ID ID [ID ...]'",
    "18: R2 Arg2 points at missing id T99",
    "19: E1 trigger points at missing id T98",
    "19: E1 Drug points at missing id T93",
    "21: A1 points at missing id T97",
    "23: N1 points at missing id T96",
    "25: #1 points at missing id T95",
    "27: equivalence points at missing id T94",
]

# Corpora every line of which reads without an error (the mismatch one with trusted offsets).
READABLE_CORPORA = [
    "n2c2_2018",
    "sdoh",
    "all_kinds",
    "bad/mismatch",
    "bad/schema_2018",
    "bad/schema_sdoh",
]

TEXT = "Aspirin 81 mg daily.\n"
GOOD_LINE = "T1\tDrug 0 7\tAspirin\n"


def read(path: Path, trust_offsets: bool = False) -> Document:
    """A fixture document that must read without problems."""
    doc, problems = read_document(path, trust_offsets)
    assert doc is not None
    assert [p for p in problems if p.severity == "error"] == []
    return doc


# --------------------------------------------------------------------------- every line kind


def test_every_line_kind_is_parsed():
    doc = read(FIXTURES / "all_kinds" / "note.ann")
    assert doc.doc_id == "note"
    assert doc.text == "Patient took aspirin (ASA) 81 mg daily.\nNo bleeding.\n"
    assert doc.entities == [
        Entity("T1", "Drug", ((13, 20),), "aspirin"),
        Entity("T2", "Drug", ((22, 25),), "ASA"),
        Entity("T3", "Strength", ((27, 32),), "81 mg"),
        Entity("T4", "Frequency", ((33, 38),), "daily"),
        Entity("T5", "Taking", ((8, 12),), "took"),
        Entity("T6", "ADE", ((43, 51),), "bleeding"),
    ]
    assert doc.relations == [Relation("R1", "Strength-Drug", "T3", "T1")]
    assert doc.events == [Event("E1", "Taking", "T5", (("Drug", "T1"), ("Drug2", "T2")))]
    assert doc.attributes == [
        Attribute("A1", "Negated", "T6"),
        Attribute("M1", "Speculation", "T4", kind="M"),
        Attribute("A2", "Certainty", "E1", "likely"),
    ]
    assert doc.normalizations == [Normalization("N1", "Reference", "T1", "RxNorm:1191", "aspirin")]
    assert doc.notes == [Note("#1", "AnnotatorNotes", "T3", "low dose")]
    assert doc.equivalences == [Equivalence("Equiv", ("T1", "T2"))]


def test_annotations_keep_their_line_numbers():
    doc = read(FIXTURES / "all_kinds" / "note.ann")
    lines = [a.line for a in (*doc.entities, *doc.relations, *doc.events, *doc.attributes)]
    assert lines == [1, 2, 3, 4, 5, 8, 6, 7, 9, 10, 11]
    assert (doc.normalizations[0].line, doc.notes[0].line, doc.equivalences[0].line) == (12, 13, 14)


def test_equality_ignores_line_numbers():
    assert Entity("T1", "Drug", ((0, 7),), "Aspirin", line=3) == Entity(
        "T1", "Drug", ((0, 7),), "Aspirin", line=9
    )
    assert Relation("R1", "Strength-Drug", "T2", "T1", line=1) != Relation(
        "R1", "Strength-Drug", "T1", "T2", line=1
    )


def test_line_counts():
    counts = read(FIXTURES / "all_kinds" / "note.ann").line_counts()
    assert counts == Counter({"T": 6, "R": 1, "E": 1, "A": 2, "M": 1, "N": 1, "#": 1, "*": 1})
    assert read(FIXTURES / "n2c2_2018" / "102.ann").line_counts().total() == 0


def test_writer_groups_lines_by_kind():
    doc = read(FIXTURES / "all_kinds" / "note.ann")
    assert format_ann(doc) == (
        "T1\tDrug 13 20\taspirin\n"
        "T2\tDrug 22 25\tASA\n"
        "T3\tStrength 27 32\t81 mg\n"
        "T4\tFrequency 33 38\tdaily\n"
        "T5\tTaking 8 12\ttook\n"
        "T6\tADE 43 51\tbleeding\n"
        "R1\tStrength-Drug Arg1:T3 Arg2:T1\n"
        "E1\tTaking:T5 Drug:T1 Drug2:T2\n"
        "A1\tNegated T6\n"
        "M1\tSpeculation T4\n"
        "A2\tCertainty E1 likely\n"
        "N1\tReference T1 RxNorm:1191\taspirin\n"
        "#1\tAnnotatorNotes T3\tlow dose\n"
        "*\tEquiv T1 T2\n"
    )


def test_writer_keeps_custom_roles_and_empty_fields():
    doc = Document(
        "d",
        TEXT,
        entities=[Entity.from_offsets("T1", "Drug", [(0, 7)], TEXT)],
        relations=[Relation("R1", "Same", "T1", "T1", "From", "To")],
        notes=[Note("#1", "AnnotatorNotes", "T1")],
    )
    assert format_ann(doc) == (
        "T1\tDrug 0 7\tAspirin\nR1\tSame From:T1 To:T1\n#1\tAnnotatorNotes T1\t\n"
    )
    assert parse_document("d", TEXT, format_ann(doc)) == (doc, [])


# --------------------------------------------------------------------------- offsets


def test_five_fragment_entity_and_code_point_offsets():
    doc = read(FIXTURES / "n2c2_2018" / "100.ann")
    entities = doc.entity_by_id()
    ade = entities["T15"]
    assert ade.fragments == ((246, 252), (266, 271), (280, 291), (292, 297), (305, 309))
    assert ade.text == "severe itchy rash on the upper arms"
    assert (ade.start, ade.end) == (246, 309)
    assert doc.text[291] == "\n"  # the mention crosses a line, hence its fragments
    # "µ" and "ï" are one code point each but two UTF-8 bytes: byte offsets would be off.
    assert entities["T2"].text == doc.text[41:48] == "1000 µg"
    assert len(doc.text.encode("utf-8")) == len(doc.text) + 2
    assert entities["T16"].text == doc.text[316:327] == "amoxicillin"


def test_crlf_text_counts_both_line_break_characters():
    doc = read(FIXTURES / "n2c2_2018" / "101.ann")
    ade = doc.entity_by_id()["T12"]
    assert ade.fragments == ((141, 143), (145, 153))
    assert doc.text[143:145] == "\r\n"
    assert ade.text == "GI bleeding"
    assert len(doc.entities) == 12
    assert len(doc.relations) == 10


def test_events_with_suffixed_roles_shared_arguments_and_valued_attributes():
    doc = read(FIXTURES / "sdoh" / "0001.ann")
    events = {e.id: e for e in doc.events}
    assert events["E1"] == Event(
        "E1",
        "Alcohol",
        "T1",
        (("Status", "T2"), ("Type", "T3"), ("Type2", "T4"), ("Amount", "T5"), ("Frequency", "T6")),
    )
    # "Denies tobacco or drug use": one StatusTime argument shared by two events.
    assert events["E2"].arguments == (("Status", "T8"),)
    assert events["E3"].arguments == (("Status", "T8"),)
    assert doc.attributes[1] == Attribute("A2", "StatusTimeVal", "T8", "none")
    # The trigger and its status argument share one span.
    entities = doc.entity_by_id()
    assert entities["T10"].fragments == entities["T11"].fragments == ((93, 98),)


def test_entity_from_offsets_joins_fragments_with_one_space():
    entity = Entity.from_offsets("T1", "Drug", [(0, 7), (14, 19)], TEXT)
    assert entity == Entity("T1", "Drug", ((0, 7), (14, 19)), "Aspirin daily")


# --------------------------------------------------------------------------- round trip


@pytest.mark.parametrize("corpus", READABLE_CORPORA)
def test_read_write_read_is_lossless(corpus, tmp_path):
    folder = FIXTURES / corpus
    first = [read(p, trust_offsets=True) for p in iter_ann_files(folder)]
    assert first
    for doc in first:
        write_document(doc, tmp_path)
    second = [read(p) for p in iter_ann_files(tmp_path)]
    assert second == first
    for doc in first:
        written = (tmp_path / f"{doc.doc_id}.txt").read_bytes()
        assert written == (folder / f"{doc.doc_id}.txt").read_bytes()
    assert validate_corpus(tmp_path) == []


def test_round_trip_of_a_valid_corpus_reproduces_its_files(tmp_path):
    for path in iter_ann_files(FIXTURES / "n2c2_2018"):
        written = write_document(read(path), tmp_path)
        assert written.read_bytes() == path.read_bytes()


def test_trusted_offsets_give_the_entity_the_text_they_point_at(tmp_path):
    path = BAD / "mismatch" / "doc.ann"
    doc, problems = read_document(path, trust_offsets=True)
    assert [str(p) for p in problems] == [
        f"{path}:2: warning: text field of T2 does not match the text at its offsets"
    ]
    assert doc is not None
    assert doc.entity_by_id()["T2"].text == "81 mg"
    assert "T2\tStrength 8 13\t81 mg\n" in write_document(doc, tmp_path).read_text("utf-8")


@pytest.mark.parametrize("line_break", ["\n", "\r"])
def test_writer_refuses_entity_text_with_a_line_break(line_break, tmp_path):
    text = f"GI{line_break}bleeding"
    doc = Document("d", text, entities=[Entity("T1", "ADE", ((0, 11),), text)])
    with pytest.raises(InvalidInputError) as err:
        write_document(doc, tmp_path)
    assert str(err.value) == "d: entity T1 text contains a line break; split it into fragments"
    assert list(tmp_path.iterdir()) == [tmp_path / "d.txt"]


# --------------------------------------------------------------------------- bad input


BAD_LINES = {
    "unknown line kind": ("Q1\tNote T1", "unknown line kind 'Q'"),
    "missing tab after id": ("T2 Drug 0 7 Aspirin", "missing tab after the annotation id"),
    "space after id": ("T2 Drug 0 7\tAspirin", "malformed annotation id 'T2 Drug 0 7'"),
    "missing tab before text": ("T2\tDrug 0 7 Aspirin", "missing tab before the text field"),
    "unparseable text-bound": (
        "T2\tDrug\tAspirin",
        "cannot parse text-bound annotation: expected 'Type start end[;start end]'",
    ),
    "unparseable relation": (
        "R1\tStrength-Drug Arg1:T1 T1",
        "cannot parse relation: expected 'Type Arg1:ID Arg2:ID'",
    ),
    "unparseable event": (
        "E1\tTaking:T1 Drug",
        "cannot parse event: expected 'Type:TRIGGER [Role:ID ...]'",
    ),
    "unparseable attribute": (
        "A1\tCertainty T1 very likely",
        "cannot parse attribute: expected 'Type ID [Value]'",
    ),
    "unparseable normalization": (
        "N1\tReference T1\taspirin",
        "cannot parse normalization: expected 'Type ID DB:KEY'",
    ),
    "unparseable note": ("#1\tAnnotatorNotes\tx", "cannot parse note: expected 'Type ID<TAB>text'"),
    "unparseable equivalence": (
        "*\tEquiv T1",
        "cannot parse equivalence: expected 'Type ID ID [ID ...]'",
    ),
    "malformed id": ("R\tSame Arg1:T1 Arg2:T1", "malformed annotation id 'R'"),
    "non-integer offset": ("T2\tDrug 0 7.5\tAspirin", "non-integer offset in '0 7.5'"),
    "three numbers": ("T2\tDrug 0 7 8\tAspirin", "offsets '0 7 8' are not two integers"),
    "negative offset": ("T2\tDrug -2 7\tAspirin", "negative offset -2 7"),
    "reversed offsets": ("T2\tDrug 7 0\tAspirin", "reversed offsets 7 0"),
    "empty fragment": ("T2\tDrug 7 7\t", "empty fragment 7 7"),
    "overlapping fragments": (
        "T2\tDrug 0 5;3 7\tAspir irin",
        "fragments 0 5 and 3 7 overlap",
    ),
    "out-of-range offsets": (
        "T2\tDrug 14 22\tdaily.",
        "offsets 14 22 beyond the text's 21 characters",
    ),
    "text field mismatch": (
        "T2\tDrug 0 7\taspirin",
        "text field of T2 does not match the text at its offsets",
    ),
    "duplicate id": ("T1\tStrength 8 13\t81 mg", "duplicate id T1 (first on line 1)"),
    "relation to missing id": ("R1\tSame Arg1:T1 Arg2:T9", "R1 Arg2 points at missing id T9"),
    "event trigger missing": ("E1\tTaking:T9", "E1 trigger points at missing id T9"),
    "event argument missing": ("E1\tTaking:T1 Drug2:T9", "E1 Drug2 points at missing id T9"),
    "attribute on missing id": ("A1\tCertainty T9 likely", "A1 points at missing id T9"),
    "binary attribute on missing id": ("M1\tNegated T9", "M1 points at missing id T9"),
    "normalization to missing id": (
        "N1\tReference T9 RxNorm:1191\taspirin",
        "N1 points at missing id T9",
    ),
    "note on missing id": ("#1\tAnnotatorNotes T9\tcheck", "#1 points at missing id T9"),
    "equivalence with missing id": ("*\tEquiv T1 T9", "equivalence points at missing id T9"),
}


@pytest.mark.parametrize(("line", "message"), BAD_LINES.values(), ids=BAD_LINES.keys())
def test_bad_line_is_reported_with_its_line_and_exact_message(line, message):
    ann = GOOD_LINE + "\n" + line + "\n"
    doc, problems = parse_document("d", TEXT, ann, "d.ann")
    assert [str(p) for p in problems] == [f"d.ann:3: {message}"]
    assert problems[0].severity == "error"
    assert doc.entities[0] == Entity("T1", "Drug", ((0, 7),), "Aspirin")


def test_crlf_ann_lines_are_read_like_lf_lines():
    ann = "T1\tDrug 0 7\tAspirin\r\nT2\tFrequency 14 19\tdaily\r\n"
    doc, problems = parse_document("d", TEXT, ann)
    assert problems == []
    assert [e.text for e in doc.entities] == ["Aspirin", "daily"]


def test_text_field_mismatch_is_a_warning_with_trusted_offsets():
    ann = GOOD_LINE + "T2\tDrug 8 13\t81mg\n"
    doc, problems = parse_document("d", TEXT, ann, "d.ann", trust_offsets=True)
    assert problems == [
        Problem("d.ann", 2, "text field of T2 does not match the text at its offsets", "warning")
    ]
    assert (
        str(problems[0])
        == "d.ann:2: warning: text field of T2 does not match the text at its offsets"
    )
    assert [e.id for e in doc.entities] == ["T1", "T2"]


def test_problem_prints_path_line_message():
    assert (
        str(Problem("a/b.ann", 0, "missing text file b.txt"))
        == "a/b.ann:0: missing text file b.txt"
    )


def test_fixture_with_every_bad_line_class():
    path = BAD / "lines" / "lines.ann"
    problems = validate_corpus(path.parent)
    assert [str(p) for p in problems] == [f"{path}:{p}" for p in BAD_LINES_PROBLEMS]
    doc, _ = read_document(path)
    assert doc is not None
    assert [e.id for e in doc.entities] == ["T1", "T2"]


def test_missing_files_and_invalid_utf8():
    folder = BAD / "files"
    assert [str(p) for p in validate_corpus(folder)] == [
        f"{folder}/missing_ann.txt:0: missing annotation file missing_ann.ann",
        f"{folder}/missing_txt.ann:0: missing text file missing_txt.txt",
        f"{folder}/utf8_ann.ann:3: invalid UTF-8 (byte 0xe9 at byte 67)",
        f"{folder}/utf8_txt.txt:2: invalid UTF-8 (byte 0xff at byte 19)",
    ]


@pytest.mark.parametrize("name", ["missing_txt", "utf8_ann", "utf8_txt"])
def test_unreadable_document_gives_no_document(name):
    doc, problems = read_document(BAD / "files" / f"{name}.ann")
    assert doc is None
    assert len(problems) == 1


SCHEMA_PROBLEMS = {
    "n2c2-2018": (
        "schema_2018",
        [
            "2: entity type 'Dose' not in schema n2c2-2018",
            "4: Reason-Drug Arg1 may not be a Drug",
            "4: Reason-Drug Arg2 may not be a Reason",
            "5: relation type 'Causes' not in schema n2c2-2018",
            "6: event type 'Taking' not in schema n2c2-2018",
            "7: attribute type 'Negated' not in schema n2c2-2018",
        ],
    ),
    "n2c2-2022-sdoh": (
        "schema_sdoh",
        [
            "6: Alcohol Status may not be a Frequency",
            "6: Alcohol has no role 'Method'",
            "7: Tobacco trigger may not be a Type",
            "8: attribute StatusTimeVal value 'sometimes' not in"
            " ['none', 'current', 'past', 'future']",
            "9: attribute TypeLivingVal may not sit on a StatusTime",
        ],
    ),
}


@pytest.mark.parametrize("schema", SCHEMA_PROBLEMS)
def test_types_not_allowed_by_the_schema(schema):
    folder, messages = SCHEMA_PROBLEMS[schema]
    path = BAD / folder / "doc.ann"
    assert validate_corpus(path.parent) == []
    problems = validate_corpus(path.parent, load_schema(schema))
    assert [str(p) for p in problems] == [f"{path}:{m}" for m in messages]


@pytest.mark.parametrize(
    ("corpus", "schema"), [("n2c2_2018", "n2c2-2018"), ("sdoh", "n2c2-2022-sdoh")]
)
def test_fixture_corpora_fit_their_schema(corpus, schema):
    assert validate_corpus(FIXTURES / corpus, load_schema(schema)) == []


def test_a_missing_folder_is_one_error():
    with pytest.raises(InvalidInputError) as err:
        validate_corpus(Path("/no/such/folder"))
    assert str(err.value) == "/no/such/folder: not a directory"


# --------------------------------------------------------------------------- loading a corpus


@pytest.fixture
def mixed_corpus(tmp_path: Path) -> Path:
    """Two good 2018 documents around a bad one (`101`, with two errors)."""
    for name in ("100", "102"):
        for suffix in (".txt", ".ann"):
            shutil.copy(FIXTURES / "n2c2_2018" / f"{name}{suffix}", tmp_path)
    (tmp_path / "101.txt").write_text(TEXT, encoding="utf-8")
    (tmp_path / "101.ann").write_text(
        GOOD_LINE + "T2\tDrug 8 13\t81mg\nR1\tStrength-Drug Arg1:T2 Arg2:T9\n", encoding="utf-8"
    )
    return tmp_path


def test_iter_corpus_stops_on_the_first_invalid_document(mixed_corpus):
    ann = mixed_corpus / "101.ann"
    read_ids = []
    with pytest.raises(InvalidInputError) as err:
        read_ids.extend(doc.doc_id for doc in iter_corpus(mixed_corpus))
    assert str(err.value) == (
        f"{ann}: invalid document (2 problems): "
        f"{ann}:2: text field of T2 does not match the text at its offsets; "
        f"{ann}:3: R1 Arg2 points at missing id T9"
    )
    assert read_ids == ["100"]


def test_iter_corpus_skips_whole_invalid_documents(mixed_corpus):
    skipped: list[str] = []
    docs = list(iter_corpus(mixed_corpus, skip_invalid=True, skipped=skipped))
    assert [d.doc_id for d in docs] == ["100", "102"]
    assert skipped == [str(mixed_corpus / "101.ann")]
    assert docs[0] == read(FIXTURES / "n2c2_2018" / "100.ann")


def test_iter_corpus_counts_schema_errors_and_not_warnings(mixed_corpus):
    (mixed_corpus / "101.ann").write_text(GOOD_LINE + "T2\tDose 8 13\t81mg\n", encoding="utf-8")
    skipped: list[str] = []
    schema = load_schema("n2c2-2018")
    docs = iter_corpus(mixed_corpus, schema, trust_offsets=True, skip_invalid=True, skipped=skipped)
    assert [d.doc_id for d in docs] == ["100", "102"]
    assert skipped == [str(mixed_corpus / "101.ann")]
    docs = iter_corpus(mixed_corpus, trust_offsets=True)
    assert [d.doc_id for d in docs] == ["100", "101", "102"]


def test_drop_annotation_keeps_the_document_without_its_bad_lines(mixed_corpus):
    ann = mixed_corpus / "101.ann"
    ann.write_text(
        GOOD_LINE
        + "T2\tDose 8 13\t81 mg\n"  # a type the schema does not have
        + "R1\tStrength-Drug Arg1:T3 Arg2:T1\n"
        + "R2\tStrength-Drug Arg1:T3 Arg2:T9\n"  # points at a missing id
        + "A1\tNegated T1\n"  # an attribute type the schema does not have
        + "T3\tStrength 8 13\t81mg\n",  # text differs from the offsets: kept, trusted
        encoding="utf-8",
    )
    schema = load_schema("n2c2-2018")
    dropped: list[Problem] = []
    docs = list(iter_corpus(mixed_corpus, schema, trust_offsets=True, dropped=dropped))
    assert [d.doc_id for d in docs] == ["100", "101", "102"]
    kept = docs[1]
    assert [e.id for e in kept.entities] == ["T1", "T3"]
    assert [r.id for r in kept.relations] == ["R1"] and kept.attributes == []
    assert [str(p) for p in dropped] == [
        f"{ann}:2: entity type 'Dose' not in schema n2c2-2018",
        f"{ann}:4: R2 Arg2 points at missing id T9",
        f"{ann}:5: attribute type 'Negated' not in schema n2c2-2018",
    ]
    listed: list[Problem] = []
    problems = validate_corpus(mixed_corpus, schema, trust_offsets=True, dropped=listed)
    assert listed == dropped
    assert [str(p) for p in problems] == [
        f"{ann}:6: warning: text field of T3 does not match the text at its offsets"
    ]


def test_drop_annotation_follows_trust_offsets_and_cascades(mixed_corpus):
    ann = mixed_corpus / "101.ann"
    ann.write_text(
        GOOD_LINE + "T2\tStrength 8 13\t81mg\nR1\tStrength-Drug Arg1:T2 Arg2:T1\n",
        encoding="utf-8",
    )
    dropped: list[Problem] = []
    docs = list(iter_corpus(mixed_corpus, dropped=dropped))
    assert [e.id for e in docs[1].entities] == ["T1"] and docs[1].relations == []
    assert [str(p) for p in dropped] == [
        f"{ann}:2: text field of T2 does not match the text at its offsets",
        f"{ann}:3: R1 Arg1 points at missing id T2",  # valid until T2 went
    ]
    dropped.clear()
    docs = list(iter_corpus(mixed_corpus, trust_offsets=True, dropped=dropped))
    assert [r.id for r in docs[1].relations] == ["R1"] and dropped == []


def test_iter_corpus_and_a_text_without_annotations(mixed_corpus):
    (mixed_corpus / "101.ann").unlink()
    orphan = mixed_corpus / "101.txt"
    with pytest.raises(InvalidInputError) as err:
        list(iter_corpus(mixed_corpus))
    assert str(err.value) == f"{orphan}:0: missing annotation file 101.ann"
    skipped: list[str] = []
    docs = iter_corpus(mixed_corpus, skip_invalid=True, skipped=skipped)
    assert [d.doc_id for d in docs] == ["100", "102"]
    assert skipped == [str(orphan)]
