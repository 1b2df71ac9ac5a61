"""Every free-text field the project takes has a length cap, and the API takes text only as text.

The walk below fails when someone adds a form or serializer field that takes free text without a max_length."""

import importlib
import inspect
from pathlib import Path

import pytest
from django import forms
from django.apps import apps
from django.conf import settings
from rest_framework import serializers

from cases import api as cases_api
from trainingportal.core import phi
from trainingportal.core.text import LONG_TEXT, StrictCharField

from ..cases.helpers import _entry_payload
from ..conftest import api_as
from ..factories import EntryFactory

# Fields that are not stored free text: secrets and one-time codes.
NOT_FREE_TEXT = {"password", "password1", "password2", "oldpassword", "otp_code", "code"}
# Serializers that only ever describe a response (read-only viewsets, computed reports).
RESPONSE_ONLY = {
    "trainees.api.EnrollmentSerializer",
    "assessments.api.FrameworkSerializer",
    "progress.api.RequirementSerializer",
    "progress.api.FlagSerializer",
    "progress.api.ProgressSerializer",
}


def _project_classes():
    root = Path(settings.BASE_DIR).resolve()
    for app in apps.get_app_configs():
        if not Path(app.path).resolve().is_relative_to(root) or ".venv" in app.path:
            continue
        for name in ("forms", "api"):
            try:
                module = importlib.import_module(f"{app.name}.{name}")
            except ModuleNotFoundError:
                continue
            for _, cls in inspect.getmembers(module, inspect.isclass):
                if cls.__module__ == module.__name__:
                    yield f"{cls.__module__}.{cls.__qualname__}", cls


def _uncapped():
    found = []
    for path, cls in _project_classes():
        if issubclass(cls, forms.BaseForm):
            for name, field in cls.base_fields.items():
                if isinstance(field, forms.CharField) and name not in NOT_FREE_TEXT and field.max_length is None:
                    found.append(f"{path}.{name}")
        elif issubclass(cls, serializers.Serializer) and path not in RESPONSE_ONLY:
            for name, field in cls().fields.items():
                text = isinstance(field, serializers.CharField) and not isinstance(field, serializers.ChoiceField)
                if text and not field.read_only and name not in NOT_FREE_TEXT and field.max_length is None:
                    found.append(f"{path}.{name}")
    return found


def test_every_free_text_field_has_a_length_cap():
    assert _project_classes(), "the walk found no forms or serializers"
    assert _uncapped() == []


def test_the_case_log_api_takes_text_only_as_text():
    lax = [
        f"{name}.{field_name}"
        for name, cls in inspect.getmembers(cases_api, inspect.isclass)
        if issubclass(cls, serializers.Serializer) and cls.__module__ == cases_api.__name__
        for field_name, field in cls().fields.items()
        if type(field) is serializers.CharField and not field.read_only
    ]

    assert lax == []


@pytest.mark.django_db
def test_a_number_for_the_impression_is_refused(enrollment, trainee, mentor):
    response = api_as(trainee).post("/api/v1/case-logs/", _entry_payload(mentor, impression=12345), format="json")

    assert response.status_code == 400
    assert "impression" in response.json()


@pytest.mark.django_db
def test_a_1_mb_impression_is_refused_before_the_guard_runs(enrollment, trainee, mentor, monkeypatch):
    def guard_must_not_run(*args, **kwargs):
        raise AssertionError("the PHI guard ran on a 1 MB text")

    monkeypatch.setattr(phi, "find_phi", guard_must_not_run)
    payload = _entry_payload(mentor, impression="LV normal. " * 100_000)

    response = api_as(trainee).post("/api/v1/case-logs/", payload, format="json")

    assert response.status_code == 400
    assert f"no more than {LONG_TEXT} characters" in response.json()["impression"][0]


@pytest.mark.django_db
def test_a_1_mb_feedback_is_refused(mentor, enrollment):
    entry = EntryFactory(enrollment=enrollment, supervising_mentor=mentor, submitted=True)

    response = api_as(mentor).post(f"/api/v1/case-logs/{entry.pk}/sign/", {"feedback": "x" * 1_000_000}, format="json")

    assert response.status_code == 400
    assert "feedback" in response.json()


def test_strict_char_field_keeps_strings_and_refuses_numbers():
    field = StrictCharField()

    assert field.run_validation("Normal study") == "Normal study"
    with pytest.raises(serializers.ValidationError):
        field.run_validation(12345)
