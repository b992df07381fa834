"""Vocabulary of the synthetic discharge summaries: drugs, attributes, harms, conditions.

In: nothing. Out: constant tables that `synth_drug_ade` draws from — medications with their
strengths, form, indications and the harms they cause (one condition string is an indication
of one drug and a harm of another: "nausea", "hypotension", "constipation", ...), attribute
wordings per form, allergy and drug-induced reasons, and the sentences and sections that hold
nothing to annotate. Every table is split into a training and a held-out part by
`synth_note.held_out`; each training medication has training strengths and indications.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from clinprompt.synth.note import held_out


@dataclass(frozen=True)
class Medication:
    """A drug with plausible strengths, its usual form, its indications and its known harms."""

    name: str
    strengths: tuple[str, ...]
    form: str
    reasons: tuple[str, ...]
    harms: tuple[str, ...]


def _items(listing: str) -> tuple[str, ...]:
    return tuple(item for item in listing.split(", ") if item)


# name | strengths | form | indications | harms (empty: never blamed for a harm); a line
# starting with "    |" continues the one above.
_MEDICATION_TABLE = """
metoprolol tartrate | 12.5 mg, 25 mg, 50 mg | tablet
    | hypertension, atrial fibrillation, rate control | bradycardia, hypotension, fatigue
metoprolol succinate | 25 mg, 50 mg, 100 mg | tablet | heart failure, hypertension
    | bradycardia, dizziness
lisinopril | 2.5 mg, 5 mg, 10 mg, 20 mg, 40 mg | tablet
    | hypertension, heart failure, diabetic nephropathy
    | cough, angioedema, hyperkalemia, acute kidney injury
losartan | 25 mg, 50 mg, 100 mg | tablet | hypertension, diabetic nephropathy
    | hyperkalemia, dizziness
amlodipine | 2.5 mg, 5 mg, 10 mg | tablet | hypertension, coronary artery disease
    | lower extremity edema, flushing
carvedilol | 3.125 mg, 6.25 mg, 12.5 mg, 25 mg | tablet | heart failure, hypertension
    | bradycardia, hypotension
hydralazine | 10 mg, 25 mg, 50 mg | tablet | hypertension, heart failure | headache, tachycardia
isosorbide mononitrate | 30 mg, 60 mg, 120 mg | tablet | angina, coronary artery disease
    | headache, hypotension
nitroglycerin | 0.3 mg, 0.4 mg | tablet | chest pain, angina | headache, hypotension
atorvastatin | 10 mg, 20 mg, 40 mg, 80 mg | tablet | hyperlipidemia, coronary artery disease, CAD
    | myalgias, transaminitis
simvastatin | 10 mg, 20 mg, 40 mg | tablet | hyperlipidemia, hypercholesterolemia
    | myalgias, rhabdomyolysis
rosuvastatin | 5 mg, 10 mg, 20 mg, 40 mg | tablet | hyperlipidemia, hypercholesterolemia | myalgias
furosemide | 20 mg, 40 mg, 80 mg | tablet | edema, volume overload, heart failure
    | hypokalemia, acute kidney injury, hyponatremia
torsemide | 10 mg, 20 mg, 40 mg | tablet | volume overload, edema | hypokalemia, dizziness
hydrochlorothiazide | 12.5 mg, 25 mg | tablet | hypertension | hyponatremia, hypokalemia, gout flare
spironolactone | 12.5 mg, 25 mg, 50 mg, 100 mg | tablet | ascites, heart failure
    | hyperkalemia, gynecomastia
diltiazem | 30 mg, 60 mg, 120 mg, 180 mg | tablet | atrial fibrillation, hypertension, rate control
    | bradycardia, hypotension, constipation
digoxin | 0.125 mg, 0.25 mg | tablet | atrial fibrillation, heart failure
    | nausea, bradycardia, visual disturbance
amiodarone | 100 mg, 200 mg, 400 mg | tablet | atrial fibrillation, ventricular tachycardia
    | hypothyroidism, bradycardia, QT prolongation
