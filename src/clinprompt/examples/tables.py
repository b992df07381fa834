"""The example table of a corpus: every row kind of a strategy, negatives down-sampled, in the
columns and dtypes of `EXAMPLE_SCHEMA`."""

from __future__ import annotations

import logging
import random
from collections import Counter

import pandas as pd

from clinprompt.corpus.schema import DatasetSchema
from clinprompt.corpus.tables import CorpusTables
from clinprompt.examples.finetune import (
    bio_examples,
    pair_examples,
)
from clinprompt.examples.mrc import (
    concept_examples,
    relation_examples,
)
from clinprompt.examples.settings import (
    ExampleSet,
    ExampleSettings,
)

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- tables


def downsample_negatives(frame: pd.DataFrame, ratio: float, seed: int) -> tuple[pd.DataFrame, int]:
    """Keep at most ratio x positives of the negative rows of the train split: empty-answer
    MRC rows, and entity-marker pairs of no relation (label 0), alike.

    Stratified by query type: within a task every query type keeps the same share of its
    negatives (the task's positives x ratio over its negatives), so a rare relation type
    keeps the answered share it has at test time relative to the others instead of training
    near 50/50. Each type's sample is seeded over its sorted example ids; dev and test rows,
    and rows without gold, are never dropped. Returns the table and the number dropped.
    """
    answers, label = frame["answer_starts"], frame["label"]
    pair = frame["query_type"] == "pair"
    known = answers.map(lambda a: a is not None) | (pair & label.notna())
    empty = answers.map(lambda a: a is not None and len(a) == 0) | (pair & label.eq(0))
    drop: set[str] = set()
    for task in ("concept", "relation"):
        train = known & (frame["split"] == "train") & (frame["task"] == task)
        negatives = int((train & empty).sum())
        share = min(1.0, ratio * int((train & ~empty).sum()) / max(negatives, 1))
        for query_type in sorted(set(frame.loc[train, "query_type"])):
            rows = train & empty & (frame["query_type"] == query_type)
            ids = sorted(frame.loc[rows, "example_id"])
            rng = random.Random(f"negatives:{seed}:{task}:{query_type}")
            kept = set(rng.sample(ids, int(share * len(ids))))
            drop.update(i for i in ids if i not in kept)
    return frame[~frame["example_id"].isin(drop)].reset_index(drop=True), len(drop)


def build_examples(
    tables: CorpusTables, schema: DatasetSchema, tokenizer, settings: ExampleSettings
) -> ExampleSet:
    """The strategy's example table for every document of `tables` (filter them first).

    Concept rows cover every document, with gold answers or labels where split != test.
    Relation rows from gold concepts are made for train and dev documents only; test
    relation rows come from the predicted concepts (`relation_examples`, `pair_examples`).
    Negative down-sampling (`negative_ratio`: MRC rows and entity-marker pairs) touches train
    rows only.
    """
    documents = tables.documents
    labelled = documents[documents["split"] != "test"]
    unlabelled = documents[documents["split"] == "test"]
    gold = tables.entities[tables.entities["document"].isin(labelled["document"])]
    links = tables.relations[tables.relations["document"].isin(labelled["document"])]
    if settings.kind.entity_markers:
        parts = [
            bio_examples(labelled, schema, tokenizer, settings, gold),
            bio_examples(unlabelled, schema, tokenizer, settings),
            pair_examples(labelled, gold, schema, tokenizer, settings, links),
        ]
    else:
        parts = [
            concept_examples(labelled, schema, tokenizer, settings, gold),
            concept_examples(unlabelled, schema, tokenizer, settings),
            relation_examples(labelled, gold, schema, tokenizer, settings, gold, links),
        ]
    frame = pd.concat([part for part, _ in parts], ignore_index=True)
    counts = Counter()
    for _, part_counts in parts:
        counts.update(part_counts)
    if settings.negative_ratio is not None:
        frame, counts["negatives_dropped"] = downsample_negatives(
            frame, settings.negative_ratio, settings.seed
        )
    counts["examples"] = len(frame)
    log.info("%s examples: %s", settings.strategy, dict(sorted(counts.items())))
    return ExampleSet(frame, settings.markers, dict(sorted(counts.items())))
