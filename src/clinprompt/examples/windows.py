"""Context windows: a document's text in, sentence-aware token windows with document offsets out.

`sentence_spans` splits clinical text by rules (see its docstring); `tokenize_document` runs the
checkpoint's fast tokenizer once over the whole text (no special tokens, literal "[SEP]" or
marker strings in a note stay plain text) and keeps each token's character offsets in the
document; `pack_windows` packs whole sentences greedily into windows of at most `budget`
context tokens and cuts a sentence longer than the budget into chunks that overlap by `stride`
tokens. Every token belongs to exactly one sentence (the one its first character falls in),
so windows are contiguous token ranges and spans map back to the document exactly.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from clinprompt.errors import ConfigError

_LIST_ITEM = re.compile(r"\s*(?:\d{1,3}[.)]|[-*\u2022])\s+")
_HEADER_LINE = re.compile(r"\s*[A-Za-z][^:\n]{0,58}:\s*")
_INLINE_HEADER = re.compile(r"\s*[A-Z][A-Za-z /&()-]{0,40}:\s")
_SENTENCE_END = re.compile(r"[.!?]+[\"')\]]*(?=\s+[^\sa-z])")
_TITLES = frozenset({"dr", "drs", "mr", "mrs", "ms", "prof", "st"})


@dataclass(frozen=True)
class DocumentTokens:
    """A document's tokens: ids and character offsets (end exclusive) in the document."""

    ids: tuple[int, ...]
    starts: tuple[int, ...]
    ends: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.ids)

    def token_span(self, start: int, end: int) -> tuple[int, int] | None:
        """First and last (inclusive) token overlapping characters [start, end), or None."""
        first = bisect_right(self.ends, start)
        last = bisect_right(self.starts, end - 1) - 1
        return (first, last) if first <= last else None


@dataclass(frozen=True)
class Window:
    """A run of consecutive document tokens: tokens [first_token, first_token + len) of it."""

    index: int
    start: int
    end: int
    first_token: int
    token_ids: tuple[int, ...]
    token_starts: tuple[int, ...]
    token_ends: tuple[int, ...]

    @property
    def last_token(self) -> int:
        """Document index of the window's last token (inclusive)."""
        return self.first_token + len(self.token_ids) - 1

    def holds(self, first: int, last: int) -> bool:
        """Whether document tokens first..last (inclusive) all lie in this window."""
        return self.first_token <= first and last <= self.last_token


def _lines(text: str) -> list[tuple[int, int]]:
    """(start, end) of every line, newline excluded."""
    spans, start = [], 0
    for line in text.split("\n"):
        spans.append((start, start + len(line)))
        start += len(line) + 1
    return spans


def _blocks(text: str) -> list[tuple[int, int]]:
    """Runs of lines that may hold several sentences but never share one with another run."""
    blocks: list[tuple[int, int]] = []
    joinable = False
    for start, end in _lines(text):
        line = text[start:end]
        header = _HEADER_LINE.fullmatch(line) is not None
        if not line.strip():
            joinable = False
        elif joinable and not (header or _LIST_ITEM.match(line) or _INLINE_HEADER.match(line)):
            blocks[-1] = (blocks[-1][0], end)
        else:
            blocks.append((start, end))
            joinable = not header
    return blocks


def _is_title(text: str, period: int) -> bool:
    """Whether the word before the period at `period` is a title such as "Dr"."""
    word = re.search(r"(\w+)$", text[:period])
    return word is not None and word.group(1).lower() in _TITLES