warfarin | 1 mg, 2 mg, 2.5 mg, 3 mg, 5 mg | tablet | atrial fibrillation, DVT, pulmonary embolism
    | GI bleed, hematuria, supratherapeutic INR
apixaban | 2.5 mg, 5 mg | tablet | atrial fibrillation, DVT, pulmonary embolism
    | GI bleed, epistaxis
rivaroxaban | 10 mg, 15 mg, 20 mg | tablet | DVT, atrial fibrillation, pulmonary embolism
    | GI bleed, hematuria
enoxaparin | 30 mg, 40 mg, 60 mg, 80 mg | injection | DVT prophylaxis, DVT, pulmonary embolism
    | bleeding, thrombocytopenia
heparin | 5000 units, 7500 units | injection | DVT prophylaxis | thrombocytopenia, bleeding
aspirin | 81 mg, 325 mg | tablet | coronary artery disease, stroke prevention, NSTEMI
    | GI bleed, epistaxis
clopidogrel | 75 mg | tablet | coronary artery disease, NSTEMI, stroke prevention | bleeding, rash
metformin | 500 mg, 850 mg, 1000 mg | tablet | diabetes, type 2 diabetes
    | nausea, diarrhea, lactic acidosis
glipizide | 2.5 mg, 5 mg, 10 mg, 15 mg | tablet | type 2 diabetes, diabetes | hypoglycemia
insulin glargine | 10 units, 14 units, 18 units, 22 units, 30 units | injection
    | diabetes, type 1 diabetes | hypoglycemia
insulin lispro | 2 units, 4 units, 6 units, 8 units | injection | hyperglycemia, diabetes
    | hypoglycemia
insulin aspart | 3 units, 5 units, 7 units | injection | hyperglycemia, type 1 diabetes
    | hypoglycemia
levothyroxine | 25 mcg, 50 mcg, 75 mcg, 88 mcg, 100 mcg, 112 mcg | tablet | hypothyroidism
    | palpitations, tachycardia
methimazole | 5 mg, 10 mg, 15 mg | tablet | hyperthyroidism, thyrotoxicosis | agranulocytosis, rash
pantoprazole | 20 mg, 40 mg | tablet | GERD, GI prophylaxis, GI bleed, ulcer prophylaxis | diarrhea
omeprazole | 20 mg, 40 mg | capsule | GERD, gastritis, peptic ulcer disease | diarrhea
famotidine | 10 mg, 20 mg, 40 mg | tablet | GERD, gastritis | confusion, thrombocytopenia
ondansetron | 4 mg, 8 mg | tablet | nausea, vomiting | QT prolongation, constipation, headache
prochlorperazine | 5 mg, 10 mg, 10 mg/2 mL | tablet | nausea, vomiting | akathisia, dystonia
metoclopramide | 5 mg, 10 mg | tablet | gastroparesis, nausea | akathisia, dystonia
oxycodone | 2.5 mg, 5 mg, 10 mg, 15 mg | tablet | pain, back pain, postoperative pain
    | constipation, sedation, nausea, pruritus
morphine | 2 mg, 4 mg, 15 mg, 30 mg | solution | pain, dyspnea
    | nausea, pruritus, hypotension, respiratory depression
hydromorphone | 0.5 mg, 1 mg, 2 mg, 4 mg | tablet | pain, postoperative pain
    | sedation, confusion, pruritus
tramadol | 25 mg, 50 mg | tablet | pain, osteoarthritis | seizure, nausea, dizziness
acetaminophen | 325 mg, 500 mg, 650 mg, 1000 mg | tablet | pain, fever, headache | transaminitis
ibuprofen | 200 mg, 400 mg, 600 mg, 800 mg | tablet | pain, fever
    | gastritis, acute kidney injury, GI bleed
naproxen | 220 mg, 250 mg, 500 mg | tablet | pain, osteoarthritis | GI bleed, acute kidney injury
gabapentin | 100 mg, 300 mg, 600 mg | capsule | neuropathic pain, neuropathy, postherpetic neuralgia
    | sedation, dizziness, confusion
