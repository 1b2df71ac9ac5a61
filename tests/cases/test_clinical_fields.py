"""What the study was — field strength, vendor, contrast, stress and who supervised it in person, device, congenital /
paediatric, sedation, sequences, the coded diagnosis — through every way in and out of the case log: the API, the CSV
import (codes or labels, the legacy technique tags, per-line errors, the idempotency key), the export, a round trip
from one program to another, and the web form."""

import csv
import datetime
import hashlib
import io
import json

import pytest
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from cases import exporting, importing, services
from cases.models import Case, CaseLogEntry
from curriculum import cmr
from curriculum.models import Category
from programs.models import Membership

from ..conftest import api_as
from ..factories import EnrollmentFactory, EntryFactory, MembershipFactory, ProgramFactory, UserFactory
from .helpers import _entry_form_data, _entry_payload, _row_counts, _with_read, web

pytestmark = pytest.mark.django_db

URL = "/api/v1/case-logs/"
TAXONOMY = cmr.TAXONOMY_VERSION


def _day(days_ago: int) -> datetime.date:
    return timezone.localdate() - datetime.timedelta(days=days_ago)


def _topics(case: Case) -> list[str]:
    return sorted(case.categories.values_list("slug", flat=True))


@pytest.fixture
def foreign_mentor(db):
    """A mentor of another program: never a stress supervisor of `program`."""
    user = UserFactory(email="foreign.mentor@example.test", institution="Elsewhere Clinic")
    MembershipFactory(user=user, program=ProgramFactory(institution="Elsewhere Clinic"), role=Membership.Role.MENTOR)
    return user


# --- the API ----------------------------------------------------------------------------------------------------------

EVERY_FIELD = {
    "source": "live_scan",
    "categories": ["safety"],
    "field_strength": "3T",
    "vendor": "philips",
    "contrast_agent": "gbca_macrocyclic",
    "stress_agent": "adenosine",
    "cardiac_device": "icd",
    "congenital": False,
    "paediatric": True,
    "sedation": "sedation",
    "sequences": ["lge", "cine", "stress_perfusion"],
    "diagnosis": "ihd-ischaemia",
}


def test_api_creates_and_reads_every_clinical_field(enrollment, trainee, mentor, director):
    payload = _entry_payload(mentor, **EVERY_FIELD, stress_supervisor=director.pk)

    response = api_as(trainee).post(URL, payload, format="json")

    assert response.status_code == 201, response.content
    created = response.json()
    case = Case.objects.get(reference="API-0001")
    expected = {
        **{name: value for name, value in EVERY_FIELD.items() if name not in ("source", "categories", "sequences")},
        "stress_supervisor": director.pk,
        # Stored and returned in the list's order, whatever order they were sent in.
        "sequences": ["cine", "lge", "stress_perfusion"],
        "diagnosis_taxonomy": TAXONOMY,
        "technique_tags": [],
    }
    for name, value in expected.items():
        assert created[name] == value, name
        stored = case.stress_supervisor_id if name == "stress_supervisor" else getattr(case, name)
        assert stored == value, name
    # The ticked topic and the diagnosis' own topics.
    assert sorted(created["categories"]) == _topics(case) == ["infarction-viability", "pharmacologic-stress", "safety"]
    assert api_as(trainee).get(f"{URL}{created['id']}/").json() == created


