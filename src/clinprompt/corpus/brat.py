"""BRAT standoff documents: the annotation kinds, and writing `.txt`/`.ann` pairs.

`Document` holds every line kind of the BRAT grammar — text-bound `T` (any number of
`;`-separated fragments), relation `R`, event `E`, attribute `A`/`M`, normalisation `N`, note `#`
and equivalence `*`; reading and checking the files is `clinprompt.corpus.brat_parser`. Offsets
are Unicode code points into the text, end exclusive, and are authoritative: the text field of a
`T` line must equal its fragments joined by one space. A `Problem` names `path:line`; line 0
means the file as a whole (a missing or undecodable file).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from clinprompt.atomic import atomic_write_text
from clinprompt.errors import InvalidInputError

LINE_KINDS = ("T", "R", "E", "A", "M", "N", "#", "*")
ANNOTATION_KINDS = (
    "entities",
    "relations",
    "events",
    "attributes",
    "normalizations",
    "notes",
    "equivalences",
)


@dataclass(frozen=True)
class Entity:
    """A text-bound annotation (`T`): a typed mention made of one or more fragments."""

    id: str
    type: str
    fragments: tuple[tuple[int, int], ...]
    text: str
    line: int = field(default=0, compare=False)

    @property
    def start(self) -> int:
        """First character of the first fragment (the scorer's span start)."""
        return self.fragments[0][0]

    @property
    def end(self) -> int:
        """End (exclusive) of the last fragment (the scorer's span end)."""
        return self.fragments[-1][1]

    @classmethod
    def from_offsets(
        cls, id: str, type: str, fragments: Iterable[tuple[int, int]], text: str
    ) -> Entity:
        """Build an entity whose text field is read from `text` at the fragments."""
        frags = tuple((int(s), int(e)) for s, e in fragments)
        return cls(id, type, frags, fragment_text(text, frags))


@dataclass(frozen=True)
class Relation:
    """A binary relation (`R`) between two annotations, with its role names."""

    id: str
    type: str
    arg1: str
    arg2: str
    arg1_role: str = "Arg1"
    arg2_role: str = "Arg2"
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Event:
    """An event (`E`): a trigger entity plus (role, annotation id) arguments.

    Roles keep their numeric suffixes (`Type2`), as written in the file.
    """

    id: str
    type: str
    trigger: str
    arguments: tuple[tuple[str, str], ...] = ()
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Attribute:
    """An attribute (`A`, or legacy `M`) on an annotation; binary when `value` is None."""

    id: str
    type: str
    target: str
    value: str | None = None
    kind: str = "A"
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Normalization:
    """A normalisation (`N`): a link from an annotation to an external reference."""

    id: str
    type: str
    target: str
    reference: str
    text: str = ""
    line: int = field(default=0, compare=False)


RELATION_ANSWER = "relation answer"  # note text of predicted concepts only a relation query found


@dataclass(frozen=True)
class Note:
    """An annotator note (`#`) attached to an annotation."""

    id: str
    type: str
    target: str
    text: str = ""
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Equivalence:
    """An equivalence set (`*`) of annotation ids; it has no id of its own."""

    type: str
    members: tuple[str, ...]
    line: int = field(default=0, compare=False)


@dataclass
class Document:
    """One note: its text and every annotation of its `.ann` file, in file order per kind."""

    doc_id: str
    text: str
    entities: list[Entity] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    attributes: list[Attribute] = field(default_factory=list)
    normalizations: list[Normalization] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    equivalences: list[Equivalence] = field(default_factory=list)

    def entity_by_id(self) -> dict[str, Entity]:
        """Entities keyed by id."""
        return {e.id: e for e in self.entities}

    def line_counts(self) -> Counter[str]:
        """Number of annotation lines per line kind (`T`, `R`, `E`, `A`, `M`, `N`, `#`, `*`)."""
        counts: Counter[str] = Counter()
        counts["T"] += len(self.entities)
        counts["R"] += len(self.relations)
        counts["E"] += len(self.events)
        for attribute in self.attributes:
            counts[attribute.kind] += 1
        counts["N"] += len(self.normalizations)
        counts["#"] += len(self.notes)
        counts["*"] += len(self.equivalences)
        return counts


@dataclass(frozen=True)
class Problem:
    """One finding of validation, printed as `path:line: message`."""

    path: str
    line: int
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        prefix = "" if self.severity == "error" else f"{self.severity}: "
        return f"{self.path}:{self.line}: {prefix}{self.message}"


def fragment_text(text: str, fragments: Iterable[tuple[int, int]]) -> str:
    """The BRAT text field for `fragments`: their slices of `text` joined by one space."""
    return " ".join(text[s:e] for s, e in fragments)


# --------------------------------------------------------------------------- writing


def format_ann(doc: Document) -> str:
    """The `.ann` content of a document, one line per annotation, grouped by kind."""
    lines = []
    for e in doc.entities:
        if "\n" in e.text or "\r" in e.text:
            raise InvalidInputError(
                f"{doc.doc_id}: entity {e.id} text contains a line break; split it into fragments"
            )
        spans = ";".join(f"{s} {t}" for s, t in e.fragments)
        lines.append(f"{e.id}\t{e.type} {spans}\t{e.text}")
    for r in doc.relations:
        lines.append(f"{r.id}\t{r.type} {r.arg1_role}:{r.arg1} {r.arg2_role}:{r.arg2}")
    for ev in doc.events:
        args = "".join(f" {role}:{ref}" for role, ref in ev.arguments)
        lines.append(f"{ev.id}\t{ev.type}:{ev.trigger}{args}")
    for a in doc.attributes:
        value = f" {a.value}" if a.value is not None else ""
        lines.append(f"{a.id}\t{a.type} {a.target}{value}")
    for n in doc.normalizations:
        lines.append(f"{n.id}\t{n.type} {n.target} {n.reference}\t{n.text}")
    for note in doc.notes:
        lines.append(f"{note.id}\t{note.type} {note.target}\t{note.text}")
    for eq in doc.equivalences:
        lines.append(f"*\t{eq.type} {' '.join(eq.members)}")
    return "".join(line + "\n" for line in lines)


def write_document(doc: Document, folder: Path, write_text: bool = True) -> Path:
    """Write `doc_id.ann` (and `doc_id.txt`) into `folder`; return the `.ann` path."""
    folder = Path(folder)
    ann_path = folder / f"{doc.doc_id}.ann"
    if write_text:
        atomic_write_text(folder / f"{doc.doc_id}.txt", doc.text)
    atomic_write_text(ann_path, format_ann(doc))
    return ann_path