def _strip(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The span without surrounding whitespace, or None when nothing is left."""
    piece = text[start:end]
    if not piece.strip():
        return None
    return start + len(piece) - len(piece.lstrip()), start + len(piece.rstrip())


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans (end exclusive, whitespace trimmed) of the sentences of a clinical note.

    Rules, in order: (1) blank lines separate; (2) a line that ends with ':' and is at most
    60 characters long (a section header) is a sentence of its own; (3) a numbered or bulleted
    list item ("1. ", "2) ", "- ", "* ") and a line opening with "Capitalised Key: " start a
    new sentence; other line breaks are hard wraps and do not end a sentence; (4) inside
    those runs, '.', '!' or '?' (closing quotes or brackets included) followed by whitespace
    and a character that is not a lowercase letter ends a sentence, except after the titles
    Dr, Mr, Mrs, Ms, Prof, St and after a list item's own number. Every non-whitespace
    character lies in exactly one sentence.
    """
    spans: list[tuple[int, int]] = []
    for block_start, block_end in _blocks(text):
        block = text[block_start:block_end]
        marker = _LIST_ITEM.match(block)
        cut = block_start
        for match in _SENTENCE_END.finditer(block, marker.end() if marker else 0):
            if _is_title(block, match.start()):
                continue
            spans.append(_strip(text, cut, block_start + match.end()))
            cut = block_start + match.end()
        spans.append(_strip(text, cut, block_end))
    return [span for span in spans if span is not None]


def tokenize_document(text: str, tokenizer) -> DocumentTokens:
    """Tokenise the whole text once with a fast tokenizer, keeping document offsets."""
    encoding = tokenizer(
        text,
        add_special_tokens=False,
        return_offsets_mapping=True,
        split_special_tokens=True,
        verbose=False,
    )
    offsets = encoding["offset_mapping"]
    return DocumentTokens(
        tuple(encoding["input_ids"]),
        tuple(int(s) for s, _ in offsets),
        tuple(int(e) for _, e in offsets),
    )


def _sentence_token_ranges(
    tokens: DocumentTokens, sentences: list[tuple[int, int]]
) -> list[tuple[int, int]]:
    """Token range [first, stop) of every sentence that holds at least one token."""
    starts = [start for start, _ in sentences]
    owner = [max(bisect_right(starts, s) - 1, 0) for s in tokens.starts]
    ranges: dict[int, tuple[int, int]] = {}
    for index, sentence in enumerate(owner):
        first = ranges.get(sentence, (index, index))[0]
        ranges[sentence] = (first, index + 1)
    return [ranges[s] for s in sorted(ranges)]


def _chunks(first: int, stop: int, budget: int, stride: int) -> list[tuple[int, int]]:
    """Ranges of at most `budget` tokens covering [first, stop), consecutive ones sharing
    `stride` tokens."""
    chunks, start = [], first
    while True:
        chunks.append((start, min(start + budget, stop)))
        if start + budget >= stop:
            return chunks
        start += budget - stride


def _window(index: int, tokens: DocumentTokens, first: int, stop: int) -> Window:
    return Window(
        index=index,
        start=tokens.starts[first],
        end=tokens.ends[stop - 1],
        first_token=first,
        token_ids=tokens.ids[first:stop],
        token_starts=tokens.starts[first:stop],
        token_ends=tokens.ends[first:stop],
    )


def pack_windows(
    tokens: DocumentTokens, sentences: list[tuple[int, int]], budget: int, stride: int
) -> list[Window]:
    """Windows of at most `budget` tokens built from whole sentences, packed greedily.

    A sentence longer than the budget closes the open window and is cut into chunks of
    `budget` tokens overlapping by `stride` tokens (0 <= stride < budget).
    """
    if budget < 1:
        raise ConfigError(f"context budget must be at least 1 token, got {budget}")
    if not 0 <= stride < budget:
        raise ConfigError(f"stride must be in [0, {budget}) for a budget of {budget}")
    ranges: list[tuple[int, int]] = []
    for first, stop in _sentence_token_ranges(tokens, sentences):
        if stop - first > budget:
            ranges.extend(_chunks(first, stop, budget, stride))
        elif ranges and stop - ranges[-1][0] <= budget:
            ranges[-1] = (ranges[-1][0], stop)
        else:
            ranges.append((first, stop))
    return [_window(i, tokens, first, stop) for i, (first, stop) in enumerate(ranges)]


def inside_word(text: str, boundary: int) -> bool:
    """Whether character offset `boundary` falls between two alphanumeric characters."""
    return 0 < boundary < len(text) and text[boundary - 1].isalnum() and text[boundary].isalnum()


def word_boundary_masks(
    text: str, token_starts: Sequence[int], token_ends: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks of the tokens that may start and end a span (context tokens only)."""
    starts = np.array([s >= 0 and not inside_word(text, s) for s in token_starts], dtype=bool)
    ends = np.array([e >= 0 and not inside_word(text, e) for e in token_ends], dtype=bool)
    return starts, ends