def test_api_defaults_leave_the_clinical_fields_not_recorded(enrollment, trainee, mentor):
    response = api_as(trainee).post(URL, _entry_payload(mentor), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["field_strength"] == "1.5T"
    for name in ("vendor", "contrast_agent", "stress_agent", "cardiac_device", "sedation", "diagnosis"):
        assert body[name] == "", name
    assert (body["stress_supervisor"], body["congenital"], body["paediatric"], body["sequences"]) == (
        None,
        False,
        False,
        [],
    )
    assert body["diagnosis_taxonomy"] == ""


def test_api_a_diagnosis_is_enough_without_topics_and_marks_a_congenital_case(enrollment, trainee, mentor):
    payload = _entry_payload(mentor, categories=[], diagnosis="tetralogy")

    response = api_as(trainee).post(URL, payload, format="json")

    assert response.status_code == 201, response.content
    assert sorted(response.json()["categories"]) == ["congenital", "flow", "ventricular-function"]
    assert response.json()["congenital"] is True


@pytest.mark.parametrize(
    "overrides,field",
    [
        ({"sequences": ["cine", "t9_mapping"]}, "sequences"),
        ({"sequences": "cine"}, "sequences"),
        ({"diagnosis": "broken-heart"}, "diagnosis"),
        ({"vendor": "acme"}, "vendor"),
        ({"field_strength": "7T"}, "field_strength"),
        ({"contrast_agent": "gadolinium"}, "contrast_agent"),
        ({"stress_agent": "caffeine"}, "stress_agent"),
        ({"cardiac_device": "lvad"}, "cardiac_device"),
        ({"sedation": "hypnosis"}, "sedation"),
        # A live-scan stress study names who supervised it in person.
        ({"source": "live_scan", "stress_agent": "regadenoson"}, "stress_supervisor"),
        # Free-text techniques are read-only now; the sequences are the way in.
        ({"technique_tags": ["LGE"]}, "technique_tags"),
        # Neither a topic nor a diagnosis.
        ({"categories": []}, "categories"),
    ],
)
def test_api_refuses_unknown_codes_and_saves_nothing(enrollment, trainee, mentor, overrides, field):
    before = _row_counts()

    response = api_as(trainee).post(URL, _entry_payload(mentor, **overrides), format="json")

    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert _row_counts() == before


@pytest.mark.parametrize("who", ["foreign_mentor", "trainee", "other_trainee", "outsider"])
def test_api_stress_supervisor_is_a_mentor_or_director_of_the_program(
    request, enrollment, trainee, mentor, other_enrollment, who
):
    stranger = request.getfixturevalue(who)
    before = _row_counts()
    payload = _entry_payload(mentor, source="live_scan", stress_agent="dobutamine", stress_supervisor=stranger.pk)

    response = api_as(trainee).post(URL, payload, format="json")

    assert response.status_code == 400, response.content
    assert list(response.json()) == ["stress_supervisor"]
    assert _row_counts() == before


@pytest.mark.parametrize("who", ["mentor", "director", "second_mentor"])
def test_api_stress_supervisor_may_be_any_mentor_or_the_director(request, enrollment, trainee, mentor, who):
    # `second_mentor` mentors another trainee of the program: supervising a stress study is not reviewing the case.
    supervisor = request.getfixturevalue(who)
    payload = _entry_payload(mentor, source="live_scan", stress_agent="adenosine", stress_supervisor=supervisor.pk)

    response = api_as(trainee).post(URL, payload, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["stress_supervisor"] == supervisor.pk


def test_a_live_stress_study_needs_its_supervisor_once_and_a_second_trainee_need_not_repeat_it(
    enrollment, trainee, mentor, director, other_enrollment, other_trainee
):
    missing = _entry_payload(mentor, reference="LIVE-STRESS-1", source="live_scan", stress_agent="adenosine")
    response = api_as(trainee).post(URL, missing, format="json")
    assert response.status_code == 400 and list(response.json()) == ["stress_supervisor"]

    first = {**missing, "stress_supervisor": director.pk}
    assert api_as(trainee).post(URL, first, format="json").status_code == 201

    # Another trainee of the program logs the same study: the case already says who supervised it.
    other_enrollment.mentors.add(mentor)
    response = api_as(other_trainee).post(URL, missing, format="json")
    assert response.status_code == 201, response.content
    assert Case.objects.get(reference="LIVE-STRESS-1").stress_supervisor == director


def test_api_blind_review_hides_the_coded_diagnosis_too(blind_program, enrollment, mentor):
    entry = _with_read(enrollment, mentor, case__diagnosis="amyloidosis", case__vendor="ge")

    body = api_as(mentor).get(f"{URL}{entry.pk}/").json()

    assert body["diagnosis"] is None and body["final_diagnosis"] is None
    assert body["vendor"] == "ge"  # what the study was is not the trainee's read


def test_openapi_documents_the_clinical_fields():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]
    operation = schema["paths"]["/api/v1/case-logs/"]["post"]
    content = operation["requestBody"]["content"]["application/json"]
    create = components[content["schema"]["$ref"].split("/")[-1]]["properties"]
    # A plain id, resolved by the service within the program (tests/test_foreign_ids.py sends other programs' ids).
    assert create["stress_supervisor"]["type"] == "integer"
    assert create["sequences"]["type"] == "array"
    assert set(Case.CLINICAL_FIELDS) <= set(create)
    assert "technique_tags" not in create
    read = components["CaseLogEntry"]["properties"]
    assert set(Case.CLINICAL_FIELDS) <= set(read)
    assert read["technique_tags"]["readOnly"] is True
    example = next(iter(content["examples"].values()))["value"]
    assert set(example["sequences"]) <= cmr.SEQUENCE_CODES and cmr.diagnosis(example["diagnosis"])
    assert "technique_tags" not in example


# --- the import -------------------------------------------------------------------------------------------------------


def _row(n: int = 1, **overrides) -> dict:
    row = {
        "date": _day(10 + n).isoformat(),
        "reference": f"CLIN-{n:04d}",
        "source": "center_archive",
        "categories": "cardiomyopathy",
        "roles": "interpreted",
        "delivery": "in_person",
        "supervising_mentor": "mentor@example.test",
        "impression": "Read.",
    }
    return {**row, **overrides}


def _csv(rows: list[dict]) -> bytes:
    names = list(dict.fromkeys(name for row in rows for name in row))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=names, lineterminator="\r\n", restval="")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def _import(trainee, enrollment, rows, *, dry_run: bool = False) -> importing.ImportReport:
    parsed = importing.read_csv(rows if isinstance(rows, bytes) else _csv(rows))
    return importing.run_import(actor=trainee, enrollment=enrollment, parsed=parsed, dry_run=dry_run)


