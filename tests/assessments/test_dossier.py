"""The verification dossier: snapshot, rendering, the claim-once generate service, failure and retry paths, the sweeper."""

import datetime
import hashlib
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import OperationalError
from django.utils import timezone
from weasyprint.urls import FatalURLFetchingError

from cases.models import CaseLogEntry
from verification import tasks
from verification.dossier import build_snapshot, render_dossier
from verification.models import VerificationRequest
from verification.services import dossiers as services

from ..factories import EnrollmentFactory, EntryFactory, UserFactory, VerificationRequestFactory
from ..queries import assert_same_query_count, captured_queries

pytestmark = pytest.mark.django_db

Status = VerificationRequest.Status
PDFTOTEXT = "/usr/bin/pdftotext"


def pdf_text(content: bytes, tmp_path: Path) -> str:
    path = tmp_path / "dossier.pdf"
    path.write_bytes(content)
    return subprocess.run([PDFTOTEXT, "-layout", str(path), "-"], check=True, capture_output=True, text=True).stdout


def stored_bytes(vr: VerificationRequest) -> bytes:
    with default_storage.open(vr.dossier.name, "rb") as handle:
        return handle.read()


def raising(exc: BaseException):
    def render(snapshot):
        raise exc

    return render


def dossier_files() -> list[str]:
    if not default_storage.exists("dossiers"):
        return []
    return default_storage.listdir("dossiers")[1]


@pytest.fixture
def logged(enrollment, mentor):
    """Two signed entries, one submitted and one draft."""
    return {
        "signed": [
            EntryFactory(enrollment=enrollment, supervising_mentor=mentor, signed=True, case__reference="SIGNED-0001"),
            EntryFactory(
                enrollment=enrollment,
                supervising_mentor=mentor,
                signed=True,
                assisted_console=True,
                case__reference="SIGNED-0002",
            ),
        ],
        "submitted": EntryFactory(
            enrollment=enrollment, supervising_mentor=mentor, submitted=True, case__reference="PENDING-0001"
        ),
        "draft": EntryFactory(enrollment=enrollment, supervising_mentor=mentor, case__reference="DRAFT-0001"),
    }


@pytest.fixture
def queued(enrollment, director, logged, django_capture_on_commit_callbacks):
    """A request whose generate task has been enqueued but not run."""
    with django_capture_on_commit_callbacks(execute=False):
        return services.verification_request_create(actor=director, enrollment=enrollment)


