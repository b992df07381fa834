"""Corpus tables: BRAT folders in, one Parquet table per annotation kind out.

In: `CorpusPart`s (a split, an institution and a BRAT folder each) and a `DatasetSchema`.
Out: `CorpusTables` — documents, entities (with fragment lists and labeled-argument values),
relations (the study's view: SDoH event links become relations), events and attributes —
each row carrying `document`, `split` and `institution`. A folder that comes unsplit (a part
without a split) has its documents drawn into train and test by a seeded `SplitDraw`. A corpus
without a dev split gets one carved deterministically from train, per institution; test is
never touched. A training institution of the grid may pool several (`MIMIC+UW`,
`pooled_institutions`).
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from clinprompt.atomic import atomic_file
from clinprompt.corpus.brat import Attribute, Document, Entity, Event, Relation
from clinprompt.corpus.brat_parser import iter_ann_files
from clinprompt.corpus.schema import DatasetSchema, load_schema
from clinprompt.corpus.validation import dropped_list, iter_corpus
from clinprompt.errors import ConfigError, InvalidInputError

log = logging.getLogger(__name__)

SPLITS = ("train", "dev", "test")
POOL = "+"

_FRAGMENTS = pa.list_(pa.struct([("start", pa.int64()), ("end", pa.int64())]))
_ARGUMENTS = pa.list_(pa.struct([("role", pa.string()), ("id", pa.string())]))
_KEYS = [("document", pa.string()), ("split", pa.string()), ("institution", pa.string())]
TABLE_SCHEMAS = {
    "documents": pa.schema(
        [*_KEYS, ("doc_id", pa.string()), ("text", pa.string()), ("n_chars", pa.int64())]
    ),
    "entities": pa.schema(
        [
            *_KEYS,
            ("entity_id", pa.string()),
            ("type", pa.string()),
            ("start", pa.int64()),
            ("end", pa.int64()),
            ("fragments", _FRAGMENTS),
            ("text", pa.string()),
            ("value", pa.string()),
        ]
    ),
    "relations": pa.schema(
        [
            *_KEYS,
            ("relation_id", pa.string()),
            ("type", pa.string()),
            ("arg1", pa.string()),
            ("arg2", pa.string()),
        ]
    ),
    "events": pa.schema(
        [
            *_KEYS,
            ("event_id", pa.string()),
            ("type", pa.string()),
            ("trigger", pa.string()),
            ("arguments", _ARGUMENTS),
        ]
    ),
    "attributes": pa.schema(
        [
            *_KEYS,
            ("attribute_id", pa.string()),
            ("kind", pa.string()),
            ("type", pa.string()),
            ("target", pa.string()),
            ("value", pa.string()),
        ]
    ),
}


@dataclass(frozen=True)
class CorpusPart:
    """One BRAT folder of a corpus: its split and the institution its notes come from.

    Split None: the folder holds every split, drawn into train and test by a `SplitDraw`.
    """

    split: str | None
    institution: str
    path: Path


@dataclass(frozen=True)
class SplitDraw:
    """A seeded train/test split of the documents of an unsplit folder: `test` is the share
    drawn as test (as `carved_size` rounds it); the rest is train."""

    test: float
    seed: int = 0

    def test_documents(self, folder: Path, institution: str) -> set[str]:
        """The document ids of `folder` drawn as test.

        The draw runs over the folder's `.ann` names in sorted order, before any document is
        read, so it depends only on the seed, the institution and the file names: fixing or
        dropping an invalid document moves no other between train and test.
        """
        names = [path.stem for path in iter_ann_files(folder)]
        return seeded_sample(names, carved_size(len(names), self.test), self.seed, institution)


@dataclass
class CorpusTables:
    """The corpus as tables, one per annotation kind."""

    documents: pd.DataFrame
    entities: pd.DataFrame
    relations: pd.DataFrame
    events: pd.DataFrame
    attributes: pd.DataFrame

    def write(self, folder: Path) -> None:
        """Write `<kind>.parquet` files into `folder`, each atomically."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for kind in TABLE_SCHEMAS:
            table = pa.Table.from_pandas(
                getattr(self, kind), schema=TABLE_SCHEMAS[kind], preserve_index=False
            )
            with atomic_file(folder / f"{kind}.parquet") as tmp:
                pq.write_table(table, tmp)

    @classmethod
    def read(cls, folder: Path) -> CorpusTables:
        """Read the tables written by `write`."""
        folder = Path(folder)
        missing = [k for k in TABLE_SCHEMAS if not (folder / f"{k}.parquet").is_file()]
        if missing:
            raise InvalidInputError(f"{folder}: missing corpus table(s) {', '.join(missing)}")
        return cls(**{k: pd.read_parquet(folder / f"{k}.parquet") for k in TABLE_SCHEMAS})


