"""PHI guard: refuse free text that looks like it identifies a patient (SPEC S10).

We never store PHI, so the guard errs on the side of refusing: the user is told which field and what was found, and
can rephrase. Two parts:

- record numbers, dates of birth and of visits, phones, e-mail and postal addresses, ages over 89: regular expressions
  with bounded repetition only (or possessive runs behind a boundary), so that each one does constant work per
  position and the whole scan is linear in the length of the text — a long run without spaces cannot stall a worker;
- person names: a token scan against given-name and surname lists (data/, from Faker's person providers) and our
  clinical allow-list (eponyms, vendors, sequences), looking for the shapes names take in a report: "John Smith",
  "Smith, John", "pt J. Doe 54M", "Sharma, 47F", "Patient: Smith", "Mr Smith".

Bare study dates are let through on purpose: every entry records its study date anyway. The labelled corpus in
tests/core/phi_corpus.tsv measures recall and false positives (tests/core/test_phi_corpus.py).
"""

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from django.core.exceptions import ValidationError

# Longer text is refused before it is scanned: no free-text field takes more (see core.text), and a scan's cost must
# stay bounded whatever a client sends.
MAX_CHECKED_LENGTH = 20_000

_MONTHS = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]{0,6}"
_DATE = (
    r"(?:\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|\d{4}[./-]\d{1,2}[./-]\d{1,2}"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?[\s./-]{{1,3}}{_MONTHS}\.?[\s./-]{{1,3}}\d{{2,4}}"
    rf"|{_MONTHS}\.?\s{{1,3}}\d{{1,2}}(?:st|nd|rd|th)?,?\s{{1,3}}\d{{4}}|(?:19|20)\d\d[01]\d[0-3]\d)"
)
# An identifier has at least one digit: "MRN redacted" or "NHS Trust" is not one.
_ID = r"(?=[A-Z0-9/-]{0,24}\d)[A-Z0-9][A-Z0-9/-]{2,24}"
_NO = r"(?:number|num|no\.?|nr\.?|#|id)"
_RECORD_KEYWORDS = (
    r"mrn|m\.r\.n\.?|urn|med(?:ical)?\.?\s?rec(?:ord)?s?\.?(?:\s?" + _NO + r")?"
    r"|hosp(?:ital)?\.?\s?" + _NO + r"|acc(?:ession)?\.?\s?" + _NO + r"|accession"
    r"|(?:patient|pt|unit|chart|record|case\s?notes?|insurance|medicare|medicaid|member|nhi|health\s?card)\.?\s?"
    + _NO
    + r"|chi(?:\s?"
    + _NO
    + r")?|nhs(?:\s?"
    + _NO
    + r")?|ssn|social\s?security(?:\s?"
    + _NO
    + r")?"
)
_SEP = r"[\s:#=.-]{0,4}"

