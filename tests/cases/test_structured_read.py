"""The structured read (LVEF, LV EDV index, LGE pattern, final diagnosis): how the trainee's read and the mentor's
are compared field by field, and the PHI guard on the final diagnosis (service, entry form, the mentor's own read)."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from cases import services
from cases.models import Case, CaseLogEntry
from curriculum.models import Category

from .helpers import _entry_form_data, _row_counts, _with_read, web

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate


# --- compare_reads: field by field ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("trainee_lvef", "mentor_lvef", "agrees"),
    [(55, 55, True), (50, 55, True), (60, 55, True), (49, 55, False), (61, 55, False), (0, 5, True), (0, 6, False)],
)
def test_compare_reads_lvef_agrees_within_5_points(trainee_lvef, mentor_lvef, agrees):
    entry = CaseLogEntry(lvef=trainee_lvef, mentor_lvef=mentor_lvef)

    assert services.compare_reads(entry) == {"lvef": agrees}


@pytest.mark.parametrize(
    ("trainee_edvi", "mentor_edvi", "agrees"),
    [(100, 100, True), (110, 100, True), (90, 100, True), (111, 100, False), (89, 100, False), (77, 70, True)],
)
def test_compare_reads_lv_edvi_agrees_within_10_percent_of_the_mentors_value(trainee_edvi, mentor_edvi, agrees):
    entry = CaseLogEntry(lv_edvi=trainee_edvi, mentor_lv_edvi=mentor_edvi)

    assert services.compare_reads(entry) == {"lv_edvi": agrees}


def test_compare_reads_lge_pattern_must_be_the_same():
    same = CaseLogEntry(lge_pattern="mid_wall", mentor_lge_pattern="mid_wall")
    different = CaseLogEntry(lge_pattern="mid_wall", mentor_lge_pattern="subepicardial")

    assert services.compare_reads(same) == {"lge_pattern": True}
    assert services.compare_reads(different) == {"lge_pattern": False}


@pytest.mark.parametrize(
    ("trainee", "mentor", "agrees"),
    [
        ("Cardiac amyloidosis", "cardiac AMYLOIDOSIS", True),
        ("  Cardiac amyloidosis ", "Cardiac amyloidosis", True),
        ("Cardiac amyloidosis", "Cardiac sarcoidosis", False),
    ],
)
def test_compare_reads_final_diagnosis_ignores_case_and_surrounding_space(trainee, mentor, agrees):
    entry = CaseLogEntry(final_diagnosis=trainee, mentor_final_diagnosis=mentor)

    assert services.compare_reads(entry) == {"final_diagnosis": agrees}


def test_compare_reads_leaves_out_fields_only_one_side_gave():
    entry = CaseLogEntry(lvef=40, lge_pattern="transmural", mentor_lv_edvi=90, mentor_final_diagnosis="MI")

    assert services.compare_reads(entry) == {}


# --- the PHI guard on the final diagnosis ---------------------------------------------------------------------------


def test_phi_in_the_final_diagnosis_is_refused_naming_the_field_and_nothing_is_saved(enrollment, mentor):
    before = _row_counts()

    with pytest.raises(ValidationError) as exc_info:
        services.entry_create(
            actor=enrollment.trainee,
            enrollment=enrollment,
            reference="PHI-DX-1",
            source=Case.Source.CENTER_ARCHIVE,
            complete_study=True,
            indication="",
            categories=list(Category.objects.filter(slug="cardiomyopathy")),
            performed_on=TODAY(),
            interpreted=True,
            supervising_mentor=mentor,
            impression="Infiltrative cardiomyopathy.",
            final_diagnosis="Amyloidosis in Mrs Jones",
        )

    errors = exc_info.value.message_dict
    assert list(errors) == ["final_diagnosis"]
    assert "Final diagnosis" in errors["final_diagnosis"][0]
    assert "patient name" in errors["final_diagnosis"][0]
    assert _row_counts() == before


def test_phi_in_the_final_diagnosis_is_shown_on_the_form_field_and_nothing_is_saved(enrollment, trainee, mentor):
    before = _row_counts()

    response = web(trainee).post(reverse("cases:create"), _entry_form_data(mentor, final_diagnosis="DCM, MRN 12345678"))

    assert response.status_code == 400
    errors = response.context["form"].errors
    assert list(errors) == ["final_diagnosis"]
    assert "Final diagnosis" in errors["final_diagnosis"][0]
    assert "medical record number" in errors["final_diagnosis"][0]
    assert _row_counts() == before


def test_phi_in_the_mentors_own_final_diagnosis_is_refused(blind_program, enrollment, mentor):
    entry = _with_read(enrollment, mentor)

    response = web(mentor).post(
        reverse("cases:review", args=[entry.pk]), {"final_diagnosis": "Sarcoid, seen with Mr Patel"}
    )

    assert response.status_code == 400  # refused: the page comes back with the error
    assert "patient name" in response.context["form"].errors["final_diagnosis"][0]
    entry.refresh_from_db()
    assert entry.mentor_read_at is None and entry.mentor_final_diagnosis == ""
