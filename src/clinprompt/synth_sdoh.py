"""Synthetic social-history sections in the 2022 n2c2/UW SDoH (SHAC) schema, two styles.

In: a seeded `random.Random`, a document id and an institution. Out: one `brat.Document`
with SHAC-style events (`E1 Alcohol:T1 Status:T2 Amount:T3`) and valued attributes on the
labeled arguments (`A1 StatusTimeVal T2 current`). MIMIC notes are narrative and abbreviated
("Quit tob 10 yrs ago", "Denies etoh, IVDU", "Lives w/ wife"); UW notes are templated, EHR
style ("Smoking status: Former Smoker", "Alcohol/week: 2.0 standard drinks of alcohol"),
with their own vocabulary, so training on one and testing on the other is a real shift.

Labelling rules:
- Every substance and living-status event has a StatusTime argument; when the trigger word
  is itself the only status cue ("Smokes", "Lives", "Works", "Retired"), the status is a
  second entity on the trigger's span.
- One status word may serve several events ("Denies tob, etoh, IVDU": one StatusTime shared
  by three events), as in SHAC.
- An argument may sit inside its trigger ("[IV]DU": Method in Drug) or inside another
  argument ("3-4 [beers]": Type in Amount).
- Only the patient's own history is annotated: the same words about someone else ("Husband
  smokes 1 ppd", "Spouse smoking status: ...") or about nothing in the schema ("Sexual
  activity: Yes", "Denies recent travel", coffee drinking) are not.
"""

from __future__ import annotations

import random
from collections import Counter

from clinprompt.brat import Document
from clinprompt.synth_note import NoteBuilder, draw_header

EVENT_TYPES = ("Alcohol", "Drug", "Tobacco", "Employment", "LivingStatus")
# Event role of each argument entity type; the others keep their type name as the role.
ROLES = {"StatusTime": "Status", "StatusEmploy": "Status", "TypeLiving": "Type"}
DOMAINS = ("Tobacco", "Alcohol", "Drug", "Employment", "LivingStatus")

# Template slots; a filler may itself be markup (when its text decides an attribute value).
MIMIC_WORDS = {
    "ppd": ("1 ppd", "1/2 ppd", "2 ppd", "<1 ppd"),
    "pkyr": tuple(f"{n} pk-yr" for n in range(5, 85, 5)),
    "ago": (*(f"{n} yrs ago" for n in range(2, 41)), "6 mos ago", "last yr"),
    "yrs": tuple(f"{n} yrs" for n in range(2, 41)),
    "n": ("3-4", "2", "6", "a few"),
    "drinks": ("beers", "shots", "glasses of wine"),
    "freq": ("daily", "on weekends", "nightly", "2-3x/wk"),
    "drug": ("cocaine", "heroin", "MJ", "crack", "meth"),
    "method": ("smokes", "snorts", "injects"),
    "job": ("machinist", "carpenter", "truck driver", "electrician", "cook", "mail carrier"),
    "family": (
        "[w/ wife|TypeLiving=with_family@1]",
        "[w/ husband|TypeLiving=with_family@1]",
        "[w/ daughter|TypeLiving=with_family@1]",
        "[w/ roommates|TypeLiving=with_others@1]",
        "[alone|TypeLiving=alone@1]",
    ),
    "town": ("Dorchester", "Quincy", "Revere", "Lowell", "Chelsea"),
    "kids": ("2", "3", "no"),
}
UW_WORDS = {
    "current": ("Current Every Day Smoker", "Current Some Day Smoker", "Light Tobacco Smoker"),
    "packs": ("0.25", "0.50", "0.75", "1.00", "1.50", "2.00"),
    "years": tuple(f"{n}.00" for n in range(3, 50)),
    "quit": tuple(f"{month}/1/{year}" for month in range(1, 13) for year in range(1985, 2021)),
    "ttype": ("Cigarettes", "Cigars", "Pipe"),
    "weekly": ("1.0 standard drink", *(f"{n}.0 standard drinks" for n in range(2, 15))),
    "glasses": ("1-2 glasses", "a glass", "2 glasses"),
    "beverage": ("wine", "beer", "red wine"),
    "often": ("with dinner", "on weekends", "socially", "a few times a month"),
    "since": (*(str(year) for year in range(2000, 2023)), "last year"),
    "consumed": ("edibles", "vaporized", "smoked"),
    "hard_drug": ("Heroin", "Cocaine", "Methamphetamines", "Opioids"),
    "employ": (
        "[Employed full time|StatusEmploy=employed@1]",
        "[Employed part time|StatusEmploy=employed@1]",
        "[Retired|StatusEmploy=retired@1]",
        "[Unemployed|StatusEmploy=unemployed@1]",
        "[Disabled|StatusEmploy=on_disability@1]",
        "[Student|StatusEmploy=student@1]",
        "[Homemaker|StatusEmploy=homemaker@1]",
    ),
    "work": (
        "software engineer",
        "barista",
        "registered nurse",
        "accountant",
        "warehouse associate",
    ),
    "with": ("with spouse", "with partner", "with parents", "with her children"),
    "answer": ("Yes", "No", "Never", "Not Currently"),
    "marital": ("Married", "Single", "Widowed", "Divorced"),
    "partners": ("Male", "Female"),
}