_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (
        "a date of birth",
        re.compile(rf"\b(?:dob|d\.o\.b\.?|date\s?of\s?birth|birth\s?date|born(?:\s?on)?){_SEP}{_DATE}", re.I),
    ),
    (
        "a date of a visit",
        re.compile(
            r"\b(?:seen|visit(?:ed)?|admitted|admission|attended|discharged?|appointment|presented)\b"
            rf"[^\n]{{0,40}}?\b(?:on|dated?|date)\b[\s:]{{0,3}}{_DATE}",
            re.I,
        ),
    ),
    ("a medical record number", re.compile(rf"\b(?:{_RECORD_KEYWORDS}){_SEP}{_ID}", re.I)),
    ("an e-mail address", re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,4}")),
    (
        "a phone number",
        # International (+44 20 7946 0958), area code in brackets, national trunk 0 (07700 900123), US 617-555-0182,
        # or any number after "tel"/"phone". Not bare number ranges: "T1 1010-1050 ms", "EDV 120-180 ml".
        re.compile(
            r"(?<![\w.])(?:\+\d{1,3}[\s.-]?(?:\(0\)\s?)?\d{1,4}(?:[\s.-]?\d{2,4}){2,3}"
            r"|\(\d{2,4}\)[\s.-]?\d{3,4}[\s.-]?\d{3,4}"
            r"|0\d{2,4}[\s.-]?\d{3,4}[\s.-]?\d{3,4}"
            r"|\d{3}[.-]\d{3}[.-]\d{4})(?![\w.])"
            r"|\b(?i:tel|phone|mobile|mob|cell|ph)\.?[\s:#]{0,3}\+?\d[\d\s().-]{5,18}\d"
        ),
    ),
    ("a social security number", re.compile(r"\b\d{3}-\d{2}-\d{4}\b")),
    (
        "a postal address",
        re.compile(
            r"\b\d{1,5}[A-Za-z]?,?\s{1,3}(?:[A-Z][a-z'’]{1,20}\s{1,3}){1,3}"
            r"(?:Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Close|Way|Boulevard|Blvd|Court|Ct|Place|Terrace|Crescent"
            r"|Gardens|Grove|Square|Mews|Row|Walk|Parade|Highway|Hwy)\b"
            # A UK postcode (the inward letters never use C I K M O V, so "T1 4CH" is not one), a US state and ZIP.
            r"|\b[A-Z]{1,2}\d[A-Z\d]?\s{0,2}\d[ABD-HJLNP-UW-Z]{2}\b|\b[A-Z]{2}\s\d{5}(?:-\d{4})?\b"
        ),
    ),
    (
        "an age over 89",
        re.compile(r"\b(?:9\d|1[01]\d)\s?(?:-?\s?(?:years?|yrs?|y)[\s-]{0,2}old\b|yo\b|y/o\b|[MF]\b)", re.I),
    ),
    # A long number on its own is a record number unless it names a protocol, version or lot (checked below).
    ("a medical record number", re.compile(r"(?<![\w.,/])\d{8,}+(?!\w|[.,/]\d|\s?(?:ms|mm|ml|mg|kg|m2)\b)")),
    ("a medical record number", re.compile(r"(?<![\w.,/])\d{3}[ -]\d{3}[ -]\d{4}(?![\w.,/])")),
]
_NOT_A_RECORD_BEFORE = re.compile(
    r"(?:protocol|version|v|lot|batch|ruleset|software|firmware|release|build|sequence|series|serial|ref)[\s:#.]{0,4}$",
    re.I,
)

# --- names -----------------------------------------------------------------------------------------------------------

