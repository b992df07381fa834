"""The documents a scorer compares: each gold document paired with its prediction.

In: a gold folder of `.txt`/`.ann` pairs and a prediction folder of `.ann` files, each read
against the gold document's text. Out: `DocumentPair`s in gold name order. The first
error-level problem of a file stops the scoring as one line naming `path:line`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from clinprompt.corpus.brat import Document, Problem
from clinprompt.corpus.brat_parser import iter_ann_files, parse_document, read_document
from clinprompt.errors import InvalidInputError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DocumentPair:
    """A gold document, the prediction for it, and the paths that error messages name."""

    doc_id: str
    gold: Document
    pred: Document
    gold_source: str
    pred_source: str


def _raise_errors(problems: list[Problem]) -> None:
    """Stop on the first error-level problem, as one line that counts the others."""
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
        raise InvalidInputError(f"{errors[0]}{more}")


def read_gold(folder: Path) -> list[Document]:
    """Every gold document of a folder of `.txt`/`.ann` pairs, in name order."""
    documents = []
    for ann_path in iter_ann_files(folder):
        doc, problems = read_document(ann_path)
        _raise_errors(problems)
        documents.append(doc)
    if not documents:
        raise InvalidInputError(f"{folder}: no .ann files to score against")
    return documents


def _read_prediction(path: Path, gold: Document) -> Document:
    """A prediction `.ann` parsed against the gold document's text."""
    try:
        ann = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise InvalidInputError(f"{path}:0: invalid UTF-8 at byte {err.start}") from None
    doc, problems = parse_document(gold.doc_id, gold.text, ann, str(path))
    _raise_errors(problems)
    return doc


def pair_predictions(
    gold: Sequence[Document], gold_dir: Path, pred_dir: Path, official: bool = False
) -> list[DocumentPair]:
    """Pair each gold document with its prediction file.

    A gold document without one predicts nothing (all FN) and is warned about; with `official`
    it is dropped, as the official script does. A prediction without gold is an error.
    """
    predictions = {p.stem: p for p in iter_ann_files(pred_dir)}
    orphans = sorted(predictions.keys() - {doc.doc_id for doc in gold})
    if orphans:
        raise InvalidInputError(
            f"{predictions[orphans[0]]}: no gold document {orphans[0]}.ann in {gold_dir}"
            f" ({len(orphans)} prediction files without gold)"
        )
    pairs = []
    for doc in gold:
        pred_path = predictions.get(doc.doc_id)
        if pred_path is None:
            outcome = "left out (--official)" if official else "scored as predicting nothing"
            log.warning("%s: no prediction file %s.ann; %s", pred_dir, doc.doc_id, outcome)
            if official:
                continue
        pred = _read_prediction(pred_path, doc) if pred_path else Document(doc.doc_id, doc.text)
        gold_source = str(Path(gold_dir) / f"{doc.doc_id}.ann")
        pred_source = str(pred_path) if pred_path else ""
        pairs.append(DocumentPair(doc.doc_id, doc, pred, gold_source, pred_source))
    if not pairs:
        raise InvalidInputError(f"{pred_dir}: no prediction file matches a gold document")
    return pairs
