"""The data migration that split the trainee's roles maps every old value, loses none, and promotes none."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from cases.models import CaseLogEntry
from tests.factories import EntryFactory

BEFORE = [("cases", "0007_category_moves_to_curriculum")]
AFTER = [("cases", "0008_split_the_trainees_roles")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def _old_columns() -> dict[int, tuple]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, acquired_hands_on, observed_console, interpreted FROM cases_caselogentry")
        return {row[0]: tuple(row[1:]) for row in cursor.fetchall()}


@pytest.mark.django_db(transaction=True)
def test_old_roles_map_to_the_split_roles(enrollment, mentor):
    rows = {
        "hands_on": EntryFactory(enrollment=enrollment, supervising_mentor=mentor, assisted_console=True),
        "watched_in_person": EntryFactory(
            enrollment=enrollment, supervising_mentor=mentor, interpreted=False, observed_in_room=True
        ),
        "watched_remotely": EntryFactory(
            enrollment=enrollment,
            supervising_mentor=mentor,
            observed_in_room=True,  # set below through the old column, for a virtual entry
            delivery="virtual_live_two_way",
        ),
        "interpreted": EntryFactory(enrollment=enrollment, supervising_mentor=mentor),
    }
    try:
        _migrate(BEFORE)
        old = _old_columns()
        assert old[rows["hands_on"].pk] == (True, False, True)
        assert old[rows["watched_in_person"].pk] == (False, True, False)
        assert old[rows["interpreted"].pk] == (False, False, True)
        _migrate(AFTER)
    finally:
        # Back to the latest schema (every app's leaf), for the tests that run after this one.
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    def roles(name):
        return CaseLogEntry.objects.get(pk=rows[name].pk).roles

    assert roles("hands_on") == ["assisted_console", "interpreted"]  # performed, never promoted to primary
    assert roles("watched_in_person") == ["observed_in_room"]
    assert roles("watched_remotely") == ["observed_remotely", "interpreted"]  # a virtual watch is remote
    assert roles("interpreted") == ["interpreted"]
    assert CaseLogEntry.objects.count() == 4