MIMIC_TEMPLATES = {
    "Tobacco": (
        "[Current|StatusTime=current@1] [smoker|Tobacco@1], [{ppd}|Amount@1] x [{yrs}|Duration@1].",
        "[Quit|StatusTime=past@1] [tob|Tobacco@1] [{ago}|History@1], [{pkyr}|Amount@1] hx.",
        "[Former|StatusTime=past@1] [smoker|Tobacco@1] ([{pkyr}|Amount@1]), "
        "quit [{ago}|History@1].",
        "[Never|StatusTime=none@1] [smoker|Tobacco@1].",
        "[[Smokes|Tobacco@1]|StatusTime=current@1] [{ppd}|Amount@1].",
    ),
    "Alcohol": (
        "[Occasional|Frequency@1] [[etoh|Alcohol@1]|StatusTime=current@1].",
        "[[Drinks|Alcohol@1]|StatusTime=current@1] [{n} [{drinks}|Type@1]|Amount@1] "
        "[{freq}|Frequency@1].",
        "[h/o|StatusTime=past@1] heavy [etoh|Alcohol@1], sober x [{yrs}|History@1].",
        "[Denies|StatusTime=none@1] [etoh|Alcohol@1].",
    ),
    "Drug": (
        "[Denies|StatusTime=none@1] [IVDU|Drug@1].",
        "[h/o|StatusTime=past@1] [[IV|Method@1]DU|Drug@1], last used [{ago}|History@1].",
        "[Current|StatusTime=current@1] [[{drug}|Type@1] use|Drug@1], [{method}|Method@1] "
        "[{freq}|Frequency@1].",
        "[Remote|StatusTime=past@1] [[{drug}|Type@1] use|Drug@1].",
    ),
    "Employment": (
        "[[Works|Employment@1]|StatusEmploy=employed@1] as a [{job}|Type@1].",
        "[[Retired|Employment@1]|StatusEmploy=retired@1] [{job}|Type@1].",
        "[[Unemployed|Employment@1]|StatusEmploy=unemployed@1], previously a [{job}|Type@1].",
        "[[On disability|Employment@1]|StatusEmploy=on_disability@1] x [{yrs}|Duration@1].",
    ),
    "LivingStatus": (
        "[[Lives|LivingStatus@1]|StatusTime=current@1] {family} in {town}.",
        "[Currently|StatusTime=current@1] [[homeless|TypeLiving=homeless@1]|LivingStatus@1], "
        "staying in shelters.",
        "[Plans to|StatusTime=future@1] [move in|LivingStatus@1] {family} after d/c.",
    ),
}
# Several events sharing one status word, with the domains they cover.
MIMIC_SHARED = (
    (
        "[Denies|StatusTime=none@1,2,3] [tob|Tobacco@1], [etoh|Alcohol@2], [IVDU|Drug@3].",
        ("Tobacco", "Alcohol", "Drug"),
    ),
    ("[No|StatusTime=none@1,2] [tob|Tobacco@1] or [illicits|Drug@2].", ("Tobacco", "Drug")),
)
MIMIC_NOTHING = (
    "Married, {kids} children.",
    "Originally from {town}.",
    "Denies recent travel.",
    "Drinks 2 cups of coffee daily.",
    "Enjoys fishing and watching the Red Sox.",
    "Wife works as a {job}.",
    "Daughter lives nearby.",
    "Husband smokes {ppd}.",
    "Father was a heavy drinker.",
    "Brother w/ h/o IVDU.",
)

