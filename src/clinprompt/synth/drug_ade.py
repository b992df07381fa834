"""Synthetic discharge summaries in the 2018 n2c2 medication/ADE schema.

In: a seeded `random.Random`, a document id and the `Vocabulary` of its split (test notes
draw about half of their drugs, strengths, forms, routes, frequencies, reasons and harms from
vocabulary held out of training). Out: one `brat.Document` — a header of
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
  ("nausea", "hypotension", "diarrhea", ...) is a Reason in one context and an ADE in another
  (also in one sentence: "developed [nausea] on morphine and received ondansetron for
  [nausea]"), and nothing in the history, diagnoses and instructions, where no drug is linked
  to it.
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from clinprompt.corpus.brat import Document
from clinprompt.synth.drug_lexicon import (
    ALLERGY_DRUGS,
    ALLERGY_REACTIONS,
    ALTERNATIVES,
    AS_NEEDED,
    CAUSES,
    CONDITIONS,
    CULPRITS,
    DOSAGES,
    DRUG_LEVELS,
    DURATIONS,
    FORMS,
    FREQUENCIES,
    INDUCED,
    INSTRUCTIONS,
    MEDICATIONS,
    NOTHING_TO_FIND,
    PLAIN_FREQUENCIES,
    RELATIVES,
    ROUTES,
    SHARED_HEADS,
    SIG_FREQUENCIES,
    TREATED_HARMS,
    TREATERS,
    Medication,
    held_out_culprit,
    held_out_induced,
    held_out_medication,
    held_out_shared_head,
)
from clinprompt.synth.note import TRAINING, NoteBuilder, T, Vocabulary, draw_header, held_out


@dataclass(frozen=True)
class Context:
    """What every sentence template needs: the random source, the vocabulary, the pronouns."""

    rng: random.Random
    vocabulary: Vocabulary
    subject: str
    possessive: str

    def pick(self, options: Sequence[T], held: Callable[[T], bool] = held_out) -> T:
        """One option of a lexicon, as the note's vocabulary allows."""
        return self.vocabulary.choice(self.rng, options, held)

    def medication(self) -> Medication:
        """A medication the note's vocabulary allows."""
        return self.pick(MEDICATIONS, held_out_medication)


def drug_phrase(note: Context, med: Medication, group: int, reason: bool = True) -> str:
    """Markup for a drug with a random subset of its attributes, in prose word order."""
    rng = note.rng
    parts = [f"[{med.name}|Drug@{group}]"]
    if rng.random() < 0.8:
        parts.append(f"[{note.pick(med.strengths)}|Strength@{group}]")
    if rng.random() < 0.5:
        parts.append(f"[{note.pick(ROUTES[med.form])}|Route@{group}]")
    if rng.random() < 0.7:
        parts.append(f"[{note.pick(FREQUENCIES)}|Frequency@{group}]")
    if rng.random() < 0.15:
        parts.append(f"for [{note.pick(DURATIONS)}|Duration@{group}]")
    if reason and rng.random() < 0.4:
        parts.append(f"for [{note.pick(med.reasons)}|Reason@{group}]")
    return " ".join(parts)


def _continued(note: Context) -> str:
    meds = note.vocabulary.sample(
        note.rng, MEDICATIONS, note.rng.choice((2, 3)), held_out_medication
    )
    phrases = [drug_phrase(note, med, group) for group, med in enumerate(meds, start=1)]
    listed = ", ".join(phrases[:-1]) + " and " + phrases[-1]
    return f"{note.subject} was continued on {listed}."


def _adverse_event(note: Context) -> str:
    culprit = note.pick(CULPRITS, held_out_culprit)
    harm = note.pick(culprit.harms)
    if note.rng.random() < 0.5:
        # cross-sentence: the harm and its drug are in consecutive sentences
        return (
            f"On hospital day {note.rng.randint(2, 6)} {note.subject.lower()} developed "
            f"[{harm}|ADE@1]. This was attributed to [{culprit.name}|Drug@1], which was held."
        )
    alternatives = note.vocabulary.usable(ALTERNATIVES[culprit.name], held_out_medication)
    outcome = " and it was discontinued"
    if alternatives and note.rng.random() < 0.7:
        switched_to = note.pick(alternatives, held_out_medication)
        outcome = f", which was switched to {drug_phrase(note, switched_to, 2, reason=False)}"
    return f"{note.subject} developed [{harm}|ADE@1] after [{culprit.name}|Drug@1]{outcome}."


