"""Corpus validation: BRAT documents read and checked against a dataset schema.

The file format (`brat`) knows nothing of schemas; here a folder's documents are read, checked
by the schema, and either reported (`validate_corpus`; `validate_parts` for every folder of a
corpus, with its JSON report) or handed to the pipeline (`iter_corpus`), stopping on, skipping
or dropping what is invalid as the policy says (`ON_INVALID`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from clinprompt.atomic import atomic_write_text
from clinprompt.corpus.brat import ANNOTATION_KINDS, Document, Problem
from clinprompt.corpus.brat_parser import (
    iter_ann_files,
    orphan_texts,
    read_document,
    reference_problems,
)
from clinprompt.corpus.schema import DatasetSchema
from clinprompt.errors import ConfigError, InvalidInputError

if TYPE_CHECKING:
    from clinprompt.corpus.tables import CorpusPart

log = logging.getLogger(__name__)

ON_INVALID = ("stop", "drop_annotation")


def read_checked(
    ann_path: Path, schema: DatasetSchema | None = None, trust_offsets: bool = False
) -> tuple[Document | None, list[Problem]]:
    """`read_document` plus the schema's checks of the document."""
    doc, problems = read_document(ann_path, trust_offsets)
    if doc is not None and schema is not None:
        problems.extend(schema.check_document(doc, str(ann_path)))
    return doc, problems


def drop_invalid_annotations(
    doc: Document, problems: list[Problem], schema: DatasetSchema | None, path: str
) -> tuple[Document, list[Problem]]:
    """The document without every annotation line an error names, and those errors.

    Dropping cascades: a relation, event or attribute that points at a dropped line is
    invalid in turn and dropped too, with its own error. Lines the parser could not read
    are already absent; their errors are returned all the same, so every dropped line is
    named. Warnings are kept out of the result: their lines stay.
    """
    dropped = [p for p in problems if p.severity == "error"]
    while True:
        lines = {p.line for p in dropped}
        doc = Document(
            doc.doc_id,
            doc.text,
            **{
                kind: [item for item in getattr(doc, kind) if item.line not in lines]
                for kind in ANNOTATION_KINDS
            },
        )
        found = reference_problems(doc, path)
        if schema is not None:
            found += schema.check_document(doc, path)
        new = [p for p in found if p.severity == "error"]
        if not new:
            return doc, sorted(dropped, key=lambda p: p.line)
        dropped += new


def validate_corpus(
    folder: Path,
    schema: DatasetSchema | None = None,
    trust_offsets: bool = False,
    dropped: list[Problem] | None = None,
) -> list[Problem]:
    """Every problem of every document of a folder, in one pass.

    With a `dropped` list (the `drop_annotation` policy), the errors of readable documents go
    there instead, cascades included (see `drop_invalid_annotations`); the problems returned
    are then the warnings and whatever stops a whole document.
    """
    problems = orphan_texts(folder)
    for ann_path in iter_ann_files(folder):
        doc, found = read_checked(ann_path, schema, trust_offsets)
        if doc is not None and dropped is not None:
            _, lost = drop_invalid_annotations(doc, found, schema, str(ann_path))
            dropped.extend(lost)
            found = [p for p in found if p.severity != "error"]
        problems.extend(found)
    return problems


def iter_corpus(
    folder: Path,
    schema: DatasetSchema | None = None,
    trust_offsets: bool = False,
    skip_invalid: bool = False,
    skipped: list[str] | None = None,
    dropped: list[Problem] | None = None,
) -> Iterator[Document]:
    """Documents of a folder for the pipeline.

    An invalid document (a `.txt` without its `.ann` too) stops the run with all of its
    problems in the message; with `skip_invalid` it is left out whole and its path is
    appended to `skipped`. With a `dropped` list (the `drop_annotation` policy) a readable
    document is kept without its invalid lines, whose errors are appended to `dropped`.
    """
    for problem in orphan_texts(folder):
        if not skip_invalid:
            raise InvalidInputError(str(problem))
        if skipped is not None:
            skipped.append(problem.path)
    for ann_path in iter_ann_files(folder):
        doc, problems = read_checked(ann_path, schema, trust_offsets)
        if doc is not None and dropped is not None:
            doc, lost = drop_invalid_annotations(doc, problems, schema, str(ann_path))
            dropped.extend(lost)
            problems = []
        errors = [p for p in problems if p.severity == "error"]
        if not errors and doc is not None:
            yield doc
        elif skip_invalid:
            if skipped is not None:
                skipped.append(str(ann_path))
        else:
            listed = "; ".join(str(p) for p in errors)
            raise InvalidInputError(
                f"{ann_path}: invalid document ({len(errors)} problems): {listed}"
            )


def dropped_list(on_invalid: str) -> list[Problem] | None:
    """The list that collects dropped lines under `drop_annotation`; None under `stop`."""
    if on_invalid not in ON_INVALID:
        raise ConfigError(f"on_invalid: '{on_invalid}' is not one of {', '.join(ON_INVALID)}")
    return [] if on_invalid == "drop_annotation" else None


def validate_parts(
    parts: Sequence[CorpusPart],
    schema: DatasetSchema,
    out_json: Path,
    skip_invalid: bool = False,
    trust_offsets: bool = False,
    on_invalid: str = "stop",
) -> dict:
    """Validate every folder in one pass; log each problem and write a JSON report.

    Stops with a one-line error when any document is invalid, unless `skip_invalid`. Under
    `on_invalid: drop_annotation` the invalid lines of readable documents are listed under
    `dropped` (and counted as `dropped_annotations`) instead of stopping the run.
    """
    dropped = dropped_list(on_invalid)
    problems = []
    documents = 0
    for part in parts:
        if not Path(part.path).is_dir():
            raise InvalidInputError(f"{part.path}: corpus folder not found")
        documents += len(iter_ann_files(part.path))
        problems.extend(validate_corpus(part.path, schema, trust_offsets, dropped))
    for problem in problems:
        log.log(logging.ERROR if problem.severity == "error" else logging.WARNING, "%s", problem)
    for problem in dropped or ():
        log.warning("dropped %s", problem)
    errors = [p for p in problems if p.severity == "error"]
    report = {
        "documents": documents,
        "errors": len(errors),
        "warnings": len(problems) - len(errors),
        "invalid_documents": len({p.path for p in errors}),
        "problems": [str(p) for p in problems],
        "dropped_annotations": len(dropped or ()),
        "dropped": [str(p) for p in dropped or ()],
    }
    log.info(
        "validated %d documents: %d errors in %d documents, %d warnings, %d lines dropped",
        documents,
        report["errors"],
        report["invalid_documents"],
        report["warnings"],
        report["dropped_annotations"],
    )
    if errors and not skip_invalid:
        raise InvalidInputError(
            f"{errors[0]} (and {len(errors) - 1} more errors in {report['invalid_documents']} "
            "documents; all are listed in the log; set skip_invalid: true to leave them out)"
        )
    atomic_write_text(out_json, json.dumps(report, indent=1) + "\n")
    return report