pregabalin | 25 mg, 50 mg, 75 mg | capsule | neuropathic pain, fibromyalgia
    | dizziness, lower extremity edema
docusate sodium | 100 mg, 250 mg | capsule | constipation, straining | diarrhea
senna | 8.6 mg, 17.2 mg | tablet | constipation, bowel prep | abdominal cramping
polyethylene glycol | 17 g, 34 g | powder | constipation | diarrhea, bloating
lactulose | 15 mL, 30 mL, 45 mL | liquid | hepatic encephalopathy, constipation | diarrhea
bisacodyl | 5 mg, 10 mg, 15 mg | tablet | constipation, bowel prep | abdominal cramping
loperamide | 2 mg, 4 mg, 1 mg | capsule | diarrhea | constipation
diphenhydramine | 12.5 mg, 25 mg, 50 mg | capsule | pruritus, insomnia, allergic reaction, itching
    | sedation, urinary retention, delirium
hydroxyzine | 10 mg, 25 mg, 50 mg | tablet | pruritus, anxiety, itching | sedation
lorazepam | 0.5 mg, 1 mg, 2 mg | tablet | anxiety, insomnia, alcohol withdrawal
    | sedation, confusion, delirium
diazepam | 2 mg, 5 mg, 10 mg | tablet | alcohol withdrawal, muscle spasm | sedation
haloperidol | 0.5 mg, 1 mg, 2 mg, 5 mg | tablet | agitation, delirium
    | QT prolongation, dystonia, sedation
quetiapine | 12.5 mg, 25 mg, 50 mg, 100 mg | tablet
    | agitation, insomnia, bipolar disorder, delirium | sedation, orthostatic hypotension
olanzapine | 2.5 mg, 5 mg, 10 mg, 15 mg | tablet | agitation, schizophrenia
    | sedation, hyperglycemia
trazodone | 25 mg, 50 mg, 100 mg | tablet | insomnia, depression | orthostatic hypotension, sedation
sertraline | 25 mg, 50 mg, 100 mg | tablet | depression, anxiety | hyponatremia, nausea
citalopram | 10 mg, 20 mg, 40 mg | tablet | depression, anxiety | QT prolongation, hyponatremia
escitalopram | 5 mg, 10 mg, 20 mg, 15 mg | tablet | depression, anxiety, panic disorder
    | hyponatremia
mirtazapine | 7.5 mg, 15 mg, 30 mg | tablet | depression, poor appetite, insomnia
    | sedation, weight gain
levetiracetam | 250 mg, 500 mg, 750 mg, 1000 mg, 1500 mg | tablet
    | seizure, seizure prophylaxis, seizures | agitation, somnolence
phenytoin | 100 mg, 300 mg | capsule | seizure, seizure prophylaxis | rash, ataxia
midodrine | 2.5 mg, 5 mg, 10 mg | tablet | hypotension, orthostatic hypotension
    | supine hypertension, urinary retention
atropine | 0.5 mg, 1 mg | solution | bradycardia | tachycardia, urinary retention
sodium polystyrene sulfonate | 15 g, 30 g | powder | hyperkalemia | diarrhea, hypokalemia
potassium chloride | 10 mEq, 20 mEq, 40 mEq | tablet | hypokalemia | hyperkalemia, GI upset
magnesium oxide | 400 mg, 800 mg | tablet | hypomagnesemia | diarrhea
calcium carbonate | 500 mg, 1250 mg, 600 mg | tablet | hypocalcemia, osteoporosis | constipation
ferrous sulfate | 325 mg, 65 mg | tablet | iron deficiency anemia, anemia | constipation, nausea
folic acid | 1 mg | tablet | folate deficiency, macrocytic anemia |
thiamine | 100 mg | tablet | thiamine deficiency, alcohol abuse |
prednisone | 5 mg, 10 mg, 20 mg, 40 mg, 60 mg | tablet
    | COPD exacerbation, gout flare, asthma exacerbation, polymyalgia rheumatica
    | hyperglycemia, insomnia, agitation
