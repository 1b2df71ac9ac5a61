"""Case-log import (dry run, per-row errors with line numbers, all or nothing, no duplicates) and export (the
trainee's own full log as CSV and JSON)."""

import csv
import datetime
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from cases import exporting, importing
from cases.models import Case, CaseLogEntry
from programs.models import Membership
from trainees.models import Enrollment
from trainingportal.core.models import AuditEvent

from ..factories import EnrollmentFactory, EntryFactory, MembershipFactory, ProgramFactory, UserFactory
from ..queries import assert_query_count_flat

pytestmark = pytest.mark.django_db

IMPORT = reverse("cases_io:import")
Status = CaseLogEntry.Status


def _day(days_ago: int) -> str:
    return (timezone.localdate() - datetime.timedelta(days=days_ago)).isoformat()


def _row(n: int = 1, **overrides) -> dict:
    row = {
        "date": _day(10 + n),
        "reference": f"PRIOR-{n:04d}",
        "source": "registry",
        "complete_study": "yes",
        "indication": "Suspected myocarditis",
        "categories": "cardiomyopathy;fibrosis-edema",
        "technique_tags": "LGE;T1 mapping",
        "roles": "interpreted;post_processed",
        "delivery": "in_person",
        "supervising_mentor": "mentor@example.test",
        "findings": "Patchy mid-wall LGE in the basal inferolateral wall.",
        "impression": "Acute myocarditis.",
        "key_measurements": "LVEF 48%, LV EDVi 96 ml/m²",
        "lvef": "48",
        "lv_edvi": "96",
        "lge_pattern": "mid_wall",
        "final_diagnosis": "Acute myocarditis",
    }
    row.update(overrides)
    return row


def _csv(rows: list[dict], *, delimiter: str = ",", bom: bool = False) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), delimiter=delimiter, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return ("\ufeff" if bom else "").encode() + out.getvalue().encode("utf-8")


def _upload(client, content: bytes, name: str = "prior-log.csv"):
    return client.post(IMPORT, {"action": "check", "file": SimpleUploadedFile(name, content, content_type="text/csv")})


def _confirm(client, dry_run, **extra):
    return client.post(IMPORT, {"action": "confirm", "token": dry_run.context["token"], **extra})


def _counts() -> tuple[int, int]:
    return Case.objects.count(), CaseLogEntry.objects.count()


def _errors(response) -> dict[int, list[str]]:
    """Line → the columns with a problem, from the dry-run report."""
    return {row.line: [column for column, _ in row.errors] for row in response.context["report"].error_rows}


@pytest.fixture
def trainee_client(client, trainee, enrollment):
    client.force_login(trainee)
    return client


# --- export


def _exported_csv(client) -> list[dict]:
    response = client.get(reverse("cases_io:export_csv"))
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_export_csv_has_only_the_trainees_own_entries_across_enrollments(
    trainee_client, trainee, enrollment, mentor, other_enrollment
):
    earlier = EnrollmentFactory(trainee=trainee, status=Enrollment.Status.COMPLETED, program=ProgramFactory())
    EntryFactory(enrollment=enrollment, supervising_mentor=mentor, case__reference="MINE-DRAFT")
    EntryFactory(enrollment=enrollment, supervising_mentor=mentor, case__reference="MINE-SIGNED", signed=True)
    EntryFactory(enrollment=earlier, case__reference="MINE-EARLIER", submitted=True)
    EntryFactory(enrollment=other_enrollment, supervising_mentor=mentor, case__reference="NOT-MINE", signed=True)

    response = trainee_client.get(reverse("cases_io:export_csv"))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="case-log-{timezone.localdate()}.csv"'
    rows = _exported_csv(trainee_client)
    assert sorted(r["reference"] for r in rows) == ["MINE-DRAFT", "MINE-EARLIER", "MINE-SIGNED"]
    assert list(rows[0]) == exporting.COLUMNS
    signed = next(r for r in rows if r["reference"] == "MINE-SIGNED")
    assert signed["status"] == "signed"
    assert signed["signed_by"] == "mentor@example.test"
    assert signed["supervising_mentor"] == "mentor@example.test"
    assert signed["categories"] == "cardiomyopathy"
    assert signed["roles"] == "interpreted"
    assert signed["mentor_feedback"] == "Good read."
    assert signed["program"] == enrollment.program.name
    assert signed["signed_at"]