# Eponyms, vendors, products, sequences and capitalised report words that are also someone's name somewhere.
CLINICAL_ALLOW = frozenset(
    """
    ebstein fontan takotsubo wolff parkinson white brugada fabry anderson marfan loeys dietz glenn ross konno rastelli
    mustard senning jatene norwood blalock taussig sano kawasaki duchenne becker friedreich danon pompe noonan turner
    williams down digeorge holt oram alagille kearns sayre emery dreifuss barth lenegre lev chagas loeffler loffler
    dressler kussmaul beck carpentier barlow austin flint graham steell carey coombs duroziez starr edwards bentall
    yacoub david tirone cabrol ozaki melody sapien harmony evolut watchman amulet mitraclip triclip impella heartmate
    heartware eisenmenger scimitar shone williams-beuren raghib gerbode kommerell abernethy waterston potts mcgoon
    nakata simpson teichholz romhilt estes sokolow lyon cornell framingham stanford debakey crawford sievers
    lown ganong levine wenckebach mobitz hisian purkinje bachmann marshall koch todaro eustachian thebesian valsalva
    laplace bernoulli poiseuille reynolds womersley doppler fourier fick hounsfield larmor bloch fermi gibbs dixon
    siemens philips canon toshiba hitachi esaote bruker medtronic abbott biotronik boston scientific sorin microport
    jude bayer guerbet bracco lantheus circle medis segment tomtec arterys pie heartvista vitrea carestream agfa
    sectra mirada intellispace syngo vidar ingenia achieva prisma vida skyra aera avanto sola altea signa artist
    premier pioneer discovery optima explorer vantage orian galan titan elan magnetom gadovist dotarem prohance
    multihance clariscan magnevist omniscan vasovist ablavar feraheme lexiscan rapiscan
    molli shmolli saspir sasha flash truefisp fisp fiesta bffe ssfp haste stir tse epi psir lge mag mdixon vibe
    grappa sense asset compressed
    pt patient name surname normal study mild moderate severe trace stress rest perfusion adenosine regadenoson
    dobutamine protocol sequence sequences scan scanner cine flow left right anterior inferior lateral septal apical
    basal mid wall segment segments mitral aortic tricuspid pulmonary valve valves ventricle atrium atrial ventricular
    heart cardiac myocardial infarct infarction scar fibrosis edema oedema late gadolinium enhancement contrast native
    impression findings conclusion summary report history indication clinical technique comparison comment comments
    recommendation recommendations plan reason note notes known prior previous follow up given used seen noted
    medical healthcare healthineers scientific hospital trust clinic center centre university college society
    syndrome disease anomaly sign procedure operation repair shunt circulation physiology criteria classification
    score index type grade class stage level phase view views axis long short chamber chambers
    sinus rhythm atrial fibrillation flutter block bundle branch pacemaker icd crt defibrillator device leads lead
    wideband magnitude phase inversion recovery gradient echo spin fast turbo steady state free precession
    true false positive negative
    """.split()
)
# Capitalised words that precede an age and sex ("Aged 54M") without being a name.
_NOT_A_NAME_BEFORE_AGE = frozenset("aged age male female man woman boy girl child adult infant years yrs old".split())
# Given names that are also ordinary words a sentence may start with ("Will repeat", "May represent").
_COMMON_WORDS = frozenset(
    """
    will may mark grant hope joy faith june april august summer dawn rose ruby amber crystal pearl iris ivy holly jade
    penny ray lance chase wade dean drew miles gene guy rich sterling major king royal bill art sandy frank earnest
    ernest honor honour patience prudence charity mercy grace constance felicity destiny trinity harmony melody
    river sky storm rain autumn winter spring star sunny rocky brook heath dale glen cliff clay stone forest wood
    page paige price young long short brown green black white gray grey gold silver rich free fair noble
    will-be may-be ace max rex bob jack tom sam don hale hardy hunter archer baker cook carter mason porter
    taylor walker sum see sign view note plan
    """.split()
)
_TITLE = re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Mx|Mstr|Master)\.?\s{1,3}[A-Z][A-Za-z'’-]{1,30}")
_TOKEN = re.compile(r"[A-Za-z][A-Za-z'’]{0,30}(?:-[A-Za-z][A-Za-z'’]{0,30}){0,3}|\d{1,3}\s?[MF]\b|[,()\n:;=]")
_PERSON_KEYWORD = re.compile(
    r"\b(?i:patient|pt|pts|subject|surname|forename|family\s?name|last\s?name|first\s?name|given\s?name|full\s?name"
    r"|patient'?s?\s?name|pt\.?\s?name|name(?=\s{0,3}[:=]))\.?\s{0,3}[:=]?\s{0,3}"
    r"(?:[A-Z]\.\s{0,2})?([A-Z][A-Za-z'’]{1,30})"
)
_NAME_KEYWORD = re.compile(r"name\s{0,3}[:=]?\s{0,3}(?:[A-Z]\.\s{0,2})?[A-Z][A-Za-z'’]{1,30}$", re.I)
_NOT_A_PERSON_NAME = re.compile(
    r"\b(?:protocol|sequence|series|study|scan|scanner|program|programme|site|device|vendor|drug|file|product|test"
    r"|user|host|project|course|lecture|session|module|field|variable|parameter|brand|trade|generic|trial)\s{0,3}$",
    re.I,
)
_INITIAL_NAME = re.compile(r"\b[A-Z]\.\s{0,2}([A-Z][a-z'’]{1,30}(?:-[A-Z][a-z'’]{1,30})?)")
_NAME_AGE = re.compile(r"\b([A-Z][A-Za-z'’]{1,30}),?\s{1,2}\(?\d{1,3}\s?(?:[MF]|yo|y/o|yrs?|years?)\b")
_CLINICIAN_BEFORE = re.compile(r"\b(?:dr|prof|professor|doctor|nurse|radiographer|technologist)\.?\s{0,2}$", re.I)


@cache
def _names(kind: str) -> frozenset[str]:
    path = Path(__file__).parent / "data" / f"{kind}.txt"
    return frozenset(line.strip() for line in path.read_text().splitlines() if line.strip())


def _word(token: str) -> str:
    return token.lower().removesuffix("'s").removesuffix("’s").replace("’", "'")


def _allowed(token: str) -> bool:
    word = _word(token)
    return word in CLINICAL_ALLOW or any(part in CLINICAL_ALLOW for part in word.split("-"))


def _capitalised(token: str) -> bool:
    return token[:1].isupper() and (token[1:].islower() or token.isupper()) and len(token) > 1


def _given(token: str) -> bool:
    word = _word(token)
    return _capitalised(token) and word in _names("given_names") and word not in _COMMON_WORDS and not _allowed(token)


def _known_name(token: str) -> bool:
    word = _word(token)
    if _allowed(token) or word in _COMMON_WORDS or len(word) < 3:
        return False
    return word in _names("given_names") or word in _names("surnames")


def _surname_like(token: str) -> bool:
    """A capitalised word that could be a surname: not an acronym, not a clinical word."""
    if not _capitalised(token) or _allowed(token):
        return False
    return not (token.isupper() and len(token) <= 5)


def _find_names(text: str) -> str | None:
    for match in _TITLE.finditer(text):
        return match.group(0)
    for match in _PERSON_KEYWORD.finditer(text):
        word = match.group(1)
        if _allowed(word) or (word.isupper() and len(word) <= 5):
            continue
        before = text[max(0, match.start() - 30) : match.start()]
        named = bool(_NAME_KEYWORD.search(match.group(0))) and not _NOT_A_PERSON_NAME.search(before)
        # "Patient Kowalski tolerated": a capitalised word straight after the keyword, without a colon, is a name.
        bare = ":" not in match.group(0) and "=" not in match.group(0) and _surname_like(word)
        if named or bare or _known_name(word):
            return match.group(0)
    for match in _INITIAL_NAME.finditer(text):
        word = match.group(1)
        before = text[max(0, match.start() - 12) : match.start()]
        after = text[match.end() : match.end() + 12]
        aged = re.match(r",?\s{0,2}\(?\d{1,3}\s?(?:[MF]|yo|y/o|yrs?|years?)\b", after)
        if _CLINICIAN_BEFORE.search(before) or not _surname_like(word):
            continue
        if aged or _known_name(word):
            return match.group(0)
    for match in _NAME_AGE.finditer(text):
        word = match.group(1)
        if _word(word) not in _NOT_A_NAME_BEFORE_AGE and _surname_like(word):
            before = text[max(0, match.start() - 12) : match.start()]
            if not _CLINICIAN_BEFORE.search(before):
                return match.group(0)
    tokens = [(m.group(0), m.start()) for m in _TOKEN.finditer(text)]
    for i, (token, start) in enumerate(tokens[:-1]):
        nxt = tokens[i + 1][0]
        if not token[:1].isupper() or _CLINICIAN_BEFORE.search(text[max(0, start - 12) : start]):
            continue
        # "John Smith", "John A. Smith", "ANITA SHARMA"
        if _given(token):
            j = i + 1
            if len(nxt) == 1 and nxt.isupper() and j + 1 < len(tokens):
                j += 1
            if (
                _surname_like(tokens[j][0])
                and not tokens[j][0].isupper()
                or (token.isupper() and tokens[j][0].isupper() and _known_name(tokens[j][0]))
            ):
                return text[start : tokens[j][1] + len(tokens[j][0])]
        # "Smith, John"
        if nxt == "," and i + 2 < len(tokens) and _given(tokens[i + 2][0]):
            if _known_name(token) or (_surname_like(token) and not token.isupper()):
                return text[start : tokens[i + 2][1] + len(tokens[i + 2][0])]
    return None


@dataclass(frozen=True)
class PHIFinding:
    kind: str
    excerpt: str


def find_phi(text: str | None) -> list[PHIFinding]:
    text = text or ""
    if len(text) > MAX_CHECKED_LENGTH:
        return [PHIFinding(kind="text too long to check", excerpt=f"{len(text):,} characters")]
    findings: list[PHIFinding] = []

    def add(kind: str, excerpt: str) -> None:
        if all(f.kind != kind for f in findings):
            findings.append(PHIFinding(kind=kind, excerpt=excerpt[:40]))

    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(text):
            if kind == "a medical record number" and match.group(0)[:1].isdigit():
                if _NOT_A_RECORD_BEFORE.search(text[max(0, match.start() - 20) : match.start()]):
                    continue
                if " " in match.group(0) or "-" in match.group(0):
                    if not _nhs_checksum(match.group(0)):
                        continue
            add(kind, match.group(0))
            break
    if name := _find_names(text):
        add("a patient name", name)
    return findings


def _nhs_checksum(number: str) -> bool:
    """Modulus 11 check of an NHS number written 3-3-4 (a US phone shape is already caught as a phone)."""
    digits = [int(c) for c in number if c.isdigit()]
    if len(digits) != 10:
        return False
    check = 11 - sum(d * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True)) % 11
    return (0 if check == 11 else check) == digits[9] and check != 10


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


