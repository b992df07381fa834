"""Decoding: spans on word boundaries, bridges dropped, exact offsets, BRAT fragments, IOB2
on words, duplicate merge."""

from __future__ import annotations

import re
from collections import Counter
from functools import cache

import torch
from hypothesis import given
from hypothesis import strategies as st

from clinprompt.corpus.brat import Document, format_ann
from clinprompt.examples.windows import inside_word, word_boundary_masks
from clinprompt.model.checkpoint import bundled_tokenizer_folder, load_tokenizer
from clinprompt.predict.decode import (
    SpanPrediction,
    bio_decode,
    bio_decode_words,
    char_span_to_fragments,
    decode_spans,
    merge_duplicates,
    predictions_to_entities,
    token_span_to_chars,
)

TEXT = "Pt walking with shortness of breath.\nGiven lasix 40mg."


def subword_tokens(text: str) -> tuple[list[int], list[int]]:
    """Character offsets of a toy WordPiece: digit and letter runs cut into pieces of at most
    4 characters, preceded by two query/special tokens (-1) as in the example tables."""
    starts, ends = [-1, -1], [-1, -1]
    for word in re.finditer(r"\d+|[^\W\d]+|[^\w\s]", text):
        for piece in range(word.start(), word.end(), 4):
            starts.append(piece)
            ends.append(min(piece + 4, word.end()))
    return starts, ends


def token_index(starts: list[int], char: int) -> int:
    return starts.index(char)


def logits_for(length: int, starts: list[int], ends: list[int]) -> tuple[torch.Tensor, ...]:
    start_logits = torch.full((1, length), -3.0)
    end_logits = torch.full((1, length), -3.0)
    start_logits[0, starts], end_logits[0, ends] = 2.0, 2.0
    return start_logits, end_logits


def all_pairs(length: int) -> torch.Tensor:
    i, j = torch.triu_indices(length, length)
    return torch.stack([torch.zeros_like(i), i, j], dim=1)


def test_word_boundary_masks_mark_subword_continuations():
    starts, ends = subword_tokens(TEXT)
    word_start, word_end = word_boundary_masks(TEXT, starts, ends)
    pieces = [TEXT[s:e] if s >= 0 else None for s, e in zip(starts, ends, strict=True)]
    walk, ing = pieces.index("walk"), pieces.index("ing")
    assert (word_start[walk], word_end[walk]) == (True, False)
    assert (word_start[ing], word_end[ing]) == (False, True)
    assert not word_start[0] and not word_end[1]  # query/special tokens
    mg = pieces.index("mg")  # "40mg" is one word: "mg" continues it
    assert not word_start[mg] and word_end[mg]


def test_decode_never_starts_a_span_on_a_subword_continuation():
    starts, ends = subword_tokens(TEXT)
    length = len(starts)
    ing = token_index(starts, TEXT.index("ing"))
    walk = ing - 1
    start_logits, end_logits = logits_for(length, [walk, ing], [walk, ing])
    pairs = all_pairs(length)
    word_start, word_end = word_boundary_masks(TEXT, starts, ends)
    context = torch.tensor(starts) >= 0
    spans = decode_spans(
        start_logits, end_logits, pairs, torch.ones(len(pairs)),
        context[None], word_start[None], word_end[None], max_span_width=8,
    )  # fmt: skip
    assert [(i, j) for i, j, _ in spans[0]] == [(walk, ing)]
    assert TEXT[slice(*token_span_to_chars(walk, ing, starts, ends))] == "walking"


def test_decode_keeps_multiple_and_nested_answers_and_maps_back_exactly():
    starts, ends = subword_tokens(TEXT)
    length = len(starts)
    shortness = token_index(starts, TEXT.index("shortness"))
    breath = token_index(starts, TEXT.index("breath"))
    lasix = token_index(starts, TEXT.index("lasix"))
    start_logits, end_logits = logits_for(
        length, [shortness, breath, lasix], [breath + 1, lasix + 1]
    )
    pairs = all_pairs(length)
    match = torch.ones(len(pairs))
    word_start, word_end = word_boundary_masks(TEXT, starts, ends)
    context = torch.tensor(starts) >= 0
    spans = decode_spans(
        start_logits, end_logits, pairs, match, context[None], word_start[None], word_end[None], 6
    )[0]
    texts = [TEXT[slice(*token_span_to_chars(i, j, starts, ends))] for i, j, _ in spans]
    assert texts == ["shortness of breath", "breath", "lasix"]
    expected_score = torch.sigmoid(torch.tensor(2.0)) ** 2 * torch.sigmoid(torch.tensor(1.0))
    assert abs(spans[0][2] - expected_score.item()) < 1e-6


