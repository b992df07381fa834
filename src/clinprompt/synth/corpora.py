"""Synthetic embedded corpora: seeded BRAT folders in the study's two dataset schemas.

In: a corpus kind (`drug_ade` for the n2c2-2018 schema, `sdoh` for n2c2-2022-sdoh), a seed,
the number of documents per split (per institution) and the institutions. Out:
`OUT/{split}/{institution}/NAME.txt|.ann` files and a summary of counts. Each document draws
from its own `random.Random` seeded by (kind, seed, split, institution, index), so the same
arguments always give byte-identical files, and from the `Vocabulary` of its split: train and
dev notes use only the training part of every lexicon, test notes about half held-out
vocabulary (unseen drugs, strengths, conditions, substances, jobs, ...), so a dictionary of
training mentions cannot solve the test split. The notes themselves come from
`synth_drug_ade` (discharge summaries) and `synth_sdoh` (MIMIC- and UW-style social
histories); their headers hold fake identifiers from `CANARY_IDENTIFIERS`.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from clinprompt.corpus.brat import Document, write_document
from clinprompt.errors import ConfigError
from clinprompt.synth.drug_ade import drug_ade_note
from clinprompt.synth.note import CANARY_IDENTIFIERS, Vocabulary
from clinprompt.synth.sdoh import mimic_social_history, uw_social_history

__all__ = [
    "CANARY_IDENTIFIERS",
    "KINDS",
    "SPLITS",
    "SyntheticKind",
    "planned_parts",
    "write_synthetic_corpus",
]

log = logging.getLogger(__name__)

SPLITS = ("train", "dev", "test")


@dataclass(frozen=True)
class SyntheticKind:
    """A corpus kind: its dataset schema, default sizes and a note writer per institution."""

    schema: str
    default_documents: dict[str, int]
    notes: dict[str, Callable[[random.Random, str, Vocabulary], Document]]


KINDS = {
    "drug_ade": SyntheticKind("n2c2-2018", {"train": 40, "test": 20}, {"MIMIC": drug_ade_note}),
    "sdoh": SyntheticKind(
        "n2c2-2022-sdoh",
        {"train": 30, "test": 15},
        {"MIMIC": mimic_social_history, "UW": uw_social_history},
    ),
}


def _check_request(kind: str, documents: dict[str, int], institutions: list[str]) -> None:
    """Stop on a split, count or institution that cannot be produced."""
    for split, count in documents.items():
        if split not in SPLITS:
            raise ConfigError(f"synthetic documents: unknown split '{split}' (use {SPLITS})")
        if not isinstance(count, int) or count < 0:
            raise ConfigError(f"synthetic documents.{split}: must be a whole number >= 0")
    for institution in institutions:
        if institution not in KINDS[kind].notes:
            raise ConfigError(
                f"synthetic {kind}: no notes for institution '{institution}' "
                f"(use {', '.join(KINDS[kind].notes)})"
            )


def _write_part(
    kind: str, seed: int, split: str, institution: str, count: int, folder: Path
) -> dict[str, int]:
    """Write one split of one institution into `folder`; return its annotation counts.

    Earlier `.txt`/`.ann` files in `folder` (from a larger run) are removed first.
    """
    if folder.is_dir():
        for path in sorted(folder.iterdir()):
            if path.suffix in (".txt", ".ann") and path.is_file():
                path.unlink()
    totals = {"documents": count, "entities": 0, "relations": 0, "events": 0, "attributes": 0}
    vocabulary = Vocabulary.for_split(split)
    for index in range(count):
        rng = random.Random(f"{kind}/{seed}/{split}/{institution}/{index}")
        doc_id = f"{split}-{institution.lower()}-{index:04d}"
        doc = KINDS[kind].notes[institution](rng, doc_id, vocabulary)
        write_document(doc, folder)
        for key in ("entities", "relations", "events", "attributes"):
            totals[key] += len(getattr(doc, key))
    return totals


def planned_parts(
    kind: str, documents: dict[str, int] | None = None, institutions: Sequence[str] | None = None
) -> list[tuple[str, str, int]]:
    """(split, institution, documents) of every folder a request writes, defaults applied.

    `documents` maps split to documents per institution; train and test default to the
    kind's small default sizes, dev to none, and a split with 0 documents is not written.
    `institutions` defaults to every institution the kind has.
    """
    if kind not in KINDS:
        raise ConfigError(f"unknown synthetic corpus kind '{kind}' (use {', '.join(KINDS)})")
    documents = {**KINDS[kind].default_documents, **(documents or {})}
    institutions = list(KINDS[kind].notes if institutions is None else institutions)
    _check_request(kind, documents, institutions)
    return [
        (split, institution, documents[split])
        for split in SPLITS
        if documents.get(split, 0)
        for institution in institutions
    ]


def write_synthetic_corpus(
    kind: str,
    out_dir: Path,
    seed: int = 0,
    documents: dict[str, int] | None = None,
    institutions: Sequence[str] | None = None,
) -> dict:
    """Write a synthetic corpus (sizes as in `planned_parts`); return counts per part."""
    parts = []
    for split, institution, count in planned_parts(kind, documents, institutions):
        folder = Path(out_dir) / split / institution
        totals = _write_part(kind, seed, split, institution, count, folder)
        parts.append({"split": split, "institution": institution, **totals})
        log.info("%s %s/%s: %d documents", kind, split, institution, count)
    return {"kind": kind, "schema": KINDS[kind].schema, "seed": seed, "parts": parts}
