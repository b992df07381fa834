"""Dictionary baseline: every training mention string looked up in the test text.

In: the training entities (type and surface text) and test documents. Out: predicted
documents whose concepts are every case-insensitive, word-bounded occurrence of a training
mention, labelled with the type that string carried most often in training (ties: first
type in schema order); longer strings win over overlapping shorter ones. No relations: it
shows how far string memory alone gets on concepts.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict

import pandas as pd

from clinprompt.brat import Document
from clinprompt.decode import SpanPrediction, predictions_to_entities


def mention_dictionary(entities: pd.DataFrame, types: tuple[str, ...]) -> dict[str, str]:
    """Lower-cased mention text -> its most frequent training type."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for text, kind in zip(entities["text"], entities["type"], strict=True):
        key = " ".join(text.lower().split())
        if len(key) > 1:
            counts[key][kind] += 1
    order = {t: i for i, t in enumerate(types)}
    return {
        key: min(c, key=lambda t: (-c[t], order.get(t, len(order)))) for key, c in counts.items()
    }


def dictionary_predictions(
    dictionary: dict[str, str], documents: pd.DataFrame
) -> dict[str, Document]:
    """Predicted documents keyed by `document`."""
    patterns = sorted(dictionary, key=len, reverse=True)
    regex = re.compile(
        r"(?<!\w)(" + "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in patterns) + r")(?!\w)",
        re.IGNORECASE,
    )
    predicted = {}
    for key, text in zip(documents["document"], documents["text"], strict=True):
        spans = [
            SpanPrediction(dictionary[" ".join(m.group().lower().split())], m.start(), m.end(), 1.0)
            for m in regex.finditer(text)
        ]
        predicted[key] = Document(
            key.rsplit("/", 1)[-1], text, predictions_to_entities(text, spans)
        )
    return predicted
