"""The API against its own OpenAPI schema, fuzzed (schemathesis): for every operation and every role, generated
requests never get a server error, and every documented response matches its schema (status, content type, body).

The schema is read from /api/schema/ through the WSGI application inside the test (the test database, a token per
role). `SCHEMATHESIS_EXAMPLES` sets the examples per operation and role (default 6: a few hundred a role)."""

import json
import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase
from hypothesis import settings as hypothesis_settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
)

from .factories import EntryFactory, SessionFactory, VerificationRequestFactory

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "6"))
CHECKS = [not_a_server_error, content_type_conformance, response_schema_conformance]


def _load_schema():
    """The API's own OpenAPI document, generated the way /api/schema/ serves it, run against the WSGI application."""
    document = json.loads(json.dumps(SchemaGenerator().get_schema(request=None, public=True), default=str))
    loaded = schemathesis.openapi.from_dict(document)
    loaded.app = get_wsgi_application()
    # The fuzzing phase only (EXAMPLES per operation): the coverage phase sends hundreds of boundary cases per
    # operation, minutes in all — too long for every CI run.
    loaded.config.phases.coverage.enabled = False
    return loaded


schema = _load_schema()


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    # As Django's test client does: the WSGI handler must not close the test's connection (and its transaction).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def tokens(director, mentor, trainee, enrollment, reviewer):
    """Each role's token, with something of theirs to find: entries in every state, a session, a dossier."""
    for state in ({}, {"submitted": True}, {"signed": True}):
        EntryFactory(enrollment=enrollment, supervising_mentor=mentor, **state)
    SessionFactory(program=enrollment.program, mentor=mentor)
    VerificationRequestFactory(enrollment=enrollment, status="ready", sha256="0" * 64)
    return {
        role: Token.objects.get_or_create(user=user)[0].key
        for role, user in {"trainee": trainee, "mentor": mentor, "director": director, "reviewer": reviewer}.items()
    }


@schema.parametrize()
@hypothesis_settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
@pytest.mark.django_db
def test_the_api_keeps_its_schema_for_every_role(case, tokens):
    for token in tokens.values():  # the same generated request, sent as each role
        case.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=CHECKS)