def _errors(report) -> dict[int, list[str]]:
    return {row.line: sorted(column for column, _ in row.errors) for row in report.error_rows}


def test_import_reads_every_clinical_field_by_code(trainee, enrollment, director):
    row = _row(
        source="live_scan",
        diagnosis="hcm",
        diagnosis_taxonomy=TAXONOMY,
        field_strength="3T",
        vendor="siemens",
        contrast_agent="gbca_linear",
        stress_agent="adenosine",
        stress_supervisor="director@example.test",
        cardiac_device="pacemaker",
        congenital="no",
        paediatric="yes",
        sedation="general",
        sequences="t1_mapping;cine;lge",
    )

    report = _import(trainee, enrollment, [row])

    assert report.ok and report.committed, _errors(report)
    case = CaseLogEntry.objects.get(enrollment=enrollment).case
    assert (case.field_strength, case.vendor, case.contrast_agent) == ("3T", "siemens", "gbca_linear")
    assert (case.stress_agent, case.stress_supervisor, case.cardiac_device) == ("adenosine", director, "pacemaker")
    assert (case.congenital, case.paediatric, case.sedation) == (False, True, "general")
    assert case.sequences == ["cine", "lge", "t1_mapping"]
    assert (case.diagnosis, case.diagnosis_taxonomy) == ("hcm", TAXONOMY)
    assert _topics(case) == ["cardiomyopathy", "fibrosis-edema", "ventricular-function"]


def test_import_reads_labels_in_any_case(trainee, enrollment, mentor):
    row = _row(
        categories="",
        diagnosis="hypertrophic CARDIOMYOPATHY",
        field_strength="3 t",
        vendor="Siemens Healthineers",
        contrast_agent="Gadolinium, macrocyclic",
        stress_agent="Dobutamine",
        stress_supervisor="MENTOR@Example.test",
        cardiac_device="implantable loop recorder",
        congenital="TRUE",
        paediatric="1",
        sedation="General anaesthesia",
        sequences="Cine (SSFP); late gadolinium enhancement ;T2-weighted / STIR;ECV",
    )

    report = _import(trainee, enrollment, [row])

    assert report.ok, _errors(report)
    case = CaseLogEntry.objects.get(enrollment=enrollment).case
    assert (case.diagnosis, case.field_strength, case.vendor) == ("hcm", "3T", "siemens")
    assert (case.contrast_agent, case.stress_agent, case.stress_supervisor) == (
        "gbca_macrocyclic",
        "dobutamine",
        mentor,
    )
    assert (case.cardiac_device, case.congenital, case.paediatric) == ("loop_recorder", True, True)
    assert case.sedation == "general"
    assert case.sequences == ["cine", "lge", "ecv", "t2_weighted"]
    # No topic in the file: the diagnosis brought its own.
    assert _topics(case) == ["cardiomyopathy", "fibrosis-edema", "ventricular-function"]


