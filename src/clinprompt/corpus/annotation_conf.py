"""BRAT `annotation.conf`, read the way brat reads it.

In: the path of an `annotation.conf` (sections `[entities]`, `[relations]`, `[events]`,
`[attributes]`). Out: its types as the mapping a dataset schema YAML would hold
(`entities`, `relations`, `events`, `attributes`), for `clinprompt.corpus.schema` to load.

As brat does: blank lines, lines starting with `#` and lines of hyphens are skipped; a type
is the first whitespace-separated token of its line (so trailing spaces and tab-or-space
separators do not matter), `Name|Alias` declares `Name`; a `!` prefix marks a grouping type
that cannot be annotated and, in an argument list, stands for the types indented under it;
`<NAME>=A|B` defines a macro; `<ENTITY>`, `<EVENT>` and `<ANY>` expand to the declared
entity, event and both kinds of types; `<OVERLAP>` and `ENTITY-NESTING` lines and `<...>:`
arguments such as `<REL-TYPE>` are brat's display rules, not types. Unlike brat, which warns
and carries on, anything it cannot read (a type named in an argument list but declared
nowhere, a malformed argument) is a `ConfigError` naming the file and line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from clinprompt.errors import ConfigError

SECTIONS = ("entities", "relations", "events", "attributes")
BUILTIN_MACROS = ("<ENTITY>", "<EVENT>", "<ANY>")
RESERVED = ("ANY", "ENTITY", "RELATION", "EVENT", "NONE", "REL-TYPE")
NOT_TYPES = ("<OVERLAP>", "ENTITY-NESTING")

_SECTION = re.compile(r"^\s*\[(.*)\]\s*$")
_SKIP = re.compile(r"^\s*(#.*|-+)?$")
_MACRO = re.compile(r"^<([A-Za-z_-]+)>=\s*(.*?)\s*$")
_TYPE_LINE = re.compile(r"^(\s*)(\S+)(?:\s+(.*))?$")
_ARGUMENT = re.compile(r"^(\S*?):(\S*)$")
_ROLE_SUFFIX = re.compile(r"([?*+]|\{[\d-]+\})$")


@dataclass
class _TypeLine:
    """One type declaration: its line, name, whether abstract, and `key:types` arguments."""

    number: int
    name: str
    abstract: bool
    arguments: list[tuple[str, list[str]]]
    children: list[str] = field(default_factory=list)


@dataclass
class _Conf:
    path: Path
    sections: dict[str, list[_TypeLine]]

    def error(self, line: _TypeLine | int, message: str) -> ConfigError:
        number = line if isinstance(line, int) else line.number
        return ConfigError(f"{self.path}:{number}: {message}")


def parse_annotation_conf(path: Path) -> dict:
    """The types of a BRAT `annotation.conf` as schema mapping keys.

    Event types join the entities too: their triggers are text-bound annotations.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: annotation.conf not found")
    conf = _read_sections(path)
    entities = _declared(conf, "entities")
    event_types = _declared(conf, "events")
    groups = {
        line.name: line.children
        for section in ("entities", "events")
        for line in conf.sections[section]
        if line.abstract
    }
    macros = {"<ENTITY>": entities, "<EVENT>": event_types, "<ANY>": entities + event_types}
    known = set(entities) | set(event_types)

    def types(line: _TypeLine, what: str, spec: list[str]) -> list[str]:
        expanded: list[str] = []
        for name in spec:
            found = macros.get(name) or _leaves(name, groups) or ([name] if name in known else [])
            if not found:
                raise conf.error(line, f"{what}: type '{name}' is declared in no section")
            expanded += [t for t in found if t not in expanded]
        return expanded

    relations = {}
    for line in conf.sections["relations"]:
        if line.abstract or line.name in NOT_TYPES:
            continue
        arguments = [(key, spec) for key, spec in line.arguments if not key.startswith("<")]
        if len(arguments) != 2:
            raise conf.error(line, f"relation '{line.name}' needs Arg1 and Arg2")
        (role1, spec1), (role2, spec2) = arguments
        relations[line.name] = {
            "arg1": types(line, f"relation '{line.name}' {role1}", spec1),
            "arg2": types(line, f"relation '{line.name}' {role2}", spec2),
        }
    events = {}
    for line in conf.sections["events"]:
        if line.abstract:
            continue
        arguments: dict[str, list[str]] = {}
        for key, spec in line.arguments:
            role = _ROLE_SUFFIX.sub("", key)
            arguments[role] = types(line, f"event '{line.name}' {role}", spec)
        events[line.name] = {"trigger": line.name, "arguments": arguments}
    attributes = {}
    for line in conf.sections["attributes"]:
        spec = dict(line.arguments)
        if "Arg" not in spec:
            raise conf.error(line, f"attribute '{line.name}' needs Arg")
        attributes[line.name] = {
            "targets": types(line, f"attribute '{line.name}' Arg", spec["Arg"]),
            "values": spec.get("Value", []),
        }
    return {
        "entities": entities + [t for t in event_types if t not in entities],
        "relations": relations,
        "events": events,
        "attributes": attributes,
    }