@dataclass(frozen=True)
class Dataset:
    """A dataset as a cell's job reads it once: the corpus tables, their folder and the schema."""

    tables: CorpusTables
    schema: DatasetSchema
    source: Path

    @classmethod
    def read(cls, tables_dir: Path, schema_name: str) -> Dataset:
        """The tables written into `tables_dir` and the schema named `schema_name`."""
        return cls(CorpusTables.read(tables_dir), load_schema(schema_name), Path(tables_dir))


def entity_row(entity: Entity, value: str | None = None) -> dict:
    """An entity's row of the `entities` table, without the document keys."""
    return {
        "entity_id": entity.id,
        "type": entity.type,
        "start": entity.start,
        "end": entity.end,
        "fragments": [{"start": s, "end": t} for s, t in entity.fragments],
        "text": entity.text,
        "value": value,
    }


def document_rows(doc: Document, schema: DatasetSchema) -> dict[str, list[dict]]:
    """Rows of every table for one document (study view), without the split/institution keys."""
    study = schema.study_view(doc)
    values = schema.concept_values(doc)
    return {
        "documents": [{"doc_id": doc.doc_id, "text": doc.text, "n_chars": len(doc.text)}],
        "entities": [entity_row(e, values.get(e.id)) for e in study.entities],
        "relations": [
            {"relation_id": r.id, "type": r.type, "arg1": r.arg1, "arg2": r.arg2}
            for r in study.relations
        ],
        "events": [
            {
                "event_id": ev.id,
                "type": ev.type,
                "trigger": ev.trigger,
                "arguments": [{"role": role, "id": ref} for role, ref in ev.arguments],
            }
            for ev in doc.events
        ],
        "attributes": [
            {
                "attribute_id": a.id,
                "kind": a.kind,
                "type": a.type,
                "target": a.target,
                "value": a.value,
            }
            for a in doc.attributes
        ],
    }


def pooled_institutions(train_institution: str) -> list[str]:
    """The institutions a training institution stands for: `MIMIC+UW` pools MIMIC and UW."""
    return train_institution.split(POOL)


def carved_size(documents: int, fraction: float) -> int:
    """How many of `documents` a carve moves out (dev from an institution's training documents
    in `carve_dev`, test from an unsplit folder in `SplitDraw`): at least one, never all."""
    if documents < 2:
        return 0
    return min(documents - 1, max(1, round(fraction * documents)))


def seeded_sample(keys: list[str], n: int, seed: int, institution: str) -> set[str]:
    """`n` of the sorted `keys`, drawn with a generator seeded by the seed and institution."""
    return set(random.Random(f"{seed}:{institution}").sample(sorted(keys), n))


def carve_dev(documents: pd.DataFrame, fraction: float, seed: int) -> pd.Series:
    """Split labels with a dev split drawn from train, per institution, deterministically.

    Documents are ordered by key before a seeded shuffle, so the draw depends on the seed
    and the set of training documents only. Institutions with fewer than two training
    documents keep them all in train.
    """
    split = documents["split"].copy()
    train = documents[documents["split"] == "train"]
    for institution, group in train.groupby("institution", sort=True):
        keys = list(group["document"])
        dev = seeded_sample(keys, carved_size(len(keys), fraction), seed, institution)
        split[documents["document"].isin(dev)] = "dev"
    return split