def test_export_json_has_only_the_trainees_own_entries(trainee_client, trainee, enrollment, mentor, other_enrollment):
    EntryFactory(
        enrollment=enrollment, supervising_mentor=mentor, case__reference="MINE-1", lvef=55, lge_pattern="none"
    )
    EntryFactory(enrollment=other_enrollment, supervising_mentor=mentor, case__reference="NOT-MINE")

    response = trainee_client.get(reverse("cases_io:export_json"))
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="case-log-{timezone.localdate()}.json"'
    document = json.loads(response.content)
    assert document["trainee"]["email"] == trainee.email
    assert [e["reference"] for e in document["entries"]] == ["MINE-1"]
    entry = document["entries"][0]
    assert set(entry) == set(exporting.COLUMNS)
    assert entry["categories"] == ["cardiomyopathy"]
    assert entry["roles"] == ["interpreted"]
    assert entry["lvef"] == 55 and entry["lv_edvi"] is None
    assert entry["status"] == "draft" and entry["signed_by"] is None


@pytest.mark.parametrize("name", ["cases_io:export_csv", "cases_io:export_json"])
def test_export_uses_a_constant_number_of_queries(trainee_client, enrollment, mentor, name):
    def log(n: int) -> None:
        EntryFactory.create_batch(n, enrollment=enrollment, supervising_mentor=mentor, signed=True)

    log(3)
    # session, user, "must this user set up MFA" (director membership; the MFA middleware), "is a trainee"
    # (enrollment exists), entries with case/program/mentor/signer, case topics
    assert_query_count_flat(trainee_client, reverse(name), lambda: log(27), expected=6)


def test_export_csv_guards_against_formula_injection(trainee_client, enrollment, mentor):
    EntryFactory(
        enrollment=enrollment,
        supervising_mentor=mentor,
        case__indication="\tindented",
        findings='=HYPERLINK("http://evil.example","x")',
        impression="+1 impression",
        key_measurements="-5 ms shift",
        final_diagnosis="@SUM(A1)",
        signed=True,
        mentor_feedback="\rcarriage",
    )
    (row,) = _exported_csv(trainee_client)
    assert row["findings"] == '\'=HYPERLINK("http://evil.example","x")'
    assert row["impression"] == "'+1 impression"
    assert row["key_measurements"] == "'-5 ms shift"
    assert row["final_diagnosis"] == "'@SUM(A1)"
    assert row["indication"] == "'\tindented"
    assert row["mentor_feedback"].startswith("'\r")
    # The JSON export is data, not a spreadsheet: the values stay as typed.
    entry = json.loads(trainee_client.get(reverse("cases_io:export_json")).content)["entries"][0]
    assert entry["findings"].startswith("=HYPERLINK")


# --- import: the file as a whole


def test_import_page_explains_the_flow(trainee_client):
    response = trainee_client.get(IMPORT)
    assert response.status_code == 200
    page = response.content.decode()
    assert "drafts" in page
    assert reverse("cases_io:import_template") in page
    assert reverse("cases_io:export_csv") in page and reverse("cases_io:export_json") in page


def test_template_has_the_header_and_an_example_row_that_imports_cleanly(trainee_client):
    response = trainee_client.get(reverse("cases_io:import_template"))
    assert response["Content-Disposition"] == 'attachment; filename="case-log-import-template.csv"'
    header, example = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert header == importing.COLUMN_NAMES
    assert dict(zip(header, example, strict=True))["supervising_mentor"] == "mentor@example.test"

    dry_run = _upload(trainee_client, response.content)
    assert dry_run.context["report"].ok
    assert dry_run.context["report"].created_count == 1


def test_file_over_2_mb_is_refused_with_a_clear_message(trainee_client):
    content = _csv([_row()]) + b"#" * (importing.MAX_BYTES + 1)
    response = _upload(trainee_client, content)
    assert response.status_code == 400
    assert "The file is larger than 2 MB" in response.content.decode()
    assert "report" not in response.context
    assert "cases_io_import" not in trainee_client.session


def test_non_utf8_file_is_refused_with_a_clear_message(trainee_client):
    content = _csv([_row(findings="Café")]).decode().encode("latin-1")
    response = _upload(trainee_client, content)
    assert "The file is not UTF-8 text" in response.content.decode()
    assert "CSV UTF-8" in response.content.decode()
    assert "report" not in response.context


def test_utf8_with_a_byte_order_mark_and_semicolons_is_accepted(trainee_client):
    response = _upload(trainee_client, _csv([_row(1), _row(2)], delimiter=";", bom=True))
    report = response.context["report"]
    assert report.ok, report.error_rows
    assert report.created_count == 2