def test_decode_requires_every_logit_positive_the_context_and_the_width():
    start_logits = torch.tensor([[3.0, 3.0, 3.0, -1.0, 3.0, 3.0]])
    end_logits = torch.tensor([[3.0, 3.0, 3.0, 3.0, 3.0, -1.0]])
    pairs = torch.tensor(
        [[0, 1, 1], [0, 1, 2], [0, 2, 4], [0, 3, 3], [0, 0, 0], [0, 4, 5], [0, 2, 1]]
    )
    match = torch.tensor([1.0, -1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    context = torch.tensor([[False, True, True, True, True, True]])
    words = torch.ones(1, 6, dtype=torch.bool)
    spans = decode_spans(start_logits, end_logits, pairs, match, context, words, words, 2)
    # (1, 2) fails match, (2, 4) the width, (3, 3) start, (0, 0) context, (4, 5) end, (2, 1) order.
    assert [(i, j) for i, j, _ in spans[0]] == [(1, 1)]


def test_decode_groups_spans_per_example():
    start_logits = torch.ones(3, 4)
    pairs = torch.tensor([[2, 1, 2], [0, 3, 3], [2, 0, 0]])
    masks = torch.ones(3, 4, dtype=torch.bool)
    spans = decode_spans(start_logits, start_logits, pairs, torch.ones(3), masks, masks, masks, 4)
    assert [[(i, j) for i, j, _ in found] for found in spans] == [[(3, 3)], [], [(0, 0), (1, 2)]]


def test_char_span_to_fragments_splits_at_line_breaks_and_trims():
    text = "chest \n  pain\r\nand  \n\n fever"
    assert char_span_to_fragments(text, 0, len(text)) == [(0, 5), (9, 13), (15, 18), (23, 28)]
    assert char_span_to_fragments(text, 2, 11) == [(2, 5), (9, 11)]
    assert char_span_to_fragments(text, 5, 9) == []


@given(st.text(alphabet="ab \n\r\t", max_size=30), st.data())
def test_fragments_cover_the_visible_characters_without_line_breaks(text, data):
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    fragments = char_span_to_fragments(text, start, end)
    covered = set()
    for s, e in fragments:
        piece = text[s:e]
        assert start <= s < e <= end
        assert "\n" not in piece and "\r" not in piece and piece == piece.strip()
        covered.update(range(s, e))
    visible = {k for k in range(start, end) if not text[k].isspace()}
    assert visible <= covered
    assert [s for s, _ in fragments] == sorted(s for s, _ in fragments)


def test_a_prediction_across_a_newline_becomes_a_valid_discontinuous_entity():
    start, end = TEXT.index("breath"), TEXT.index("lasix") + len("lasix")
    (entity,) = predictions_to_entities(TEXT, [SpanPrediction("Drug", start, end, 0.9)])
    assert entity.fragments == ((start, TEXT.index(".\n") + 1), (TEXT.index("Given"), end))
    assert entity.text == "breath. Given lasix"
    assert "T1\tDrug" in format_ann(Document("d", TEXT, entities=[entity]))


def test_predictions_to_entities_merges_duplicates_and_numbers_from_first_id():
    predictions = [
        SpanPrediction("Drug", 43, 48, 0.4),
        SpanPrediction("Drug", 43, 48, 0.8),
        SpanPrediction("Strength", 49, 53, 0.7),
        SpanPrediction("Drug", 36, 37, 0.9),  # only the newline: no fragment, no entity
    ]
    entities = predictions_to_entities(TEXT, predictions, first_id=5)
    assert [(e.id, e.type, e.text) for e in entities] == [
        ("T5", "Drug", "lasix"),
        ("T6", "Strength", "40mg"),
    ]


def test_merge_duplicates_keeps_the_best_score_per_type_and_span():
    predictions = [
        SpanPrediction("Drug", 10, 15, 0.6),
        SpanPrediction("Drug", 10, 15, 0.9),
        SpanPrediction("ADE", 10, 15, 0.5),
        SpanPrediction("Drug", 10, 12, 0.7),
        SpanPrediction("Drug", 10, 15, 0.3),
    ]
    assert merge_duplicates(predictions) == [
        SpanPrediction("Drug", 10, 12, 0.7),
        SpanPrediction("ADE", 10, 15, 0.5),
        SpanPrediction("Drug", 10, 15, 0.9),
    ]


def test_token_span_to_chars_rejects_tokens_outside_the_text():
    starts, ends = subword_tokens(TEXT)
    try:
        token_span_to_chars(0, 3, starts, ends)
    except ValueError as err:
        assert "do not cover" in str(err)
    else:
        raise AssertionError("a span starting on a special token was accepted")


ID2LABEL = ["O", "B-Drug", "I-Drug", "B-Dose", "I-Dose"]


def test_bio_decode_well_formed():
    labels = [0, 1, 2, 2, 0, 3, 1, 2]
    assert bio_decode(labels, ID2LABEL) == [(1, 3, "Drug"), (5, 5, "Dose"), (6, 7, "Drug")]


def test_bio_decode_drops_broken_inside_tags():
    labels = [2, 2, 0, 1, 2, 4, 4, 3, 3, 4, -100, 4]
    assert bio_decode(labels, dict(enumerate(ID2LABEL))) == [
        (3, 4, "Drug"),  # the I-Drug run at 0-1 has no B-Drug: dropped
        (7, 7, "Dose"),  # I-Dose after B-Drug (5-6) closes the Drug and opens nothing
        (8, 9, "Dose"),
    ]  # -100 counts as O, so the last I-Dose is dropped too


def test_bio_decode_counts_the_inside_tags_it_drops():
    counts: Counter[str] = Counter()
    bio_decode([2, 2, 0, 1, 2, 4, 4, 3, 3, 4, -100, 4], ID2LABEL, counts)
    assert counts["bio_broken_tags"] == 5  # positions 0, 1, 5, 6 and 11 of the test above
    counts.clear()
    bio_decode([0, 1, 2, 2, 0, 3, 4], ID2LABEL, counts)
    assert counts["bio_broken_tags"] == 0


def test_bio_decode_closes_a_mention_at_the_end():
    assert bio_decode([0, 3, 4], ID2LABEL) == [(1, 2, "Dose")]
    assert bio_decode([], ID2LABEL) == []


def decode_accepting(spans_per_example: list[list[tuple[int, int]]], length: int = 8, **kwargs):
    """decode_spans over all-word, all-context rows whose logits accept exactly the given spans
    (start/end logits 2 on their edges, match 1 on them and -1 elsewhere)."""
    batch = len(spans_per_example)
    start_logits = torch.full((batch, length), -3.0)
    end_logits = torch.full((batch, length), -3.0)
    pairs = torch.stack(
        [torch.stack([torch.full_like(i, b), i, j], 1) for b in range(batch)
         for i, j in [torch.triu_indices(length, length)]]
    ).reshape(-1, 3)  # fmt: skip
    wanted = {(b, i, j) for b, spans in enumerate(spans_per_example) for i, j in spans}
    match = torch.tensor([1.0 if tuple(p) in wanted else -1.0 for p in pairs.tolist()])
    for b, i, j in wanted:
        start_logits[b, i], end_logits[b, j] = 2.0, 2.0
    masks = torch.ones(batch, length, dtype=torch.bool)
    return decode_spans(
        start_logits, end_logits, pairs, match, masks, masks, masks, length, **kwargs
    )


def test_a_span_bridging_two_adjacent_mentions_is_dropped_and_counted():
    counts = Counter()
    spans = decode_accepting([[(1, 2), (3, 4), (1, 4)], [(1, 4)]], counts=counts)
    # Example 0: (1, 4) holds the disjoint (1, 2) and (3, 4); example 1 is another query.
    assert [[(i, j) for i, j, _ in found] for found in spans] == [[(1, 2), (3, 4)], [(1, 4)]]
    assert counts == {"spans_dropped": 1}


def test_nested_spans_holding_one_span_or_overlapping_ones_are_kept():
    counts = Counter()
    nested = [(0, 5), (2, 3)]  # "Docusate Sodium" around "Sodium"
    overlapping = [(1, 4), (1, 2), (2, 4)]  # the two inner spans share token 2
    chain = [(0, 1), (2, 3), (4, 5), (0, 3), (2, 5), (0, 5)]  # every bridge goes
    spans = decode_accepting([nested, overlapping, chain], counts=counts)
    assert [[(i, j) for i, j, _ in found] for found in spans] == [
        sorted(nested),
        sorted(overlapping),
        [(0, 1), (2, 3), (4, 5)],
    ]
    assert counts == {"spans_dropped": 3}


def test_decode_thresholds_are_on_logits_and_default_to_zero():
    spans = [[(1, 2), (4, 4)]]
    assert [(i, j) for i, j, _ in decode_accepting(spans)[0]] == [(1, 2), (4, 4)]
    assert decode_accepting(spans, start_threshold=2.5)[0] == []
    assert decode_accepting(spans, end_threshold=2.5)[0] == []
    assert decode_accepting(spans, match_threshold=1.5)[0] == []
    # A span that no longer passes no longer makes a bridge of the span around it.
    bridged = [[(1, 2), (3, 4), (1, 4)]]
    assert len(decode_accepting(bridged)[0]) == 2
    assert len(decode_accepting(bridged, match_threshold=1.0)[0]) == 0


NOTE = "Given lisinopril 40mg and metoprolol for hypertension, 1tab po."
NAMES = ["O", "B-Drug", "I-Drug", "B-Strength", "I-Strength"]


@cache
def minilm_tokens(text: str) -> tuple[list[int], list[int], list[str]]:
    """[CLS] text [SEP] offsets and pieces from the bundled MiniLM tokenizer."""
    tok = load_tokenizer(bundled_tokenizer_folder())
    encoding = tok(text, return_offsets_mapping=True)
    specials = set(tok.all_special_ids)
    starts = [
        -1 if i in specials else s
        for i, (s, _) in zip(encoding["input_ids"], encoding["offset_mapping"], strict=True)
    ]
    ends = [
        -1 if i in specials else e
        for i, (_, e) in zip(encoding["input_ids"], encoding["offset_mapping"], strict=True)
    ]
    return starts, ends, tok.convert_ids_to_tokens(encoding["input_ids"])


def test_bio_tags_are_read_per_word_first_piece():
    starts, ends, pieces = minilm_tokens(NOTE)
    li, sin, op, ril = (pieces.index(p) for p in ("li", "##sin", "##op", "##ril"))
    labels = [0] * len(pieces)
    labels[li], labels[op] = 1, 3  # B-Drug on "li", a stray B-Strength on "##op": not read
    labels[sin] = 0  # O on a continuation: the word still follows its first piece
    spans = bio_decode_words(labels, NOTE, starts, ends, NAMES)
    assert [(NOTE[starts[i] : ends[j]], kind) for i, j, kind in spans] == [("lisinopril", "Drug")]
    labels = [0] * len(pieces)
    labels[sin], labels[ril] = 1, 2  # B- and I- on continuation pieces open nothing
    assert bio_decode_words(labels, NOTE, starts, ends, NAMES) == []


def test_a_word_cut_by_the_row_edge_starts_and_ends_nothing():
    starts, ends, pieces = minilm_tokens(NOTE)
    sin, op = pieces.index("##sin"), pieces.index("##op")
    cut_starts = [-1, *starts[sin : op + 1], -1]  # a row holding "##sin ##op" only
    cut_ends = [-1, *ends[sin : op + 1], -1]
    assert bio_decode_words([0, 1, 2, 0], NOTE, cut_starts, cut_ends, NAMES) == []
    given = pieces.index("given")
    head_starts = [-1, *starts[given:sin], -1]  # "given li" with "##sin" beyond the row
    head_ends = [-1, *ends[given:sin], -1]
    assert bio_decode_words([0, 1, 2, 0], NOTE, head_starts, head_ends, NAMES) == []
    assert bio_decode_words([0, 1, 0, 0], NOTE, head_starts, head_ends, NAMES) == [(1, 1, "Drug")]


@given(st.data())
def test_bio_decoded_spans_never_start_or_end_inside_a_word(data):
    starts, ends, _ = minilm_tokens(NOTE)
    labels = data.draw(
        st.lists(
            st.sampled_from([-100, *range(len(NAMES))]), min_size=len(starts), max_size=len(starts)
        )
    )
    for i, j, _ in bio_decode_words(labels, NOTE, starts, ends, NAMES):
        start, end = token_span_to_chars(i, j, starts, ends)
        assert not inside_word(NOTE, start) and not inside_word(NOTE, end)
