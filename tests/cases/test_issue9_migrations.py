"""Issue 9's data migrations: the free-text technique tags become sequences of the fixed list where they can be
read, and the misnamed CBCMR ruleset id follows its rename on programs and enrollments."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from cases.models import Case
from programs.models import Program
from tests.factories import CaseFactory, EnrollmentFactory
from trainees.models import Enrollment

BEFORE = [("cases", "0008_split_the_trainees_roles"), ("programs", "0006_sessions_and_reviews_move_out")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


@pytest.mark.django_db(transaction=True)
def test_tags_become_sequences_and_the_cbcmr_id_is_renamed(program):
    tagged = CaseFactory(program=program, technique_tags=["Cine", "LGE", "T1 mapping", "first-pass perfusion", "lge"])
    untagged = CaseFactory(program=program, technique_tags=[])
    enrollment = EnrollmentFactory(program=program)
    try:
        _migrate(BEFORE)
        with connection.cursor() as cursor:
            cursor.execute("UPDATE programs_program SET ruleset = 'cbcmr-maintenance' WHERE id = %s", [program.pk])
            cursor.execute(
                "UPDATE trainees_enrollment SET ruleset = 'cbcmr-maintenance' WHERE id = %s", [enrollment.pk]
            )
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    # Readable tags map (case-insensitively, once each, in the list's order); an unknown one is left in the old field.
    assert Case.objects.get(pk=tagged.pk).sequences == ["cine", "lge", "t1_mapping"]
    assert Case.objects.get(pk=tagged.pk).technique_tags == tagged.technique_tags
    assert Case.objects.get(pk=untagged.pk).sequences == []
    assert Program.objects.get(pk=program.pk).ruleset == "cbcmr-exam-eligibility"
    assert Enrollment.objects.get(pk=enrollment.pk).ruleset == "cbcmr-exam-eligibility"