def test_files_with_too_many_rows_are_refused(trainee_client, monkeypatch):
    monkeypatch.setattr(importing, "MAX_ROWS", 2)
    response = _upload(trainee_client, _csv([_row(1), _row(2), _row(3)]))
    assert "The file has more than 2 rows" in response.content.decode()


def test_missing_required_columns_are_named(trainee_client):
    rows = [{k: v for k, v in _row().items() if k not in ("roles", "delivery")}]
    response = _upload(trainee_client, _csv(rows))
    assert "lacks the columns roles, delivery" in response.content.decode()


def test_unknown_columns_are_reported_and_ignored(trainee_client):
    response = _upload(trainee_client, _csv([_row(status="signed", Notes="x")]))
    report = response.context["report"]
    assert report.ok
    assert report.ignored_columns == ["status", "Notes"]
    assert "These columns are not imported: status, Notes." in response.content.decode()


# --- import: the dry run


def test_dry_run_reports_each_bad_row_with_its_line_number_and_saves_nothing(trainee_client):
    before = _counts()
    rows = [
        _row(1, findings="First line.\nSecond line of the same cell."),  # lines 2-3: a quoted line break
        _row(2, date="14/03/2024"),  # line 4
        _row(3, categories="cardiomyopathy;cardiac-magic"),  # line 5
        _row(4, supervising_mentor="stranger@example.test"),  # line 6
        _row(5, roles=""),  # line 7
        _row(6, findings="Patient MRN 12345678, dilated LV."),  # line 8
        _row(7, date=_day(-3)),  # line 9: in the future
        _row(8),  # line 10
    ]
    response = _upload(trainee_client, _csv(rows))

    assert response.status_code == 400  # a refused file is a client error, with the per-line errors
    assert _errors(response) == {
        4: ["date"],
        5: ["categories"],
        6: ["supervising_mentor"],
        7: ["roles"],
        8: ["findings"],
        9: ["date"],
    }
    report = response.context["report"]
    assert [r.action for r in report.rows] == ["create", "error", "error", "error", "error", "error", "error", "create"]
    page = response.content.decode()
    assert "6 rows of the file have problems, so nothing can be imported" in page
    assert "“14/03/2024” is not a date written as YYYY-MM-DD" in page
    assert "Unknown curriculum topic “cardiac-magic”" in page
    assert "None of your mentors has the e-mail address “stranger@example.test”" in page
    assert "The findings cell looks like it contains patient identifiers: a medical record number" in page
    assert "The date cannot be in the future." in page
    assert "Line 8" in page
    assert 'value="confirm"' not in page
    assert _counts() == before
    assert "cases_io_import" not in trainee_client.session


def test_phi_guard_applies_to_every_free_text_cell(trainee_client):
    rows = [
        _row(1, indication="Mr Smith, chest pain"),
        _row(2, impression="Call 617-555-0182 with results"),
        _row(3, key_measurements="DOB: 03/04/1956"),
        _row(4, final_diagnosis="Myocarditis, e-mail jo@example.org"),
        _row(5, reference="MRN12345678"),
    ]
    response = _upload(trainee_client, _csv(rows))
    assert _errors(response) == {
        2: ["indication"],
        3: ["impression"],
        4: ["key_measurements"],
        5: ["final_diagnosis"],
        6: ["reference"],
    }


def test_service_rules_apply_to_imported_rows(trainee_client, enrollment):
    """Rules the service owns (date window, LVEF range, reference format) reach the dry run with the column name."""
    too_early = enrollment.start_date.replace(year=enrollment.start_date.year - 6).isoformat()
    rows = [_row(1, date=too_early), _row(2, lvef="140"), _row(3, reference="no spaces allowed")]
    response = _upload(trainee_client, _csv(rows))
    assert _errors(response) == {2: ["date"], 3: ["lvef"], 4: ["reference"]}
    assert "more than five years before the enrollment started" in response.content.decode()


# --- import: confirm