def _declared(conf: _Conf, section: str) -> list[str]:
    """The annotatable (not `!`) type names of a section, in file order."""
    return [line.name for line in conf.sections[section] if not line.abstract]


def _leaves(name: str, groups: dict[str, list[str]]) -> list[str]:
    """The annotatable types under a grouping type, nested groups opened; [] if not a group."""
    found: list[str] = []
    for child in groups.get(name, []):
        found += _leaves(child, groups) if child in groups else [child]
    return found


def _read_sections(path: Path) -> _Conf:
    """Every type line of every section, with user macros expanded and hierarchy recorded."""
    conf = _Conf(path, {section: [] for section in SECTIONS})
    section: str | None = None
    macros: dict[str, str] = {}
    parents: list[tuple[int, _TypeLine]] = []
    seen: dict[tuple[str, str], int] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):
        raw = raw.rstrip("\r")
        header = _SECTION.match(raw)
        if header:
            section = header.group(1).strip()
            if section not in SECTIONS:
                raise conf.error(number, f"unknown section [{section}]")
            parents = []
            continue
        if _SKIP.match(raw):
            continue
        macro = _MACRO.match(raw)
        if macro:
            if macro.group(1) in RESERVED:
                raise conf.error(number, f"<{macro.group(1)}> is reserved and cannot be redefined")
            macros[f"<{macro.group(1)}>"] = macro.group(2)
            continue
        if section is None:
            raise conf.error(number, "type declared before any [section]")
        for macro_name, value in macros.items():
            raw = raw.replace(macro_name, value)
        indent, terms, rest = _TYPE_LINE.match(raw).groups()  # type: ignore[union-attr]
        name = terms.split("|")[0]
        line = _TypeLine(number, name.lstrip("!"), name.startswith("!"), [])
        for argument in (a.strip() for a in (rest or "").split(",")):
            if not argument:
                continue
            parsed = _ARGUMENT.match(argument)
            if not parsed or not parsed.group(1) or not parsed.group(2):
                raise conf.error(
                    number, f"cannot read argument '{argument}' (expected Key:Type|Type)"
                )
            key, spec = parsed.groups()
            line.arguments.append((key, [t for t in spec.split("|") if t]))
        # Entity and event types share one namespace in brat (both are text-bound).
        key = ("types" if section in ("entities", "events") else section, line.name)
        if key in seen and line.name not in NOT_TYPES:
            raise conf.error(
                number, f"type '{line.name}' declared twice (first on line {seen[key]})"
            )
        seen[key] = number
        depth = len(indent.expandtabs(1))
        while parents and parents[-1][0] >= depth:
            parents.pop()
        if parents:
            parents[-1][1].children.append(line.name)
        parents.append((depth, line))
        conf.sections[section].append(line)
    return conf
