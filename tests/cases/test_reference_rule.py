"""The case reference is a pseudonym: the same rule in the form, the API, the CSV import and the service — never a
record number, a date or a name, and the program's own pattern when it set one."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from cases.models import Case
from trainingportal.core.phi import check_case_reference, validate_reference_pattern
from verification.forms import ProgramProfileForm

from ..conftest import api_as
from .helpers import _entry_form_data, _entry_payload, web

pytestmark = pytest.mark.django_db

IDENTIFYING = ["MRN004518273", "DOB-1961-03-14", "19610314", "Doe.Jane.19610314", "NB-1961-03-14", "Smith-0001"]
# What the demo, the bench and the tests log; "NB-2026-0142" carries a year, and a year alone is not a date of birth.
PSEUDONYMS = ["EX-00001", "BR-0001", "NB-2026-0142", "NB-2026-0112", "BDS511-2025-000257", "WK-001", "SCMR-REG-00257"]


@pytest.mark.parametrize("reference", PSEUDONYMS)
def test_pseudonyms_in_use_pass_the_default_rule(reference):
    check_case_reference(reference)


@pytest.mark.parametrize("reference", IDENTIFYING)
def test_identifying_references_are_refused(reference):
    with pytest.raises(ValidationError) as exc_info:
        check_case_reference(reference)

    assert list(exc_info.value.message_dict) == ["reference"]


@pytest.mark.parametrize("reference", IDENTIFYING)
def test_the_api_refuses_an_identifying_reference(enrollment, trainee, mentor, reference):
    response = api_as(trainee).post("/api/v1/case-logs/", _entry_payload(mentor, reference=reference), format="json")

    assert response.status_code == 400
    assert "reference" in response.json()
    assert not Case.objects.filter(reference=reference).exists()


def test_the_form_refuses_a_record_number_as_reference(enrollment, trainee, mentor):
    response = web(trainee).post(reverse("cases:create"), _entry_form_data(mentor, reference="MRN004518273"))

    assert response.status_code == 400  # the form again, with the error
    assert "record number" in response.content.decode()
    assert not Case.objects.filter(reference="MRN004518273").exists()


def test_the_programs_pattern_is_enforced(program, enrollment, trainee, mentor):
    program.case_reference_pattern = r"^NB-\d{4}-\d{4}$"
    program.save(update_fields=["case_reference_pattern"])
    client = api_as(trainee)

    refused = client.post("/api/v1/case-logs/", _entry_payload(mentor, reference="API-0001"), format="json")
    accepted = client.post("/api/v1/case-logs/", _entry_payload(mentor, reference="NB-2026-0142"), format="json")

    assert refused.status_code == 400 and "reference" in refused.json()
    assert accepted.status_code == 201, accepted.content


@pytest.mark.parametrize(
    "pattern",
    [
        r"[A-Z]+-\d+",  # not anchored
        r"^(a+)+$",  # nested unbounded repetition: catastrophic backtracking
        r"^(\w)\1$",  # back-reference
        r"^(?=NB)\w+$",  # look-ahead
        r"^[A-Z",  # not a regular expression
    ],
)
def test_an_unsafe_reference_pattern_is_refused(pattern):
    with pytest.raises(ValidationError):
        validate_reference_pattern(pattern)


@pytest.mark.parametrize("pattern", ["", r"^NB-\d{4}-\d{4}$", r"^[A-Z]{2,4}(?:-[A-Z0-9]{1,6}){1,3}$"])
def test_a_sane_reference_pattern_is_accepted(pattern):
    validate_reference_pattern(pattern)


def test_the_pattern_is_on_the_program_profile_form():
    assert "case_reference_pattern" in ProgramProfileForm.base_fields
