"""BIO diagnostics for the fine-tuning baseline: seqeval in strict mode with the IOB2 scheme.

In: gold and predicted tag sequences, one list of `B-Type`/`I-Type`/`O` strings per sentence.
Out: a `BioReport` — chunk-level precision/recall/F1 micro and per type from seqeval with
`mode="strict", scheme=IOB2` (seqeval's default, lenient conlleval mode silently turns a broken
sequence such as `O I-Drug` into a chunk), token accuracy, and the number of predicted `I-` tags
that continue no chunk of their type — plus `to_json` and `format_report`. Diagnostic only: the
published numbers come from `clinprompt.score.n2c2`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from seqeval.metrics import accuracy_score
from seqeval.metrics.v1 import precision_recall_fscore_support
from seqeval.scheme import IOB2, Entities

from clinprompt.errors import InvalidInputError

TAG = re.compile(r"O|[BI]-\S+")


@dataclass(frozen=True)
class TypeScores:
    """Strict chunk-level scores of one type (or of all types, `type="micro"`)."""

    type: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class BioReport:
    """Strict IOB2 chunk scores, token accuracy and broken `I-` tags of a tagging."""

    micro: TypeScores
    per_type: tuple[TypeScores, ...]
    token_accuracy: float
    broken_tags: int


def _check(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> None:
    """Same number of sentences and tokens, and only `O`, `B-X`, `I-X` tags."""
    if len(gold) != len(pred):
        raise InvalidInputError(f"{len(gold)} gold sentences but {len(pred)} predicted")
    for i, (g, p) in enumerate(zip(gold, pred, strict=True)):
        if len(g) != len(p):
            raise InvalidInputError(f"sentence {i}: {len(g)} gold tags but {len(p)} predicted")
        bad = next((t for t in (*g, *p) if not TAG.fullmatch(t)), None)
        if bad is not None:
            raise InvalidInputError(f"sentence {i}: tag '{bad}' is not O, B-<type> or I-<type>")


def count_broken(sequence: Sequence[str]) -> int:
    """`I-X` tags that follow neither `B-X` nor `I-X` (IOB2 forbids them)."""
    previous = ["O", *sequence][: len(sequence)]
    return sum(
        tag.startswith("I-") and prev not in (f"B-{tag[2:]}", tag)
        for prev, tag in zip(previous, sequence, strict=True)
    )


def _scores(gold: list[list[str]], pred: list[list[str]], average: str | None) -> tuple:
    return precision_recall_fscore_support(
        gold, pred, average=average, scheme=IOB2, zero_division=0
    )


def score_bio(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> BioReport:
    """Strict IOB2 scores of predicted tag sequences against gold ones."""
    _check(gold, pred)
    gold, pred = [list(s) for s in gold], [list(s) for s in pred]
    types = sorted(Entities(gold, IOB2).unique_tags | Entities(pred, IOB2).unique_tags)
    per_type = tuple(
        TypeScores(name, float(p), float(r), float(f), int(s))
        for name, p, r, f, s in zip(types, *_scores(gold, pred, None), strict=True)
    )
    p, r, f, s = _scores(gold, pred, "micro")
    return BioReport(
        micro=TypeScores("micro", float(p), float(r), float(f), int(s)),
        per_type=per_type,
        token_accuracy=float(accuracy_score(gold, pred)) if any(gold) else 0.0,
        broken_tags=sum(count_broken(s) for s in pred),
    )


def to_json(report: BioReport) -> dict:
    """The report as plain JSON values."""
    return asdict(report)


def format_report(report: BioReport) -> str:
    """One line per type, then micro, token accuracy and broken tags."""
    lines = [f"{'type':>20}  {'Prec.':8}{'Rec.':8}{'F(b=1)':8}support"]
    for row in (*report.per_type, report.micro):
        lines.append(
            f"{row.type:>20}  {row.precision:<8.4f}{row.recall:<8.4f}{row.f1:<8.4f}{row.support}"
        )
    lines.append(f"{'token accuracy':>20}  {report.token_accuracy:.4f}")
    lines.append(f"{'broken I- tags':>20}  {report.broken_tags}")
    return "\n".join(lines) + "\n"