UW_TEMPLATES = {
    "Tobacco": (
        "[Smoking status|Tobacco@1]: [Former Smoker|StatusTime=past@1]\n"
        "      Packs/day: [{packs}|Amount@1]\n      Years: [{years}|Duration@1]\n"
        "      Types: [{ttype}|Type@1]\n      Quit date: [{quit}|History@1]",
        "[Smoking status|Tobacco@1]: [Never Smoker|StatusTime=none@1]",
        "[Smoking status|Tobacco@1]: [{current}|StatusTime=current@1]\n"
        "      Packs/day: [{packs}|Amount@1]\n      Types: [{ttype}|Type@1]",
    ),
    "Smokeless": (
        "[Smokeless tobacco|Tobacco@1]: [Never Used|StatusTime=none@1]",
        "[Smokeless tobacco|Tobacco@1]: [Current User|StatusTime=current@1]\n"
        "      Types: [Chew|Type@1]",
    ),
    "Alcohol": (
        "[Alcohol use|Alcohol@1]: [Yes|StatusTime=current@1]\n"
        "      Alcohol/week: [{weekly}|Amount@1] of alcohol",
        "[Alcohol use|Alcohol@1]: [Yes|StatusTime=current@1]\n"
        "      Comment: [{glasses}|Amount@1] of [{beverage}|Type@1] [{often}|Frequency@1]",
        "[Alcohol use|Alcohol@1]: [No|StatusTime=none@1]",
        "[Alcohol use|Alcohol@1]: [Not Currently|StatusTime=past@1]\n"
        "      Comment: quit [{since}|History@1]",
    ),
    "Drug": (
        "[Drug use|Drug@1]: [Never|StatusTime=none@1]",
        "[Drug use|Drug@1]: [Yes|StatusTime=current@1]\n      Types: [Marijuana|Type@1]\n"
        "      Comment: [{consumed}|Method@1] [{often}|Frequency@1]",
        "[Drug use|Drug@1]: [Not Currently|StatusTime=past@1]\n"
        "      Types: [{hard_drug}|Type@1], [Marijuana|Type@1]\n"
        "      Comment: sober since [{since}|History@1]",
    ),
    "Employment": (
        "[Employment status|Employment@1]: {employ}\n      Occupation: [{work}|Type@1]",
        "[Occupation|Employment@1]: [{work}|Type@1]",
        "Patient [[retired|Employment@1]|StatusEmploy=retired@1] after working as a "
        "[{work}|Type@1]",
    ),
    "LivingStatus": (
        "[Living situation|LivingStatus@1]: [Lives|StatusTime=current@1] "
        "[{with}|TypeLiving=with_family@1]",
        "[Living situation|LivingStatus@1]: [Lives|StatusTime=current@1] "
        "[alone|TypeLiving=alone@1]",
        "[Living situation|LivingStatus@1]: [Currently|StatusTime=current@1] "
        "[experiencing homelessness|TypeLiving=homeless@1]",
        "[Living situation|LivingStatus@1]: [Will|StatusTime=future@1] stay "
        "[{with}|TypeLiving=with_family@1] after discharge",
        "Patient [[lives|LivingStatus@1]|StatusTime=current@1] [{with}|TypeLiving=with_family@1] "
        "and is independent in ADLs",
    ),
}
UW_NOTHING = (
    "Sexual activity: {answer}\n      Partners: {partners}",
    "Exercise: {answer}",
    "Caffeine use: {answer}, 2 cups of coffee daily",
    "Seat belt use: {answer}",
    "Firearms in home: {answer}",
    "Marital status: {marital}",
    "Spouse's occupation: {work}",
    "Passive exposure: {answer}",
    "Spouse smoking status: {current}",
)


