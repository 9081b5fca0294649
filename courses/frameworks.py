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