def test_clean_import_creates_drafts(trainee_client, trainee, enrollment, mentor):
    dry_run = _upload(trainee_client, _csv([_row(1), _row(2, delivery="Virtual, live two-way"), _row(3)]))
    assert dry_run.context["report"].created_count == 3
    assert 'value="confirm"' in dry_run.content.decode()

    response = _confirm(trainee_client, dry_run)

    assert response.status_code == 302 and response["Location"] == reverse("cases:list")
    entries = list(enrollment.entries.order_by("case__reference"))
    assert len(entries) == 3
    assert {e.status for e in entries} == {Status.DRAFT}
    first = entries[0]
    assert first.case.reference == "PRIOR-0001" and first.case.source == Case.Source.REGISTRY
    assert sorted(c.slug for c in first.case.categories.all()) == ["cardiomyopathy", "fibrosis-edema"]
    # The legacy technique tags are read as sequences.
    assert (first.case.sequences, first.case.technique_tags) == (["lge", "t1_mapping"], [])
    assert first.interpreted and first.post_processed and not first.assisted_console
    assert first.supervising_mentor == mentor
    assert (first.lvef, first.lv_edvi, first.lge_pattern) == (48, 96, "mid_wall")
    assert first.key_measurements == "LVEF 48%, LV EDVi 96 ml/m²"
    assert entries[1].delivery == CaseLogEntry.Delivery.VIRTUAL_LIVE_TWO_WAY
    assert all(len(e.import_key) == 64 for e in entries)
    event = AuditEvent.objects.get(action="entry.import")
    assert event.actor == trainee and event.after["created"] == 3 and event.after["filename"] == "prior-log.csv"
    assert AuditEvent.objects.filter(action="entry.create").count() == 3
    assert "cases_io_import" not in trainee_client.session


def test_confirm_can_submit_the_imported_entries(trainee_client, enrollment):
    dry_run = _upload(trainee_client, _csv([_row(1), _row(2)]))
    _confirm(trainee_client, dry_run, submit="on")
    assert {e.status for e in enrollment.entries.all()} == {Status.SUBMITTED}


def test_import_with_one_bad_row_saves_nothing_and_reports_the_row(trainee_client, program, enrollment):
    """The dry run passed, then a mentor was unassigned before the trainee confirmed: row 3 now fails, and the rows
    before it, created inside the same transaction, are rolled back with it."""
    second = UserFactory(email="second.mentor@example.test")
    MembershipFactory(user=second, program=program, role=Membership.Role.MENTOR)
    enrollment.mentors.add(second)
    rows = [_row(1), _row(2, supervising_mentor="second.mentor@example.test"), _row(3)]
    dry_run = _upload(trainee_client, _csv(rows))
    assert dry_run.context["report"].ok
    enrollment.mentors.remove(second)
    before = _counts()

    response = _confirm(trainee_client, dry_run)

    assert response.status_code == 400
    assert _counts() == before
    assert _errors(response) == {3: ["supervising_mentor"]}
    page = response.content.decode()
    assert "Nothing was imported" in page
    assert "Line 3" in page
    assert not AuditEvent.objects.filter(action__in=["entry.import", "entry.create"]).exists()


def test_run_import_is_all_or_nothing(trainee, enrollment):
    parsed = importing.read_csv(_csv([_row(1), _row(2), _row(3, categories="nope"), _row(4)]))
    before = _counts()
    report = importing.run_import(actor=trainee, enrollment=enrollment, parsed=parsed, dry_run=False)
    assert not report.committed
    assert [r.line for r in report.error_rows] == [4]
    assert _counts() == before


def test_reimporting_the_same_file_creates_no_duplicates(trainee_client, enrollment):
    content = _csv([_row(1), _row(2), _row(3)])
    _confirm(trainee_client, _upload(trainee_client, content))
    assert enrollment.entries.count() == 3

    again = _upload(trainee_client, content)
    report = again.context["report"]
    assert (report.created_count, report.skipped_count) == (0, 3)
    assert "Nothing to import" in again.content.decode()
    assert "cases_io_import" not in trainee_client.session

    # The key is the row's content, not its line: reordered rows, other spellings and an added row.
    reordered = _csv(
        [
            _row(4),
            _row(
                3, delivery="In person", roles="post-processed; Interpreted", categories="fibrosis-edema;cardiomyopathy"
            ),
            _row(1, reference="prior-0001", impression="  Acute   myocarditis. "),
            _row(2),
        ]
    )
    report = _upload(trainee_client, reordered).context["report"]
    assert [r.action for r in report.rows] == ["create", "skip", "skip", "skip"]
    _confirm(trainee_client, _upload(trainee_client, reordered))
    assert enrollment.entries.count() == 4


def test_the_same_row_twice_in_one_file_is_imported_once(trainee_client, enrollment):
    dry_run = _upload(trainee_client, _csv([_row(1), _row(1)]))
    report = dry_run.context["report"]
    assert [r.action for r in report.rows] == ["create", "skip"]
    assert report.rows[1].skipped == "The same as line 2."
    _confirm(trainee_client, dry_run)
    assert enrollment.entries.count() == 1


def test_exported_cells_come_back_unescaped(trainee_client, enrollment):
    """A CSV export puts an apostrophe before a formula-like cell; importing it takes the apostrophe off again."""
    _confirm(trainee_client, _upload(trainee_client, _csv([_row(findings="'-2 mm shift of the septum")])))
    assert enrollment.entries.get().findings == "-2 mm shift of the septum"