@pytest.fixture
def ready(enrollment, director, logged, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        vr = services.verification_request_create(actor=director, enrollment=enrollment)
    vr.refresh_from_db()
    assert vr.status == Status.READY, vr.failure_reason
    return vr


# --- generation -----------------------------------------------------------------------------------------------


def test_create_and_eager_generate_make_a_ready_dossier(ready):
    content = stored_bytes(ready)

    assert content.startswith(b"%PDF")
    assert ready.sha256 == hashlib.sha256(content).hexdigest()
    assert ready.size_bytes == len(content)
    assert ready.page_count > 0
    assert ready.render_ms is not None and ready.render_ms >= 0
    assert ready.attempts == 1
    assert ready.ready_at is not None and ready.started_at is not None
    assert ready.dossier.name == f"dossiers/{ready.code}.pdf"
    assert ready.snapshot["code"] == ready.code


def test_dossier_pdf_shows_code_trainee_page_numbers_and_only_signed_entries(ready, trainee, logged, tmp_path):
    text = pdf_text(stored_bytes(ready), tmp_path)

    assert ready.code in text
    assert trainee.full_name in text
    assert "Page 1 of" in text
    assert "SIGNED-0001" in text and "SIGNED-0002" in text
    assert "DRAFT-0001" not in text
    assert "PENDING-0001" not in text


def test_snapshot_lists_signed_entries_only(ready):
    assert [row["reference"] for row in ready.snapshot["case_log"]] == ["SIGNED-0001", "SIGNED-0002"]
    requirements = {r["key"]: r for r in ready.snapshot["requirements"]}
    assert requirements["interpreted"]["achieved"] == 2
    assert requirements["hands_on"]["achieved"] == 1


def test_generating_a_ready_request_again_changes_nothing(ready, monkeypatch):
    content = stored_bytes(ready)
    path = Path(default_storage.path(ready.dossier.name))
    mtime = path.stat().st_mtime_ns
    monkeypatch.setattr(services, "render_dossier", lambda snapshot: pytest.fail("rendered a ready dossier again"))

    again = services.verification_request_generate(pk=ready.pk)

    assert again.status == Status.READY
    assert again.sha256 == ready.sha256 and again.dossier.name == ready.dossier.name
    assert again.attempts == 1 and again.ready_at == ready.ready_at
    assert stored_bytes(again) == content and path.stat().st_mtime_ns == mtime
    assert dossier_files() == [f"{ready.code}.pdf"]


def test_two_generate_calls_render_once(queued, monkeypatch):
    calls = []

    def counting_render(snapshot):
        calls.append(snapshot["code"])
        return render_dossier(snapshot)

    monkeypatch.setattr(services, "render_dossier", counting_render)

    first = services.verification_request_generate(pk=queued.pk)
    second = services.verification_request_generate(pk=queued.pk)

    assert calls == [queued.code]
    assert first.status == second.status == Status.READY
    assert second.sha256 == first.sha256 and second.attempts == 1


def test_a_generate_call_while_another_is_rendering_does_nothing(queued, monkeypatch):
    # The second worker arrives while the first is inside render_dossier.
    seen_by_second = []

    def render_while_another_worker_arrives(snapshot):
        seen_by_second.append(services.verification_request_generate(pk=queued.pk).status)
        return render_dossier(snapshot)

    monkeypatch.setattr(services, "render_dossier", render_while_another_worker_arrives)

    vr = services.verification_request_generate(pk=queued.pk)

    assert seen_by_second == [Status.GENERATING]
    assert vr.status == Status.READY and vr.attempts == 1


def test_rendering_the_same_snapshot_twice_gives_identical_bytes(ready):
    first = render_dossier(ready.snapshot).content
    second = render_dossier(ready.snapshot).content

    if first != second:
        at = next(i for i, (a, b) in enumerate(zip(first, second, strict=False)) if a != b)
        pytest.fail(f"renderings differ from byte {at}: {first[at - 40 : at + 60]!r} vs {second[at - 40 : at + 60]!r}")
    assert hashlib.sha256(first).hexdigest() == ready.sha256


def test_a_long_case_log_is_laid_out_in_parts_and_joined_into_one_numbered_document(ready, settings):
    settings.DOSSIER_LOG_PART_ROWS = 1  # the fixture's rows one per part, side by side in a pool of processes
    settings.PDF_WORKERS = 2
    rows = ready.snapshot["case_log"]
    assert len(rows) > 1

    first = render_dossier(ready.snapshot)
    again = render_dossier(ready.snapshot)

    assert first.content == again.content  # the same data, the same bytes
    text = subprocess.run(
        ["/usr/bin/pdftotext", "-layout", "-", "-"], input=first.content, check=True, capture_output=True
    ).stdout.decode()
    pages = [page for page in text.split("\f") if page.strip()]
    assert len(pages) == first.page_count
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {first.page_count}" in page
        assert ready.code in page and "Verification dossier" in page  # the running header on every page
    assert all(row["reference"] in text for row in rows)
    assert text.count(f"Signed case log ({len(rows)} entries)") == 1


def test_snapshot_is_frozen_at_the_first_attempt(queued, enrollment, mentor, monkeypatch):
    monkeypatch.setattr(services, "render_dossier", raising(ValueError("boom")))
    services.verification_request_generate(pk=queued.pk)
    # Evidence that arrives after the first attempt is not in the retried packet.
    EntryFactory(enrollment=enrollment, supervising_mentor=mentor, signed=True, case__reference="LATE-0001")
    monkeypatch.undo()
    services.verification_request_retry(actor=enrollment.program.director, vr=queued)

    vr = services.verification_request_generate(pk=queued.pk)

    assert vr.status == Status.READY
    assert "LATE-0001" not in [row["reference"] for row in vr.snapshot["case_log"]]


# --- failures, retries, the sweeper -----------------------------------------------------------------------------


def test_render_error_marks_failed_with_a_readable_reason_and_writes_no_file(queued, monkeypatch):
    monkeypatch.setattr(services, "render_dossier", raising(ValueError("boom")))

    vr = services.verification_request_generate(pk=queued.pk)

    assert vr.status == Status.FAILED
    assert "could not be rendered" in vr.failure_reason and "ValueError: boom" in vr.failure_reason
    assert vr.sha256 == "" and not vr.dossier
    assert dossier_files() == []


def test_a_refused_resource_marks_failed_instead_of_escaping(queued, monkeypatch):
    # WeasyPrint stops a render with FatalURLFetchingError (a BaseException, not an Exception) when the locked fetcher
    # refuses a URL, e.g. a static file missing on the host. It must end as "failed", not stay "generating".
    refused = FatalURLFetchingError('Error fetching "file:///static/pdf/missing.png"')
    monkeypatch.setattr(services, "render_dossier", raising(refused))

    try:
        vr = services.verification_request_generate(pk=queued.pk)
    except BaseException as exc:  # noqa: BLE001 - the point of the test
        queued.refresh_from_db()
        pytest.fail(f"{type(exc).__name__} escaped the service; the request was left {queued.status!r}")

    assert vr.status == Status.FAILED
    assert "FatalURLFetchingError" in vr.failure_reason
    assert dossier_files() == []


def test_transient_error_requeues_and_propagates(queued, monkeypatch):
    gone = OperationalError("server closed the connection unexpectedly")
    monkeypatch.setattr(services, "render_dossier", raising(gone))

    with pytest.raises(OperationalError):
        services.verification_request_generate(pk=queued.pk)

    queued.refresh_from_db()
    assert queued.status == Status.QUEUED
    assert queued.attempts == 1 and queued.failure_reason == ""
    assert dossier_files() == []


def test_retry_moves_failed_to_queued_and_renders(queued, director, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(services, "render_dossier", raising(ValueError("boom")))
    assert services.verification_request_generate(pk=queued.pk).status == Status.FAILED
    monkeypatch.undo()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        vr = services.verification_request_retry(actor=director, vr=queued)
    assert vr.status == Status.QUEUED
    assert len(callbacks) == 1

    callbacks[0]()
    vr.refresh_from_db()
    assert vr.status == Status.READY and vr.attempts == 2 and vr.failure_reason == ""


@pytest.mark.parametrize("status", [Status.QUEUED, Status.GENERATING, Status.READY])
def test_retry_refuses_anything_but_a_failed_request(enrollment, director, status):
    vr = VerificationRequestFactory(
        enrollment=enrollment, status=status, sha256="0" * 64 if status == Status.READY else ""
    )

    with pytest.raises(ValidationError):
        services.verification_request_retry(actor=director, vr=vr)

    vr.refresh_from_db()
    assert vr.status == status


def test_sweeper_requeues_a_stuck_request_and_leaves_a_fresh_one(
    enrollment, other_enrollment, django_capture_on_commit_callbacks
):
    now = timezone.now()
    timeout = datetime.timedelta(seconds=settings.DOSSIER_STUCK_AFTER_SECONDS)
    stuck = VerificationRequestFactory(
        enrollment=enrollment, status=Status.GENERATING, started_at=now - timeout - datetime.timedelta(seconds=5)
    )
    fresh = VerificationRequestFactory(  # long-running, but its worker keeps the claim alive
        enrollment=other_enrollment,
        status=Status.GENERATING,
        started_at=now - timeout + datetime.timedelta(seconds=60),
        heartbeat_at=now - datetime.timedelta(seconds=5),
    )

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        requeued = services.verification_requests_sweep_stuck(now=now)

    assert requeued == [stuck.pk]
    assert len(callbacks) == 1
    stuck.refresh_from_db()
    fresh.refresh_from_db()
    assert stuck.status == Status.QUEUED
    assert fresh.status == Status.GENERATING


def test_sweeper_renders_the_stuck_request_when_the_task_runs(enrollment, logged, django_capture_on_commit_callbacks):
    stuck = VerificationRequestFactory(
        enrollment=enrollment,
        status=Status.GENERATING,
        started_at=timezone.now() - datetime.timedelta(seconds=settings.DOSSIER_STUCK_AFTER_SECONDS + 1),
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.verification_requests_sweep_stuck() == [stuck.pk]

    stuck.refresh_from_db()
    assert stuck.status == Status.READY, stuck.failure_reason


def test_a_second_request_while_one_is_in_progress_is_refused(queued, enrollment, director):
    with pytest.raises(ValidationError) as exc_info:
        services.verification_request_create(actor=director, enrollment=enrollment)

    assert "already being generated" in exc_info.value.messages[0]
    assert VerificationRequest.objects.filter(enrollment=enrollment).count() == 1


def test_a_new_request_is_allowed_once_the_previous_one_is_ready(ready, enrollment, director):
    with_new = services.verification_request_create(actor=director, enrollment=enrollment)

    assert with_new.pk != ready.pk and with_new.code != ready.code


def test_task_failure_hook_marks_the_request_failed(queued):
    VerificationRequest.objects.filter(pk=queued.pk).update(status=Status.GENERATING)

    tasks.verification_request_generate.on_failure(
        OperationalError("could not connect"), "task-id", (queued.pk,), {}, None
    )

    queued.refresh_from_db()
    assert queued.status == Status.FAILED
    assert "OperationalError" in queued.failure_reason and "Try again later" in queued.failure_reason


def test_task_failure_hook_accepts_keyword_pk(queued):
    tasks.verification_request_generate.on_failure(TimeoutError(), "task-id", (), {"pk": queued.pk}, None)

    queued.refresh_from_db()
    assert queued.status == Status.FAILED


def test_task_failure_hook_does_not_touch_a_ready_request(ready):
    tasks.verification_request_generate.on_failure(OperationalError("late"), "task-id", (ready.pk,), {}, None)

    ready.refresh_from_db()
    assert ready.status == Status.READY and ready.failure_reason == ""


# --- the snapshot query count -----------------------------------------------------------------------------------


def test_build_snapshot_query_count_does_not_grow_with_the_log(program, mentor, director):
    def request_with(entries: int) -> VerificationRequest:
        enrollment = EnrollmentFactory(trainee=UserFactory(), program=program, mentors=[mentor])
        for _ in range(entries):
            EntryFactory(enrollment=enrollment, supervising_mentor=mentor, signed=True, case__categories=["flow"])
        EntryFactory(enrollment=enrollment, supervising_mentor=mentor)  # a draft, left out
        vr = VerificationRequestFactory(enrollment=enrollment, requested_by=director)
        return VerificationRequest.objects.get(pk=vr.pk)

    small, large = request_with(5), request_with(40)

    small_snapshot, small_queries = captured_queries(lambda: build_snapshot(small))
    large_snapshot, large_queries = captured_queries(lambda: build_snapshot(large))

    assert len(small_snapshot["case_log"]) == 5 and len(large_snapshot["case_log"]) == 40
    # 1. the enrollment  2. its program  3-13. the facts (11: with prior experience, the in-person framework and the
    # signers' levels)  14. the signed entries with their joins  15. prefetch of their topics  16. the curriculum
    # topics  17. the mentors  18. prefetch of their credentials  19. the director  20. who requested the dossier
    # 21. the trainee  22. the director's credentials  23. the agreement with the mentor's read
    # 24. the director's determination (none here)  25. attended sessions  26. sign-offs  27-33. the program's
    # S1-S15 checklist (credential, lectures, sessions, attendance, complete studies, feedback, determinations)
    assert_same_query_count(small_queries, large_queries, expected=36)
    assert {c["slug"]: c["cases"] for c in large_snapshot["coverage"]}["flow"] == 40


def test_signed_entries_of_other_trainees_stay_out_of_the_dossier(ready, other_enrollment, mentor):
    EntryFactory(enrollment=other_enrollment, supervising_mentor=mentor, signed=True, case__reference="OTHER-0001")
    vr = VerificationRequestFactory(enrollment=ready.enrollment)

    references = [row["reference"] for row in build_snapshot(vr)["case_log"]]

    assert "OTHER-0001" not in references
    assert CaseLogEntry.objects.filter(case__reference="OTHER-0001", status="signed").exists()
