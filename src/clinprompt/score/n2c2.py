"""Concept and relation scoring with the semantics of the 2018 n2c2 Track 2 scorer.

In: `DocumentPair`s (read from a gold and a prediction folder by `clinprompt.score.pairs`, or
built in memory); an
optional dataset schema that names the types to report and turns SDoH events into the study's
relations. Out: an `Evaluation` holding tp/fp/fn per document and per type for entities and
relations, strict and lenient, from which `to_json` builds the published JSON (micro, macro and
per-type precision/recall/F1, floats unrounded) and `format_table` an official-looking table.
The rules are those of study.md, "Evaluation": an entity's span runs from its first fragment's
start to its last fragment's end (any number of fragments); strict = same type and span, lenient
= same type and overlapping spans; a relation matches when its type and both arguments match
under the same mode; a system item that matches a gold item already matched by an earlier
system item (file order) is discarded; TP = kept system items matching some gold item,
FP = kept - TP, FN = gold - TP; 0/0 = 0; micro sums counts over documents, macro averages the
per-document scores; per-type rows filter both sides by type first.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from clinprompt.corpus.brat import Document
from clinprompt.errors import InvalidInputError
from clinprompt.score.pairs import DocumentPair

if TYPE_CHECKING:
    from clinprompt.corpus.schema import DatasetSchema

log = logging.getLogger(__name__)

MODES = ("strict", "lenient")
TARGETS = ("entities", "relations")
METRICS = ("precision", "recall", "f1")
COUNTS = ("tp", "fp", "fn")


@dataclass(frozen=True, eq=False)
class CountTable:
    """tp/fp/fn of one target under one mode, per document and per row (a type).

    `counts` has shape (documents, rows, 3). `ci` is set by the bootstrap: [low, high] of
    micro precision, recall and F1, shape (3, 2).
    """

    rows: tuple[Hashable, ...]
    counts: np.ndarray
    ci: np.ndarray | None = None

    @property
    def per_document(self) -> np.ndarray:
        """tp/fp/fn of each document over all rows, shape (documents, 3)."""
        return self.counts.sum(axis=1)

    @property
    def per_row(self) -> np.ndarray:
        """tp/fp/fn of each row over all documents, shape (rows, 3)."""
        return self.counts.sum(axis=0)

    @property
    def micro(self) -> np.ndarray:
        """tp/fp/fn summed over documents and rows, shape (3,)."""
        return self.counts.sum(axis=(0, 1))


@dataclass(frozen=True)
class Evaluation:
    """Count tables of entities and relations, strict and lenient, over the same documents."""

    doc_ids: tuple[str, ...]
    tables: dict[tuple[str, str], CountTable]

    def table(self, target: str, mode: str) -> CountTable:
        """The table of `target` ("entities" or "relations") under `mode`."""
        return self.tables[target, mode]


# --------------------------------------------------------------------------- metrics


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    out = np.zeros(np.shape(numerator))
    return np.divide(numerator, denominator, out=out, where=denominator != 0)


def prf(counts: np.ndarray) -> np.ndarray:
    """Precision, recall and F1 from tp/fp/fn on the last axis; 0/0 = 0.

    F1 is computed from P and R as the official `Measures.f1` does, so floats agree bit for bit.
    """
    counts = np.asarray(counts, dtype=np.float64)
    tp, fp, fn = counts[..., 0], counts[..., 1], counts[..., 2]
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    f1 = _ratio(2 * (precision * recall), precision + recall)
    return np.stack([precision, recall, f1], axis=-1)


def macro(table: CountTable) -> tuple[float, float, float]:
    """Mean over documents of per-document P, R and F1 (the official script's "macro").

    The sum is exactly rounded: the official script sums in Python set order, which varies
    from run to run, so its last bit is not reproducible anyway.
    """
    per_document = prf(table.per_document)
    n = len(per_document)
    precision, recall, f1 = (math.fsum(column) / n for column in per_document.T)
    return precision, recall, f1


def metrics(counts: np.ndarray) -> dict[str, float | int]:
    """`{"precision", "recall", "f1", "tp", "fp", "fn"}` of one tp/fp/fn vector."""
    values = prf(counts)
    return {
        **{name: float(v) for name, v in zip(METRICS, values, strict=True)},
        **{name: int(c) for name, c in zip(COUNTS, counts, strict=True)},
    }


def ci_json(ci: np.ndarray) -> dict[str, list[float]]:
    """`{"precision": [lo, hi], "recall": [lo, hi], "f1": [lo, hi]}` of a (3, 2) array."""
    return {name: [float(lo), float(hi)] for name, (lo, hi) in zip(METRICS, ci, strict=True)}


def micro_json(table: CountTable) -> dict:
    """The micro block: metrics of the summed counts, plus `ci` once bootstrapped."""
    block: dict = metrics(table.micro)
    if table.ci is not None:
        block["ci"] = ci_json(table.ci)
    return block


@dataclass(frozen=True)
class MicroScore:
    """The micro block of one target and mode, as the package reads it back from a report
    (`report[target][mode]["micro"]`; the events block has no modes)."""

    precision: float
    recall: float
    f1: float
    tp: int
    fp: int
    fn: int
    ci: dict[str, tuple[float, float]] = field(default_factory=dict)

    @classmethod
    def of(cls, block: dict) -> MicroScore:
        """The score of a micro block (`micro_json`'s output)."""
        ci = {name: (float(low), float(high)) for name, (low, high) in block.get("ci", {}).items()}
        return cls(*(block[name] for name in (*METRICS, *COUNTS)), ci=ci)

    @classmethod
    def read(cls, report: dict, target: str, mode: str = "strict") -> MicroScore:
        """The micro score of `target` (entities, relations ...) in `mode` of a report."""
        return cls.of(report[target][mode]["micro"])


# --------------------------------------------------------------------------- matching


@dataclass(frozen=True, eq=False)
class _Arrays:
    """One document as arrays: entities (type code, start, end) and relations (type code,
    Arg1 and Arg2 as indices into the entities)."""

    entities: np.ndarray
    relations: np.ndarray


def _encode(doc: Document, entity_codes: dict, relation_codes: dict, source: str) -> _Arrays:
    """A document's entities and relations as integer arrays."""
    index = {e.id: i for i, e in enumerate(doc.entities)}
    entities = [(entity_codes[e.type], e.start, e.end) for e in doc.entities]
    relations = []
    for rel in doc.relations:
        for ref in (rel.arg1, rel.arg2):
            if ref not in index:
                raise InvalidInputError(
                    f"{source}:{rel.line}: relation {rel.id} argument {ref} is not a"
                    " text-bound annotation of this file"
                )
        relations.append((relation_codes[rel.type], index[rel.arg1], index[rel.arg2]))
    return _Arrays(
        np.array(entities, dtype=np.int64).reshape(-1, 3),
        np.array(relations, dtype=np.int64).reshape(-1, 3),
    )


def _entity_match(sys: np.ndarray, gold: np.ndarray, mode: str) -> np.ndarray:
    """(system, gold) boolean matrix: same type, and same span (strict) or overlap (lenient)."""
    s_type, s_start, s_end = (sys[:, k, None] for k in range(3))
    g_type, g_start, g_end = (gold[None, :, k] for k in range(3))
    if mode == "strict":
        span = (s_start == g_start) & (s_end == g_end)
    else:
        span = (s_start < g_end) & (g_start < s_end)
    return (s_type == g_type) & span


def _relation_match(sys: np.ndarray, gold: np.ndarray, entity_match: np.ndarray) -> np.ndarray:
    """(system, gold) boolean matrix: same type and both arguments matching."""
    same_type = sys[:, 0, None] == gold[None, :, 0]
    arg1 = entity_match[sys[:, 1, None], gold[None, :, 1]]
    arg2 = entity_match[sys[:, 2, None], gold[None, :, 2]]
    return same_type & arg1 & arg2


def _count(
    match: np.ndarray, sys_types: np.ndarray, gold_types: np.ndarray, rows: int
) -> np.ndarray:
    """tp/fp/fn per row of one document, shape (rows, 3), with the duplicates rule.

    The official loop marks every gold item a system item matches and drops the system item
    when one of its gold items was marked before; that is, system item s is discarded when some
    gold item it matches was matched by a system item earlier than s.
    """
    n_sys = match.shape[0]
    sentinel = np.ones((1, match.shape[1]), dtype=bool)
    first = np.argmax(np.vstack([match, sentinel]), axis=0)
    discarded = (match & (first[None, :] < np.arange(n_sys)[:, None])).any(axis=1)
    kept = ~discarded
    hit = kept & match.any(axis=1)
    tp = np.bincount(sys_types[hit], minlength=rows)
    fp = np.bincount(sys_types[kept], minlength=rows) - tp
    fn = np.bincount(gold_types, minlength=rows) - tp
    return np.stack([tp, fp, fn], axis=1)


# --------------------------------------------------------------------------- evaluation


def _study_pair(pair: DocumentPair, schema: DatasetSchema | None) -> DocumentPair:
    """The pair as the study scores it (SDoH events become relations)."""
    if schema is None:
        return pair
    return replace(pair, gold=schema.study_view(pair.gold), pred=schema.study_view(pair.pred))


def _rows(
    declared: Sequence[str] | None,
    pairs: Sequence[DocumentPair],
    types_of: Callable[[Document], Iterable[str]],
) -> tuple[str, ...]:
    """Declared types (default: those in gold, sorted), then any other type seen, sorted.

    Listing every type seen keeps the per-type rows summing to the micro counts.
    """
    gold = {t for pair in pairs for t in types_of(pair.gold)}
    seen = gold | {t for pair in pairs for t in types_of(pair.pred)}
    base = tuple(declared) if declared is not None else tuple(sorted(gold))
    return base + tuple(sorted(seen - set(base)))


def _entity_types(doc: Document) -> Iterable[str]:
    return (e.type for e in doc.entities)


def _relation_types(doc: Document) -> Iterable[str]:
    return (r.type for r in doc.relations)


def evaluate(pairs: Sequence[DocumentPair], schema: DatasetSchema | None = None) -> Evaluation:
    """Count tp/fp/fn per document and type, for entities and relations, strict and lenient."""
    if not pairs:
        raise InvalidInputError("no documents to score")
    pairs = [_study_pair(pair, schema) for pair in pairs]
    entity_rows = _rows(schema.entities if schema else None, pairs, _entity_types)
    relation_rows = _rows(schema.relation_types if schema else None, pairs, _relation_types)
    entity_codes = {t: i for i, t in enumerate(entity_rows)}
    relation_codes = {t: i for i, t in enumerate(relation_rows)}
    shape = {"entities": len(entity_rows), "relations": len(relation_rows)}
    counts = {
        (target, mode): np.zeros((len(pairs), shape[target], 3), dtype=np.int64)
        for target in TARGETS
        for mode in MODES
    }
    for i, pair in enumerate(pairs):
        gold = _encode(pair.gold, entity_codes, relation_codes, pair.gold_source)
        sys = _encode(pair.pred, entity_codes, relation_codes, pair.pred_source)
        for mode in MODES:
            entity_match = _entity_match(sys.entities, gold.entities, mode)
            counts["entities", mode][i] = _count(
                entity_match, sys.entities[:, 0], gold.entities[:, 0], shape["entities"]
            )
            relation_match = _relation_match(sys.relations, gold.relations, entity_match)
            counts["relations", mode][i] = _count(
                relation_match, sys.relations[:, 0], gold.relations[:, 0], shape["relations"]
            )
    rows = {"entities": entity_rows, "relations": relation_rows}
    tables = {key: CountTable(rows[key[0]], value) for key, value in counts.items()}
    return Evaluation(tuple(pair.doc_id for pair in pairs), tables)


# --------------------------------------------------------------------------- output


def _mode_json(table: CountTable) -> dict:
    return {
        "micro": micro_json(table),
        "macro": dict(zip(METRICS, macro(table), strict=True)),
        "per_type": {row: metrics(c) for row, c in zip(table.rows, table.per_row, strict=True)},
    }


def to_json(evaluation: Evaluation) -> dict:
    """The scores as the JSON documented in issue 3 (floats unrounded)."""
    report: dict = {"documents": len(evaluation.doc_ids)}
    for target in TARGETS:
        report[target] = {mode: _mode_json(evaluation.table(target, mode)) for mode in MODES}
    return report


def _line(label: str, strict: Iterable[float], lenient: Iterable[float], width: int) -> str:
    values = "  ".join(f"{v:<6.4f}" for v in strict), "  ".join(f"{v:<6.4f}" for v in lenient)
    return f"{label:>{width}}  {values[0]}    {values[1]}"


def _ci_cell(table: CountTable) -> str:
    low, high = table.ci[2]
    return f"[{low:.4f}, {high:.4f}]"


def _format_target(evaluation: Evaluation, target: str) -> list[str]:
    strict, lenient = (evaluation.table(target, mode) for mode in MODES)
    width = max([20, *(len(str(row)) for row in strict.rows)])
    rule = f"{'':{width}}  {'':-^22}    {'':-^22}"
    lines = [
        f"{f' {target.upper()} ':*^{width + 50}}",
        f"{'':{width}}  {' strict ':-^22}    {' lenient ':-^22}",
        f"{'':{width}}  {'Prec.':8}{'Rec.':8}{'F(b=1)':6}    {'Prec.':8}{'Rec.':8}{'F(b=1)':6}",
    ]
    for row, s, le in zip(strict.rows, prf(strict.per_row), prf(lenient.per_row), strict=True):
        lines.append(_line(str(row), s, le, width))
    lines += [
        rule,
        _line("Overall (micro)", prf(strict.micro), prf(lenient.micro), width),
        _line("Overall (macro)", macro(strict), macro(lenient), width),
    ]
    if strict.ci is not None and lenient.ci is not None:
        lines.append(f"{'Micro F1 CI':>{width}}  {_ci_cell(strict):22}    {_ci_cell(lenient)}")
    return lines


def format_table(evaluation: Evaluation) -> str:
    """An official-looking table: per type, micro and macro; strict and lenient."""
    lines = [f"{len(evaluation.doc_ids)} documents scored"]
    for target in TARGETS:
        lines += ["", *_format_target(evaluation, target)]
    return "\n".join(lines) + "\n"