methylprednisolone | 40 mg, 60 mg, 125 mg | solution | COPD exacerbation, asthma exacerbation
    | hyperglycemia
dexamethasone | 2 mg, 4 mg, 10 mg, 8 mg | tablet | cerebral edema, nausea | hyperglycemia, insomnia
allopurinol | 100 mg, 300 mg | tablet | gout | rash
colchicine | 0.6 mg | tablet | gout flare, pericarditis | diarrhea, nausea
tamsulosin | 0.4 mg, 0.8 mg | capsule | BPH, urinary retention | orthostatic hypotension, dizziness
finasteride | 5 mg, 1 mg | tablet | BPH |
oxybutynin | 2.5 mg, 5 mg | tablet | overactive bladder, bladder spasm
    | urinary retention, dry mouth, confusion
albuterol | 90 mcg, 2.5 mg | inhaler | wheezing, shortness of breath, COPD, asthma
    | tachycardia, tremor
ipratropium | 17 mcg, 0.5 mg | inhaler | COPD, wheezing | dry mouth
tiotropium | 18 mcg, 2.5 mcg | inhaler | COPD, chronic bronchitis |
fluticasone | 44 mcg, 50 mcg, 110 mcg | inhaler | asthma, allergic rhinitis | thrush
montelukast | 10 mg | tablet | asthma, allergic rhinitis |
nicotine | 7 mg/24 hr, 14 mg/24 hr, 21 mg/24 hr | patch | tobacco use, nicotine withdrawal
    | insomnia, skin irritation
fentanyl | 12 mcg/hr, 25 mcg/hr, 50 mcg/hr | patch | chronic pain, cancer pain
    | sedation, respiratory depression
lidocaine | 5%, 4% | patch | back pain, rib fracture | skin irritation
nystatin | 100000 units/mL | liquid | thrush, oral candidiasis |
fluconazole | 100 mg, 150 mg, 200 mg | tablet | yeast infection, candidemia, thrush
    | QT prolongation, transaminitis
cephalexin | 250 mg, 500 mg | capsule | cellulitis, urinary tract infection | rash, diarrhea
cefazolin | 1 g, 2 g | solution | cellulitis, MSSA bacteremia, surgical prophylaxis | rash
ceftriaxone | 1 g, 2 g | solution | pneumonia, urinary tract infection, meningitis | rash, diarrhea
cefepime | 1 g, 2 g | solution | pneumonia, neutropenic fever | encephalopathy, seizure
ciprofloxacin | 250 mg, 500 mg, 750 mg, 400 mg | tablet | urinary tract infection, pyelonephritis
    | diarrhea, QT prolongation, tendinopathy
levofloxacin | 250 mg, 500 mg, 750 mg | tablet | pneumonia, urinary tract infection
    | QT prolongation, tendinitis, confusion
azithromycin | 250 mg, 500 mg, 600 mg | tablet | pneumonia, COPD exacerbation
    | QT prolongation, diarrhea
doxycycline | 100 mg | capsule | cellulitis, pneumonia, Lyme disease | photosensitivity, esophagitis
amoxicillin-clavulanate | 500 mg, 875 mg | tablet | aspiration pneumonia, sinusitis, cellulitis
    | diarrhea, rash
sulfamethoxazole-trimethoprim | 400-80 mg, 800-160 mg | tablet
    | urinary tract infection, PCP prophylaxis, cellulitis | hyperkalemia, rash, acute kidney injury
nitrofurantoin | 50 mg, 100 mg | capsule | urinary tract infection | nausea
metronidazole | 250 mg, 500 mg, 375 mg | tablet
    | C. diff colitis, bacterial vaginosis, intra-abdominal infection
    | nausea, metallic taste, peripheral neuropathy
vancomycin | 125 mg, 1 g, 1250 mg, 1500 mg | solution
    | MRSA bacteremia, cellulitis, MRSA pneumonia, C. diff colitis
    | rash, acute kidney injury, red man syndrome
