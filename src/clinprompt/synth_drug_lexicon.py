"""Vocabulary of the synthetic discharge summaries: drugs, attributes, harms, conditions.

In: nothing. Out: constant tables that `synth_drug_ade` draws from — medications with their
strengths, forms and indications, attribute wordings, drug-harm pairs (the same harm strings
also serve as indications), and the sentences and sections that hold nothing to annotate.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Medication:
    """A drug with plausible strengths, its usual form and what it is given for."""

    name: str
    strengths: tuple[str, ...]
    form: str
    reasons: tuple[str, ...]


MEDICATIONS = tuple(
    Medication(name, tuple(strengths.split(", ")), form, tuple(reasons.split(", ")))
    for name, strengths, form, reasons in (
        ("metoprolol tartrate", "25 mg, 50 mg", "tablet", "hypertension, atrial fibrillation"),
        ("lisinopril", "5 mg, 10 mg, 20 mg", "tablet", "hypertension"),
        ("amlodipine", "5 mg, 10 mg", "tablet", "hypertension"),
        ("atorvastatin", "40 mg, 80 mg", "tablet", "hyperlipidemia"),
        ("furosemide", "20 mg, 40 mg", "tablet", "edema, volume overload"),
        ("spironolactone", "25 mg", "tablet", "ascites, heart failure"),
        ("diltiazem", "30 mg, 60 mg", "tablet", "atrial fibrillation"),
        ("warfarin", "2 mg, 5 mg", "tablet", "atrial fibrillation, DVT"),
        ("metformin", "500 mg, 1000 mg", "tablet", "diabetes"),
        ("insulin glargine", "10 units, 22 units", "injection", "diabetes"),
        ("insulin lispro", "4 units, 6 units", "injection", "hyperglycemia"),
        ("levothyroxine", "50 mcg, 75 mcg", "tablet", "hypothyroidism"),
        ("pantoprazole", "40 mg", "tablet", "GERD"),
        ("ondansetron", "4 mg", "tablet", "nausea"),
        ("oxycodone", "5 mg, 10 mg", "tablet", "pain"),
        ("morphine", "2 mg, 4 mg", "solution", "pain"),
        ("hydromorphone", "2 mg", "tablet", "pain"),
        ("acetaminophen", "325 mg, 650 mg", "tablet", "pain, fever"),
        ("docusate sodium", "100 mg", "capsule", "constipation"),
        ("senna", "8.6 mg", "tablet", "constipation"),
        ("loperamide", "2 mg", "capsule", "diarrhea"),
        ("diphenhydramine", "25 mg", "capsule", "pruritus, rash"),
        ("lorazepam", "0.5 mg, 1 mg", "tablet", "anxiety, insomnia"),
        ("haloperidol", "0.5 mg", "tablet", "confusion, agitation"),
        ("midodrine", "5 mg, 10 mg", "tablet", "hypotension"),
        ("atropine", "0.5 mg", "solution", "bradycardia"),
        ("sodium polystyrene sulfonate", "15 g, 30 g", "powder", "hyperkalemia"),
        ("prednisone", "10 mg, 40 mg", "tablet", "COPD exacerbation, gout flare"),
        ("cephalexin", "500 mg", "capsule", "cellulitis"),
        ("ciprofloxacin", "500 mg", "tablet", "urinary tract infection"),
        ("vancomycin", "1 g, 1250 mg", "solution", "MRSA bacteremia, cellulitis"),
        ("linezolid", "600 mg", "tablet", "MRSA bacteremia"),
        ("piperacillin-tazobactam", "4.5 g", "solution", "pneumonia"),
        ("ceftriaxone", "1 g, 2 g", "solution", "pneumonia, urinary tract infection"),
        ("argatroban", "2 mcg/kg/min", "solution", "heparin-induced thrombocytopenia"),
    )
)
MEDICATION = {m.name: m for m in MEDICATIONS}

ROUTES = {
    "tablet": ("PO", "by mouth", "orally"),
    "capsule": ("PO", "by mouth"),
    "powder": ("PO", "by mouth"),
    "solution": ("IV", "intravenously"),
    "injection": ("SC", "subcutaneously"),
}
FREQUENCIES = ("daily", "BID", "TID", "q6h", "q8h", "at bedtime", "twice a day", "every morning")
PLAIN_FREQUENCIES = ("daily", "twice a day", "every morning")
SIG_FREQUENCIES = (
    "DAILY (Daily)",
    "BID (2 times a day)",
    "Q6H (every 6 hours)",
    "QHS (at bedtime)",
)
DOSAGES = ("One (1)", "Two (2)", "1", "2", "1-2")
DURATIONS = (*(f"{n} days" for n in range(3, 15)), "2 weeks", "3 more days", "1 month")

# (harm, culprit drug, drug it was switched to or "" when the culprit was only stopped)
ADVERSE_EVENTS = (
    ("nausea", "morphine", "hydromorphone"),
    ("nausea", "metformin", ""),
    ("hypotension", "metoprolol tartrate", "diltiazem"),
    ("hypotension", "lisinopril", ""),
    ("rash", "vancomycin", "linezolid"),
    ("rash", "cephalexin", "ciprofloxacin"),
    ("diarrhea", "ciprofloxacin", "ceftriaxone"),
    ("hyperkalemia", "spironolactone", "furosemide"),
    ("bradycardia", "diltiazem", "amlodipine"),
    ("confusion", "lorazepam", "haloperidol"),
    ("constipation", "oxycodone", "acetaminophen"),
    ("pruritus", "morphine", "oxycodone"),
    ("acute kidney injury", "vancomycin", "linezolid"),
    ("hyperglycemia", "prednisone", ""),
)
# (drug named in the reason, harm it caused, drug that treats the harm)
INDUCED = (
    ("heparin", "thrombocytopenia", "argatroban"),
    ("steroid", "hyperglycemia", "insulin lispro"),
    ("opioid", "constipation", "senna"),
    ("amiodarone", "hypothyroidism", "levothyroxine"),
)
# (shared head, first drug's rest, second drug's rest, second drug's strength)
SHARED_HEADS = (
    ("metoprolol", "tartrate", "succinate", "50 mg"),
    ("insulin", "glargine", "lispro", "4 units"),
    ("vitamin", "D", "B12", "1000 mcg"),
)
ALLERGIES = (
    ("Penicillins", "hives"),
    ("Sulfa", "rash"),
    ("Codeine", "nausea"),
    ("Lisinopril", "angioedema"),
)
RELATIVES = ("mother", "father", "brother", "sister")
# Conditions listed in the history and diagnoses: not Reasons there, as no drug is linked.
CONDITIONS = tuple(
    dict.fromkeys(
        [
            *(reason for med in MEDICATIONS for reason in med.reasons),
            *(harm for harm, _, _ in ADVERSE_EVENTS),
            "chronic kidney disease",
            "obesity",
            "depression",
            "osteoarthritis",
        ]
    )
)
NOTHING_TO_FIND = (
    "Physical therapy evaluated the patient and recommended discharge home.",
    "Vital signs remained stable throughout the admission.",
    "The patient was ambulating independently at the time of discharge.",
    "Follow-up was arranged with the primary care physician in two weeks.",
    "The family was updated by phone and agreed with the plan.",
    "A chest radiograph showed no acute process.",
)


# Drug-level lab tests: a drug name that is a test, not a medication given.
DRUG_LEVELS = ("vancomycin trough", "lithium level", "digoxin level", "phenytoin level")

# Discharge instructions: frequencies and conditions that describe no medication.
INSTRUCTIONS = (
    "Weigh yourself {frequency} and call if you gain more than 3 pounds.",
    "Call your doctor if you develop {condition}, {other} or fever.",
    "Check your blood sugar {frequency} and bring the log to your appointment.",
    "Return to the emergency department if {condition} gets worse.",
)
