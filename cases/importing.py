"""Import of a trainee's prior case log from a CSV file.

Every row goes through `cases.services.entry_create`, so an imported entry meets the web form's rules and the PHI
guard. The dry run is the real import inside a transaction that is always rolled back; confirming runs the same
code and keeps the result only when every row passed: all or nothing. A row's `import_key` is the sha256 of its
normalized content (not its line number), so importing the same file again skips the rows already imported.
"""

import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from datetime import date

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models.functions import Upper
from django.utils import timezone

from curriculum import cmr
from curriculum.selectors import curriculum_topics
from trainingportal.core.audit import log_action
from trainingportal.core.phi import check_phi
from trainingportal.core.text import LONG_TEXT

from . import services
from .models import Case, CaseLogEntry

MAX_BYTES = 2 * 1024 * 1024
# Each row is a real entry_create (about 20 queries, 6–9 ms): 1,000 rows check in under ten seconds. A prior log
# is a few hundred cases; a longer one is imported in parts.
MAX_ROWS = 1000
# What our own export (and the dashboard's) puts before a cell that a spreadsheet would run as a formula.
_ESCAPED_FORMULA = re.compile(r"^'[=+\-@\t\r]")


@dataclass(frozen=True)
class Column:
    name: str
    required: bool
    help: str
    example: str = ""
    aliases: tuple[str, ...] = ()


def _choices_help(choices) -> str:
    return ", ".join(value for value, _ in choices)


_DIAGNOSIS_CHOICES = [(d.code, d.label) for d in cmr.diagnoses()]
_FLAG_HELP = "yes or no. Empty: no."