linezolid | 600 mg | tablet | MRSA bacteremia, VRE bacteremia | thrombocytopenia, serotonin syndrome
piperacillin-tazobactam | 3.375 g, 4.5 g | solution | pneumonia, intra-abdominal infection, sepsis
    | acute kidney injury, rash, diarrhea
meropenem | 500 mg, 1 g, 2 g | solution | pneumonia, sepsis | seizure, diarrhea
clindamycin | 150 mg, 300 mg, 600 mg | capsule | cellulitis, aspiration pneumonia
    | C. diff colitis, diarrhea
acyclovir | 400 mg, 800 mg | tablet | herpes zoster, HSV | acute kidney injury
oseltamivir | 30 mg, 75 mg | capsule | influenza |
argatroban | 1 mcg/kg/min, 2 mcg/kg/min | solution | HIT, HITT | bleeding
phytonadione | 2.5 mg, 5 mg, 10 mg, 1 mg | tablet | supratherapeutic INR, coagulopathy |
tacrolimus | 0.5 mg, 1 mg, 2 mg | capsule | kidney transplant, immunosuppression
    | tremor, acute kidney injury, hyperkalemia
mycophenolate mofetil | 250 mg, 500 mg, 1000 mg, 1500 mg | tablet
    | kidney transplant, lupus nephritis | diarrhea, leukopenia
lithium | 150 mg, 300 mg | capsule | bipolar disorder, bipolar I disorder
    | tremor, hypothyroidism, nephrogenic diabetes insipidus
donepezil | 5 mg, 10 mg | tablet | dementia, Alzheimer disease | bradycardia, nausea
memantine | 5 mg, 10 mg | tablet | dementia | dizziness
carbidopa-levodopa | 25-100 mg, 25-250 mg | tablet | Parkinson disease
    | orthostatic hypotension, hallucinations
meclizine | 12.5 mg, 25 mg | tablet | vertigo, dizziness, BPPV | sedation
sumatriptan | 25 mg, 50 mg | tablet | migraine | chest tightness
benzonatate | 100 mg, 200 mg | capsule | cough |
guaifenesin | 600 mg, 100 mg/5 mL | liquid | cough, congestion |
cyclobenzaprine | 5 mg, 10 mg, 15 mg | tablet | muscle spasm, back pain, neck pain
    | sedation, urinary retention
baclofen | 5 mg, 10 mg, 20 mg | tablet | spasticity, muscle spasm | sedation, confusion
epoetin alfa | 4000 units, 10000 units | injection | anemia of chronic kidney disease | hypertension
filgrastim | 300 mcg, 480 mcg | injection | neutropenia | bone pain
fludrocortisone | 0.05 mg, 0.1 mg, 0.2 mg | tablet
    | orthostatic hypotension, adrenal insufficiency, hypotension | hypokalemia, edema
norepinephrine | 2 mcg/min, 5 mcg/min, 0.05 mcg/kg/min | solution | hypotension, septic shock
    | arrhythmia, digital ischemia
phenylephrine | 100 mcg, 0.5 mcg/kg/min, 1 mcg/kg/min | solution | hypotension | bradycardia
dopamine | 5 mcg/kg/min, 10 mcg/kg/min | solution | bradycardia, hypotension
    | tachycardia, arrhythmia
liothyronine | 5 mcg, 25 mcg | tablet | hypothyroidism, myxedema | palpitations
indomethacin | 25 mg, 50 mg | capsule | gout flare, pericarditis | GI bleed, acute kidney injury
glycopyrrolate | 0.2 mg, 1 mg | tablet | sialorrhea, secretions
    | urinary retention, dry mouth, constipation
labetalol | 20 mg, 100 mg, 200 mg | tablet | hypertension, preeclampsia | bradycardia, hypotension
clonidine | 0.1 mg, 0.2 mg | tablet
    | hypertension, opioid withdrawal, alcohol withdrawal, hot flashes
    | hypotension, bradycardia, sedation