def _harm_treated(note: Context) -> str:
    """One drug's harm treated by another: the same string an ADE, then a Reason."""
    usable = note.vocabulary.usable
    harms = [
        h
        for h in usable(TREATED_HARMS)
        if usable(CAUSES[h], held_out_medication) and usable(TREATERS[h], held_out_medication)
    ]
    harm = note.pick(harms)
    culprit = note.pick(usable(CAUSES[harm], held_out_medication), held_out_medication)
    treaters = [m for m in usable(TREATERS[harm], held_out_medication) if m is not culprit]
    if not treaters:
        return _adverse_event(note)
    treater = note.pick(treaters, held_out_medication)
    return (
        f"{note.subject} developed [{harm}|ADE@1] on [{culprit.name}|Drug@1] and received "
        f"{drug_phrase(note, treater, 2, reason=False)} for [{harm}|Reason@2]."
    )


def _reason_then_drug(note: Context) -> str:
    med = note.medication()
    return (
        f"The course was complicated by [{note.pick(med.reasons)}|Reason@1]. "
        f"{note.subject} was started on {drug_phrase(note, med, 1, reason=False)}."
    )


def _treated(note: Context) -> str:
    med = note.medication()
    given = drug_phrase(note, med, 1, reason=False)
    return f"{note.subject} received {given} for [{note.pick(med.reasons)}|Reason@1]."


def _induced(note: Context) -> str:
    culprit, harm, treatments = note.pick(INDUCED, held_out_induced)
    return (
        f"{note.subject} was started on [{note.pick(treatments)}|Drug@1] for "
        f"[[{culprit}|Drug@2]-induced [{harm}|ADE@2]|Reason@1]."
    )


def _shared_head(note: Context) -> str:
    head, first, second, strengths = note.pick(SHARED_HEADS, held_out_shared_head)
    drugs = f"[[{head}|Drug@2] {first}|Drug@1]"
    strength = f"[{note.pick(strengths)}|Strength@2]"
    frequency = note.pick(FREQUENCIES)
    if note.rng.random() < 0.5:
        return (
            f"{note.possessive} {drugs} was changed to [{second}|Drug@2+] {strength} "
            f"[{frequency}|Frequency@2]."
        )
    return (
        f"{note.subject} was discharged on {drugs} [{frequency}|Frequency@1] "
        f"and [{second}|Drug@2+] {strength}."
    )


def _family_history(note: Context) -> str:
    med = note.medication()
    relative = note.pick(RELATIVES)
    return f"{note.possessive} {relative} has {note.pick(med.reasons)} and takes {med.name}."


def _nothing(note: Context) -> str:
    return note.rng.choice(NOTHING_TO_FIND)


SENTENCES = (
    (_continued, 2.0),
    (_adverse_event, 2.0),
    (_harm_treated, 1.0),
    (_reason_then_drug, 1.0),
    (_treated, 1.0),
    (_induced, 0.7),
    (_shared_head, 0.7),
    (_family_history, 0.6),
    (_nothing, 1.5),
)


