"""Every lesson in the catalogue is plain enough for a learner reading English as a second
language on a phone: Flesch reading ease of at least 60 (the `readability` package, which
needs no downloaded data)."""

from __future__ import annotations

import re
import warnings

import pytest

from courses.loader import read_catalogue

MIN_FLESCH = 60

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # the package's own import-time deprecation noise
    import readability


def plain_sentences(markdown: str) -> str:
    """Markdown -> one sentence per line, words and punctuation separated by spaces.

    `readability` expects tokenised text. Headings, list items and table cells that have no
    full stop count as sentences of their own, as a reader meets them.
    """
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", markdown)  # links -> their text
    text = re.sub(r"[#*_>`|]+", " ", text)
    lines = []
    for raw in text.splitlines():
        line = re.sub(r"^\s*(?:[-+]|\d+\.)\s+", "", raw).strip(" -")
        if not line or set(line) <= set("-: "):
            continue
        for sentence in re.split(r"(?<=[.!?])\s+", line):
            sentence = re.sub(r"([.,;:!?()\"'])", r" \1 ", sentence)
            if sentence.strip():
                lines.append(" ".join(sentence.split()))
    return "\n".join(lines)


def flesch(markdown: str) -> float:
    grades = readability.getmeasures(plain_sentences(markdown), lang="en")["readability grades"]
    return float(grades["FleschReadingEase"])


LESSONS = [
    pytest.param(text, id=f"{m.spec.id}/{name}")
    for m in read_catalogue()
    for name, text in m.lessons
]


@pytest.mark.parametrize("text", LESSONS)
def test_lesson_reading_ease(text: str) -> None:
    score = flesch(text)
    assert score >= MIN_FLESCH, f"Flesch reading ease {score:.1f} < {MIN_FLESCH}: shorten sentences"


def test_the_measure_tells_plain_from_dense() -> None:
    plain = "Wash your hands. Use soap and water. Dry them well. Then put on gloves."
    dense = (
        "Notwithstanding organisational considerations, practitioners' adherence to "
        "comprehensive decontamination methodologies necessitates institutional accountability."
    )
    assert flesch(plain) > 80 > MIN_FLESCH > flesch(dense)
