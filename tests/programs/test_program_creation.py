"""Who may start a program (issue 10): directors the site's staff gave access, or who already direct one; never a
reviewer, nor any signed-in trainee or mentor."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from programs.models import Program

from ..conftest import api_as
from ..factories import UserFactory

pytestmark = pytest.mark.django_db

DATA = {"name": "New Heart Program", "institution": "New Heart Center", "mode": "hybrid",
        "max_virtual_share": 50, "interactive_group_cap": 4}  # fmt: skip


def test_a_user_granted_access_by_staff_creates_a_program_and_directs_it(client):
    user = UserFactory()
    user.user_permissions.add(Permission.objects.get(codename="add_program"))
    client.force_login(user)

    response = client.post(reverse("programs:create"), DATA)

    assert response.status_code == 302
    assert Program.objects.get(name="New Heart Program").director == user


@pytest.mark.parametrize("who", ["trainee", "mentor", "reviewer"])
def test_trainees_mentors_and_reviewers_cannot_create_a_program(request, client, who):
    user = request.getfixturevalue(who)
    client.force_login(user)

    page = client.get(reverse("programs:create"))
    assert page.status_code == 403 and "Create a program" in page.content.decode()
    assert client.post(reverse("programs:create"), DATA).status_code == 403
    assert api_as(user).post("/api/v1/programs/", DATA, format="json").status_code == 403
    assert not Program.objects.filter(name="New Heart Program").exists()


def test_a_reviewer_granted_the_permission_still_cannot(client, reviewer):
    reviewer.user_permissions.add(Permission.objects.get(codename="add_program"))
    client.force_login(reviewer)
    assert client.post(reverse("programs:create"), DATA).status_code == 403


def test_a_director_may_start_another_program(client, director, program):
    client.force_login(director)
    assert client.post(reverse("programs:create"), DATA).status_code == 302
