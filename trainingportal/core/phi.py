"""PHI guard: refuse free text that looks like it identifies a patient (SPEC S10).

We never store PHI, so the guard errs on the side of refusing: the user is told which field and what was found, and
can rephrase. It is pattern-based; the corpus in tests/core/test_phi.py lists what it must catch and what it must let
through.
"""

import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError

_MONTHS = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*"
_DATE = rf"(?:\d{{1,2}}[./-]\d{{1,2}}[./-]\d{{2,4}}|\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}}(?:st|nd|rd|th)?[\s./-]+{_MONTHS}\.?[\s./-]+\d{{2,4}}|{_MONTHS}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}})"
# An identifier has at least one digit: "MRN redacted" or "NHS Trust" is not one.
_ID = r"(?=[A-Z0-9-]*\d)[A-Z0-9-]{4,}"

_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (
        "a date of birth",
        re.compile(rf"\b(?:dob|d\.o\.b\.?|date of birth|born(?: on)?|birth ?date)\s*[:#]?\s*{_DATE}", re.I),
    ),
    (
        "a medical record number",
        re.compile(
            rf"\b(?:mrn|medical record(?: number| no\.?)?|patient id|hospital (?:number|no\.?))\s*[:#]?\s*{_ID}", re.I
        ),
    ),
    ("a medical record number", re.compile(r"\bnhs(?: number| no\.?)?\s*[:#]?\s*\d{3}[\s-]?\d{3}[\s-]?\d{4}\b", re.I)),
    (
        "an accession number",
        re.compile(
            rf"\b(?:acc(?:ession)?(?:\s*(?:number|no\.?))?\s*[:#]|accession(?:\s*(?:number|no\.?))?)\s*{_ID}", re.I
        ),
    ),
    # The keyword in any case, the name capitalised: "Patient: Smith", "Pt name: SMITH", not "patient: cooperative".
    ("a patient name", re.compile(r"\b(?i:patient(?: name)?|pt|name|surname)\s*[:=]\s*[A-Z][A-Za-z'’-]+")),
    ("a patient name", re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Mx)\.?\s+[A-Z][A-Za-z'’-]+")),
    ("an e-mail address", re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")),
    (
        "a phone number",
        # International (+44 20 7946 0958), area code in brackets, national trunk 0 (07700 900123), US 617-555-0182.
        # Not bare number ranges: "T1 1010-1050 ms", "EDV 120-180 ml".
        re.compile(
            r"(?<![\w.])(?:\+\d{1,3}[\s.-]?(?:\(0\)\s?)?\d{1,4}(?:[\s.-]?\d{2,4}){2,3}"
            r"|\(\d{2,4}\)[\s.-]?\d{3,4}[\s.-]?\d{3,4}"
            r"|0\d{2,4}[\s.-]?\d{3,4}[\s.-]?\d{3,4}"
            r"|\d{3}[\s.-]\d{3}[\s.-]\d{4})(?![\w.])"
        ),
    ),
    ("a social security number", re.compile(r"\b\d{3}-\d{2}-\d{4}\b")),
    (
        "a social security number",
        re.compile(r"\b(?:ssn|social security(?: number| no\.?)?)\s*[:#]?\s*\d{3}[\s-]?\d{2}[\s-]?\d{4}\b", re.I),
    ),
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