def test_a_row_for_a_case_already_logged_that_day_is_flagged(trainee_client, enrollment, mentor):
    EntryFactory(enrollment=enrollment, supervising_mentor=mentor, case__reference="PRIOR-0001", performed_on=_day(11))
    response = _upload(trainee_client, _csv([_row(1), _row(2)]))
    report = response.context["report"]
    assert [r.action for r in report.rows] == ["create", "create"]
    assert report.rows[0].warning == "You already logged this case on this day; this row adds another entry."
    assert not report.rows[1].warning


def test_the_upload_is_csrf_protected(client, trainee, enrollment):
    """The view swaps the upload handlers, so it is exempt from the CSRF middleware and protected by the decorator."""
    client = client.__class__(enforce_csrf_checks=True)
    client.force_login(trainee)
    assert _upload(client, _csv([_row()])).status_code == 403
    page = client.get(IMPORT)
    token = page.context["csrf_token"]
    response = client.post(
        IMPORT,
        {"action": "check", "csrfmiddlewaretoken": token, "file": SimpleUploadedFile("log.csv", _csv([_row()]))},
    )
    assert response.status_code == 200 and response.context["report"].created_count == 1


def test_confirm_without_a_current_dry_run_is_refused(trainee_client, enrollment):
    response = trainee_client.post(IMPORT, {"action": "confirm", "token": "0" * 64})
    assert response.status_code == 302 and response["Location"] == IMPORT
    assert enrollment.entries.count() == 0


# --- who may


URLS = ["cases_io:export_csv", "cases_io:export_json", "cases_io:import", "cases_io:import_template"]


@pytest.mark.parametrize("name", URLS)
def test_anonymous_users_are_sent_to_sign_in(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("name", URLS)
@pytest.mark.parametrize("role", ["mentor", "director", "reviewer", "outsider"])
def test_only_trainees_may_import_or_export(client, request, enrollment, name, role):
    client.force_login(request.getfixturevalue(role))
    assert client.get(reverse(name)).status_code == 403


def test_nobody_else_can_import_into_a_trainees_log(client, mentor, enrollment):
    client.force_login(mentor)
    response = _upload(client, _csv([_row()]))
    assert response.status_code == 403
    assert enrollment.entries.count() == 0


@pytest.mark.parametrize("name", URLS)
def test_trainees_may_import_and_export(trainee_client, name):
    assert trainee_client.get(reverse(name)).status_code == 200


def test_a_former_trainee_may_export_but_not_import(client, trainee, program):
    EnrollmentFactory(trainee=trainee, program=program, status=Enrollment.Status.COMPLETED)
    client.force_login(trainee)
    assert client.get(reverse("cases_io:export_csv")).status_code == 200
    assert client.get(reverse("cases_io:export_json")).status_code == 200
    assert client.get(IMPORT).status_code == 403
    assert client.get(reverse("cases_io:import_template")).status_code == 403


# --- role names from before the roles were split


def test_old_role_names_import_as_the_split_roles_and_are_recognised_again(trainee, enrollment, mentor):
    old = [
        _row(1, roles="acquired_hands_on;interpreted"),
        _row(2, roles="observed_console", delivery="in_person"),
        _row(3, roles="observed_console", delivery="virtual_live_two_way"),
    ]
    parsed = importing.read_csv(_csv(old))
    report = importing.run_import(actor=trainee, enrollment=enrollment, parsed=parsed, dry_run=False)
    assert report.ok and report.created_count == 3, [r.errors for r in report.rows]
    roles = {e.case.reference: e.roles for e in CaseLogEntry.objects.filter(enrollment=enrollment)}
    assert roles == {
        "PRIOR-0001": ["assisted_console", "interpreted"],
        "PRIOR-0002": ["observed_in_room"],
        "PRIOR-0003": ["observed_remotely"],
    }
    # The same rows written with today's names are the same rows: nothing is imported twice.
    new = [
        _row(1, roles="assisted_console;interpreted"),
        _row(2, roles="observed_in_room", delivery="in_person"),
        _row(3, roles="observed_remotely", delivery="virtual_live_two_way"),
    ]
    for rows in (old, new):
        again = importing.run_import(
            actor=trainee, enrollment=enrollment, parsed=importing.read_csv(_csv(rows)), dry_run=False
        )
        assert again.created_count == 0 and again.skipped_count == 3
    assert CaseLogEntry.objects.filter(enrollment=enrollment).count() == 3