nifedipine | 30 mg, 60 mg, 90 mg | tablet | hypertension, Raynaud phenomenon
    | headache, lower extremity edema, hypotension
sucralfate | 1 g, 1 g/10 mL | tablet | gastritis, peptic ulcer disease, esophagitis, duodenal ulcer
    | constipation
simethicone | 80 mg, 125 mg | tablet | bloating, gas pain |
magnesium hydroxide | 30 mL | liquid | constipation, dyspepsia | diarrhea
methocarbamol | 500 mg, 750 mg, 1500 mg | tablet | muscle spasm, back pain, neck pain
    | sedation, dizziness
insulin regular | 2 units, 4 units, 10 units | injection | hyperglycemia, hyperkalemia, DKA
    | hypoglycemia, hypokalemia
dextrose 50% | 12.5 g, 25 g | solution | hypoglycemia | hyperglycemia
glucagon | 1 mg | injection | hypoglycemia | nausea, vomiting
naloxone | 0.04 mg, 0.4 mg, 2 mg | solution | opioid overdose, respiratory depression, sedation
    | agitation, opioid withdrawal
calcium gluconate | 1 g, 2 g | solution | hyperkalemia, hypocalcemia | bradycardia
sodium bicarbonate | 650 mg, 1300 mg | tablet | metabolic acidosis, hyperkalemia
    | hypokalemia, edema
