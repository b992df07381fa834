"""Decision thresholds of MRC decoding, chosen on dev.

In: a trained MRC model, example rows of the dev documents with their gold answers (concept
rows, and relation rows asked from the gold triggers) and the documents' texts. Out: one
`SpanThresholds` per task (`concept`, `relation`): the point of a coarse grid of start/end
and match logit thresholds whose decoded spans match the gold answers best (micro F1 over
rows, exact token spans), ties going to the point nearest the study's 0; with it the dev F1
at 0 and at the chosen point and the share of rows answered, predicted and gold. Training
rows keep fewer unanswered queries than test rows (negatives are down-sampled) and a model
trained on little data is under- or over-confident, so the fixed 0 (probability 0.5) alone
would make the comparison between strategies one of calibration; the grid stays coarse so
that a small dev set cannot overfit it. For entity-marker pairs (`finetune`) the same holds
for the no-relation class, whose training rows are down-sampled too: `choose_none_bias` picks
the offset added to its logit that classifies the dev pairs best (micro F1 of the relations).
"""

from __future__ import annotations

import itertools
import logging
from collections import defaultdict

import pandas as pd
import torch

from clinprompt.model.extraction import ExtractionModel
from clinprompt.predict.decode import SpanThresholds
from clinprompt.predict.outputs import decode_outputs, pair_logits, span_outputs

log = logging.getLogger(__name__)

BOUNDARY_GRID = (-6.0, -4.0, -3.0, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0)
MATCH_GRID = (-4.0, -2.0, -1.0, 0.0, 1.0, 2.0)
NONE_BIAS_GRID = (-4.0, -3.0, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0)
TASKS = ("concept", "relation")


def _f1(tp: int, predicted: int, gold: int) -> float:
    return 2 * tp / (predicted + gold) if predicted + gold else 0.0


@torch.inference_mode()
def choose_thresholds(
    model: ExtractionModel,
    frame: pd.DataFrame,
    texts: dict[str, str],
    batch_size: int,
    pad_id: int,
) -> dict[str, dict]:
    """Per task present in `frame`: the chosen thresholds, dev F1 at 0 and at them, rows and
    the share of rows answered (predicted at the chosen point, and gold)."""
    model.eval()
    grid = list(itertools.product(BOUNDARY_GRID, MATCH_GRID))
    # counts[task][point] = [tp, predicted, gold, rows answered]
    counts: dict[str, dict] = defaultdict(lambda: {p: [0, 0, 0, 0] for p in grid})
    rows: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # rows, rows with gold answers
    width = model.settings.max_span_width
    outputs = span_outputs(model, frame, texts, batch_size, pad_id, min(BOUNDARY_GRID))
    for part, out, starts, ends in outputs:
        gold = [set(zip(r.answer_starts, r.answer_ends, strict=True)) for r in part.itertuples()]
        tasks = part["task"].tolist()
        for task, answers in zip(tasks, gold, strict=True):
            rows[task][0] += 1
            rows[task][1] += bool(answers)
        for boundary, match in grid:
            point = SpanThresholds(boundary, boundary, match)
            decoded = decode_outputs(out, starts, ends, width, point)
            for task, found, answers in zip(tasks, decoded, gold, strict=True):
                spans = {(i, j) for i, j, _ in found}
                tally = counts[task][boundary, match]
                tally[0] += len(spans & answers)
                tally[1] += len(spans)
                tally[2] += len(answers)
                tally[3] += bool(spans)
    chosen = {}
    for task in (t for t in TASKS if t in counts):
        scores = {point: _f1(*tally[:3]) for point, tally in counts[task].items()}
        best = max(grid, key=lambda p: (round(scores[p], 6), -abs(p[0]) - abs(p[1])))
        total, answered = rows[task]
        chosen[task] = {
            "start": best[0],
            "end": best[0],
            "match": best[1],
            "dev_f1": scores[best],
            "dev_f1_at_zero": scores[0.0, 0.0],
            "rows": total,
            "answered_predicted": counts[task][best][3] / total,
            "answered_gold": answered / total,
        }
        log.info(
            "%s thresholds on dev: start/end %.1f match %.1f, span F1 %.4f (%.4f at 0)",
            task,
            best[0],
            best[1],
            scores[best],
            scores[0.0, 0.0],
        )
    return chosen


def span_thresholds(chosen: dict[str, dict] | None) -> dict[str, SpanThresholds]:
    """`SpanThresholds` per task from `choose_thresholds`' output (as stored in train.json)."""
    return {
        task: SpanThresholds(values["start"], values["end"], values["match"])
        for task, values in (chosen or {}).items()
        if task in TASKS
    }


@torch.inference_mode()
def choose_none_bias(
    model: ExtractionModel, frame: pd.DataFrame, batch_size: int, pad_id: int
) -> dict[str, float]:
    """The no-relation logit offset with the best relation micro F1 on labelled dev pair rows
    (ties: nearest 0), with the F1 at 0 and at it."""
    model.eval()
    counts = {bias: [0, 0, 0] for bias in NONE_BIAS_GRID}  # tp, predicted, gold
    for part, logits in pair_logits(model, frame, batch_size, pad_id):
        gold = torch.tensor(part["label"].astype(int).to_numpy())
        for bias, tally in counts.items():
            shifted = logits.clone()
            shifted[:, 0] += bias
            predicted = shifted.argmax(-1)
            tally[0] += int(((predicted == gold) & (gold > 0)).sum())
            tally[1] += int((predicted > 0).sum())
            tally[2] += int((gold > 0).sum())
    scores = {bias: _f1(*tally) for bias, tally in counts.items()}
    best = max(NONE_BIAS_GRID, key=lambda b: (round(scores[b], 6), -abs(b)))
    log.info(
        "pair no-relation bias on dev: %.1f, F1 %.4f (%.4f at 0)", best, scores[best], scores[0.0]
    )
    return {
        "none_bias": best,
        "dev_f1": scores[best],
        "dev_f1_at_zero": scores[0.0],
        "rows": len(frame),
    }


def none_bias(chosen: dict[str, dict] | None) -> float:
    """The pairs' no-relation bias from a stored `thresholds` block (0 when none was chosen)."""
    return float(((chosen or {}).get("pair") or {}).get("none_bias", 0.0))


def calibrate(
    model: ExtractionModel, frame: pd.DataFrame, tables, batch_size: int, pad_id: int
) -> dict[str, dict]:
    """Every decision threshold of the model's strategy on the dev rows `frame` of `tables`:
    span thresholds per task for MRC, the no-relation bias for entity-marker pairs."""
    if model.settings.kind.mrc:
        texts = dict(zip(tables.documents["document"], tables.documents["text"], strict=True))
        return choose_thresholds(model, frame, texts, batch_size, pad_id)
    pairs = frame[frame["query_type"] == "pair"]
    if pairs.empty:
        return {}
    return {"pair": choose_none_bias(model, pairs, batch_size, pad_id)}
