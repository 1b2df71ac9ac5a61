"""PHI guard: refuse free text that looks like it identifies a patient (SPEC S10).

We never store PHI, so the guard errs on the side of refusing: the user is told which field and what was found, and
can rephrase. It is pattern-based; the corpus in tests/core/test_phi.py lists what it must catch and what it must let
through.
"""

import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError

_MONTHS = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*"
_DATE = rf"(?:\d{{1,2}}[./-]\d{{1,2}}[./-]\d{{2,4}}|\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}}\s+{_MONTHS}\.?\s+\d{{4}}|{_MONTHS}\.?\s+\d{{1,2}},?\s+\d{{4}})"

_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (
        "a date of birth",
        re.compile(rf"\b(?:dob|d\.o\.b\.?|date of birth|born(?: on)?|birth ?date)\s*[:#]?\s*{_DATE}", re.I),
    ),
    (
        "a medical record number",
        re.compile(
            r"\b(?:mrn|medical record(?: number| no\.?)?|patient id|hospital (?:number|no\.?)|nhs(?: number| no\.?)?)\s*[:#]?\s*[A-Z0-9-]{4,}",
            re.I,
        ),
    ),
    ("an accession number", re.compile(r"\b(?:acc(?:ession)?(?: number| no\.?| #)?)\s*[:#]?\s*[A-Z0-9-]{5,}", re.I)),
    (
        "a patient name",
        re.compile(r"\b(?:patient(?: name)?|pt|name|surname)\s*[:=]\s*[A-Z][a-z'’-]+", re.I),
    ),
    ("a patient name", re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Mx)\.?\s+[A-Z][a-z'’-]{1,}")),
    ("an e-mail address", re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")),
    (
        "a phone number",
        re.compile(
            r"(?<![\w.])(?:\+\d{1,3}[\s-]?)?(?:\(\d{2,4}\)[\s-]?)?\d{3,4}[\s-]\d{3,4}(?:[\s-]\d{2,4})?(?![\w.])"
        ),
    ),
    ("a social security number", re.compile(r"\b\d{3}-\d{2}-\d{4}\b")),
]


@dataclass(frozen=True)
class PHIFinding:
    kind: str
    excerpt: str


def find_phi(text: str) -> list[PHIFinding]:
    findings: list[PHIFinding] = []
    for kind, pattern in _PATTERNS:
        match = pattern.search(text or "")
        if match and all(f.kind != kind for f in findings):
            findings.append(PHIFinding(kind=kind, excerpt=match.group(0)[:40]))
    return findings


def check_phi(text: str, *, field_label: str) -> None:
    """Raise ValidationError naming the field and what looks like PHI."""
    findings = find_phi(text)
    if findings:
        found = ", ".join(f"{f.kind} (“{f.excerpt}”)" for f in findings)
        raise ValidationError(
            f"{field_label} looks like it contains patient identifiers: {found}. "
            "Remove them — trainingportal stores de-identified information only.",
            code="phi",
        )


def check_phi_fields(values: dict[str, str], labels: dict[str, str]) -> None:
    """Check several fields at once; raise one ValidationError keyed by field name."""
    errors: dict[str, list[ValidationError]] = {}
    for name, value in values.items():
        try:
            check_phi(value or "", field_label=labels.get(name, name))
        except ValidationError as exc:
            errors[name] = [exc]
    if errors:
        raise ValidationError(errors)