def link_event(note: NoteBuilder, entity_ids: list[str]) -> None:
    """Make one event of a markup group: its trigger plus every other entity as argument.

    A role used twice gets BRAT's numeric suffix (`Type`, `Type2`).
    """
    triggers = [e for e in entity_ids if note.types[e] in EVENT_TYPES]
    if len(triggers) != 1:
        raise ValueError(f"an event group needs exactly one trigger, got {len(triggers)}")
    used: Counter[str] = Counter()
    arguments = []
    for entity_id in entity_ids:
        if entity_id == triggers[0]:
            continue
        role = ROLES.get(note.types[entity_id], note.types[entity_id])
        used[role] += 1
        arguments.append((role if used[role] == 1 else f"{role}{used[role]}", entity_id))
    note.event(note.types[triggers[0]], triggers[0], tuple(arguments))


def fill(rng: random.Random, template: str, words: dict[str, tuple[str, ...]]) -> str:
    """A template with every slot replaced by a random filler."""
    return template.format(**{slot: rng.choice(options) for slot, options in words.items()})


def mimic_social_history(rng: random.Random, doc_id: str) -> Document:
    """A narrative, abbreviated MIMIC-style social history."""
    note = NoteBuilder(doc_id, link_event)
    header = draw_header(rng)
    note.plain(
        f"Name: {header.patient}   Unit No: {header.record_number}\n"
        f"Admission Date: {header.date}\nAttending: {header.clinician}, MD\n\nSocial History:\n"
    )
    sentences = []
    domains = [d for d in DOMAINS if rng.random() < 0.8]
    if rng.random() < 0.4:
        shared, covered = rng.choice(MIMIC_SHARED)
        sentences.append(shared)
        domains = [d for d in domains if d not in covered]
    sentences += [rng.choice(MIMIC_TEMPLATES[d]) for d in domains]
    sentences += rng.sample(MIMIC_NOTHING, rng.randint(1, 3))
    rng.shuffle(sentences)
    for index, sentence in enumerate(sentences):
        note.write((" " if index else "") + fill(rng, sentence, MIMIC_WORDS), width=78)
    note.plain("\n")
    return note.document()


def uw_social_history(rng: random.Random, doc_id: str) -> Document:
    """A templated, EHR-style UW social history."""
    note = NoteBuilder(doc_id, link_event)
    header = draw_header(rng)
    note.plain(
        f"Patient: {header.patient}    MRN: {header.record_number}\n"
        f"Encounter date: {header.date}    Provider: {header.clinician}\n\nSOCIAL HISTORY\n"
    )
    sections = (
        ("Tobacco Use", ("Tobacco", "Smokeless", "Nothing")),
        ("Substance and Sexual Activity", ("Alcohol", "Drug", "Nothing")),
        ("Other Topics", ("Nothing", "Nothing")),
        ("Social History Narrative", ("Employment", "LivingStatus", "Nothing")),
    )
    for title, fields in sections:
        note.plain(f"{title}\n")
        for field in fields:
            if rng.random() < 0.85:
                options = UW_NOTHING if field == "Nothing" else UW_TEMPLATES[field]
                note.write("  • " + fill(rng, rng.choice(options), UW_WORDS) + "\n")
    return note.document()