# --- case references -------------------------------------------------------------------------------------------------

DEFAULT_REFERENCE_HELP = "3–40 letters, digits, dots, dashes or underscores, e.g. NB-2026-0142"
_REFERENCE_SHAPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{2,39}")
_REFERENCE_RECORD = re.compile(
    r"(?:^|[._-])(?:mrn|mr|urn|hosp|hn|nhs|chi|acc|accession|ssn|pid|patient|pt|dob|born|birth|med|rec)(?=\d|[._-]|$)"
    r"|\d{7,}",
    re.I,
)
_REFERENCE_DATE = re.compile(
    # Year first with the same separator twice (NB-2026-0112 is a year and a counter, 1961-03-14 a date) or none.
    r"(?<!\d)(?:(?:19|20)\d\d(?:([._-])(?:0?[1-9]|1[0-2])\1(?:0?[1-9]|[12]\d|3[01])|(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]))"
    r"|(?:0?[1-9]|[12]\d|3[01])[._-](?:0?[1-9]|1[0-2])[._-](?:19|20)?\d\d"
    r"|(?:0?[1-9]|1[0-2])[._-](?:0?[1-9]|[12]\d|3[01])[._-](?:19|20)?\d\d)(?!\d)"
    rf"|\d{{1,2}}[._-]?{_MONTHS}[._-]?\d{{2,4}}",
    re.I,
)
# Words a pseudonym is made of that happen to be someone's name somewhere.
_REFERENCE_WORDS = frozenset(
    "case study cmr mri scan test demo draft signed late live prior other mine web api".split()
)


