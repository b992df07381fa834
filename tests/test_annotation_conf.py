"""annotation.conf read as brat reads it: real-world whitespace, groups, macros, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from clinprompt.corpus.annotation_conf import parse_annotation_conf
from clinprompt.errors import ConfigError

# Shaped like confs found in the wild: CRLF line ends, trailing spaces after names, tabs and
# runs of spaces as separators, a comment block, hyphen separators, an empty section, nested
# grouping types, a user macro, brat's display-only lines and arguments.
REAL_WORLD = (
    "# Pharmacogenomics-style annotation.conf\r\n"
    "#   second comment line, indented text: # not a type\r\n"
    "\r\n"
    "[entities]  \r\n"
    "!Chemical\r\n"
    "\tDrug \r\n"
    "\t!Drug_class\r\n"
    "\t\tPharmacological_class\r\n"
    "Gene_or_protein|Gene\r\n"
    "------\r\n"
    "Disease\t\r\n"
    "  Phenotype   \r\n"
    "\r\n"
    "<CHEM>=Drug|Pharmacological_class\r\n"
    "[relations]\r\n"
    "<OVERLAP>\tArg1:<ENTITY>, Arg2:<ENTITY>, <OVL-TYPE>:<ANY>\r\n"
    "ENTITY-NESTING\tArg1:<ENTITY>, Arg2:<ENTITY>\r\n"
    "Anaphora \tArg1:Gene_or_protein, Arg2:Gene_or_protein\r\n"
    "Treats    Arg1:<CHEM> , Arg2:Disease|Phenotype\r\n"
    "Is_a\tArg1:Chemical, Arg2:Chemical, <REL-TYPE>:transitive\r\n"
    "Equiv\tArg1:Gene_or_protein, Arg2:Gene_or_protein, <REL-TYPE>:symmetric-transitive\r\n"
    "\r\n"
    "[events]\r\n"
    "\r\n"
    "[attributes]\r\n"
    "Negated   Arg:<ANY>\r\n"
    "Certainty\tArg:<CHEM>, Value:likely|possible  \r\n"
)

EVENTS = (
    "[entities]\nProtein\nEntity\n[relations]\n[events]\n"
    "!Regulation\n"
    "\tPositive_regulation\tTheme:Protein|<EVENT>, Cause?:Protein\n"
    "Binding|GO:0005515\tTheme+:Protein, Site*:Entity, Product{2}:Protein\n"
    "[attributes]\nSpeculation\tArg:<EVENT>\n"
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "annotation.conf"
    path.write_bytes(text.encode("utf-8"))
    return path


def test_real_world_conf_reads_as_brat_does(tmp_path):
    conf = parse_annotation_conf(write(tmp_path, REAL_WORLD))
    assert conf["entities"] == [
        "Drug",
        "Pharmacological_class",
        "Gene_or_protein",
        "Disease",
        "Phenotype",
    ]
    assert conf["relations"] == {
        "Anaphora": {"arg1": ["Gene_or_protein"], "arg2": ["Gene_or_protein"]},
        "Treats": {"arg1": ["Drug", "Pharmacological_class"], "arg2": ["Disease", "Phenotype"]},
        # `!Chemical` is a group: it stands for every annotatable type under it.
        "Is_a": {
            "arg1": ["Drug", "Pharmacological_class"],
            "arg2": ["Drug", "Pharmacological_class"],
        },
        "Equiv": {"arg1": ["Gene_or_protein"], "arg2": ["Gene_or_protein"]},
    }
    assert conf["events"] == {}
    assert conf["attributes"] == {
        "Negated": {"targets": conf["entities"], "values": []},
        "Certainty": {
            "targets": ["Drug", "Pharmacological_class"],
            "values": ["likely", "possible"],
        },
    }


def test_events_roles_lose_their_quantifiers_and_join_the_entities(tmp_path):
    conf = parse_annotation_conf(write(tmp_path, EVENTS))
    assert conf["entities"] == ["Protein", "Entity", "Positive_regulation", "Binding"]
    assert conf["events"] == {
        "Positive_regulation": {
            "trigger": "Positive_regulation",
            "arguments": {
                "Theme": ["Protein", "Positive_regulation", "Binding"],
                "Cause": ["Protein"],
            },
        },
        "Binding": {
            "trigger": "Binding",
            "arguments": {"Theme": ["Protein"], "Site": ["Entity"], "Product": ["Protein"]},
        },
    }
    assert conf["attributes"] == {
        "Speculation": {"targets": ["Positive_regulation", "Binding"], "values": []}
    }


def test_missing_sections_are_empty(tmp_path):
    conf = parse_annotation_conf(write(tmp_path, "[entities]\nDrug\n"))
    assert conf == {"entities": ["Drug"], "relations": {}, "events": {}, "attributes": {}}


BAD_CONFS = [
    (
        "[entities]\nDrug\n[relations]\nTreats \tArg1:Drug, Arg2:Disease\n",
        4,
        "relation 'Treats' Arg2: type 'Disease' is declared in no section",
    ),
    (
        "[entities]\nDrug\n[attributes]\nNegated\tArg:Drugs\n",
        4,
        "attribute 'Negated' Arg: type 'Drugs' is declared in no section",
    ),
    (
        "[entities]\nDrug\n[events]\nDosing\tDrug?:Drug, Amount:Dose\n",
        4,
        "event 'Dosing' Amount: type 'Dose' is declared in no section",
    ),
    (
        "[entities]\nDrug\n[relations]\nTreats\tArg1:Drug, Arg2:Drug  # same type\n",
        4,
        "cannot read argument 'Arg2:Drug  # same type' (expected Key:Type|Type)",
    ),
    ("[entities]\nDrug\n[relation]\n", 3, "unknown section [relation]"),
    ("Drug\n[entities]\n", 1, "type declared before any [section]"),
    ("[entities]\nDrug\nDisease\n\tDrug\n", 4, "type 'Drug' declared twice (first on line 2)"),
    ("<ENTITY>=Drug\n[entities]\nDrug\n", 1, "<ENTITY> is reserved and cannot be redefined"),
    (
        "[entities]\nDrug\n[relations]\nTreats\tArg1:Drug\n",
        4,
        "relation 'Treats' needs Arg1 and Arg2",
    ),
    ("[entities]\nDrug\n[attributes]\nNegated\tValue:yes|no\n", 4, "attribute 'Negated' needs Arg"),
]


@pytest.mark.parametrize(("text", "line", "message"), BAD_CONFS)
def test_bad_conf_is_one_line_naming_file_and_line(tmp_path, text, line, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        parse_annotation_conf(path)
    assert str(err.value) == f"{path}:{line}: {message}"