def test_import_reads_the_legacy_technique_tags_as_sequences(trainee, enrollment):
    rows = [
        _row(1, technique_tags="LGE;T1 mapping;STIR;flow"),
        _row(2, technique_tags="cine", sequences="4d_flow;cine"),
    ]

    report = _import(trainee, enrollment, rows)

    assert report.ok, _errors(report)
    cases = {e.case.reference: e.case for e in CaseLogEntry.objects.filter(enrollment=enrollment)}
    assert cases["CLIN-0001"].sequences == ["lge", "t1_mapping", "t2_weighted", "phase_contrast"]
    assert cases["CLIN-0002"].sequences == ["cine", "4d_flow"]
    # The free text is read, not kept: the sequences replaced it.
    assert cases["CLIN-0001"].technique_tags == []


def test_empty_clinical_cells_are_not_recorded(trainee, enrollment):
    row = {
        **_row(),
        **{name: "" for name in ("diagnosis", "field_strength", "vendor", "stress_supervisor", "congenital")},
        "sequences": " ; ",
    }

    report = _import(trainee, enrollment, [row])

    assert report.ok, _errors(report)
    case = CaseLogEntry.objects.get(enrollment=enrollment).case
    assert (case.field_strength, case.vendor, case.diagnosis, case.diagnosis_taxonomy) == ("1.5T", "", "", "")
    assert (case.stress_supervisor, case.congenital, case.sequences) == (None, False, [])


def test_each_bad_clinical_cell_is_reported_on_its_line_and_nothing_is_saved(
    trainee, enrollment, foreign_mentor, director
):
    rows = [
        _row(1, vendor="Acme"),  # line 2
        _row(2, diagnosis="broken heart"),  # line 3
        _row(3, sequences="cine;T9 mapping"),  # line 4
        _row(4, technique_tags="LGE;magic sequence"),  # line 5
        _row(5, source="live_scan", stress_agent="adenosine", stress_supervisor=foreign_mentor.email),  # line 6
        _row(6, source="live_scan", stress_agent="adenosine"),  # line 7: nobody supervised it (the service says so)
        _row(7, congenital="maybe", paediatric="sometimes"),  # line 8
        _row(8, field_strength="7T", sedation="hypnosis"),  # line 9
        _row(9, categories="", diagnosis=""),  # line 10: neither a topic nor a diagnosis
        _row(10, diagnosis="hcm", diagnosis_taxonomy="cmr-diagnoses v2"),  # line 11: coded in another version
        _row(11, contrast_agent="gadolinium", stress_agent="caffeine", cardiac_device="lvad"),  # line 12
        _row(12, source="live_scan", stress_agent="adenosine", stress_supervisor=director.email),  # line 13: fine
    ]
    before = _row_counts()

    report = _import(trainee, enrollment, rows)

    assert _errors(report) == {
        2: ["vendor"],
        3: ["diagnosis"],
        4: ["sequences"],
        5: ["technique_tags"],
        6: ["stress_supervisor"],
        7: ["stress_supervisor"],
        8: ["congenital", "paediatric"],
        9: ["field_strength", "sedation"],
        10: ["categories"],
        11: ["diagnosis_taxonomy"],
        12: ["cardiac_device", "contrast_agent", "stress_agent"],
    }
    assert report.rows[-1].action == "create"
    assert not report.committed
    assert _row_counts() == before
    messages = {row.line: " ".join(m for _, m in row.errors) for row in report.error_rows}
    assert "Unknown sequence “T9 mapping”" in messages[4]
    assert "Unknown technique “magic sequence”" in messages[5]
    assert foreign_mentor.email in messages[6]


