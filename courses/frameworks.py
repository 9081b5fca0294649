"""Reference frameworks the catalogue aligns to (names only; facts from ../shared/domain.md)."""

from __future__ import annotations

# Care Certificate standards as updated in March 2025 (16 standards).
CARE_CERTIFICATE_2025: dict[int, str] = {
    1: "Understand your role",
    2: "Your personal development",
    3: "Duty of care",
    4: "Equality, diversity, inclusion and human rights",
    5: "Work in a person-centred way",
    6: "Communication",
    7: "Privacy and dignity",
    8: "Fluids and nutrition",
    9: "Awareness of mental health and dementia",
    10: "Safeguarding adults",
    11: "Safeguarding children",
    12: "Basic life support",
    13: "Health and safety",
    14: "Handling information",
    15: "Infection prevention and control",
    16: "Awareness of learning disability and autism",
}

CARE_CERTIFICATE_URL = (
    "https://www.skillsforcare.org.uk/Developing-your-workforce/Care-Certificate/"
    "Care-Certificate.aspx"
)

# Care Workforce Pathway role categories (9 April 2025 update), plus ALL = every worker.
CWP_ROLE_CATEGORIES: dict[str, str] = {
    "ALL": "Everyone, including staff who do not give care",
    "NTC": "New to care",
    "CSW": "Care or support worker",
    "ECW": "Enhanced care worker",
    "PA": "Personal assistant",
    "SUP": "Supervisor or leader",
    "PL": "Practice leader",
    "DM": "Deputy manager",
    "RM": "Registered manager",
}

# ASC-WDS training categories (Skills for Care data set, 2026 list).
ASCWDS_CATEGORIES: tuple[str, ...] = (
    "Control and restraint",
    "Dementia care",
    "Emergency aid awareness",
    "Fire safety",
    "Basic life support and first aid",
    "Food hygiene",
    "Health and safety awareness",
    "Infection prevention and control",
    "Leadership and management",
    "Learning disability",
    "Medication management",
    "Mental capacity and liberty safeguards",
    "Assisting and moving people",
    "Nutrition and hydration",
    "Palliative, end of life care",
    "Physical disability",
    "Positive behaviour support and non-restrictive practice",
    "Safeguarding adults",
    "Other",
    "Dignity, respect, person-centred care",
    "Equality and diversity",
    "Children's, young people's related training",
    "Data management and GDPR",
    "Epilepsy",
    "Communication",
    "Diabetes",
    "COSHH",
    "Mental health",
    "Autism",
    "Continence care",
    "Duty of care",
    "Supervision, performance management",
    "Stroke",
    "Complaints handling, conflict resolution",
    "Personal care",
    "Activity provision, wellbeing",
    "Sensory disability",
    "OMMT (elearning)",
    "OMMT (Tier 1)",
    "OMMT (Tier 2)",
    "Oral health",
    "Moving and handling objects",
    "Assisted digital and accessibility",
    "Digital leadership skills",
    "In-house systems and applications",
    "Online safety and security",
    "Social media and communications",
    "Working with digital technology",
)
ASCWDS_URL = "https://asc-wds.skillsforcare.org.uk/"

# --- ASC-WDS bulk-upload training category codes (CATEGORY column) -------------------------
# The numbers ASC-WDS expects in the CATEGORY column of a training bulk upload, keyed by the
# category names above. Source: the public ASC-WDS code, NMDSdevopsServiceAdm/SopraSteria-SFC:
# backend/reference/trainingCategory.js (commit 23c10371d594c9631c9837c483a01f50409ba359) maps
# each database category id ("ASC") to its bulk-upload code ("BUDI"); the ids are named by the
# migrations backend/migrations/20230113140915-addOMMTTrainingToTrainingCategoriesTable.js,
# 20240419083154-addTrainingCategories.js, 20240424143655-renameTrainingCategories.js and
# 20240501131241-fixTrainingCategoryName.js, and a later migration of the same repository that
# sets each category's analysis-file code lists the same numbers by name. Codes 3, 4 and 24
# are not used by ASC-WDS.
ASCWDS_CATEGORY_CODES: dict[str, int] = {
    "Control and restraint": 1,
    "Dementia care": 2,
    "Emergency aid awareness": 5,
    "Fire safety": 6,
    "Basic life support and first aid": 7,
    "Food hygiene": 8,
    "Health and safety awareness": 9,
    "Infection prevention and control": 10,
    "Leadership and management": 11,
    "Learning disability": 12,
    "Medication management": 13,
    "Mental capacity and liberty safeguards": 14,
    "Assisting and moving people": 15,
    "Nutrition and hydration": 16,
    "Palliative, end of life care": 17,
    "Physical disability": 18,
    "Positive behaviour support and non-restrictive practice": 19,
    "Safeguarding adults": 20,
    "Other": 21,
    "Dignity, respect, person-centred care": 22,
    "Equality and diversity": 23,
    "Children's, young people's related training": 25,
    "Data management and GDPR": 26,
    "Epilepsy": 27,
    "Communication": 28,
    "Diabetes": 29,
    "COSHH": 30,
    "Mental health": 31,
    "Autism": 32,
    "Continence care": 33,
    "Duty of care": 34,
    "Supervision, performance management": 35,
    "Stroke": 36,
    "Complaints handling, conflict resolution": 37,
    "Personal care": 38,
    "Activity provision, wellbeing": 39,
    "Sensory disability": 40,
    "OMMT (elearning)": 41,
    "OMMT (Tier 1)": 42,
    "OMMT (Tier 2)": 43,
    "Oral health": 44,
    "Moving and handling objects": 45,
    "Assisted digital and accessibility": 46,
    "Digital leadership skills": 47,
    "In-house systems and applications": 48,
    "Online safety and security": 49,
    "Social media and communications": 50,
    "Working with digital technology": 51,
}

CSTF_SUBJECTS: tuple[str, ...] = (
    "Equality, diversity and human rights",
    "Health, safety and welfare",
    "Conflict resolution",
    "Fire safety",
    "Infection prevention and control",
    "Moving and handling",
    "Safeguarding adults",
    "Preventing radicalisation",
    "Safeguarding children",
    "Resuscitation",
    "Information governance and data security",
)
