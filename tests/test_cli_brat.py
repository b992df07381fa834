"""`clinprompt brat validate|stats`: exact output, exit status 0 or 2, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from clinprompt.cli import main
from tests.test_brat import BAD_LINES_PROBLEMS

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "brat"
BAD = FIXTURES / "bad"
MISMATCH = "text field of T2 does not match the text at its offsets"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Exit status, stdout and stderr of one command; no output may hold a traceback."""
    status = main(["brat", *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return status, out, err


def lines(text: str) -> list[str]:
    return text.splitlines()


@pytest.mark.parametrize(("corpus", "documents"), [("n2c2_2018", 3), ("sdoh", 2), ("all_kinds", 1)])
def test_valid_corpus(capsys, corpus, documents):
    assert run(capsys, "validate", str(FIXTURES / corpus)) == (
        0,
        f"checked {documents} documents: 0 errors, 0 warnings\n",
        "",
    )


def test_every_bad_line_class_goes_to_stderr(capsys):
    status, out, err = run(capsys, "validate", str(BAD / "lines"))
    assert status == 2
    assert lines(err) == [f"{BAD / 'lines' / 'lines.ann'}:{p}" for p in BAD_LINES_PROBLEMS]
    assert out == f"checked 1 documents: {len(BAD_LINES_PROBLEMS)} errors, 0 warnings\n"


def test_missing_files_and_invalid_utf8(capsys):
    folder = BAD / "files"
    status, out, err = run(capsys, "validate", str(folder))
    assert status == 2
    assert lines(err) == [
        f"{folder}/missing_ann.txt:0: missing annotation file missing_ann.ann",
        f"{folder}/missing_txt.ann:0: missing text file missing_txt.txt",
        f"{folder}/utf8_ann.ann:3: invalid UTF-8 (byte 0xe9 at byte 67)",
        f"{folder}/utf8_txt.txt:2: invalid UTF-8 (byte 0xff at byte 19)",
    ]
    assert out == "checked 3 documents: 4 errors, 0 warnings\n"


@pytest.mark.parametrize(
    ("options", "status", "line", "summary"),
    [
        ((), 2, f"2: {MISMATCH}", "1 errors, 0 warnings"),
        (("--trust-offsets",), 0, f"2: warning: {MISMATCH}", "0 errors, 1 warnings"),
    ],
    ids=["default", "trust-offsets"],
)
def test_text_field_mismatch(capsys, options, status, line, summary):
    folder = BAD / "mismatch"
    assert run(capsys, "validate", str(folder), *options) == (
        status,
        f"checked 1 documents: {summary}\n",
        f"{folder / 'doc.ann'}:{line}\n",
    )


@pytest.mark.parametrize(
    ("folder", "schema", "expected"),
    [
        (
            "schema_2018",
            "n2c2-2018",
            [
                "2: entity type 'Dose' not in schema n2c2-2018",
                "4: Reason-Drug Arg1 may not be a Drug",
                "4: Reason-Drug Arg2 may not be a Reason",
                "5: relation type 'Causes' not in schema n2c2-2018",
                "6: event type 'Taking' not in schema n2c2-2018",
                "7: attribute type 'Negated' not in schema n2c2-2018",
            ],
        ),
        (
            "schema_sdoh",
            "n2c2-2022-sdoh",
            [
                "6: Alcohol Status may not be a Frequency",
                "6: Alcohol has no role 'Method'",
                "7: Tobacco trigger may not be a Type",
                "8: attribute StatusTimeVal value 'sometimes' not in"
                " ['none', 'current', 'past', 'future']",
                "9: attribute TypeLivingVal may not sit on a StatusTime",
            ],
        ),
    ],
)
def test_schema_option_enables_type_checks(capsys, folder, schema, expected):
    path = BAD / folder
    assert run(capsys, "validate", str(path)) == (
        0,
        "checked 1 documents: 0 errors, 0 warnings\n",
        "",
    )
    status, out, err = run(capsys, "validate", str(path), "--schema", schema)
    assert status == 2
    assert lines(err) == [f"{path / 'doc.ann'}:{m}" for m in expected]
    assert out == f"checked 1 documents: {len(expected)} errors, 0 warnings\n"


@pytest.mark.parametrize(
    ("corpus", "schema"), [("n2c2_2018", "n2c2-2018"), ("sdoh", "n2c2-2022-sdoh")]
)
def test_fixture_corpora_pass_their_schema(capsys, corpus, schema):
    status, _, err = run(capsys, "validate", str(FIXTURES / corpus), "--schema", schema)
    assert (status, err) == (0, "")


@pytest.mark.parametrize("command", ["validate", "stats"])
def test_missing_folder_is_one_error_line(capsys, tmp_path, command):
    missing = tmp_path / "nowhere"
    assert run(capsys, command, str(missing)) == (2, "", f"error: {missing}: not a directory\n")


def test_missing_schema_file_is_one_error_line(capsys, tmp_path):
    schema = tmp_path / "mine.yaml"
    assert run(capsys, "validate", str(FIXTURES / "sdoh"), "--schema", str(schema)) == (
        2,
        "",
        f"error: {schema}: schema file not found\n",
    )


def test_unknown_schema_is_one_error_line(capsys):
    status, out, err = run(capsys, "validate", str(FIXTURES / "sdoh"), "--schema", "n2c2-2099")
    assert (status, out) == (2, "")
    assert err.startswith("error: unknown dataset schema 'n2c2-2099' (looked in ")
    assert len(lines(err)) == 1


def test_stats_counts_every_type(capsys):
    status, out, err = run(capsys, "stats", str(FIXTURES / "n2c2_2018"))
    assert (status, err) == (0, "")
    assert lines(out) == [
        "documents\t3",
        "entities\t28",
        *(f"  {t}\t{n}" for t, n in [
            ("ADE", 2), ("Dosage", 1), ("Drug", 6), ("Duration", 1), ("Form", 2),
            ("Frequency", 5), ("Reason", 3), ("Route", 3), ("Strength", 5),
        ]),
        "relations\t22",
        *(f"  {t}-Drug\t{n}" for t, n in [
            ("ADE", 2), ("Dosage", 1), ("Duration", 1), ("Form", 2), ("Frequency", 5),
            ("Reason", 3), ("Route", 3), ("Strength", 5),
        ]),
        "events\t0",
        "attributes\t0",
    ]  # fmt: skip


def test_stats_counts_events_and_attribute_values(capsys):
    assert run(capsys, "stats", str(FIXTURES / "sdoh")) == (
        0,
        "documents\t2\n"
        "entities\t28\n"
        "  Alcohol\t2\n  Amount\t2\n  Drug\t2\n  Duration\t1\n  Employment\t2\n"
        "  Frequency\t1\n  History\t1\n  LivingStatus\t2\n  StatusEmploy\t2\n"
        "  StatusTime\t7\n  Tobacco\t2\n  Type\t2\n  TypeLiving\t2\n"
        "relations\t0\n"
        "events\t11\n"
        "  Alcohol\t2\n  Drug\t2\n  Employment\t2\n  LivingStatus\t2\n  Tobacco\t3\n"
        "attributes\t11\n"
        "  StatusEmployVal=retired\t1\n  StatusEmployVal=unemployed\t1\n"
        "  StatusTimeVal=current\t3\n  StatusTimeVal=none\t3\n  StatusTimeVal=past\t1\n"
        "  TypeLivingVal=alone\t1\n  TypeLivingVal=with_family\t1\n",
        "",
    )


def test_stats_names_unreadable_documents(capsys):
    folder = BAD / "files"
    status, out, err = run(capsys, "stats", str(folder))
    assert status == 0
    assert lines(err) == [
        f"{folder}/missing_txt.ann:0: missing text file missing_txt.txt (document not counted)",
        f"{folder}/utf8_ann.ann:3: invalid UTF-8 (byte 0xe9 at byte 67) (document not counted)",
        f"{folder}/utf8_txt.txt:2: invalid UTF-8 (byte 0xff at byte 19) (document not counted)",
    ]
    assert lines(out)[0] == "documents\t0"


@pytest.mark.parametrize(
    ("options", "status", "line"),
    [((), 2, f"2: {MISMATCH}"), (("--trust-offsets",), 0, f"2: warning: {MISMATCH}")],
    ids=["default", "trust-offsets"],
)
def test_console_script(options, status, line):
    folder = "tests/fixtures/brat/bad/mismatch"
    script = Path(sys.executable).parent / "clinprompt"
    result = subprocess.run(
        [str(script), "brat", "validate", folder, *options],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert "Traceback" not in result.stderr
    assert result.returncode == status
    assert result.stderr == f"{folder}/doc.ann:{line}\n"
    assert "checked 1 documents" in result.stdout
