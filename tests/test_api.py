"""The REST API under /api/v1/: the case-log flow, filters, dossiers, progress, schema and docs, authentication, and
query counts that do not grow with the data (healthchecks' hc/api/tests/test_list_checks.py)."""

import datetime
import hashlib
import json

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from cases.models import CaseLogEntry
from programs.models import Membership

from .factories import EnrollmentFactory, EntryFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate


def api_as(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def _entry_payload(mentor, **overrides) -> dict:
    payload = {
        "reference": "API-0001",
        "source": "registry",
        "complete_study": True,
        "indication": "Breathlessness, reduced LVEF on echo",
        "categories": ["cardiomyopathy", "fibrosis-edema"],
        "performed_on": (TODAY() - datetime.timedelta(days=2)).isoformat(),
        "roles": ["interpreted", "acquired_hands_on"],
        "delivery": "virtual_live_two_way",
        "supervising_mentor": mentor.pk,
        "impression": "Non-ischaemic dilated cardiomyopathy with mid-wall septal LGE.",
    }
    return {**payload, **overrides}


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["results"]]


# --- the case-log flow


def test_trainee_logs_and_submits_an_entry_and_the_mentor_signs_it(enrollment, trainee, mentor):
    client = api_as(trainee)
    response = client.post("/api/v1/case-logs/", _entry_payload(mentor), format="json")
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["status"] == "draft"
    assert created["enrollment"] == enrollment.pk
    assert created["reference"] == "API-0001" and created["source"] == "registry"
    assert sorted(created["categories"]) == ["cardiomyopathy", "fibrosis-edema"]
    assert created["roles"] == ["interpreted", "acquired_hands_on"]
    entry_url = f"/api/v1/case-logs/{created['id']}/"

    response = client.post(f"{entry_url}submit/")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "submitted"

    response = api_as(mentor).post(
        f"{entry_url}sign/", {"feedback": "Agree. Note the septal stripe.", "agrees": True}, format="json"
    )
    assert response.status_code == 200, response.content
    signed = response.json()
    assert signed["status"] == "signed"
    assert signed["signed_by"] == mentor.pk and signed["mentor_agrees"] is True
    assert signed["mentor_feedback"] == "Agree. Note the septal stripe."


def test_signed_entry_cannot_be_updated(enrollment, trainee, mentor):
    entry = EntryFactory(enrollment=enrollment, supervising_mentor=mentor, signed=True)
    client = api_as(trainee)
    url = f"/api/v1/case-logs/{entry.pk}/"
    assert client.patch(url, {"impression": "Changed my mind."}, format="json").status_code == 403
    full = {k: v for k, v in _entry_payload(mentor).items() if k not in ("reference", "source", "categories")}
    assert client.put(url, full, format="json").status_code == 403
    assert client.post(f"{url}submit/").status_code == 403
    entry.refresh_from_db()
    assert entry.status == "signed" and entry.impression == "Dilated cardiomyopathy with mid-wall septal LGE."