albumin | 12.5 g, 25 g | solution | hypotension, ascites, hepatorenal syndrome | volume overload
bethanechol | 10 mg, 25 mg, 50 mg | tablet | urinary retention | diarrhea, bradycardia
"""
MEDICATIONS = tuple(
    Medication(name, _items(strengths), form, _items(reasons), _items(harms))
    for name, strengths, form, reasons, harms in (
        tuple(column.strip() for column in line.split("|"))
        for line in _MEDICATION_TABLE.replace("\n    |", " |").strip().splitlines()
    )
)
MEDICATION = {m.name: m for m in MEDICATIONS}


@cache
def held_out_medication(med: Medication) -> bool:
    """Held out when its name is, or when it has no training strength or indication."""
    return (
        held_out(med.name) or all(map(held_out, med.strengths)) or all(map(held_out, med.reasons))
    )


@cache
def held_out_culprit(med: Medication) -> bool:
    """Held out as the cause of a harm: a held-out medication, or no training harm."""
    return held_out_medication(med) or all(map(held_out, med.harms))


# Drugs that can be blamed for a harm, and the drugs sharing an indication with each
# (what a culprit is switched to).
CULPRITS = tuple(m for m in MEDICATIONS if m.harms)
ALTERNATIVES = {
    m.name: tuple(o for o in MEDICATIONS if o is not m and set(o.reasons) & set(m.reasons))
    for m in MEDICATIONS
}

# Harms that another drug treats (an ADE in one mention, a Reason in the next), with the
# drugs that cause and the drugs that treat each.
CAUSES = {
    harm: tuple(m for m in MEDICATIONS if harm in m.harms)
    for harm in dict.fromkeys(h for m in MEDICATIONS for h in m.harms)
}
TREATERS = {harm: tuple(m for m in MEDICATIONS if harm in m.reasons) for harm in CAUSES}
TREATED_HARMS = tuple(harm for harm in CAUSES if TREATERS[harm])

# Written forms and routes, per kind of form.
FORMS = {
    "tablet": ("Tablet", "Tablet(s)", "Tablet, Delayed Release (E.C.)", "Tablet Extended Release",
               "Tablet, Chewable", "Tab"),
    "capsule": ("Capsule", "Capsule(s)", "Capsule, Extended Release", "Cap"),
    "solution": ("Solution", "Intravenous Solution", "Piggyback", "Recon Soln", "Vial"),
    "injection": ("Injection", "Syringe", "Pen Injector", "Cartridge", "Insulin Pen"),
    "powder": ("Powder", "Powder in Packet", "Packet"),
    "liquid": ("Suspension", "Oral Solution", "Liquid", "Syrup", "Elixir"),
    "patch": ("Patch 24 hr", "Patch 72 hr", "Patch", "Adhesive Patch"),
    "inhaler": ("Inhaler", "Aerosol", "Nebulizer Solution", "Disk with Device", "HFA Aerosol"),
}  # fmt: skip
ROUTES = {
    "tablet": ("PO", "by mouth", "orally", "oral", "per NG tube", "via G-tube"),
    "capsule": ("PO", "by mouth", "orally", "oral"),
    "solution": ("IV", "intravenously", "IV piggyback", "IVPB", "Intravenous"),
    "injection": ("SC", "subcutaneously", "subcut", "SQ", "Subcutaneous"),
    "powder": ("PO", "by mouth", "oral", "via G-tube"),
    "liquid": ("PO", "by mouth", "orally", "via G-tube", "per NG tube"),
    "patch": ("transdermal", "TD", "Transdermal", "topically"),
    "inhaler": ("inhaled", "INH", "via nebulizer", "Inhalation", "by inhalation"),
}
FREQUENCIES = ("daily", "BID", "TID", "QID", "q4h", "q6h", "q8h", "q12h", "q24h", "at bedtime",
               "twice a day", "three times a day", "every morning", "every evening", "once daily",
               "every other day", "nightly", "with meals", "qAM", "qHS", "weekly")  # fmt: skip
PLAIN_FREQUENCIES = ("daily", "twice a day", "every morning", "every evening", "each morning",
                     "once a week")  # fmt: skip
SIG_FREQUENCIES = (
    "DAILY (Daily)",
    "BID (2 times a day)",
    "TID (3 times a day)",
    "QID (4 times a day)",
    "Q4H (every 4 hours)",
    "Q6H (every 6 hours)",
    "Q8H (every 8 hours)",
    "Q12H (every 12 hours)",
    "Q24H (every 24 hours)",
    "QHS (at bedtime)",
    "HS (at bedtime)",
    "QAM (once a day (in the morning))",
    "QOD (every other day)",
    "Q4-6H (every 4 to 6 hours)",
    "TID W/MEALS (3 TIMES A DAY WITH MEALS)",
)
# How an as-needed frequency is written; "PRN" belongs to the Frequency.
AS_NEEDED = ("{frequency} PRN", "{frequency} as needed", "PRN", "{frequency} prn")
DOSAGES = ("One (1)", "Two (2)", "Three (3)", "Four (4)", "Half (0.5)", "One (1)-Two (2)", "1",
           "2", "1-2", "0.5", "1/2", "Ten (10)")  # fmt: skip
DURATIONS = (*(f"{n} days" for n in range(3, 15)), *(f"{n} weeks" for n in range(2, 7)),
             "3 more days", "1 month", "one week", "two weeks", "1 week", "10 more days",
             "a total of 14 days", "6 months")  # fmt: skip

# (drug named in the reason, harm it caused, drugs that treat the harm)
Induced = tuple[str, str, tuple[str, ...]]
INDUCED: tuple[Induced, ...] = (
    ("heparin", "thrombocytopenia", ("argatroban", "bivalirudin")),
    ("steroid", "hyperglycemia", ("insulin lispro", "insulin aspart")),
    ("opioid", "constipation", ("senna", "methylnaltrexone", "polyethylene glycol")),
    ("amiodarone", "hypothyroidism", ("levothyroxine",)),
    ("NSAID", "gastritis", ("pantoprazole", "omeprazole")),
    ("lithium", "diabetes insipidus", ("amiloride",)),
    ("diuretic", "hypokalemia", ("potassium chloride",)),
    ("chemotherapy", "nausea", ("ondansetron", "prochlorperazine")),
    ("warfarin", "coagulopathy", ("phytonadione",)),
    ("ACE inhibitor", "cough", ("losartan", "benzonatate")),
    ("antibiotic", "diarrhea", ("loperamide",)),
    ("clozapine", "sialorrhea", ("glycopyrrolate",)),
    ("contrast", "nephropathy", ("sodium bicarbonate",)),
    ("statin", "myopathy", ("coenzyme Q10",)),
)


def held_out_induced(induced: Induced) -> bool:
    """Held out when its reason ("heparin-induced thrombocytopenia") or every treatment is."""
    culprit, harm, treatments = induced
    return held_out(f"{culprit}-induced {harm}") or all(map(held_out, treatments))


# (shared head, first drug's rest, second drug's rest, second drug's strengths)
SharedHead = tuple[str, str, str, tuple[str, ...]]
SHARED_HEADS: tuple[SharedHead, ...] = (
    ("metoprolol", "tartrate", "succinate", ("25 mg", "50 mg", "100 mg")),
    ("insulin", "glargine", "lispro", ("4 units", "6 units", "8 units")),
    ("vitamin", "D", "B12", ("1000 mcg", "500 mcg")),
    ("insulin", "detemir", "aspart", ("6 units", "3 units", "10 units")),
    ("calcium", "carbonate", "acetate", ("667 mg", "1334 mg")),
    ("potassium", "chloride", "citrate", ("10 mEq", "15 mEq")),
    ("ferrous", "sulfate", "gluconate", ("324 mg", "240 mg")),
    ("magnesium", "oxide", "citrate", ("300 mL", "150 mL")),
    ("insulin", "NPH", "regular", ("8 units", "12 units", "5 units")),
    ("nifedipine", "ER", "IR", ("10 mg", "30 mg", "60 mg")),
    ("diltiazem", "ER", "IR", ("30 mg", "120 mg", "240 mg")),
    ("carbidopa-levodopa", "IR", "CR", ("25-100 mg", "50-200 mg")),
)


def held_out_shared_head(shared: SharedHead) -> bool:
    """Held out when either drug's full name is, or every strength."""
    head, first, second, strengths = shared
    return (
        held_out(f"{head} {first}") or held_out(f"{head} {second}") or all(map(held_out, strengths))
    )


