"""Synthetic discharge summaries in the 2018 n2c2 medication/ADE schema.

In: a seeded `random.Random` and a document id. Out: one `brat.Document` — a header of
canary identifiers, past medical history, results, allergies, a hospital-course paragraph, a
discharge medication list, diagnoses and instructions — whose entities are the 9 n2c2-2018
concept types and whose relations are `<Attr>-Drug` (Arg1 = attribute, Arg2 = Drug).

Labelling rules (applied the same way in every template):
- Drug: every medication the patient receives, takes, is switched to or reacts to, including
  allergy-list entries and a drug named only inside a Reason ("heparin" in "heparin-induced
  thrombocytopenia"). A drug the patient does not take (a relative's medication in the family
  history) or a drug-level test ("vancomycin trough") is not annotated, and neither is
  anything else in that sentence.
- ADE: a harm the note attributes to a drug, linked to that drug (also across sentences, and
  for allergy reactions). Reason: a condition a drug is given for. The same condition
  ("nausea", "hypotension", "rash", ...) is a Reason in one context and an ADE in another,
  and nothing in the history, diagnoses and instructions, where no drug is linked to it.
- Attributes (Strength, Form, Dosage, Frequency, Route, Duration) are linked to the drug they
  describe; spans exclude prepositions ("for [7 days]"). "PRN" belongs to the Frequency.
- A Reason may contain a Drug and an ADE ("[[heparin]-induced [thrombocytopenia]]": Reason of
  the treating drug, ADE of heparin): nested entities.
- A drug whose name is shared with a neighbour ("metoprolol tartrate was changed to
  succinate", "insulin glargine ... and lispro") is one entity of two fragments overlapping the
  neighbour; a mention wrapped over a line is split into one fragment per line.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from clinprompt.brat import Document
from clinprompt.synth_drug_lexicon import (
    ADVERSE_EVENTS,
    ALLERGIES,
    CONDITIONS,
    DOSAGES,
    DRUG_LEVELS,
    DURATIONS,
    FREQUENCIES,
    INDUCED,
    INSTRUCTIONS,
    MEDICATION,
    MEDICATIONS,
    NOTHING_TO_FIND,
    PLAIN_FREQUENCIES,
    RELATIVES,
    ROUTES,
    SHARED_HEADS,
    SIG_FREQUENCIES,
    Medication,
)
from clinprompt.synth_note import NoteBuilder, draw_header


@dataclass(frozen=True)
class Patient:
    """Pronouns for the note's patient."""

    subject: str
    possessive: str


def drug_phrase(rng: random.Random, med: Medication, group: int, reason: bool = True) -> str:
    """Markup for a drug with a random subset of its attributes, in prose word order."""
    parts = [f"[{med.name}|Drug@{group}]"]
    if rng.random() < 0.8:
        parts.append(f"[{rng.choice(med.strengths)}|Strength@{group}]")
    if rng.random() < 0.5:
        parts.append(f"[{rng.choice(ROUTES[med.form])}|Route@{group}]")
    if rng.random() < 0.7:
        parts.append(f"[{rng.choice(FREQUENCIES)}|Frequency@{group}]")
    if rng.random() < 0.15:
        parts.append(f"for [{rng.choice(DURATIONS)}|Duration@{group}]")
    if reason and rng.random() < 0.4:
        parts.append(f"for [{rng.choice(med.reasons)}|Reason@{group}]")
    return " ".join(parts)


def _continued(rng: random.Random, patient: Patient) -> str:
    meds = rng.sample(MEDICATIONS, rng.choice((2, 3)))
    phrases = [drug_phrase(rng, med, group) for group, med in enumerate(meds, start=1)]
    listed = ", ".join(phrases[:-1]) + " and " + phrases[-1]
    return f"{patient.subject} was continued on {listed}."


def _adverse_event(rng: random.Random, patient: Patient) -> str:
    harm, culprit, switched_to = rng.choice(ADVERSE_EVENTS)
    if rng.random() < 0.5:
        # cross-sentence: the harm and its drug are in consecutive sentences
        return (
            f"On hospital day {rng.randint(2, 6)} {patient.subject.lower()} developed "
            f"[{harm}|ADE@1]. This was attributed to [{culprit}|Drug@1], which was held."
        )
    outcome = (
        f", which was switched to {drug_phrase(rng, MEDICATION[switched_to], 2, reason=False)}"
        if switched_to
        else " and it was discontinued"
    )
    return f"{patient.subject} developed [{harm}|ADE@1] after [{culprit}|Drug@1]{outcome}."


def _reason_then_drug(rng: random.Random, patient: Patient) -> str:
    med = rng.choice(MEDICATIONS)
    return (
        f"The course was complicated by [{rng.choice(med.reasons)}|Reason@1]. "
        f"{patient.subject} was started on {drug_phrase(rng, med, 1, reason=False)}."
    )


def _treated(rng: random.Random, patient: Patient) -> str:
    med = rng.choice(MEDICATIONS)
    given = drug_phrase(rng, med, 1, reason=False)
    return f"{patient.subject} received {given} for [{rng.choice(med.reasons)}|Reason@1]."


def _induced(rng: random.Random, patient: Patient) -> str:
    culprit, harm, treatment = rng.choice(INDUCED)
    return (
        f"{patient.subject} was started on [{treatment}|Drug@1] for "
        f"[[{culprit}|Drug@2]-induced [{harm}|ADE@2]|Reason@1]."
    )