def medication_line(note: Context, number: int, med: Medication) -> str:
    """Markup for one discharge-list line, in one of three list styles."""
    route = note.pick(ROUTES[med.form])
    start = f"{number}. [{med.name.title()}|Drug@1] [{note.pick(med.strengths)}|Strength@1]"
    style = note.rng.randrange(3)
    if style == 0:
        form = note.pick(FORMS[med.form])
        duration = f" for [{note.pick(DURATIONS)}|Duration@1]" if note.rng.random() < 0.3 else ""
        return (
            f"{start} [{form}|Form@1] Sig: [{note.pick(DOSAGES)}|Dosage@1] [{form}|Form@1] "
            f"[{route}|Route@1] [{note.pick(SIG_FREQUENCIES)}|Frequency@1]{duration}."
        )
    if style == 1:
        frequency = note.pick(AS_NEEDED).format(frequency=note.pick(FREQUENCIES))
        reason = note.pick(med.reasons)
        return f"{start} [{route}|Route@1] [{frequency}|Frequency@1] [{reason}|Reason@1]"
    return f"{start} [{route}|Route@1] [{note.pick(FREQUENCIES)}|Frequency@1]"


def link_to_drug(note: NoteBuilder, entity_ids: list[str]) -> None:
    """Relate every attribute of a markup group to the group's one Drug."""
    drugs = [e for e in entity_ids if note.types[e] == "Drug"]
    if len(drugs) != 1:
        raise ValueError(f"a drug group needs exactly one Drug, got {len(drugs)}")
    for entity_id in entity_ids:
        if entity_id != drugs[0]:
            note.relation(f"{note.types[entity_id]}-Drug", entity_id, drugs[0])


def _allergies(note: Context) -> str:
    if note.rng.random() < 0.4:
        return "No Known Allergies to Drugs"
    return f"[{note.pick(ALLERGY_DRUGS)}|Drug@1] ([{note.pick(ALLERGY_REACTIONS)}|ADE@1])"


def _conditions(note: Context, fewest: int, most: int) -> str:
    count = note.rng.randint(fewest, most)
    return ", ".join(note.vocabulary.sample(note.rng, CONDITIONS, count))


def _results(note: Context) -> str:
    rng = note.rng
    level = f"{note.pick(DRUG_LEVELS)} {rng.randint(5, 25)}.{rng.randint(0, 9)}"
    return f"{level}, potassium 4.{rng.randint(0, 9)}, creatinine 1.{rng.randint(0, 9)}"


def _instructions(note: Context) -> str:
    condition, other = note.vocabulary.sample(note.rng, CONDITIONS, 2)
    chosen = note.rng.sample(INSTRUCTIONS, 2)
    return " ".join(
        t.format(frequency=note.pick(PLAIN_FREQUENCIES), condition=condition, other=other)
        for t in chosen
    )


def drug_ade_note(rng: random.Random, doc_id: str, vocabulary: Vocabulary = TRAINING) -> Document:
    """One synthetic discharge summary."""
    builder = NoteBuilder(doc_id, link_to_drug)
    header = draw_header(rng)
    subject, possessive = rng.choice((("He", "His"), ("She", "Her")))
    note = Context(rng, vocabulary, subject, possessive)
    builder.plain(
        f"Name: {header.patient}   Unit No: {header.record_number}\n"
        f"Admission Date: {header.date}\nService: MEDICINE\nAttending: {header.clinician}, MD\n\n"
        f"Past Medical History:\n{_conditions(note, 3, 5)}\n\n"
        f"Pertinent Results:\n{_results(note)}\n\nAllergies:\n"
    )
    builder.write(_allergies(note) + "\n\nBrief Hospital Course:\n")
    templates, weights = zip(*SENTENCES, strict=True)
    width = rng.choice((72, 80, None))
    chosen = rng.choices(templates, weights, k=rng.randint(4, 6))
    for index, template in enumerate(chosen):
        builder.write((" " if index else "") + template(note), width)
    builder.plain("\n\nDischarge Medications:\n")
    listed = vocabulary.sample(rng, MEDICATIONS, rng.randint(3, 7), held_out_medication)
    for number, med in enumerate(listed, start=1):
        builder.write(medication_line(note, number, med) + "\n", width=60)
    builder.plain(
        f"\nDischarge Diagnosis:\n{_conditions(note, 1, 3)}\n\nDischarge Disposition:\nHome\n\n"
        f"Discharge Instructions:\n{_instructions(note)}\n"
    )
    return builder.document()
