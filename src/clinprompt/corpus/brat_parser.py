"""Reading BRAT standoff files: every line parsed and checked, every problem named.

In: a folder of `NAME.txt` (UTF-8 text) and `NAME.ann` (standoff annotations) files.
Out: `clinprompt.corpus.brat.Document` objects and `Problem`s, each naming `path:line` (line 0:
the file as a whole, e.g. a missing or undecodable file). A `T` line whose text field differs
from its fragments' text is a problem unless the offsets are trusted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

from clinprompt.corpus.brat import (
    LINE_KINDS,
    Attribute,
    Document,
    Entity,
    Equivalence,
    Event,
    Normalization,
    Note,
    Problem,
    Relation,
    fragment_text,
)
from clinprompt.errors import InvalidInputError


@dataclass
class _Parsed:
    doc: Document
    problems: list[Problem]
    ids: dict[str, int] = field(default_factory=dict)


def _parse_offsets(spec: str) -> list[tuple[int, int]] | str:
    """Offsets `s e;s e` as int pairs, or the reason they cannot be read."""
    fragments = []
    for part in spec.split(";"):
        bounds = part.split()
        if len(bounds) != 2:
            return f"offsets '{part.strip()}' are not two integers"
        try:
            start, end = int(bounds[0]), int(bounds[1])
        except ValueError:
            return f"non-integer offset in '{part.strip()}'"
        fragments.append((start, end))
    return fragments


def _check_fragments(fragments: list[tuple[int, int]], text_length: int) -> list[str]:
    """Messages for negative, reversed, empty, out-of-range or overlapping fragments."""
    messages = []
    for start, end in fragments:
        if start < 0 or end < 0:
            messages.append(f"negative offset {start} {end}")
        elif start > end:
            messages.append(f"reversed offsets {start} {end}")
        elif start == end:
            messages.append(f"empty fragment {start} {end}")
        elif end > text_length:
            messages.append(f"offsets {start} {end} beyond the text's {text_length} characters")
    ordered = sorted(fragments)
    for (s1, e1), (s2, e2) in pairwise(ordered):
        if s2 < e1:
            messages.append(f"fragments {s1} {e1} and {s2} {e2} overlap")
    return messages


def _parse_role_ref(token: str) -> tuple[str, str] | None:
    role, sep, ref = token.partition(":")
    if not sep or not role or not ref:
        return None
    return role, ref


def _parse_line(raw: str, number: int, parsed: _Parsed, path: str, trust_offsets: bool) -> None:
    """Parse one `.ann` line into `parsed.doc`, recording any problem."""
    doc, text = parsed.doc, parsed.doc.text

    def problem(message: str, severity: str = "error") -> None:
        parsed.problems.append(Problem(path, number, message, severity))

    kind = raw[0]
    if kind not in LINE_KINDS:
        problem(f"unknown line kind '{kind}'")
        return
    if "\t" not in raw:
        problem("missing tab after the annotation id")
        return
    ann_id, _, rest = raw.partition("\t")
    if kind != "*" and (len(ann_id) < 2 or any(c.isspace() for c in ann_id)):
        problem(f"malformed annotation id '{ann_id}'")
        return
    if kind != "*":
        if ann_id in parsed.ids:
            problem(f"duplicate id {ann_id} (first on line {parsed.ids[ann_id]})")
            return
        parsed.ids[ann_id] = number

    if kind == "T":
        head, tab, field_text = rest.partition("\t")
        if not tab:
            problem("missing tab before the text field")
            return
        type_, _, spec = head.partition(" ")
        if not type_ or not spec.strip():
            problem("cannot parse text-bound annotation: expected 'Type start end[;start end]'")
            return
        fragments = _parse_offsets(spec)
        if isinstance(fragments, str):
            problem(fragments)
            return
        messages = _check_fragments(fragments, len(text))
        for message in messages:
            problem(message)
        if messages:
            return
        expected = fragment_text(text, fragments)
        if field_text != expected:
            problem(
                f"text field of {ann_id} does not match the text at its offsets",
                "warning" if trust_offsets else "error",
            )
        # Offsets are authoritative: a trusted entity carries the text they point at.
        doc.entities.append(Entity(ann_id, type_, tuple(fragments), expected, number))
    elif kind == "R":
        tokens = rest.split("\t")[0].split()
        args = [_parse_role_ref(t) for t in tokens[1:]]
        if len(tokens) != 3 or None in args:
            problem("cannot parse relation: expected 'Type Arg1:ID Arg2:ID'")
            return
        (role1, arg1), (role2, arg2) = args  # type: ignore[misc]
        doc.relations.append(Relation(ann_id, tokens[0], arg1, arg2, role1, role2, number))
    elif kind == "E":
        tokens = rest.split("\t")[0].split()
        pairs = [_parse_role_ref(t) for t in tokens]
        if not tokens or None in pairs:
            problem("cannot parse event: expected 'Type:TRIGGER [Role:ID ...]'")
            return
        (type_, trigger), *arguments = pairs  # type: ignore[misc]
        doc.events.append(Event(ann_id, type_, trigger, tuple(arguments), number))
    elif kind in ("A", "M"):
        tokens = rest.split("\t")[0].split()
        if len(tokens) not in (2, 3):
            problem("cannot parse attribute: expected 'Type ID [Value]'")
            return
        value = tokens[2] if len(tokens) == 3 else None
        doc.attributes.append(Attribute(ann_id, tokens[0], tokens[1], value, kind, number))
    elif kind == "N":
        head, _, field_text = rest.partition("\t")
        tokens = head.split()
        if len(tokens) != 3 or ":" not in tokens[2]:
            problem("cannot parse normalization: expected 'Type ID DB:KEY'")
            return
        doc.normalizations.append(
            Normalization(ann_id, tokens[0], tokens[1], tokens[2], field_text, number)
        )
    elif kind == "#":
        head, _, field_text = rest.partition("\t")
        tokens = head.split()
        if len(tokens) != 2:
            problem("cannot parse note: expected 'Type ID<TAB>text'")
            return
        doc.notes.append(Note(ann_id, tokens[0], tokens[1], field_text, number))
    else:
        tokens = rest.split()
        if len(tokens) < 3:
            problem("cannot parse equivalence: expected 'Type ID ID [ID ...]'")
            return
        doc.equivalences.append(Equivalence(tokens[0], tuple(tokens[1:]), number))


def reference_problems(doc: Document, path: str) -> list[Problem]:
    """Every relation, event, attribute, normalisation, note and equivalence must point at
    an annotation of the right kind that exists in the same file."""
    problems = []
    entity_ids = {e.id for e in doc.entities}
    argument_ids = entity_ids | {e.id for e in doc.events}
    annotation_ids = argument_ids | {r.id for r in doc.relations}

    def missing(ref: str, allowed: set[str], line: int, what: str) -> None:
        if ref not in allowed:
            problems.append(Problem(path, line, f"{what} points at missing id {ref}"))

    for rel in doc.relations:
        missing(rel.arg1, argument_ids, rel.line, f"{rel.id} {rel.arg1_role}")
        missing(rel.arg2, argument_ids, rel.line, f"{rel.id} {rel.arg2_role}")
    for event in doc.events:
        missing(event.trigger, entity_ids, event.line, f"{event.id} trigger")
        for role, ref in event.arguments:
            missing(ref, argument_ids, event.line, f"{event.id} {role}")
    for item in (*doc.attributes, *doc.normalizations, *doc.notes):
        missing(item.target, annotation_ids, item.line, item.id)
    for eq in doc.equivalences:
        for member in eq.members:
            missing(member, entity_ids, eq.line, "equivalence")
    return problems


def parse_document(
    doc_id: str,
    text: str,
    ann: str,
    ann_path: str = "<ann>",
    trust_offsets: bool = False,
) -> tuple[Document, list[Problem]]:
    """Parse `.ann` content against its text; return the document and every problem found."""
    parsed = _Parsed(Document(doc_id, text), [])
    for number, raw in enumerate(ann.split("\n"), start=1):
        if raw.strip():
            _parse_line(raw.rstrip("\r"), number, parsed, ann_path, trust_offsets)
    return parsed.doc, parsed.problems + reference_problems(parsed.doc, ann_path)


# --------------------------------------------------------------------------- files


def _read_utf8(path: Path) -> tuple[str | None, Problem | None]:
    """File content, or a problem naming the line of the first byte that is not UTF-8."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        return None, Problem(
            str(path), line, f"invalid UTF-8 (byte 0x{data[err.start]:02x} at byte {err.start})"
        )