def _reference_has_name(reference: str) -> bool:
    """A given name anywhere ("JANE-001"), a surname written as a name ("Doe-001"), or two names ("DOE.JANE").
    A lone upper-case word that is also a surname somewhere ("READ", "KING") is a common pseudonym word: let through."""
    parts = [p for p in re.split(r"[._\d-]+", reference) if len(p) >= 3 and p.lower() not in _REFERENCE_WORDS]
    names = [p for p in parts if _known_name(p)]
    given = [p for p in names if p.lower() in _names("given_names")]
    return bool(given) or len(names) >= 2 or any(not p.isupper() for p in names)


def check_case_reference(reference: str, *, pattern: str = "") -> None:
    """A case reference is a pseudonym: the program's pattern if it set one, and never a record number, a date or a
    name. A year on its own is not a date of birth, so "NB-2026-0142" passes; "DOB-1961-03-14" and "19610314" do not.
    """
    reference = (reference or "").strip()
    problem = None
    if not _REFERENCE_SHAPE.fullmatch(reference):
        problem = f"Use a pseudonymous study reference ({DEFAULT_REFERENCE_HELP})."
    elif _REFERENCE_DATE.search(reference):
        problem = "This contains a date: a reference never carries a birth or visit date (a year alone is fine)."
    elif _REFERENCE_RECORD.search(reference):
        problem = "This looks like a record number: use the study's pseudonym, never an MRN or accession number."
    elif _reference_has_name(reference):
        problem = "This looks like it contains a name: use the study's pseudonym."
    elif pattern and not re.fullmatch(pattern, reference):
        problem = f"Use your program's reference format ({pattern})."
    if problem:
        raise ValidationError({"reference": ValidationError(problem, code="phi")})


def validate_reference_pattern(pattern: str) -> None:
    """A program's own reference pattern: a regular expression anchored at both ends, without nested repetition,
    back-references or look-arounds, so that matching it is cheap and predictable."""
    if not pattern:
        return
    if not (pattern.startswith("^") and pattern.endswith("$")):
        raise ValidationError("Anchor the pattern at both ends: start it with ^ and end it with $.")
    try:
        parsed = re._parser.parse(pattern)  # the stdlib's own parser: the tree tells nesting apart from sequence
    except re.error as exc:
        raise ValidationError(f"This is not a valid regular expression: {exc}.") from exc

    def walk(items, inside_repeat: bool) -> None:
        for op, arg in items:
            name = str(op)
            if name in {"GROUPREF", "GROUPREF_EXISTS", "ASSERT", "ASSERT_NOT", "ATOMIC_GROUP"}:
                raise ValidationError("Back-references and look-arounds are not allowed in a reference pattern.")
            if name in {"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"}:
                low, high, sub = arg
                if inside_repeat and high == re._constants.MAXREPEAT:
                    raise ValidationError("Nested unbounded repetition (like (a+)+) is not allowed.")
                walk(sub, inside_repeat or high > 1)
            elif name == "SUBPATTERN":
                walk(arg[-1], inside_repeat)
            elif name == "BRANCH":
                for branch in arg[1]:
                    walk(branch, inside_repeat)

    walk(parsed, False)
