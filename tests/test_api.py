"""The REST API under /api/v1/ beyond the case log (tests/cases/test_case_log_api.py): no existence leak through
foreign ids, dossiers, progress, schema and docs, authentication and CSRF, and query counts of the enrollment list and
the program page that do not grow with the data (healthchecks' hc/api/tests/test_list_checks.py)."""

import hashlib
import json

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from cases.models import CaseLogEntry
from programs.models import Membership

from .cases.helpers import _entry_payload
from .conftest import api_as
from .factories import EnrollmentFactory, EntryFactory, MembershipFactory, UserFactory
from .queries import assert_query_count_flat

pytestmark = pytest.mark.django_db


# --- no existence leak


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


# --- dossiers and progress


def test_director_requests_a_dossier_and_downloads_the_pdf(
    director, enrollment, mentor, reviewer, django_capture_on_commit_callbacks
):
    from .verification.helpers import make_complete, sign_determination

    make_complete(enrollment, mentor)
    sign_determination(director, enrollment)
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
    EntryFactory.create_batch(2, enrollment=enrollment, supervising_mentor=mentor, signed=True, assisted_console=True)
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


def test_enrollment_list_query_count_does_not_grow(director, program, enrollment, mentor):
    def grow(n):
        for _ in range(n):
            EnrollmentFactory(program=program, mentors=[mentor])

    grow(2)
    # 1. session  2. user  3. "is a director?" (MFA rule)  4. authenticators  5. COUNT(*) for the page
    # 6. the page of enrollments with trainee and program joined
    assert_query_count_flat(api_as(director), "/api/v1/enrollments/", lambda: grow(27), expected=6)


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
    assert_query_count_flat(client, reverse("programs:detail", args=[program.pk]), lambda: grow(27), expected=14)
