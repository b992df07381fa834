"""Dictionary baseline: training strings found again in test text, longest first."""

from __future__ import annotations

import pandas as pd

from clinprompt.baseline import dictionary_predictions, mention_dictionary


def test_dictionary_labels_and_longest_match():
    train = pd.DataFrame({
        "text": ["aspirin", "Aspirin", "nausea", "nausea", "nausea", "chest pain", "pain"],
        "type": ["Drug", "Drug", "ADE", "Reason", "Reason", "Reason", "ADE"],
    })  # fmt: skip
    dictionary = mention_dictionary(train, ("Drug", "Reason", "ADE"))
    assert dictionary == {"aspirin": "Drug", "nausea": "Reason", "chest pain": "Reason",
                          "pain": "ADE"}  # fmt: skip
    docs = pd.DataFrame({
        "document": ["MIMIC/test/d1"],
        "text": ["ASPIRIN for chest\npain; nausea.  aspirinX no"],
    })  # fmt: skip
    found = dictionary_predictions(dictionary, docs)["MIMIC/test/d1"]
    assert found.doc_id == "d1"
    assert [(e.type, e.fragments) for e in found.entities] == [
        ("Drug", ((0, 7),)),
        ("Reason", ((12, 17), (18, 22))),
        ("Reason", ((24, 30),)),
    ]
    assert found.relations == []