ALLERGY_DRUGS = ("Penicillins", "Sulfa (Sulfonamide Antibiotics)", "Codeine", "Lisinopril",
                 "Morphine", "Iodine", "Aspirin", "Cephalosporins", "Erythromycin", "Latex",
                 "Vancomycin", "Ibuprofen", "Percocet", "Tetracycline", "Bactrim")  # fmt: skip
ALLERGY_REACTIONS = ("hives", "rash", "nausea", "angioedema", "anaphylaxis", "itching",
                     "throat swelling", "vomiting", "GI upset", "lip swelling",
                     "shortness of breath", "swelling")  # fmt: skip
RELATIVES = ("mother", "father", "brother", "sister", "grandmother", "uncle")
# Conditions listed in the history and diagnoses: not Reasons there, as no drug is linked.
CONDITIONS = tuple(
    dict.fromkeys(
        [
            *(reason for med in MEDICATIONS for reason in med.reasons),
            *(harm for med in MEDICATIONS for harm in med.harms),
            "chronic kidney disease",
            "obesity",
            "osteoarthritis",
            "cirrhosis",
            "sleep apnea",
            "peripheral vascular disease",
            "prostate cancer",
            "glaucoma",
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
    "Social work met with the patient to discuss home services.",
    "An echocardiogram showed preserved ejection fraction.",
    "The patient tolerated a regular diet before discharge.",
)

# Drug-level lab tests: a drug name that is a test, not a medication given.
DRUG_LEVELS = ("vancomycin trough", "lithium level", "digoxin level", "phenytoin level",
               "tacrolimus level", "valproic acid level", "gentamicin peak",
               "carbamazepine level")  # fmt: skip

# Discharge instructions: frequencies and conditions that describe no medication.
INSTRUCTIONS = (
    "Weigh yourself {frequency} and call if you gain more than 3 pounds.",
    "Call your doctor if you develop {condition}, {other} or fever.",
    "Check your blood sugar {frequency} and bring the log to your appointment.",
    "Return to the emergency department if {condition} gets worse.",
)
