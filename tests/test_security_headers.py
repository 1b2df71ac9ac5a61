"""Headers that close doors (issue 11, item 11): a Content-Security-Policy with no inline script or style on every
HTML page, a Permissions-Policy, no caching of private downloads, and one 404 for a foreign and a missing id."""

from html.parser import HTMLParser

import pytest
from django.db import transaction
from django.urls import reverse
from rest_framework.test import APIClient

from . import test_permissions_matrix as matrix
from .factories import SessionFactory
from .test_permissions_matrix import MATRIX, MISSING_PK, ROLES, World, _request

# The matrix's world (the cast and their objects) and its client, as fixtures of this module too.
world = matrix.world
shared_client = matrix.shared_client

pytestmark = pytest.mark.django_db

# Every page of the matrix that some role gets as HTML (downloads and JSON rows are skipped by their content type).
HTML_PAGES = [row for row in MATRIX if row.method == "get" and not row.is_api and row.name != "api-schema"]
# A JSON data block (allauth's WebAuthn and e-mail forms) is not run by the browser: CSP does not apply to it.
DATA_SCRIPT_TYPES = {"application/json"}


class InlineCode(HTMLParser):
    """Collects what a strict CSP (script-src/style-src 'self', no nonce) would block."""

    def __init__(self):
        super().__init__()
        self.problems: list[str] = []
        self._in_inline_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and not attrs.get("src") and attrs.get("type") not in DATA_SCRIPT_TYPES:
            self.problems.append("<script> without src")
        if tag == "style":
            self.problems.append("<style> block")
        if "style" in attrs:
            self.problems.append(f"style= on <{tag}>")
        handlers = [name for name in attrs if name.startswith("on")]
        if handlers:
            self.problems.append(f"{handlers[0]}= on <{tag}>")
        if tag == "a" and (attrs.get("href") or "").lower().startswith("javascript:"):
            self.problems.append("javascript: link")


def inline_code(html: str) -> list[str]:
    parser = InlineCode()
    parser.feed(html)
    return parser.problems


def test_the_parser_finds_inline_code():
    html = (
        '<div style="color: red" onclick="x()"><script>alert(1)</script><style>p{}</style>'
        '<script src="/static/js/a.js"></script><script type="application/json">{}</script></div>'
    )
    assert inline_code(html) == ["style= on <div>", "onclick= on <div>", "<script> without src", "<style> block"]


@pytest.mark.parametrize("row", [pytest.param(row, id=row.id) for row in HTML_PAGES])
def test_every_html_page_has_the_csp_and_no_inline_script_or_style(row, world: World, shared_client: APIClient):
    wrong = {}
    for role in ROLES:
        with transaction.atomic():
            response = _request(shared_client, row, world, role)
            transaction.set_rollback(True)
        if response.status_code != 200 or not response["Content-Type"].startswith("text/html"):
            continue
        csp = response.headers.get("Content-Security-Policy", "")
        assert "'unsafe-inline'" not in csp.split("style-src")[0], f"{row.id} as {role}: {csp}"
        if row.name == "api-docs":
            # Swagger UI: its one inline script by nonce, styles inline (trainingportal/urls.py SWAGGER_UI_CSP).
            assert "script-src 'self' 'nonce-" in csp
            continue
        assert "script-src 'self';" in csp and "style-src 'self';" in csp, f"{row.id} as {role}: {csp}"
        assert "Permissions-Policy" in response.headers
        problems = inline_code(response.content.decode())
        if problems:
            wrong[role] = sorted(set(problems))
    assert not wrong, f"{row.id}: {wrong}"


def test_swagger_ui_inline_script_carries_the_nonce_of_the_header(client):
    response = client.get(reverse("api-docs"))
    csp = response["Content-Security-Policy"]
    nonce = csp.split("'nonce-")[1].split("'")[0]
    assert f'<script nonce="{nonce}">' in response.content.decode()


def test_every_response_has_a_permissions_policy(client):
    policy = client.get(reverse("healthz"))["Permissions-Policy"]
    assert "camera=()" in policy and "microphone=()" in policy and "geolocation=()" in policy
    assert "publickey-credentials-get=(self)" in policy


NO_STORE_DOWNLOADS = [
    # (url name, row label in the matrix, role)
    ("cases_io:export_csv", "", "trainee"),
    ("cases_io:export_json", "", "trainee"),
    ("cases_io:import_template", "", "trainee"),
    ("programs:dashboard", "csv", "director"),
    ("verification:plan", "plan", "director"),
    ("dossiers:download", "ready", "director"),
    ("dossiers:download_csv", "submitted", "director"),
    ("dossiers:download_json", "submitted", "director"),
]


@pytest.mark.parametrize("name, label, role", NO_STORE_DOWNLOADS)
def test_private_downloads_are_not_cached(name, label, role, world: World, shared_client: APIClient):
    row = next(r for r in MATRIX if r.name == name and r.method == "get" and (not label or r.label == label))
    response = _request(shared_client, row, world, role)
    assert response.status_code == 200, response.status_code
    assert response["Cache-Control"] == "private, no-store"


API_DETAIL_ROUTES = [
    "/api/v1/programs/{}/",
    "/api/v1/enrollments/{}/",
    "/api/v1/enrollments/{}/progress/",
    "/api/v1/case-logs/{}/",
    "/api/v1/sessions/{}/",
    "/api/v1/verification-requests/{}/",
]


@pytest.mark.parametrize("route", API_DETAIL_ROUTES)
def test_api_answers_the_same_404_for_a_foreign_and_a_missing_id(route, world: World):
    foreign = {
        "/api/v1/programs/{}/": world.program.pk,
        "/api/v1/enrollments/{}/": world.enrollment.pk,
        "/api/v1/enrollments/{}/progress/": world.enrollment.pk,
        "/api/v1/case-logs/{}/": world.draft.pk,
        "/api/v1/sessions/{}/": None,
        "/api/v1/verification-requests/{}/": world.vr_ready.pk,
    }[route]
    if foreign is None:
        foreign = SessionFactory(program=world.program).pk
    client = APIClient()
    client.force_login(world.users["outsider"])
    to_foreign, to_missing = client.get(route.format(foreign)), client.get(route.format(MISSING_PK))
    assert to_foreign.status_code == to_missing.status_code == 404
    assert to_foreign.content == to_missing.content