def build_tables(
    parts: list[CorpusPart],
    schema: DatasetSchema,
    dev_fraction: float = 0.1,
    dev_seed: int = 0,
    skip_invalid: bool = False,
    trust_offsets: bool = False,
    on_invalid: str = "stop",
    split_draw: SplitDraw | None = None,
) -> tuple[CorpusTables, dict]:
    """Read every part into tables; return them with a summary of counts.

    `on_invalid: drop_annotation` keeps every readable document without its invalid lines
    (counted in the summary as `dropped_annotations`; `validate_parts` lists them). A part
    without a split has its documents split into train and test by `split_draw`.
    """
    dropped = dropped_list(on_invalid)
    rows: dict[str, list[dict]] = {kind: [] for kind in TABLE_SCHEMAS}
    line_counts: Counter[str] = Counter()
    skipped: list[str] = []
    seen: dict[str, Path] = {}
    for part in parts:
        if part.split is None and split_draw is None:
            raise ConfigError(f"{part.path}: folder without a split, and no split draw given")
        if part.split is not None and part.split not in SPLITS:
            raise InvalidInputError(f"{part.path}: unknown split '{part.split}' (use {SPLITS})")
        if not Path(part.path).is_dir():
            raise InvalidInputError(f"{part.path}: corpus folder not found")
        drawn = set()
        if part.split is None:
            drawn = split_draw.test_documents(part.path, part.institution)
        for doc in iter_corpus(part.path, schema, trust_offsets, skip_invalid, skipped, dropped):
            split = part.split or ("test" if doc.doc_id in drawn else "train")
            key = f"{part.institution}/{split}/{doc.doc_id}"
            if key in seen:
                raise InvalidInputError(f"{part.path}: document {doc.doc_id} also in {seen[key]}")
            seen[key] = part.path
            line_counts.update(doc.line_counts())
            keys = {"document": key, "split": split, "institution": part.institution}
            for kind, kind_rows in document_rows(doc, schema).items():
                rows[kind].extend({**keys, **row} for row in kind_rows)
    frames = {
        kind: pd.DataFrame(rows[kind], columns=TABLE_SCHEMAS[kind].names) for kind in TABLE_SCHEMAS
    }
    if not frames["documents"].empty and "dev" not in set(frames["documents"]["split"]):
        frames["documents"]["split"] = carve_dev(frames["documents"], dev_fraction, dev_seed)
        split_of = dict(
            zip(frames["documents"]["document"], frames["documents"]["split"], strict=True)
        )
        for kind in ("entities", "relations", "events", "attributes"):
            frames[kind]["split"] = frames[kind]["document"].map(split_of)
    summary = {
        "documents": len(frames["documents"]),
        "skipped_invalid_documents": len(skipped),
        "dropped_annotations": len(dropped or ()),
        "line_counts": {kind: int(line_counts[kind]) for kind in sorted(line_counts)},
        "documents_per_split": {
            f"{s}/{i}": int(n)
            for (s, i), n in frames["documents"].groupby(["split", "institution"]).size().items()
        },
    }
    log.info("read %d documents; lines per kind: %s", summary["documents"], summary["line_counts"])
    if skipped:
        log.warning("skipped %d invalid documents (skip_invalid: true)", len(skipped))
    if dropped:
        log.warning(
            "dropped %d invalid annotation lines (on_invalid: drop_annotation)", len(dropped)
        )
    return CorpusTables(**frames), summary


def write_corpus_tables(
    parts: list[CorpusPart], schema: DatasetSchema, out_dir: Path, **options
) -> dict:
    """Build the tables (options as for `build_tables`) and write them; return the summary."""
    tables, summary = build_tables(parts, schema, **options)
    tables.write(out_dir)
    return summary


def table_documents(tables: CorpusTables, keys: list[str] | None = None) -> dict[str, Document]:
    """Documents rebuilt from the tables (study-view relations, events, attributes), by key."""
    docs = tables.documents
    if keys is not None:
        docs = docs[docs["document"].isin(keys)]
    grouped = {
        kind: dict(tuple(getattr(tables, kind).groupby("document", sort=False)))
        for kind in ("entities", "relations", "events", "attributes")
    }
    empty = {kind: getattr(tables, kind).iloc[:0] for kind in grouped}

    def rows(kind: str, key: str) -> pd.DataFrame:
        return grouped[kind].get(key, empty[kind])

    result = {}
    for key, doc_id, text in zip(docs["document"], docs["doc_id"], docs["text"], strict=True):
        result[key] = Document(
            doc_id,
            text,
            entities=[
                Entity(
                    r.entity_id, r.type, tuple((f["start"], f["end"]) for f in r.fragments), r.text
                )
                for r in rows("entities", key).itertuples()
            ],
            relations=[
                Relation(r.relation_id, r.type, r.arg1, r.arg2)
                for r in rows("relations", key).itertuples()
            ],
            events=[
                Event(
                    r.event_id, r.type, r.trigger, tuple((a["role"], a["id"]) for a in r.arguments)
                )
                for r in rows("events", key).itertuples()
            ],
            attributes=[
                Attribute(r.attribute_id, r.type, r.target, r.value, r.kind)
                for r in rows("attributes", key).itertuples()
            ],
        )
    return result