def _shared_head(rng: random.Random, patient: Patient) -> str:
    head, first, second, strength = rng.choice(SHARED_HEADS)
    drugs = f"[[{head}|Drug@2] {first}|Drug@1]"
    if rng.random() < 0.5:
        return (
            f"{patient.possessive} {drugs} was changed to [{second}|Drug@2+] "
            f"[{strength}|Strength@2] [{rng.choice(FREQUENCIES)}|Frequency@2]."
        )
    return (
        f"{patient.subject} was discharged on {drugs} [{rng.choice(FREQUENCIES)}|Frequency@1] "
        f"and [{second}|Drug@2+] [{strength}|Strength@2]."
    )


def _family_history(rng: random.Random, patient: Patient) -> str:
    med = rng.choice(MEDICATIONS)
    relative = rng.choice(RELATIVES)
    return f"{patient.possessive} {relative} has {rng.choice(med.reasons)} and takes {med.name}."


def _nothing(rng: random.Random, patient: Patient) -> str:
    return rng.choice(NOTHING_TO_FIND)


SENTENCES = (
    (_continued, 2.0),
    (_adverse_event, 2.0),
    (_reason_then_drug, 1.0),
    (_treated, 1.0),
    (_induced, 0.7),
    (_shared_head, 0.7),
    (_family_history, 0.6),
    (_nothing, 1.5),
)


def medication_line(rng: random.Random, number: int, med: Medication) -> str:
    """Markup for one discharge-list line, in one of three list styles."""
    name = med.name.title()
    route = rng.choice(ROUTES[med.form])
    start = f"{number}. [{name}|Drug@1] [{rng.choice(med.strengths)}|Strength@1]"
    style = rng.randrange(3)
    if style == 0:
        form = med.form.capitalize()
        duration = f" for [{rng.choice(DURATIONS)}|Duration@1]" if rng.random() < 0.3 else ""
        return (
            f"{start} [{form}|Form@1] Sig: [{rng.choice(DOSAGES)}|Dosage@1] [{form}|Form@1] "
            f"[{route}|Route@1] [{rng.choice(SIG_FREQUENCIES)}|Frequency@1]{duration}."
        )
    if style == 1:
        reason = rng.choice(med.reasons)
        frequency = f"{rng.choice(FREQUENCIES)} PRN"
        return f"{start} [{route}|Route@1] [{frequency}|Frequency@1] [{reason}|Reason@1]"
    return f"{start} [{route}|Route@1] [{rng.choice(FREQUENCIES)}|Frequency@1]"


def link_to_drug(note: NoteBuilder, entity_ids: list[str]) -> None:
    """Relate every attribute of a markup group to the group's one Drug."""
    drugs = [e for e in entity_ids if note.types[e] == "Drug"]
    if len(drugs) != 1:
        raise ValueError(f"a drug group needs exactly one Drug, got {len(drugs)}")
    for entity_id in entity_ids:
        if entity_id != drugs[0]:
            note.relation(f"{note.types[entity_id]}-Drug", entity_id, drugs[0])


def _allergies(rng: random.Random) -> str:
    if rng.random() < 0.4:
        return "No Known Allergies to Drugs"
    drug, reaction = rng.choice(ALLERGIES)
    return f"[{drug}|Drug@1] ([{reaction}|ADE@1])"


def _conditions(rng: random.Random, fewest: int, most: int) -> str:
    return ", ".join(rng.sample(CONDITIONS, rng.randint(fewest, most)))


def _results(rng: random.Random) -> str:
    level = f"{rng.choice(DRUG_LEVELS)} {rng.randint(5, 25)}.{rng.randint(0, 9)}"
    return f"{level}, potassium 4.{rng.randint(0, 9)}, creatinine 1.{rng.randint(0, 9)}"


def _instructions(rng: random.Random) -> str:
    condition, other = rng.sample(CONDITIONS, 2)
    chosen = rng.sample(INSTRUCTIONS, 2)
    return " ".join(
        t.format(frequency=rng.choice(PLAIN_FREQUENCIES), condition=condition, other=other)
        for t in chosen
    )


def drug_ade_note(rng: random.Random, doc_id: str) -> Document:
    """One synthetic discharge summary."""
    note = NoteBuilder(doc_id, link_to_drug)
    header = draw_header(rng)
    note.plain(
        f"Name: {header.patient}   Unit No: {header.record_number}\n"
        f"Admission Date: {header.date}\nService: MEDICINE\nAttending: {header.clinician}, MD\n\n"
        f"Past Medical History:\n{_conditions(rng, 3, 5)}\n\n"
        f"Pertinent Results:\n{_results(rng)}\n\nAllergies:\n"
    )
    note.write(_allergies(rng) + "\n\nBrief Hospital Course:\n")
    patient = rng.choice((Patient("He", "His"), Patient("She", "Her")))
    templates, weights = zip(*SENTENCES, strict=True)
    width = rng.choice((72, 80, None))
    chosen = rng.choices(templates, weights, k=rng.randint(4, 6))
    for index, template in enumerate(chosen):
        note.write((" " if index else "") + template(rng, patient), width)
    note.plain("\n\nDischarge Medications:\n")
    for number, med in enumerate(rng.sample(MEDICATIONS, rng.randint(3, 7)), start=1):
        note.write(medication_line(rng, number, med) + "\n", width=60)
    note.plain(
        f"\nDischarge Diagnosis:\n{_conditions(rng, 1, 3)}\n\nDischarge Disposition:\nHome\n\n"
        f"Discharge Instructions:\n{_instructions(rng)}\n"
    )
    return note.document()