COLUMNS = [
    Column("date", True, "The day of the study, as YYYY-MM-DD.", "", ("performed_on",)),
    Column(
        "reference",
        True,
        "The pseudonymous study reference (3–40 letters, digits, dots, dashes): never a name, MRN or birth date.",
        "ARCH-2024-0412",
        ("case", "case_reference"),
    ),
    Column("source", False, f"One of {_choices_help(Case.Source.choices)}. Empty: center_archive.", "center_archive"),
    Column("complete_study", False, "yes or no. Empty: yes.", "yes"),
    Column("indication", False, "Why the study was done.", "Suspected myocarditis"),
    Column(
        "categories",
        False,
        "Curriculum topic slugs, separated by ; (see the list below). May be empty when the diagnosis is given: "
        "the diagnosis adds its own topics.",
        "cardiomyopathy;fibrosis-edema",
        ("topics", "curriculum_topics"),
    ),
    Column(
        "diagnosis",
        False,
        f"The diagnosis, as a code of the taxonomy ({cmr.TAXONOMY_VERSION}) or its label as on the entry form: "
        f"{_choices_help(_DIAGNOSIS_CHOICES)}.",
        "myocarditis",
        ("diagnosis_code",),
    ),
    Column(
        "diagnosis_taxonomy",
        False,
        f"The taxonomy version the diagnosis is coded in, as our export writes it. Empty: {cmr.TAXONOMY_VERSION}; "
        "a diagnosis coded in another version is refused rather than read with today's meaning.",
        "",
    ),
    Column(
        "field_strength",
        False,
        f"One of {_choices_help(Case.FieldStrength.choices)}. Empty: 1.5T.",
        "1.5T",
    ),
    Column(
        "vendor",
        False,
        f"The scanner vendor: one of {_choices_help(Case.Vendor.choices)}.",
        "siemens",
        ("scanner_vendor",),
    ),
    Column(
        "contrast_agent", False, f"One of {_choices_help(Case.Contrast.choices)}.", "gbca_macrocyclic", ("contrast",)
    ),
    Column("stress_agent", False, f"One of {_choices_help(Case.Stress.choices)}.", "none", ("stress",)),
    Column(
        "stress_supervisor",
        False,
        "The e-mail address of the mentor or director of your program who supervised the stress in person; "
        "required for a live-scan stress study.",
        "",
        ("stress_supervisor_email",),
    ),
    Column("cardiac_device", False, f"One of {_choices_help(Case.Device.choices)}.", "none", ("device",)),
    Column("congenital", False, f"Congenital heart disease: {_FLAG_HELP}", "no", ("congenital_heart_disease",)),
    Column("paediatric", False, f"A paediatric patient: {_FLAG_HELP}", "no", ("pediatric",)),
    Column("sedation", False, f"One of {_choices_help(Case.Sedation.choices)}.", "none"),
    Column(
        "sequences",
        False,
        f"The sequences acquired, separated by ; (codes or labels): {_choices_help(cmr.SEQUENCES)}.",
        "cine;lge;t1_mapping;t2_mapping",
    ),
    Column(
        "technique_tags",
        False,
        "Older files: techniques as free text, separated by ; (e.g. LGE;T1 mapping). Each is read as one of the "
        "sequences; prefer the sequences column.",
        "",
    ),
    Column(
        "roles",
        True,
        f"What you did, separated by ; (one or more of {', '.join(CaseLogEntry.ROLE_FIELDS)}).",
        "interpreted;post_processed",
        ("role",),
    ),
    Column("delivery", True, f"One of {_choices_help(CaseLogEntry.Delivery.choices)}.", "in_person"),
    Column(
        "supervising_mentor",
        True,
        "The e-mail address of the mentor who supervised you: one of your program's mentors.",
        "",
        ("supervising_mentor_email", "mentor", "mentor_email"),
    ),
    Column("findings", False, "Your findings.", "Patchy mid-wall LGE in the basal inferolateral wall, no effusion."),
    Column("impression", True, "Your impression.", "Acute myocarditis."),
    Column("key_measurements", False, "e.g. LVEF 55%, LV EDVi 82 ml/m², T1 1010 ms.", "LVEF 48%, LV EDVi 96 ml/m²"),
    Column("lvef", False, "LVEF in %, a whole number from 0 to 100.", "48"),
    Column("lv_edvi", False, "LV end-diastolic volume index in ml/m², a whole number.", "96"),
    Column("lge_pattern", False, f"One of {_choices_help(CaseLogEntry.LGEPattern.choices)}.", "mid_wall"),
    Column("final_diagnosis", False, "Your final diagnosis.", "Acute myocarditis"),
]
COLUMN_NAMES = [c.name for c in COLUMNS]
REQUIRED_COLUMNS = [c.name for c in COLUMNS if c.required]
# Free text is checked for patient identifiers cell by cell, so the message names the column.
FREE_TEXT_COLUMNS = [
    "reference",
    "indication",
    "technique_tags",
    "findings",
    "impression",
    "key_measurements",
    "final_diagnosis",
]
# The service names model fields; the trainee knows the file's columns.
_SERVICE_FIELD_TO_COLUMN = {"performed_on": "date", "__all__": ""}
_ALIASES = {alias: c.name for c in COLUMNS for alias in (c.name, *c.aliases)}


class ImportFileError(Exception):
    """The file as a whole cannot be imported (size, encoding, header): there is nothing per row to show."""


@dataclass
class ParsedFile:
    rows: list[tuple[int, dict[str, str]]]  # (CSV line number, the header being line 1; cells by column)
    ignored_columns: list[str]
    sha256: str

    # The checked rows wait in the session between the dry run and the confirmation: the file never touches the
    # disk, and its size is capped at MAX_BYTES.
    def to_session(self) -> dict:
        return {"rows": self.rows, "ignored_columns": self.ignored_columns, "sha256": self.sha256}

    @classmethod
    def from_session(cls, data: dict) -> "ParsedFile":
        rows = [(int(line), dict(cells)) for line, cells in data["rows"]]
        return cls(rows=rows, ignored_columns=list(data["ignored_columns"]), sha256=data["sha256"])


@dataclass
class RowResult:
    line: int
    cells: dict[str, str]
    errors: list[tuple[str, str]] = field(default_factory=list)  # (column, message)
    skipped: str = ""  # why the row is not imported, though valid
    warning: str = ""

    @property
    def action(self) -> str:
        return "error" if self.errors else "skip" if self.skipped else "create"

    # For the preview table: lists as typed, with room to wrap on a narrow screen.
    @property
    def categories_display(self) -> str:
        return ", ".join(_split(self.cells.get("categories", "")))

    @property
    def roles_display(self) -> str:
        return ", ".join(_split(self.cells.get("roles", "")))