def read_document(
    ann_path: Path, trust_offsets: bool = False
) -> tuple[Document | None, list[Problem]]:
    """Read `NAME.ann` and its `NAME.txt`; None when either cannot be read at all."""
    ann_path = Path(ann_path)
    txt_path = ann_path.with_suffix(".txt")
    if not txt_path.is_file():
        return None, [Problem(str(ann_path), 0, f"missing text file {txt_path.name}")]
    text, text_problem = _read_utf8(txt_path)
    ann, ann_problem = _read_utf8(ann_path)
    problems = [p for p in (text_problem, ann_problem) if p]
    if text is None or ann is None:
        return None, problems
    doc, found = parse_document(ann_path.stem, text, ann, str(ann_path), trust_offsets)
    return doc, problems + found


def iter_ann_files(folder: Path) -> list[Path]:
    """The `.ann` files of a folder (not recursive), in name order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InvalidInputError(f"{folder}: not a directory")
    return sorted(p for p in folder.iterdir() if p.suffix == ".ann" and p.is_file())


def orphan_texts(folder: Path) -> list[Problem]:
    """`.txt` files without an `.ann` beside them: documents nobody annotated."""
    return [
        Problem(str(p), 0, f"missing annotation file {p.with_suffix('.ann').name}")
        for p in sorted(Path(folder).glob("*.txt"))
        if not p.with_suffix(".ann").is_file()
    ]
