"""Corpus validation: BRAT documents read and checked against a dataset schema.

The file format (`brat`) knows nothing of schemas; here a folder's documents are read, checked
by the schema, and either reported (`validate_corpus`) or handed to the pipeline
(`iter_corpus`), stopping on, skipping or dropping what is invalid as the policy says.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from clinprompt.corpus.brat import (
    ANNOTATION_KINDS,
    Document,
    Problem,
    iter_ann_files,
    orphan_texts,
    read_document,
    reference_problems,
)
from clinprompt.corpus.schema import DatasetSchema
from clinprompt.errors import InvalidInputError


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