@dataclass
class ImportReport:
    rows: list[RowResult]
    ignored_columns: list[str] = field(default_factory=list)
    committed: bool = False

    @property
    def error_rows(self) -> list[RowResult]:
        return [r for r in self.rows if r.errors]

    @property
    def created_count(self) -> int:
        return sum(r.action == "create" for r in self.rows)

    @property
    def skipped_count(self) -> int:
        return sum(r.action == "skip" for r in self.rows)

    @property
    def ok(self) -> bool:
        return not self.error_rows


def _header_key(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def _choice_key(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.strip().lower()).strip("_")


def read_csv(data: bytes) -> ParsedFile:
    """Decode and split the file into rows of cells keyed by column. Raises ImportFileError for the whole file."""
    if len(data) > MAX_BYTES:
        raise ImportFileError(
            f"The file is {len(data) / 1024 / 1024:.1f} MB; the limit is {MAX_BYTES // 1024 // 1024} MB. "
            "Split it into smaller files and import them one after another."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFileError(
            f"The file is not UTF-8 text (byte {exc.start + 1} cannot be read). Save it as “CSV UTF-8” "
            "(in Excel: File → Save As → CSV UTF-8 (Comma delimited)) and upload it again."
        )
    if not text.strip():
        raise ImportFileError("The file is empty. Download the template to see what it should contain.")
    first_line = text.split("\n", 1)[0]
    # Spreadsheets in many European locales save "CSV" with semicolons.
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
        columns = [_ALIASES.get(_header_key(name), None) for name in header]
        unknown = [
            name.strip() for name, column in zip(header, columns, strict=True) if column is None and name.strip()
        ]
        known = [c for c in columns if c]
        duplicated = sorted({c for c in known if known.count(c) > 1})
        if duplicated:
            raise ImportFileError(f"The header names these columns more than once: {', '.join(duplicated)}.")
        missing = [c for c in REQUIRED_COLUMNS if c not in known]
        if missing:
            raise ImportFileError(
                f"The header (line 1) lacks the column{'s' if len(missing) > 1 else ''} {', '.join(missing)}. "
                "The first line must name the columns: download the template to see them."
            )
        rows = []
        line = reader.line_num + 1
        for cells in reader:
            if any(cell.strip() for cell in cells):
                if len(rows) == MAX_ROWS:
                    raise ImportFileError(
                        f"The file has more than {MAX_ROWS} rows. Split it into smaller files and import them one "
                        "after another."
                    )
                row = {column: cells[i] if i < len(cells) else "" for i, column in enumerate(columns) if column}
                rows.append((line, row))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise ImportFileError(f"Line {reader.line_num}: the file is not valid CSV ({exc}).")
    if not rows:
        raise ImportFileError("The file has a header but no rows to import.")
    return ParsedFile(rows=rows, ignored_columns=unknown, sha256=hashlib.sha256(data).hexdigest())


@dataclass
class _Lookups:
    categories: dict[str, object]  # slug → curriculum topic
    mentors: dict[str, object]  # e-mail (lower case) → user
    stress_supervisors: dict[str, object]  # e-mail (lower case) → a mentor or the director of the program

    @classmethod
    def for_enrollment(cls, enrollment) -> "_Lookups":
        categories = {}
        for category in curriculum_topics():
            categories[category.slug] = category
            categories[_choice_key(category.name)] = category
        mentors = {user.email.lower(): user for user in services.allowed_supervisors(enrollment)}
        stress_supervisors = {user.email.lower(): user for user in services.stress_supervisors(enrollment.program)}
        return cls(categories=categories, mentors=mentors, stress_supervisors=stress_supervisors)


def _choice(text: str, choices) -> str | None:
    wanted = _choice_key(text)
    for value, label in choices:
        if wanted in (_choice_key(value), _choice_key(str(label))):
            return value
    return None


_OBSERVED = "observed (in the room or remotely, by the delivery)"
_ROLE_CHOICES = [(name, CaseLogEntry._meta.get_field(name).verbose_name) for name in CaseLogEntry.ROLE_FIELDS] + [
    ("primary_operator", "operated"),
    ("assisted_console", "assisted"),
    # Role names of logs exported before the roles were split: "acquired hands-on" did not say who was at the
    # controls, so it reads as assisting (performed, the weaker claim); "observed at the console" becomes in the
    # room or remote by the row's delivery (below).
    ("assisted_console", "acquired_hands_on"),
    ("assisted_console", "acquired"),
    (_OBSERVED, "observed_console"),
    (_OBSERVED, "observed"),
]
# Old role names spelled the same way in the idempotency key as before the split, so that re-importing a file
# imported earlier still finds its rows.
_KEY_ROLE_NAMES = {
    "assisted_console": "acquired_hands_on",
    "observed_in_room": "observed_console",
    "observed_remotely": "observed_console",
}


def _split(text: str) -> list[str]:
    return [part.strip() for part in re.split(r"[;,|]", text) if part.strip()]


def _semicolon_list(text: str) -> list[str]:
    # Only ";" separates: the sequences' labels have slashes and brackets, the old free-text tags anything.
    return [part.strip() for part in text.split(";") if part.strip()]


def _flag(text: str, *, empty: bool) -> bool | None:
    """yes/no, true/false, 1/0 (any case); None when the cell is something else."""
    flag = text.strip().lower()
    if not flag:
        return empty
    if flag in ("yes", "y", "true", "1", "x"):
        return True
    if flag in ("no", "n", "false", "0"):
        return False
    return None


def _sequence(text: str) -> str | None:
    return cmr.sequence_code(text) or _choice(text, cmr.SEQUENCES)


# The case's clinical choices: (column, choices, what to call it in a message).
_CLINICAL_CHOICES = [
    ("field_strength", Case.FieldStrength.choices, "field strength"),
    ("vendor", Case.Vendor.choices, "vendor"),
    ("contrast_agent", Case.Contrast.choices, "contrast agent"),
    ("stress_agent", Case.Stress.choices, "stress agent"),
    ("cardiac_device", Case.Device.choices, "cardiac device"),
    ("sedation", Case.Sedation.choices, "sedation"),
]


def _unescape(cell: str) -> str:
    return cell[1:] if _ESCAPED_FORMULA.match(cell) else cell


def _parse_row(raw: dict[str, str], lookups: _Lookups) -> tuple[dict, list[tuple[str, str]]]:
    """Cells → the keyword arguments of services.entry_create, or the errors, each naming its column."""
    cells = {name: _unescape(raw.get(name, "")).strip() for name in COLUMN_NAMES}
    errors: list[tuple[str, str]] = []
    values: dict = {}

    def error(column: str, message: str) -> None:
        errors.append((column, message))

    for name in REQUIRED_COLUMNS:
        if not cells[name]:
            error(name, "This cell is empty; it is required.")

    for name in FREE_TEXT_COLUMNS:
        if len(cells[name]) > LONG_TEXT:
            error(name, f"This cell has {len(cells[name]):,} characters; at most {LONG_TEXT:,} are kept.")
            continue
        try:
            check_phi(cells[name], field_label=f"The {name} cell")
        except ValidationError as exc:
            error(name, exc.messages[0])

    if cells["date"]:
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", cells["date"]):
                raise ValueError
            values["performed_on"] = date.fromisoformat(cells["date"])
        except ValueError:
            error("date", f"“{cells['date']}” is not a date written as YYYY-MM-DD (e.g. 2024-03-14).")

    values["source"] = _choice(cells["source"], Case.Source.choices) if cells["source"] else Case.Source.CENTER_ARCHIVE
    if values["source"] is None:
        error("source", f"Unknown source “{cells['source']}”. Use one of {_choices_help(Case.Source.choices)}.")

    values["complete_study"] = _flag(cells["complete_study"], empty=True)
    if values["complete_study"] is None:
        error("complete_study", f"Write yes or no, not “{cells['complete_study']}”.")

    categories, unknown = [], []
    for part in _split(cells["categories"]):
        category = lookups.categories.get(part.lower()) or lookups.categories.get(_choice_key(part))
        if category:
            categories.append(category)
        else:
            unknown.append(part)
    if unknown:
        slugs = ", ".join(sorted({c.slug for c in lookups.categories.values()}))
        error(
            "categories", f"Unknown curriculum topic {', '.join(f'“{u}”' for u in unknown)}. Use these slugs: {slugs}."
        )
    values["categories"] = sorted(set(categories), key=lambda c: c.slug)
    if not cells["categories"] and not cells["diagnosis"]:
        error("categories", "Name at least one curriculum topic, or give the diagnosis (it adds its topics).")
    _parse_clinical(cells, values, error, lookups)

    roles, unknown = set(), []
    for part in _split(cells["roles"]):
        role = _choice(part, _ROLE_CHOICES)
        if role:
            roles.add(role)
        else:
            unknown.append(part)
    if unknown:
        error(
            "roles",
            f"Unknown role {', '.join(f'“{u}”' for u in unknown)}. Use {', '.join(CaseLogEntry.ROLE_FIELDS)}.",
        )
    elif cells["roles"] and not roles:
        error("roles", "Name at least one role.")

    if cells["delivery"]:
        values["delivery"] = _choice(cells["delivery"], CaseLogEntry.Delivery.choices)
        if values["delivery"] is None:
            error(
                "delivery",
                f"Unknown delivery “{cells['delivery']}”. Use one of {_choices_help(CaseLogEntry.Delivery.choices)}.",
            )
    if _OBSERVED in roles:
        roles.discard(_OBSERVED)
        in_person = values.get("delivery") == CaseLogEntry.Delivery.IN_PERSON
        roles.add("observed_in_room" if in_person else "observed_remotely")
    values.update(CaseLogEntry.role_flags(roles))

    if cells["supervising_mentor"]:
        values["supervising_mentor"] = lookups.mentors.get(cells["supervising_mentor"].lower())
        if values["supervising_mentor"] is None:
            yours = ", ".join(list(lookups.mentors)[:5]) or "none yet: ask your program director to assign one"
            error(
                "supervising_mentor",
                f"None of your mentors has the e-mail address “{cells['supervising_mentor']}”. Yours: {yours}.",
            )

    for name in ("lvef", "lv_edvi"):
        values[name] = None
        if cells[name]:
            if re.fullmatch(r"\d{1,3}", cells[name].rstrip("%").strip()):
                values[name] = int(cells[name].rstrip("%").strip())
            else:
                error(name, f"Write a whole number, not “{cells[name]}”.")

    values["lge_pattern"] = ""
    if cells["lge_pattern"]:
        values["lge_pattern"] = _choice(cells["lge_pattern"], CaseLogEntry.LGEPattern.choices)
        if values["lge_pattern"] is None:
            error(
                "lge_pattern",
                f"Unknown LGE pattern “{cells['lge_pattern']}”. "
                f"Use one of {_choices_help(CaseLogEntry.LGEPattern.choices)}.",
            )

    for name in ("reference", "indication", "findings", "impression", "key_measurements", "final_diagnosis"):
        # Stored as typed, line breaks included; only the ends are trimmed.
        values[name] = cells[name].replace("\r\n", "\n")
    return values, errors


def _parse_clinical(cells: dict[str, str], values: dict, error, lookups: _Lookups) -> None:
    """The case's clinical cells: choices by code or label, flags, the stress supervisor by e-mail, the diagnosis,
    and the sequences (with the old free-text technique tags read as sequences)."""
    for name, choices, what in _CLINICAL_CHOICES:
        values[name] = Case.FieldStrength.T1_5 if name == "field_strength" else ""
        if cells[name]:
            values[name] = _choice(cells[name], choices)
            if values[name] is None:
                error(name, f"Unknown {what} “{cells[name]}”. Use one of {_choices_help(choices)}.")

    for name in ("congenital", "paediatric"):
        values[name] = _flag(cells[name], empty=False)
        if values[name] is None:
            error(name, f"Write yes or no, not “{cells[name]}”.")

    values["stress_supervisor"] = None
    if cells["stress_supervisor"]:
        values["stress_supervisor"] = lookups.stress_supervisors.get(cells["stress_supervisor"].lower())
        if values["stress_supervisor"] is None:
            error(
                "stress_supervisor",
                f"None of your program's mentors, nor its director, has the e-mail address "
                f"“{cells['stress_supervisor']}”.",
            )

    values["diagnosis"] = ""
    taxonomy = cells["diagnosis_taxonomy"]
    if cells["diagnosis"] and taxonomy and " ".join(taxonomy.split()).casefold() != cmr.TAXONOMY_VERSION.casefold():
        error(
            "diagnosis_taxonomy",
            f"The diagnosis is coded in “{taxonomy}”; this portal reads {cmr.TAXONOMY_VERSION}. Write the diagnosis "
            "again as a code of that taxonomy.",
        )
    elif cells["diagnosis"]:
        values["diagnosis"] = _choice(cells["diagnosis"], _DIAGNOSIS_CHOICES)
        if values["diagnosis"] is None:
            error(
                "diagnosis",
                f"Unknown diagnosis “{cells['diagnosis']}”. Use a code of the taxonomy: "
                f"{_choices_help(_DIAGNOSIS_CHOICES)}.",
            )

    sequences, unknown = [], []
    for part in _semicolon_list(cells["sequences"]):
        code = _sequence(part)
        (sequences if code else unknown).append(code or part)
    if unknown:
        error(
            "sequences",
            f"Unknown sequence {', '.join(f'“{u}”' for u in unknown)}. Use these codes: {_choices_help(cmr.SEQUENCES)}.",
        )
    # The legacy column, as typed (the idempotency key of rows imported before the sequences spells it so).
    values["technique_tags"] = _semicolon_list(cells["technique_tags"])
    unknown = [tag for tag in values["technique_tags"] if not _sequence(tag)]
    if unknown:
        error(
            "technique_tags",
            f"Unknown technique {', '.join(f'“{u}”' for u in unknown)}: write it in the sequences column as one of "
            f"{_choices_help(cmr.SEQUENCES)}.",
        )
    found = set(sequences) | {_sequence(tag) for tag in values["technique_tags"]}
    values["sequences"] = [code for code, _ in cmr.SEQUENCES if code in found]


def import_key(values: dict) -> str:
    """sha256 of the row's meaning: case and spacing of free text, the order of topics or roles, and spellings of
    a choice ("In person" / in_person) do not change it; the line number is not part of it."""

    def text(value: str) -> str:
        return " ".join(value.split())

    normalized = {
        "date": values["performed_on"].isoformat(),
        "reference": values["reference"].casefold(),
        "source": values["source"],
        "complete_study": values["complete_study"],
        "categories": sorted(c.slug for c in values["categories"]),
        "technique_tags": sorted({text(t).casefold() for t in values["technique_tags"]}),
        "roles": sorted({_KEY_ROLE_NAMES.get(name, name) for name in CaseLogEntry.ROLE_FIELDS if values[name]}),
        "delivery": values["delivery"],
        "supervising_mentor": values["supervising_mentor"].email.lower(),
        "lvef": values["lvef"],
        "lv_edvi": values["lv_edvi"],
        "lge_pattern": values["lge_pattern"],
        **{name: text(values[name]) for name in ("indication", "findings", "impression", "key_measurements")},
        "final_diagnosis": text(values["final_diagnosis"]),
        **_clinical_key(values),
    }
    return hashlib.sha256(json.dumps(normalized, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _clinical_key(values: dict) -> dict:
    """The clinical fields that were recorded, and only those: a row without them (every file imported before they
    existed) keeps the key it had, so re-importing such a file still skips its rows; a row that records one more
    of them is another row. 1.5T is what an empty cell means and what every older case stored (our earlier
    exports wrote it, and the import then ignored that column). Sequences already named by the legacy technique
    tags (keyed as typed, above) are not repeated."""
    tagged = {_sequence(tag) for tag in values["technique_tags"]}
    recorded = {
        "field_strength": "" if values["field_strength"] == Case.FieldStrength.T1_5 else values["field_strength"],
        **{name: values[name] for name in ("vendor", "contrast_agent", "stress_agent", "cardiac_device", "sedation")},
        "stress_supervisor": values["stress_supervisor"].email.lower() if values["stress_supervisor"] else "",
        # The service marks a case of a congenital diagnosis congenital: ticked or not, the row means the same.
        "congenital": values["congenital"] or cmr.group_of(values["diagnosis"]) == "congenital",
        "paediatric": values["paediatric"],
        "diagnosis": values["diagnosis"],
        "sequences": sorted(set(values["sequences"]) - tagged),
    }
    return {name: value for name, value in recorded.items() if value}


def _service_errors(exc: ValidationError) -> list[tuple[str, str]]:
    if hasattr(exc, "error_dict"):
        return [
            (_SERVICE_FIELD_TO_COLUMN.get(name, name), message)
            for name, messages in exc.message_dict.items()
            for message in messages
        ]
    return [("", message) for message in exc.messages]


def run_import(
    *, actor, enrollment, parsed: ParsedFile, dry_run: bool, submit: bool = False, filename: str = ""
) -> ImportReport:
    """Validate every row by creating it; keep the entries only if this is not a dry run and every row passed."""
    results: list[RowResult] = []
    with transaction.atomic():
        lookups = _Lookups.for_enrollment(enrollment)
        mine = CaseLogEntry.objects.filter(enrollment=enrollment)
        existing_keys = set(mine.exclude(import_key="").values_list("import_key", flat=True))
        logged = {(ref.casefold(), day) for ref, day in mine.values_list(Upper("case__reference"), "performed_on")}
        seen: dict[str, int] = {}
        for line, cells in parsed.rows:
            result = RowResult(line=line, cells=cells)
            results.append(result)
            values, result.errors = _parse_row(cells, lookups)
            if result.errors:
                continue
            key = import_key(values)
            if key in existing_keys:
                result.skipped = "Already imported: this row is in your log."
                continue
            if key in seen:
                result.skipped = f"The same as line {seen[key]}."
                continue
            seen[key] = line
            if (values["reference"].casefold(), values["performed_on"]) in logged:
                result.warning = "You already logged this case on this day; this row adds another entry."
            try:
                # The legacy tags are read into the sequences; the free text is not kept.
                fields = {name: value for name, value in values.items() if name != "technique_tags"}
                services.entry_create(actor=actor, enrollment=enrollment, submit=submit, import_key=key, **fields)
            except ValidationError as exc:
                result.errors = _service_errors(exc)
            except IntegrityError:
                # Another import of the same file committed in between: entry_create's savepoint is rolled back.
                result.errors = [("", "This row was imported by another upload in the meantime.")]
        report = ImportReport(rows=results, ignored_columns=parsed.ignored_columns)
        if dry_run or not report.ok:
            transaction.set_rollback(True)
        else:
            report.committed = True
            log_action(
                actor=actor,
                action="entry.import",
                obj=enrollment,
                after={
                    "filename": filename,
                    "sha256": parsed.sha256,
                    "created": report.created_count,
                    "skipped": report.skipped_count,
                    "submitted": submit,
                },
            )
    return report


def template_csv(enrollment) -> str:
    """The header and one example row; the example names one of the trainee's own mentors."""
    mentor = services.allowed_supervisors(enrollment).first()
    example = {c.name: c.example for c in COLUMNS if c.name not in ("date", "supervising_mentor")} | {
        "date": (timezone.localdate().replace(day=1)).isoformat(),
        "supervising_mentor": mentor.email if mentor else "mentor@example.org",
    }
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMN_NAMES)
    writer.writerow([example[name] for name in COLUMN_NAMES])
    return out.getvalue()
