"""The checksum the backup and restore round trip compares tables with (bench/restore.py) sees a changed row, a
missing row and an added one; the round trip itself runs in `make bench` on the bench data."""

import pytest
from django.db import connection

from bench.restore import table_checksums

from .factories import UserFactory


def _url() -> str:
    settings = connection.settings_dict
    password = f":{settings['PASSWORD']}" if settings["PASSWORD"] else ""
    return f"postgresql://{settings['USER']}{password}@{settings['HOST'] or 'localhost'}:{settings['PORT'] or 5432}/{settings['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_the_checksum_sees_a_changed_a_missing_and_an_added_row():
    if connection.vendor != "postgresql":
        pytest.skip("the round trip is pg_dump/pg_restore: PostgreSQL only")
    user = UserFactory(full_name="Before")
    first = table_checksums(_url())
    assert first == table_checksums(_url())  # stable
    user.full_name = "After"
    user.save()
    changed = table_checksums(_url())
    assert changed["accounts_user"][0] == first["accounts_user"][0]
    assert changed["accounts_user"][1] != first["accounts_user"][1]
    other = UserFactory()
    assert table_checksums(_url())["accounts_user"][0] == first["accounts_user"][0] + 1
    other.delete()
    user.delete()
    assert table_checksums(_url())["accounts_user"][0] == first["accounts_user"][0] - 1