def test_returned_entry_can_be_corrected_and_submitted_again(enrollment, trainee, mentor):
    entry = EntryFactory(enrollment=enrollment, supervising_mentor=mentor, submitted=True)
    url = f"/api/v1/case-logs/{entry.pk}/"
    response = api_as(mentor).post(f"{url}return/", {"reason": "Add the LVEF."}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "returned"

    client = api_as(trainee)
    response = client.patch(url, {"key_measurements": "LVEF 31%", "submit": True}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "submitted" and response.json()["key_measurements"] == "LVEF 31%"


def test_other_trainee_cannot_see_the_entry(enrollment, other_enrollment, trainee, other_trainee, mentor, outsider):
    entry = EntryFactory(enrollment=enrollment, supervising_mentor=mentor, submitted=True)
    url = f"/api/v1/case-logs/{entry.pk}/"
    client = api_as(other_trainee)
    # A co-trainee is a member of the program without a role on this entry: 403 (SPEC section 2); an outsider
    # of the program gets 404, as for an entry that does not exist.
    assert client.get(url).status_code == 403
    assert entry.pk not in _ids(client.get("/api/v1/case-logs/"))
    assert api_as(outsider).get(url).status_code == 404
    assert entry.pk not in _ids(api_as(outsider).get("/api/v1/case-logs/"))
    assert entry.pk in _ids(api_as(trainee).get("/api/v1/case-logs/"))


def test_supervising_mentor_must_be_a_mentor_of_the_program(other_enrollment, other_trainee, mentor, outsider):
    # `other_enrollment` has no assigned mentor yet, so any mentor of the program may supervise, and nobody else:
    # not the trainee (who would then sign their own case), not a stranger (who would then see and sign it).
    client = api_as(other_trainee)
    for i, stranger in enumerate([other_trainee, outsider]):
        response = client.post(
            "/api/v1/case-logs/",
            _entry_payload(stranger, reference=f"SUP-{i}", submit=True),
            format="json",
        )
        assert response.status_code == 400, f"{stranger.email} accepted as supervising mentor"
        assert "supervising_mentor" in response.json()
    assert not CaseLogEntry.objects.exists()
    response = client.post("/api/v1/case-logs/", _entry_payload(mentor, reference="SUP-OK"), format="json")
    assert response.status_code == 201, response.content


def test_trainee_can_never_sign_their_own_entry(other_enrollment, other_trainee):
    # However such an entry came to be (data from before validation existed, an admin edit), signing your own
    # case is not a review.
    entry = EntryFactory(enrollment=other_enrollment, supervising_mentor=other_trainee, submitted=True)
    response = api_as(other_trainee).post(
        f"/api/v1/case-logs/{entry.pk}/sign/", {"feedback": "Looks right to me."}, format="json"
    )
    assert response.status_code == 403
    entry.refresh_from_db()
    assert entry.status == "submitted"


@pytest.mark.parametrize(
    ("method", "url", "param"),
    [
        ("post", "/api/v1/verification-requests/", "enrollment"),
        ("get", "/api/v1/verification-requests/", "enrollment"),
        ("get", "/api/v1/case-logs/", "enrollment"),
        ("get", "/api/v1/enrollments/", "program"),
    ],
)
def test_outsider_cannot_tell_a_foreign_id_from_a_missing_one(method, url, param, outsider, enrollment, program):
    # SPEC section 2: no existence leak. An id that exists in someone else's program gets the same answer as an id
    # that does not exist (404 for the create, an empty list for a filter).
    client = api_as(outsider)
    foreign_pk = {"enrollment": enrollment.pk, "program": program.pk}[param]
    kwargs = {"format": "json"} if method == "post" else {}
    foreign = getattr(client, method)(url, {param: foreign_pk}, **kwargs)
    missing = getattr(client, method)(url, {param: 987_654_321}, **kwargs)
    assert foreign.status_code == missing.status_code, (foreign.content, missing.content)
    if method == "post":
        assert foreign.status_code == 404
    else:
        assert foreign.status_code == 200 and foreign.json()["count"] == 0


def test_only_trainees_with_an_active_enrollment_create_entries(enrollment, mentor, director):
    response = api_as(mentor).post("/api/v1/case-logs/", _entry_payload(mentor), format="json")
    assert response.status_code == 403
    assert api_as(director).post("/api/v1/case-logs/", _entry_payload(mentor), format="json").status_code == 403
    assert not CaseLogEntry.objects.exists()


def test_case_log_list_filters(enrollment, trainee, mentor):
    def entry(days_ago, categories, **fields):
        return EntryFactory(
            enrollment=enrollment,
            supervising_mentor=mentor,
            performed_on=TODAY() - datetime.timedelta(days=days_ago),
            case__categories=categories,
            **fields,
        )

    old_signed = entry(30, ["valvular"], signed=True)
    hands_on = entry(10, ["congenital"], submitted=True, interpreted=False, acquired_hands_on=True)
    recent_draft = entry(2, ["valvular", "masses"], observed_console=True)
    client = api_as(trainee)

    def ids(**params):
        return set(_ids(client.get("/api/v1/case-logs/", params)))

    assert ids() == {old_signed.pk, hands_on.pk, recent_draft.pk}
    assert ids(status="signed") == {old_signed.pk}
    assert ids(status="draft") == {recent_draft.pk}
    assert ids(role="acquired_hands_on") == {hands_on.pk}
    assert ids(role="observed_console") == {recent_draft.pk}
    assert ids(category="valvular") == {old_signed.pk, recent_draft.pk}
    assert ids(date_from=(TODAY() - datetime.timedelta(days=15)).isoformat()) == {hands_on.pk, recent_draft.pk}
    assert ids(category="valvular", date_from=(TODAY() - datetime.timedelta(days=15)).isoformat()) == {recent_draft.pk}
    assert client.get("/api/v1/case-logs/", {"role": "not-a-role"}).status_code == 400


# --- dossiers and progress


def test_director_requests_a_dossier_and_downloads_the_pdf(
    director, enrollment, mentor, reviewer, django_capture_on_commit_callbacks
):
    EntryFactory.create_batch(2, enrollment=enrollment, supervising_mentor=mentor, signed=True)
    client = api_as(director)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/v1/verification-requests/", {"enrollment": enrollment.pk}, format="json")
    assert response.status_code == 202, response.content
    requested = response.json()
    assert requested["status"] == "queued"  # answered before the (eager) task ran on commit
    url = f"/api/v1/verification-requests/{requested['id']}/"

    detail = client.get(url).json()
    assert detail["status"] == "ready", detail["failure_reason"]
    assert len(detail["sha256"]) == 64 and detail["verify_url"] == reverse("verify", args=[detail["code"]])

    response = client.get(f"{url}dossier/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    pdf = b"".join(response.streaming_content)
    assert pdf.startswith(b"%PDF")
    assert hashlib.sha256(pdf).hexdigest() == detail["sha256"]

    response = client.post(f"{url}submit/")
    assert response.status_code == 200 and response.json()["status"] == "submitted"
    response = api_as(reviewer).post(f"{url}decide/", {"verified": True, "reasons": "Complete."}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "verified"


def test_a_second_request_while_one_is_generating_is_refused(director, enrollment):
    client = api_as(director)
    first = client.post("/api/v1/verification-requests/", {"enrollment": enrollment.pk}, format="json")
    assert first.status_code == 202  # no on-commit execution here: it stays queued
    second = client.post("/api/v1/verification-requests/", {"enrollment": enrollment.pk}, format="json")
    assert second.status_code == 400
    assert "already being generated" in json.dumps(second.json())


def test_progress_reports_level_2_requirements(enrollment, trainee, mentor):
    EntryFactory.create_batch(2, enrollment=enrollment, supervising_mentor=mentor, signed=True, acquired_hands_on=True)
    EntryFactory(enrollment=enrollment, supervising_mentor=mentor, signed=True)
    EntryFactory(enrollment=enrollment, supervising_mentor=mentor, submitted=True)
    response = api_as(trainee).get(f"/api/v1/enrollments/{enrollment.pk}/progress/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["enrollment"] == enrollment.pk and body["pending_reviews"] == 1
    requirements = {r["key"]: r for r in body["requirements"]}
    assert requirements["interpreted"]["required"] == 150 and requirements["interpreted"]["achieved"] == 3
    assert requirements["hands_on"]["required"] == 50 and requirements["hands_on"]["achieved"] == 2
    assert requirements["hands_on"]["remaining"] == 48 and requirements["hands_on"]["met"] is False


# --- schema and docs


def test_schema_is_openapi_3_and_lists_the_collections():
    client = APIClient()
    response = client.get("/api/schema/")
    assert response.status_code == 200
    assert response.content.decode().startswith("openapi: 3")

    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/case-logs/" in schema["paths"]
    assert "/api/v1/enrollments/{id}/progress/" in schema["paths"]
    assert "/api/v1/verification-requests/{id}/dossier/" in schema["paths"]


def test_docs_are_self_hosted():
    response = Client().get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger" in html.lower()
    assert "cdn.jsdelivr" not in html and "unpkg" not in html


# --- authentication


def test_token_authentication_works_without_csrf(enrollment, trainee, mentor):
    token = Token.objects.create(user=trainee)
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get("/api/v1/enrollments/").json()["results"][0]["id"] == enrollment.pk
    # Scripts post with the token alone: token authentication is not subject to CSRF.
    response = client.post("/api/v1/case-logs/", _entry_payload(mentor), format="json")
    assert response.status_code == 201, response.content

    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert client.get("/api/v1/enrollments/").status_code in (401, 403)


def test_session_post_without_csrf_token_is_rejected(enrollment, trainee, mentor):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(trainee)
    response = client.post("/api/v1/case-logs/", _entry_payload(mentor), format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert not CaseLogEntry.objects.exists()

    # With the token from the cookie a page set, the same request goes through.
    client.get(reverse("cases:create"))
    csrf = client.cookies["csrftoken"].value
    response = client.post("/api/v1/case-logs/", _entry_payload(mentor), format="json", HTTP_X_CSRFTOKEN=csrf)
    assert response.status_code == 201, response.content


def test_anonymous_api_requests_are_refused():
    response = APIClient().get("/api/v1/case-logs/")
    assert response.status_code in (401, 403)


# --- query counts: the same number of queries for 3 rows as for 30


def _count_queries(client, url: str) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.content[:500]
    return len(ctx.captured_queries), [q["sql"] for q in ctx.captured_queries]


def _assert_flat(client, url: str, grow, expected: int):
    """Count the queries of `url`, let `grow` add rows, count again: both must be `expected`."""
    client.get(url)  # warm-up: content types, first-request caches
    small, small_sql = _count_queries(client, url)
    grow()
    large, large_sql = _count_queries(client, url)
    assert small == large, "\n".join(["--- small:", *small_sql, "--- large:", *large_sql])
    assert large == expected, "\n".join(large_sql)


def _many_entries(enrollment, mentor, other_enrollment, n: int):
    for i in range(n):
        EntryFactory(
            enrollment=enrollment if i % 2 else other_enrollment,
            supervising_mentor=mentor,
            case__categories=["valvular", "masses"],
            **({"signed": True} if i % 3 == 0 else {"submitted": True}),
        )


def test_case_log_list_query_count_does_not_grow(director, enrollment, other_enrollment, mentor):
    other_enrollment.mentors.add(mentor)
    _many_entries(enrollment, mentor, other_enrollment, 3)
    # 1. session  2. user  3. "is a director?" (MFA rule)  4. the user's TOTP/WebAuthn authenticators
    # 5. COUNT(*) for the page (the programs they direct are a subquery, not a query)
    # 6. the page of entries with case, enrollment, trainee, program, mentor, signer joined
    # 7. prefetch of the cases' categories
    _assert_flat(
        api_as(director),
        "/api/v1/case-logs/",
        lambda: _many_entries(enrollment, mentor, other_enrollment, 27),
        expected=7,
    )


def test_enrollment_list_query_count_does_not_grow(director, program, enrollment, mentor):
    def grow(n):
        for _ in range(n):
            EnrollmentFactory(program=program, mentors=[mentor])

    grow(2)
    # 1. session  2. user  3. "is a director?" (MFA rule)  4. authenticators  5. COUNT(*) for the page
    # 6. the page of enrollments with trainee and program joined
    _assert_flat(api_as(director), "/api/v1/enrollments/", lambda: grow(27), expected=6)


def test_entry_list_page_query_count_does_not_grow(trainee, enrollment, other_enrollment, mentor):
    _many_entries(enrollment, mentor, other_enrollment, 6)  # 3 of them the trainee's
    client = Client()
    client.force_login(trainee)
    # 1. session  2. user  3. "is a director?" (MFA middleware)  4. COUNT(*) for the paginator
    # 5. the active enrollment  6. navigation roles  7. the page of entries with joins  8. prefetch of categories
    _assert_flat(
        client,
        reverse("cases:list"),
        lambda: _many_entries(enrollment, mentor, other_enrollment, 54),
        expected=8,
    )


def test_review_inbox_query_count_does_not_grow(mentor, enrollment, other_enrollment):
    other_enrollment.mentors.add(mentor)
    _many_entries(enrollment, mentor, other_enrollment, 3)
    client = Client()
    client.force_login(mentor)
    # 1. session  2. user  3. "is a director?" (MFA middleware)  4. COUNT(*) for the paginator
    # 5. navigation roles  6. the page of submitted entries with joins  7. prefetch of categories
    _assert_flat(
        client,
        reverse("cases:inbox"),
        lambda: _many_entries(enrollment, mentor, other_enrollment, 27),
        expected=7,
    )


def test_program_page_query_count_does_not_grow(director, program, enrollment, mentor):
    def grow(n):
        for i in range(n):
            extra_mentor = UserFactory()
            MembershipFactory(user=extra_mentor, program=program, role=Membership.Role.MENTOR)
            other = EnrollmentFactory(program=program, mentors=[mentor, extra_mentor])
            EntryFactory(enrollment=other, supervising_mentor=mentor, signed=bool(i % 2), submitted=not i % 2)

    grow(2)
    client = Client()
    client.force_login(director)
    # 1. session  2. user  3. "is a director?" (MFA)  4. authenticators  5. the program
    # 6. the user's roles in it (access check, reused by the view)  7. navigation roles
    # 8. enrollments  9. prefetch of their mentors  10. their entry counts (cases.selectors)
    # 11. program mentors (invite form)  12. program mentors (assign form)  13. members  14. open invitations
    _assert_flat(client, reverse("programs:detail", args=[program.pk]), lambda: grow(27), expected=14)
