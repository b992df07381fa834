"""Benchmark of the concept and relation scorer (issue 3, section 5).

Builds a synthetic corpus in memory — by default 1,000 documents x 100 entities x 50 relations,
with a prediction that keeps, shifts, retypes, drops and invents items — scores it strict and
lenient with 1,000-resample bootstrap intervals, builds the JSON and the table, and prints the
wall time. `--files` also writes the corpus to a temporary folder and times reading it back the
way `clinprompt evaluate` does. `--quick` runs a small size (for the smoke test).

    python benchmarks/bench_scorer.py [--quick] [--files]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from clinprompt.corpus.brat import Document, Entity, Relation, write_document
from clinprompt.score.bootstrap import resample_weights, with_intervals
from clinprompt.score.n2c2 import MicroScore, evaluate, format_table, to_json
from clinprompt.score.pairs import DocumentPair, pair_predictions, read_gold

ENTITY_TYPES = (
    "Drug",
    "Strength",
    "Form",
    "Dosage",
    "Frequency",
    "Route",
    "Duration",
    "Reason",
    "ADE",
)
RELATION_TYPES = tuple(f"{t}-Drug" for t in ENTITY_TYPES[1:])
SLOT = 12  # characters per entity slot in the synthetic text


def gold_document(doc_id: str, entities: int, relations: int, rng: np.random.Generator) -> Document:
    """Entities in consecutive slots (some with two fragments), relations between random pairs."""
    text = ("word " * (entities * SLOT // 5 + 1))[: entities * SLOT]
    types = rng.choice(len(ENTITY_TYPES), entities)
    spans = []
    for i in range(entities):
        start = i * SLOT + int(rng.integers(0, 3))
        end = start + int(rng.integers(4, 9))
        spans.append(
            ((start, start + 2), (start + 3, end)) if rng.random() < 0.1 else ((start, end),)
        )
    items = [
        Entity.from_offsets(f"T{i + 1}", ENTITY_TYPES[t], f, text)
        for i, (t, f) in enumerate(zip(types, spans, strict=True))
    ]
    pairs = rng.choice(entities, (relations, 2))
    links = [
        Relation(
            f"R{k + 1}",
            RELATION_TYPES[int(rng.integers(0, len(RELATION_TYPES)))],
            f"T{a + 1}",
            f"T{b + 1}",
        )
        for k, (a, b) in enumerate(pairs)
    ]
    return Document(doc_id, text, entities=items, relations=links)


def perturbed_entity(entity: Entity, text: str, rng: np.random.Generator) -> Entity | None:
    """Kept (70%), boundary shifted (10%), retyped (5%), or dropped (15%)."""
    draw = rng.random()
    if draw < 0.70:
        return entity
    if draw < 0.80:
        start, end = entity.start, entity.end
        return Entity.from_offsets(entity.id, entity.type, [(start, max(start + 1, end - 1))], text)
    if draw < 0.85:
        return Entity(
            entity.id,
            ENTITY_TYPES[int(rng.integers(0, len(ENTITY_TYPES)))],
            entity.fragments,
            entity.text,
        )
    return None


def prediction(gold: Document, rng: np.random.Generator) -> Document:
    """A noisy system output for one gold document, plus 5% invented entities and relations."""
    entities = [e for e in (perturbed_entity(g, gold.text, rng) for g in gold.entities) if e]
    kept = {e.id for e in entities}
    relations = [
        r for r in gold.relations if r.arg1 in kept and r.arg2 in kept and rng.random() < 0.9
    ]
    ids = sorted(kept)
    for k in range(len(gold.relations) // 20 if ids else 0):
        a, b = rng.choice(ids, 2)
        relations.append(
            Relation(f"R{len(gold.relations) + k + 1}", RELATION_TYPES[0], str(a), str(b))
        )
    for k in range(len(gold.entities) // 20):
        start = int(rng.integers(0, len(gold.text) - 5))
        entities.append(
            Entity.from_offsets(
                f"T{len(gold.entities) + k + 1}", "Drug", [(start, start + 4)], gold.text
            )
        )
    return Document(gold.doc_id, gold.text, entities=entities, relations=relations)


def corpus(documents: int, entities: int, relations: int, seed: int = 0) -> list[DocumentPair]:
    """Gold and predicted documents, paired."""
    rng = np.random.default_rng(seed)
    pairs = []
    for d in range(documents):
        gold = gold_document(f"doc{d:05d}", entities, relations, rng)
        pairs.append(
            DocumentPair(gold.doc_id, gold, prediction(gold, rng), gold.doc_id, gold.doc_id)
        )
    return pairs


def score_with_intervals(pairs: list[DocumentPair], resamples: int) -> dict:
    """What `clinprompt evaluate` computes after reading: counts, intervals, JSON, table."""
    evaluation = with_intervals(evaluate(pairs), resample_weights(len(pairs), resamples, seed=0))
    format_table(evaluation)
    return to_json(evaluation)


def time_from_files(pairs: list[DocumentPair], resamples: int) -> float:
    """Seconds to read the corpus back from folders and score it."""
    with tempfile.TemporaryDirectory() as tmp:
        gold_dir, pred_dir = Path(tmp) / "gold", Path(tmp) / "pred"
        for pair in pairs:
            write_document(pair.gold, gold_dir)
            write_document(pair.pred, pred_dir, write_text=False)
        start = time.perf_counter()
        pairs = pair_predictions(read_gold(gold_dir), gold_dir, pred_dir)
        score_with_intervals(pairs, resamples)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="20 documents x 10 entities x 5 relations"
    )
    parser.add_argument("--files", action="store_true", help="also time reading from folders")
    args = parser.parse_args()
    documents, entities, relations = (20, 10, 5) if args.quick else (1000, 100, 50)
    resamples = 1000
    pairs = corpus(documents, entities, relations)
    start = time.perf_counter()
    report = score_with_intervals(pairs, resamples)
    elapsed = time.perf_counter() - start
    strict = MicroScore.read(report, "entities")
    print(
        f"{documents} documents x {entities} entities x {relations} relations, strict + lenient,"
        f" {resamples} resamples; entity strict micro F1 {strict.f1:.4f}"
    )
    if args.files:
        print(f"read from folders + scored: {time_from_files(pairs, resamples):.3f} s")
    print(f"wall time: {elapsed:.3f} s")


if __name__ == "__main__":
    main()