def test_the_template_shows_every_clinical_column_and_imports_cleanly(trainee, enrollment):
    header, example = list(csv.reader(io.StringIO(importing.template_csv(enrollment))))
    assert set(Case.CLINICAL_FIELDS) <= set(header)
    cells = dict(zip(header, example, strict=True))
    assert cells["sequences"] and cells["diagnosis"] and not cells["technique_tags"]

    report = _import(trainee, enrollment, importing.template_csv(enrollment).encode(), dry_run=True)

    assert report.ok and report.created_count == 1, _errors(report)


# --- the idempotency key ----------------------------------------------------------------------------------------------


def _legacy_key(row: dict, mentor) -> str:
    """The key as the import computed it before the clinical fields existed, spelled out."""
    normalized = {
        "date": row["date"],
        "reference": row["reference"].casefold(),
        "source": row["source"],
        "complete_study": True,
        "categories": ["cardiomyopathy"],
        "technique_tags": ["lge", "t1 mapping"],
        "roles": ["interpreted"],
        "delivery": "in_person",
        "supervising_mentor": mentor.email,
        "lvef": None,
        "lv_edvi": None,
        "lge_pattern": "",
        "indication": "",
        "findings": "",
        "impression": "Read.",
        "key_measurements": "",
        "final_diagnosis": "",
    }
    return hashlib.sha256(json.dumps(normalized, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def test_a_row_without_clinical_fields_keeps_its_legacy_key(trainee, enrollment, mentor):
    """A file imported before the clinical fields existed is recognised again: its rows' keys did not change — our
    earlier export's field_strength column (always 1.5T, and ignored then) and technique tags included."""
    row = _row(technique_tags="LGE;T1 mapping", field_strength="1.5T")

    assert _import(trainee, enrollment, [row]).created_count == 1

    entry = CaseLogEntry.objects.get(enrollment=enrollment)
    assert entry.import_key == _legacy_key(row, mentor)
    again = _import(trainee, enrollment, [{k: v for k, v in row.items() if k != "field_strength"}])
    assert (again.created_count, again.skipped_count) == (0, 1)


@pytest.mark.parametrize(
    "change",
    [
        {"field_strength": "3T"},
        {"vendor": "ge"},
        {"contrast_agent": "none"},
        {"stress_agent": "none"},
        {"stress_supervisor": "director@example.test"},
        {"cardiac_device": "none"},
        {"congenital": "yes"},
        {"paediatric": "yes"},
        {"sedation": "none"},
        {"sequences": "cine"},
        {"diagnosis": "normal"},
    ],
)
def test_a_row_that_records_one_more_clinical_field_is_another_row(trainee, enrollment, director, change):
    assert _import(trainee, enrollment, [_row()]).created_count == 1

    report = _import(trainee, enrollment, [_row(**change)])

    assert (report.created_count, report.skipped_count) == (1, 0), _errors(report)


def test_other_spellings_of_the_same_clinical_row_are_the_same_row(trainee, enrollment, director):
    first = _row(
        vendor="siemens",
        sequences="cine;lge",
        technique_tags="T1",
        diagnosis="tetralogy",
        stress_supervisor=director.email,
    )
    assert _import(trainee, enrollment, [first]).created_count == 1

    same = _row(
        vendor="Siemens Healthineers",
        sequences="Late gadolinium enhancement; cine ;lge",
        technique_tags="t1",
        diagnosis="repaired TETRALOGY of fallot",
        congenital="yes",  # what the congenital diagnosis implies anyway
        stress_supervisor=director.email.upper(),
        field_strength="1.5 T",
    )
    report = _import(trainee, enrollment, [same])

    assert (report.created_count, report.skipped_count) == (0, 1), _errors(report)


# --- the export -------------------------------------------------------------------------------------------------------


def test_export_carries_every_clinical_field_as_the_import_reads_it(client, trainee, enrollment, mentor, director):
    EntryFactory(
        enrollment=enrollment,
        supervising_mentor=mentor,
        case__reference="EXP-1",
        case__field_strength="3T",
        case__vendor="canon",
        case__contrast_agent="ferumoxytol",
        case__stress_agent="regadenoson",
        case__stress_supervisor=director,
        case__cardiac_device="crt",
        case__congenital=True,
        case__paediatric=True,
        case__sedation="sedation",
        case__sequences=["cine", "stress_perfusion"],
        case__diagnosis="shunt",
        case__diagnosis_taxonomy=TAXONOMY,
        case__technique_tags=["cine", "something legacy"],
    )
    client.force_login(trainee)

    (row,) = csv.DictReader(io.StringIO(client.get(reverse("cases_io:export_csv")).content.decode("utf-8-sig")))
    (record,) = json.loads(client.get(reverse("cases_io:export_json")).content)["entries"]

    expected = {
        "field_strength": "3T",
        "vendor": "canon",
        "contrast_agent": "ferumoxytol",
        "stress_agent": "regadenoson",
        "stress_supervisor": "director@example.test",
        "cardiac_device": "crt",
        "sedation": "sedation",
        "diagnosis": "shunt",
        "diagnosis_taxonomy": TAXONOMY,
    }
    for name, value in expected.items():
        assert row[name] == record[name] == value, name
    assert (row["congenital"], row["paediatric"], row["sequences"]) == ("yes", "yes", "cine;stress_perfusion")
    assert (record["congenital"], record["paediatric"], record["sequences"]) == (
        True,
        True,
        ["cine", "stress_perfusion"],
    )
    # The legacy free text is not exported: the sequences replaced it, and the import would refuse an unknown tag.
    assert "technique_tags" not in row and "technique_tags" not in record
    assert set(exporting.COLUMNS) >= set(Case.CLINICAL_FIELDS)


def test_export_of_a_case_without_clinical_fields(client, trainee, enrollment, mentor):
    EntryFactory(enrollment=enrollment, supervising_mentor=mentor)
    client.force_login(trainee)

    (record,) = json.loads(client.get(reverse("cases_io:export_json")).content)["entries"]

    assert record["stress_supervisor"] is None and record["sequences"] == [] and record["diagnosis"] == ""
    assert record["field_strength"] == "1.5T"


# --- the round trip: export from one program, import into another ------------------------------------------------------
#
# What is fair to ask of it: a trainee's export, imported by a trainee of ANOTHER program (so that every case is new
# there, and nothing is found in place), gives entries equal field by field to the exported ones — the case (reference,
# source, indication, topics, every clinical field and the taxonomy version) and the entry (date, roles, delivery,
# supervising mentor, the read). People travel by e-mail, so the mentor and the stress supervisors must hold a role in
# the new program too: the same mentor mentors the new trainee there, and the same director directs it. What is not
# carried over, by design: the status and everything of the review (an import makes drafts that the new program's
# mentor reviews), the session (a session belongs to its program), the ids. The JSON export comes back the way a
# script would bring it: its records written as CSV rows (lists joined by ;, booleans yes/no, null as empty).

CASE_FIELDS = ["reference", "source", "complete_study", "indication", *Case.CLINICAL_FIELDS, "diagnosis_taxonomy"]
ENTRY_FIELDS = [
    "performed_on",
    *CaseLogEntry.ROLE_FIELDS,
    "delivery",
    "supervising_mentor",
    "findings",
    "impression",
    "key_measurements",
    *CaseLogEntry.READ_FIELDS,
]


def _log_study(trainee, enrollment, mentor, reference: str, days_ago: int, categories=(), **fields) -> CaseLogEntry:
    entry_fields = {
        "performed_on": _day(days_ago),
        "delivery": CaseLogEntry.Delivery.IN_PERSON,
        "supervising_mentor": mentor,
        "impression": f"Impression of {reference}.",
        "interpreted": True,
    }
    return services.entry_create(
        actor=trainee,
        enrollment=enrollment,
        reference=reference,
        source=fields.pop("source", Case.Source.CENTER_ARCHIVE),
        complete_study=fields.pop("complete_study", True),
        indication=fields.pop("indication", ""),
        categories=list(Category.objects.filter(slug__in=categories)),
        **{**entry_fields, **fields},
    )


@pytest.fixture
def exported_log(trainee, enrollment, mentor, director):
    """Studies with every clinical field set, some set in part, one with none: logged through the service."""
    _log_study(
        trainee,
        enrollment,
        mentor,
        "TRIP-STRESS",
        20,
        source=Case.Source.LIVE_SCAN,
        indication="Chest pain on exertion",
        field_strength="3T",
        vendor="siemens",
        contrast_agent="gbca_macrocyclic",
        stress_agent="adenosine",
        stress_supervisor=director,
        cardiac_device="icd",
        paediatric=False,
        sedation="none",
        sequences=["stress_perfusion", "cine", "lge"],
        diagnosis="ihd-ischaemia",  # no topic ticked: the diagnosis brings them
        primary_operator=True,
        lvef=52,
        lv_edvi=80,
        lge_pattern="subendocardial",
        final_diagnosis="Inducible inferior ischaemia",
        findings="=Perfusion defect inferior wall",  # a formula-like cell: escaped in the CSV, read back plain
        key_measurements="LVEF 52%; ischaemic burden 3/16 segments",
    )
    _log_study(
        trainee,
        enrollment,
        mentor,
        "TRIP-CHD",
        15,
        categories=["safety"],
        source=Case.Source.REGISTRY,
        field_strength="other",
        vendor="philips",
        contrast_agent="ferumoxytol",
        stress_agent="dobutamine",
        stress_supervisor=mentor,
        cardiac_device="pacemaker",
        paediatric=True,
        sedation="general",
        sequences=["phase_contrast", "4d_flow", "cine"],
        diagnosis="tetralogy",  # congenital by its group
        delivery=CaseLogEntry.Delivery.ASYNCHRONOUS,
        interpreted=True,
        post_processed=True,
        findings="RV dilated after repair.\nPulmonary regurgitation 35%.",
    )
    _log_study(
        trainee,
        enrollment,
        mentor,
        "TRIP-PART",
        10,
        categories=["valvular", "flow"],
        vendor="ge",
        sequences=["phase_contrast"],
        complete_study=False,
    )
    _log_study(trainee, enrollment, mentor, "TRIP-NONE", 5, categories=["cardiomyopathy"], observed_remotely=True)
    return list(CaseLogEntry.objects.filter(enrollment=enrollment).order_by("performed_on"))


@pytest.fixture
def elsewhere(mentor, director):
    """A second trainee in a program of their own, which the same director directs and the same mentor mentors in."""
    program = ProgramFactory(director=director, name="Second Program")
    MembershipFactory(user=mentor, program=program, role=Membership.Role.MENTOR)
    return EnrollmentFactory(program=program, mentors=[mentor])


def _as_csv_rows(records: list[dict]) -> bytes:
    def cell(value) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, list):
            return ";".join(value)
        return str(value)

    return _csv([{name: cell(value) for name, value in record.items()} for record in records])


def _snapshot(entry: CaseLogEntry) -> dict:
    case = entry.case
    return {
        **{f"case.{name}": getattr(case, name) for name in CASE_FIELDS},
        "case.categories": _topics(case),
        **{name: getattr(entry, name) for name in ENTRY_FIELDS},
    }


@pytest.mark.parametrize("kind", ["csv", "json"])
def test_round_trip_into_another_program_gives_equal_entries(client, trainee, exported_log, elsewhere, kind):
    client.force_login(trainee)
    if kind == "csv":
        content = client.get(reverse("cases_io:export_csv")).content
    else:
        document = json.loads(client.get(reverse("cases_io:export_json")).content)
        content = _as_csv_rows(document["entries"])

    report = _import(elsewhere.trainee, elsewhere, content)

    assert report.ok and report.committed and report.created_count == len(exported_log), _errors(report)
    # The export's own columns that an import does not take (the review, the program) are named, not silently lost.
    assert set(report.ignored_columns) == {
        "status",
        "submitted_at",
        "signed_at",
        "signed_by",
        "mentor_feedback",
        "program",
    }
    imported = list(CaseLogEntry.objects.filter(enrollment=elsewhere).order_by("performed_on"))
    assert {e.case.program_id for e in imported} == {elsewhere.program_id}
    assert not {e.case_id for e in imported} & {e.case_id for e in exported_log}  # new cases, nothing found in place
    for original, copy in zip(exported_log, imported, strict=True):
        assert _snapshot(copy) == _snapshot(original), original.case.reference
        assert copy.status == CaseLogEntry.Status.DRAFT
    # Every field was exercised: it takes more than one value across the studies (set on one, blank on another).
    snapshots = [_snapshot(e) for e in exported_log]
    for name in Case.CLINICAL_FIELDS:
        assert len({repr(s[f"case.{name}"]) for s in snapshots}) > 1, name

    again = _import(elsewhere.trainee, elsewhere, content)
    assert (again.created_count, again.skipped_count) == (0, len(exported_log))


# --- the web form -----------------------------------------------------------------------------------------------------


def test_form_stores_the_diagnosis_topics_when_no_topic_is_ticked(trainee, enrollment, mentor):
    data = _entry_form_data(mentor, categories=[], diagnosis="myocarditis", field_strength="3T")

    response = web(trainee).post(reverse("cases:create"), data)

    assert response.status_code == 302, response.context["form"].errors if response.context else response
    case = CaseLogEntry.objects.get(enrollment=enrollment).case
    assert _topics(case) == ["cardiomyopathy", "fibrosis-edema"]
    assert (case.diagnosis, case.diagnosis_taxonomy, case.field_strength) == ("myocarditis", TAXONOMY, "3T")


def test_form_without_a_topic_or_a_diagnosis_is_refused(trainee, enrollment, mentor):
    response = web(trainee).post(reverse("cases:create"), _entry_form_data(mentor, categories=[], field_strength="3T"))

    assert response.status_code == 400
    assert response.context["form"].errors["categories"]
    assert not CaseLogEntry.objects.exists()


def test_form_stores_every_clinical_field(trainee, enrollment, mentor, director):
    data = _entry_form_data(
        mentor,
        source="live_scan",
        field_strength="3T",
        vendor="united_imaging",
        contrast_agent="gbca_linear",
        stress_agent="regadenoson",
        stress_supervisor=director.pk,
        cardiac_device="crt",
        congenital="on",
        paediatric="on",
        sedation="sedation",
        sequences=["cine", "stress_perfusion"],
        diagnosis="ihd-ischaemia",
    )

    response = web(trainee).post(reverse("cases:create"), data)

    assert response.status_code == 302, response.context["form"].errors if response.context else response
    case = CaseLogEntry.objects.get(enrollment=enrollment).case
    assert [getattr(case, name) for name in Case.CLINICAL_FIELDS] == [
        "3T",
        "united_imaging",
        "gbca_linear",
        "regadenoson",
        director,
        "crt",
        True,
        True,
        "sedation",
        ["cine", "stress_perfusion"],
        "ihd-ischaemia",
    ]


def test_next_new_entry_form_starts_from_the_last_scanner_and_protocol(trainee, enrollment, mentor, director):
    data = _entry_form_data(
        mentor,
        field_strength="3T",
        vendor="ge",
        contrast_agent="gbca_macrocyclic",
        sequences=["cine", "lge", "t1_mapping"],
        stress_agent="adenosine",
        stress_supervisor=director.pk,
        diagnosis="hcm",
    )
    assert web(trainee).post(reverse("cases:create"), data).status_code == 302

    form = web(trainee).get(reverse("cases:create")).context["form"]

    assert form["field_strength"].value() == "3T"
    assert form["vendor"].value() == "ge"
    assert form["contrast_agent"].value() == "gbca_macrocyclic"
    assert form["sequences"].value() == ["cine", "lge", "t1_mapping"]
    # What was particular to that study is not carried over.
    assert not form["stress_agent"].value() and not form["stress_supervisor"].value()
    assert not form["diagnosis"].value()
