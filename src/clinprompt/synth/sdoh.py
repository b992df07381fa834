"""Synthetic social-history sections in the 2022 n2c2/UW SDoH (SHAC) schema, two styles.

In: a seeded `random.Random`, a document id and the `Vocabulary` of its split (every template
slot is a lexicon; test notes draw about half of their status words, triggers, substances,
amounts, jobs and living phrases from vocabulary held out of training). Out: one `brat.Document`
with SHAC-style events (`E1 Alcohol:T1 Status:T2 Amount:T3`) and valued attributes on the
labeled arguments (`A1 StatusTimeVal T2 current`). MIMIC notes are narrative and abbreviated
("Quit tob 10 yrs ago", "Denies etoh, IVDU", "Lives w/ wife"); UW notes are templated, EHR
style ("Smoking status: Former Smoker", "Alcohol/week: 2.0 standard drinks of alcohol"),
with their own vocabulary (few strings are shared), so training on one and testing on the
other is a real shift.

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
from string import Formatter

from clinprompt.corpus.brat import Document
from clinprompt.synth.note import TRAINING, NoteBuilder, Vocabulary, draw_header

EVENT_TYPES = ("Alcohol", "Drug", "Tobacco", "Employment", "LivingStatus")
# Event role of each argument entity type; the others keep their type name as the role.
ROLES = {"StatusTime": "Status", "StatusEmploy": "Status", "TypeLiving": "Type"}
DOMAINS = ("Tobacco", "Alcohol", "Drug", "Employment", "LivingStatus")


# Template slots: each a lexicon split into training and held-out vocabulary (a filler may
# itself be markup, when its text decides an attribute value).
def _living(value: str, *phrases: str) -> tuple[str, ...]:
    return tuple(f"[{phrase}|TypeLiving={value}@1]" for phrase in phrases)


MIMIC_WORDS = {
    "current": ("Current", "Ongoing", "Curr", "Active"),
    "quit": ("Quit", "Stopped", "Gave up", "Discontinued", "Ceased"),
    "former": ("Former", "Ex", "Prior", "Previous", "Remote", "Reformed"),
    "hx": ("h/o", "hx of", "Hx", "history of", "prior", "past hx of"),
    "never": ("Never", "Never a", "Never been a", "Life-long non", "Never a regular"),
    "denies": ("Denies", "Denied", "Neg for", "Negative for", "Reports no", "No hx of"),
    "plans": ("Plans to", "Planning to", "Hopes to", "Wants to", "Plan to"),
    "currently": ("Currently", "Now", "Recently", "Curr."),
    "tob": ("tob", "tobacco", "cigs", "cigarettes", "smoking", "tobacco use", "cigarette use"),
    "smoker": ("smoker", "cigarette smoker", "tobacco user", "cig smoker", "pipe smoker",
               "cigar smoker"),
    "smokes": ("Smokes", "Smoking", "Still smokes", "Smokes cigs", "Smokes cigarettes"),
    "etoh": ("etoh", "alcohol", "ETOH use", "drinking", "EtOH abuse", "ethanol", "alcohol abuse"),
    "drinks_verb": ("Drinks", "Drinking", "Still drinks", "Consumes", "Reports drinking"),
    "illicit": ("IVDU", "IVDA", "illicits", "illicit drugs", "recreational drugs", "street drugs",
                "IDU", "illicit drug use", "drugs"),
    "iv_drug": ("[[IV|Method@1]DU|Drug@1]", "[[IV|Method@1]DA|Drug@1]",
                "[[IV|Method@1] drug use|Drug@1]", "[[injection|Method@1] drug use|Drug@1]",
                "[[IV|Method@1] heroin use|Drug@1]", "[[IV|Method@1] cocaine use|Drug@1]",
                "[[IV|Method@1] drug abuse|Drug@1]", "[[injection|Method@1] heroin use|Drug@1]"),
    "use": ("use", "abuse", "dependence", "habit", "addiction"),
    "works": ("Works", "Working", "Employed", "Currently works", "Works full time",
              "Works part time"),
    "retired": ("Retired", "Retd", "Recently retired", "Semi-retired"),
    "unemployed": ("Unemployed", "Out of work", "Not working", "Laid off", "Jobless"),
    "disability": ("On disability", "On SSDI", "Disabled", "On SSI", "On long-term disability"),
    "lives": ("Lives", "Living", "Resides", "Staying", "Currently lives"),
    "homeless": ("homeless", "undomiciled", "unhoused", "street homeless",
                 "without stable housing"),
    "move": ("move in", "live", "stay", "reside", "move back in"),
    "ppd": ("1 ppd", "1/2 ppd", "2 ppd", "<1 ppd", "1.5 ppd", "3/4 ppd", "1-2 ppd", "10 cigs/day",
            "5 cigs/d", "1 pk/day", "2 packs/day", "half ppd", "3 ppd", "1/4 ppd", "20 cig/day"),
    "pkyr": (*(f"{n} pk-yr" for n in range(5, 85, 5)),
             *(f"{n} pack-yr" for n in range(10, 70, 10))),
    "ago": (*(f"{n} yrs ago" for n in range(2, 41)), *(f"{n} mos ago" for n in range(2, 12)),
            "last yr", *(f"in {year}" for year in range(1975, 2016, 4))),
    "yrs": (*(f"{n} yrs" for n in range(2, 41)), *(f"{n} years" for n in range(2, 21)),
            "decades", "many yrs", "30+ yrs"),
    "n": ("3-4", "2", "6", "a few", "1-2", "4-5", "several", "2-3", "10", "12", "5-6", "1"),
    "drinks": ("beers", "shots", "glasses of wine", "drinks", "cans of beer", "pints",
               "mixed drinks", "shots of vodka", "nips", "glasses of scotch"),
    "freq": ("daily", "on weekends", "nightly", "2-3x/wk", "qd", "weekly", "most days", "1x/wk",
             "on occasion", "qhs", "3x/wk", "every day", "per day", "per wk", "q weekend"),
    "occasional": ("Occasional", "Rare", "Social", "Infrequent", "Weekend", "Intermittent"),
    "drug": ("coke", "crack", "heroin", "MJ", "meth", "benzos", "opiates", "K2", "LSD", "speed",
             "oxys", "percs", "crystal meth", "shrooms", "PCP", "dope", "pot", "cocaine"),
    "method": ("smokes", "snorts", "injects", "sniffs", "inhales", "shoots", "intranasal",
               "insufflates"),
    "job": ("machinist", "carpenter", "truck driver", "electrician", "cook", "mail carrier",
            "plumber", "bus driver", "nurse's aide", "security guard", "fisherman",
            "construction worker", "landscaper", "taxi driver", "bartender", "janitor",
            "mechanic", "painter", "longshoreman", "cashier", "roofer", "welder", "firefighter",
            "home health aide", "MBTA driver", "line cook"),
    "family": (
        *_living("with_family", "w/ wife", "w/ husband", "w/ daughter", "w/ son", "w/ girlfriend",
                 "w/ boyfriend", "w/ mother", "w/ parents", "w/ sister", "w/ family",
                 "w/ partner", "w/ brother", "w/ fiance", "w/ kids"),
        *_living("with_others", "w/ roommates", "w/ friend", "w/ roommate", "w/ friends",
                 "in group home", "w/ housemates"),
        *_living("alone", "alone", "by himself", "by herself", "on own", "alone in apt"),
    ),
    "town": ("Dorchester", "Quincy", "Revere", "Lowell", "Chelsea", "Brockton", "Somerville",
             "Malden", "Lynn", "Roxbury", "Everett", "Waltham"),
    "kids": ("2", "3", "no", "4", "1", "grown"),
}  # fmt: skip
UW_WORDS = {
    "tobacco_label": ("Smoking status", "Tobacco use", "Tobacco status", "Cigarette smoking",
                      "Smoking history", "Tobacco smoking status"),
    "former_smoker": ("Former Smoker", "Former Some Day Smoker", "Ex-Smoker",
                      "Former Every Day Smoker", "Quit Smoking", "Former Heavy Smoker"),
    "never_smoker": ("Never Smoker", "Never", "Non-Smoker", "Lifetime Non-Smoker"),
    "current_smoker": ("Current Every Day Smoker", "Current Some Day Smoker",
                       "Light Tobacco Smoker", "Heavy Tobacco Smoker", "Every Day", "Some Days",
                       "Current Smoker"),
    "packs": ("0.10", "0.20", "0.25", "0.30", "0.50", "0.75", "1.00", "1.25", "1.50", "2.00",
              "2.50", "3.00"),
    "years": tuple(f"{n}.00" for n in range(1, 61)),
    "quit": tuple(f"{month}/1/{year}" for month in range(1, 13) for year in range(1985, 2021)),
    "ttype": ("Cigarettes", "Cigars", "Pipe", "E-cigarettes", "Cigarillos", "Hookah",
              "Vape pen"),
    "smokeless_label": ("Smokeless tobacco", "Smokeless tobacco use", "Chewing tobacco",
                        "Snuff", "Smokeless tobacco status"),
    "smokeless_never": ("Never Used", "Never", "No", "None"),
    "smokeless_current": ("Current User", "Yes", "Active User", "Uses daily",
                          "Current Some Day User"),
    "smokeless_type": ("Chew", "Snuff", "Dip", "Snus", "Chewing tobacco"),
    "alcohol_label": ("Alcohol use", "Alcohol intake", "Alcohol consumption", "Alcohol",
                      "Drinks alcohol", "Alcohol status"),
    "yes": ("Yes", "Yes, currently", "Currently yes", "Yes (current)", "Current use"),
    "no": ("No", "None", "Abstains", "Not at all", "Never", "No use"),
    "past": ("Not Currently", "Past", "Previously", "Formerly", "In remission", "Past use",
             "Not in past year"),
    "weekly": ("1.0 standard drink", *(f"{n / 2:.1f} standard drinks" for n in range(3, 41))),
    "glasses": ("1-2 glasses", "a glass", "2 glasses", "3-4 glasses", "one glass", "1 glass",
                "a couple of glasses", "half a bottle", "2-3 glasses", "one or two glasses",
                "a bottle", "3 glasses"),
    "beverage": ("wine", "beer", "red wine", "white wine", "liquor", "whiskey", "vodka",
                 "hard cider", "bourbon", "champagne", "IPA", "sake"),
    "often": ("with dinner", "socially", "a few times a month", "once a week", "twice a week",
              "on holidays", "rarely", "every night", "most evenings", "monthly",
              "on special occasions", "a few nights a week", "on Friday nights"),
    "since": (*(str(year) for year in range(1990, 2023)), "last year", "2 years ago",
              "the 1990s", "the 1980s", "college"),
    "drug_label": ("Drug use", "Illicit drug use", "Recreational drug use", "Substance use",
                   "Drug/substance use", "Illicit drugs", "Other substance use"),
    "marijuana": ("Marijuana", "Cannabis", "THC", "Marijuana/Hashish", "CBD/THC", "Weed"),
    "consumed": ("edibles", "vaporized", "smoked", "vapes", "gummies", "joints", "tinctures",
                 "inhaled"),
    "hard_drug": ("Methamphetamines", "Opioids", "Fentanyl", "Benzodiazepines", "Oxycodone",
                  "MDMA", "Hallucinogens", "Psilocybin", "Ketamine", "Amphetamines",
                  "Crack cocaine", "Prescription opioids"),
    "employment_label": ("Employment status", "Employment", "Work status",
                         "Occupational status", "Current employment"),
    "employ": (
        *(f"[{p}|StatusEmploy=employed@1]" for p in ("Employed full time", "Employed part time",
          "Full-time employment", "Self-employed", "Employed", "Working full time")),
        *(f"[{p}|StatusEmploy=retired@1]" for p in ("Retired", "Retiree", "Semi-retired",
          "Retired from work", "Early retirement")),
        *(f"[{p}|StatusEmploy=unemployed@1]" for p in ("Unemployed", "Not employed",
          "Seeking work")),
        *(f"[{p}|StatusEmploy=on_disability@1]" for p in ("Disabled", "On disability",
          "Receiving disability")),
        *(f"[{p}|StatusEmploy=student@1]" for p in ("Student", "Full-time student",
          "Graduate student")),
        *(f"[{p}|StatusEmploy=homemaker@1]" for p in ("Homemaker", "Stay-at-home parent",
          "Stay-at-home mom", "Full-time homemaker", "Stay-at-home dad")),
    ),
    "occupation_label": ("Occupation", "Job", "Profession", "Job title", "Line of work"),
    "work": ("software engineer", "barista", "registered nurse", "accountant",
             "warehouse associate", "teacher", "pharmacist", "dental hygienist",
             "aerospace engineer",
             "commercial fisherman", "retail manager", "attorney", "professor", "social worker",
             "chef", "delivery driver", "administrative assistant", "veterinarian",
             "data analyst", "ferry deckhand", "graphic designer", "physical therapist",
             "logger", "librarian"),
    "retired_verb": ("retired", "retired early", "recently retired", "has retired",
                     "is retired", "retired last year", "took early retirement"),
    "living_label": ("Living situation", "Living arrangements", "Housing status",
                     "Home situation", "Residence", "Living arrangement"),
    "lives": ("Lives", "Resides", "Currently lives", "Living", "Stays"),
    "with": ("with spouse", "with partner", "with parents", "with her children", "with his wife",
             "with her husband", "with family", "with adult son", "with daughter",
             "with his mother", "with grandparents", "with fiancee", "with sister"),
    "others": ("with roommates", "with a friend", "with housemates", "with friends",
               "in an adult family home", "with a roommate"),
    "alone": ("alone", "independently", "on her own", "on his own", "without others"),
    "homeless": ("experiencing homelessness", "unstably housed", "in a shelter", "living in car",
                 "couch surfing", "in a tent encampment", "unsheltered"),
    "now": ("At present", "At this time", "As of this visit", "Presently"),
    "will": ("Will", "Expects to", "Intends to", "Is planning to", "Anticipates she will"),
    "lives_verb": ("lives", "resides", "is living", "stays"),
    "answer": ("Yes", "No", "Never", "Not Currently"),
    "marital": ("Married", "Single", "Widowed", "Divorced", "Partnered", "Separated"),
    "partners": ("Male", "Female", "Both", "Men", "Women", "Male and female"),
}  # fmt: skip

MIMIC_TEMPLATES = {
    "Tobacco": (
        "[{current}|StatusTime=current@1] [{smoker}|Tobacco@1], [{ppd}|Amount@1] x "
        "[{yrs}|Duration@1].",
        "[{quit}|StatusTime=past@1] [{tob}|Tobacco@1] [{ago}|History@1], [{pkyr}|Amount@1] hx.",
        "[{former}|StatusTime=past@1] [{smoker}|Tobacco@1] ([{pkyr}|Amount@1]), "
        "quit [{ago}|History@1].",
        "[{never}|StatusTime=none@1] [{smoker}|Tobacco@1].",
        "[[{smokes}|Tobacco@1]|StatusTime=current@1] [{ppd}|Amount@1].",
    ),
    "Alcohol": (
        "[{occasional}|Frequency@1] [[{etoh}|Alcohol@1]|StatusTime=current@1].",
        "[[{drinks_verb}|Alcohol@1]|StatusTime=current@1] [{n} [{drinks}|Type@1]|Amount@1] "
        "[{freq}|Frequency@1].",
        "[{hx}|StatusTime=past@1] heavy [{etoh}|Alcohol@1], sober x [{yrs}|History@1].",
        "[{denies}|StatusTime=none@1] [{etoh}|Alcohol@1].",
    ),
    "Drug": (
        "[{denies}|StatusTime=none@1] [{illicit}|Drug@1].",
        "[{hx}|StatusTime=past@1] {iv_drug}, last used [{ago}|History@1].",
        "[{current}|StatusTime=current@1] [[{drug}|Type@1] {use}|Drug@1], [{method}|Method@1] "
        "[{freq}|Frequency@1].",
        "[{former}|StatusTime=past@1] [[{drug}|Type@1] {use}|Drug@1].",
    ),
    "Employment": (
        "[[{works}|Employment@1]|StatusEmploy=employed@1] as a [{job}|Type@1].",
        "[[{retired}|Employment@1]|StatusEmploy=retired@1] [{job}|Type@1].",
        "[[{unemployed}|Employment@1]|StatusEmploy=unemployed@1], previously a [{job}|Type@1].",
        "[[{disability}|Employment@1]|StatusEmploy=on_disability@1] x [{yrs}|Duration@1].",
    ),
    "LivingStatus": (
        "[[{lives}|LivingStatus@1]|StatusTime=current@1] {family} in {town}.",
        "[{currently}|StatusTime=current@1] [[{homeless}|TypeLiving=homeless@1]|LivingStatus@1], "
        "staying in shelters.",
        "[{plans}|StatusTime=future@1] [{move}|LivingStatus@1] {family} after d/c.",
    ),
}
# Several events sharing one status word, with the domains they cover.
MIMIC_SHARED = (
    (
        "[{denies}|StatusTime=none@1,2,3] [{tob}|Tobacco@1], [{etoh}|Alcohol@2], "
        "[{illicit}|Drug@3].",
        ("Tobacco", "Alcohol", "Drug"),
    ),
    ("[No|StatusTime=none@1,2] [{tob}|Tobacco@1] or [{illicit}|Drug@2].", ("Tobacco", "Drug")),
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
        "[{tobacco_label}|Tobacco@1]: [{former_smoker}|StatusTime=past@1]\n"
        "      Packs/day: [{packs}|Amount@1]\n      Years: [{years}|Duration@1]\n"
        "      Types: [{ttype}|Type@1]\n      Quit date: [{quit}|History@1]",
        "[{tobacco_label}|Tobacco@1]: [{never_smoker}|StatusTime=none@1]",
        "[{tobacco_label}|Tobacco@1]: [{current_smoker}|StatusTime=current@1]\n"
        "      Packs/day: [{packs}|Amount@1]\n      Types: [{ttype}|Type@1]",
    ),
    "Smokeless": (
        "[{smokeless_label}|Tobacco@1]: [{smokeless_never}|StatusTime=none@1]",
        "[{smokeless_label}|Tobacco@1]: [{smokeless_current}|StatusTime=current@1]\n"
        "      Types: [{smokeless_type}|Type@1]",
    ),
    "Alcohol": (
        "[{alcohol_label}|Alcohol@1]: [{yes}|StatusTime=current@1]\n"
        "      Alcohol/week: [{weekly}|Amount@1] of alcohol",
        "[{alcohol_label}|Alcohol@1]: [{yes}|StatusTime=current@1]\n"
        "      Comment: [{glasses}|Amount@1] of [{beverage}|Type@1] [{often}|Frequency@1]",
        "[{alcohol_label}|Alcohol@1]: [{no}|StatusTime=none@1]",
        "[{alcohol_label}|Alcohol@1]: [{past}|StatusTime=past@1]\n"
        "      Comment: quit [{since}|History@1]",
    ),
    "Drug": (
        "[{drug_label}|Drug@1]: [{no}|StatusTime=none@1]",
        "[{drug_label}|Drug@1]: [{yes}|StatusTime=current@1]\n      Types: [{marijuana}|Type@1]\n"
        "      Comment: [{consumed}|Method@1] [{often}|Frequency@1]",
        "[{drug_label}|Drug@1]: [{past}|StatusTime=past@1]\n"
        "      Types: [{hard_drug}|Type@1], [{marijuana}|Type@1]\n"
        "      Comment: sober since [{since}|History@1]",
    ),
    "Employment": (
        "[{employment_label}|Employment@1]: {employ}\n      Occupation: [{work}|Type@1]",
        "[{occupation_label}|Employment@1]: [{work}|Type@1]",
        "Patient [[{retired_verb}|Employment@1]|StatusEmploy=retired@1] after working as a "
        "[{work}|Type@1]",
    ),
    "LivingStatus": (
        "[{living_label}|LivingStatus@1]: [{lives}|StatusTime=current@1] "
        "[{with}|TypeLiving=with_family@1]",
        "[{living_label}|LivingStatus@1]: [{lives}|StatusTime=current@1] "
        "[{alone}|TypeLiving=alone@1]",
        "[{living_label}|LivingStatus@1]: [{lives}|StatusTime=current@1] "
        "[{others}|TypeLiving=with_others@1]",
        "[{living_label}|LivingStatus@1]: [{now}|StatusTime=current@1] "
        "[{homeless}|TypeLiving=homeless@1]",
        "[{living_label}|LivingStatus@1]: [{will}|StatusTime=future@1] stay "
        "[{with}|TypeLiving=with_family@1] after discharge",
        "Patient [[{lives_verb}|LivingStatus@1]|StatusTime=current@1] "
        "[{with}|TypeLiving=with_family@1] and is independent in ADLs",
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
    "Spouse smoking status: {current_smoker}",
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


def fill(
    rng: random.Random, vocabulary: Vocabulary, template: str, words: dict[str, tuple[str, ...]]
) -> str:
    """A template with each of its slots replaced by a filler the vocabulary allows."""
    slots = dict.fromkeys(name for _, name, _, _ in Formatter().parse(template) if name)
    return template.format(**{slot: vocabulary.choice(rng, words[slot]) for slot in slots})


def mimic_social_history(
    rng: random.Random, doc_id: str, vocabulary: Vocabulary = TRAINING
) -> Document:
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
        filled = fill(rng, vocabulary, sentence, MIMIC_WORDS)
        note.write((" " if index else "") + filled, width=78)
    note.plain("\n")
    return note.document()


def uw_social_history(
    rng: random.Random, doc_id: str, vocabulary: Vocabulary = TRAINING
) -> Document:
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
                filled = fill(rng, vocabulary, rng.choice(options), UW_WORDS)
                note.write("  • " + filled + "\n")
    return note.document()
