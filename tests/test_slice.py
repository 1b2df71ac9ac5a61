"""The walking skeleton through the test client: invite → sign up → log → sign → progress → dossier → verify."""

import re

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.urls import reverse

from cases.models import CaseLogEntry
from curriculum.models import Category
from programs.models import Invitation, Membership
from trainees.models import Enrollment
from verification.models import VerificationRequest

from .conftest import login
from .factories import PASSWORD
from .verification.helpers import current_code, make_complete

pytestmark = pytest.mark.django_db


def _accept_invitation(client, email: str, name: str):
    message = next(m for m in mail.outbox if email in m.to)
    link = re.search(r"https?://\S+/programs/invitations/\S+/", message.body).group(0)
    path = link[link.index("/programs/") :]
    response = client.post(
        path, {"full_name": name, "password1": "Str0ng-passphrase!", "password2": "Str0ng-passphrase!"}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    return path


def test_whole_slice(client, director, reviewer, django_capture_on_commit_callbacks):
    # 4a: the site's staff give the director access (README: how a new director gets access); the director creates
    # a program and invites a mentor and a trainee.
    director.user_permissions.add(Permission.objects.get(codename="add_program"))
    login(client, director)
    response = client.post(
        reverse("programs:create"),
        {
            "name": "Slice Program",
            "institution": "Slice Heart Center",
            "mode": "hybrid",
            "max_virtual_share": 50,
            "interactive_group_cap": 4,
        },
    )
    assert response.status_code == 302
    program = director.directed_programs.get(name="Slice Program")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("programs:invitation_create", args=[program.pk]), {"email": "m@x.test", "role": "mentor"})
    client.logout()
    _accept_invitation(client, "m@x.test", "Mia Mentor")
    mentor = Membership.objects.get(program=program, role="mentor").user
    client.logout()

    login(client, director)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("programs:invitation_create", args=[program.pk]),
            {"email": "t@x.test", "role": "trainee", "mentor": mentor.pk},
        )
    assert response.status_code == 302
    client.logout()
    _accept_invitation(client, "t@x.test", "Theo Trainee")
    enrollment = Enrollment.objects.get(program=program, trainee__email="t@x.test")
    assert list(enrollment.mentors.all()) == [mentor]
    assert Invitation.objects.filter(accepted_at__isnull=True).count() == 0

    # 4b: the trainee logs and submits a case.
    response = client.post(
        reverse("cases:create"),
        {
            "reference": "SL-0001",
            "performed_on": "2026-11-20",
            "source": "center_archive",
            "complete_study": "on",
            "indication": "Chest pain, unobstructed coronaries",
            "categories": [Category.objects.get(slug="infarction-viability").pk],
            "diagnosis": "myocarditis",
            "field_strength": "3T",
            "sequences": ["cine", "lge", "t2_mapping"],
            "roles": ["interpreted", "assisted_console"],
            "delivery": "in_person",
            "supervising_mentor": mentor.pk,
            "impression": "Myocarditis pattern",
            "action": "submit",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    entry = CaseLogEntry.objects.get(case__reference="SL-0001")
    assert entry.status == "submitted"
    assert (entry.case.diagnosis, entry.case.field_strength, entry.case.sequences) == (
        "myocarditis", "3T", ["cine", "lge", "t2_mapping"]
    )  # fmt: skip
    client.logout()

    # 4c: the mentor records their CMR credential (a Level II ruleset counts entries signed by Level II or above),
    # then reads the case blind (new programs review blind) and signs it from the inbox; then it cannot be edited.
    login(client, mentor)
    assert program.blind_review
    response = client.post(
        reverse("accounts:credentials"),
        {"level": "II", "body": "SCMR", "identifier": "SCMR-L2-777", "issued_on": "2022-03-01"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert "SL-0001" in client.get(reverse("cases:inbox")).content.decode()
    review = reverse("cases:review", args=[entry.pk])
    assert client.post(review, {"final_diagnosis": "Myocarditis"}).status_code == 302
    response = client.post(
        reverse("cases:review", args=[entry.pk]),
        {"mentor_agrees": "yes", "mentor_feedback": "Agree. Note the subepicardial LGE.", "action": "sign"},
    )
    assert response.status_code == 302
    entry.refresh_from_db()
    assert entry.status == "signed" and entry.signed_by == mentor
    client.logout()
    client.force_login(enrollment.trainee)
    assert client.get(reverse("cases:edit", args=[entry.pk])).status_code == 403

    # 4d: progress counts the signed entry.
    page = client.get(reverse("trainees:progress", args=[enrollment.pk])).content.decode()
    assert "1 / 150" in page and "1 / 50" in page
    assert "at least 25 in person" in page
    client.logout()

    # 4e: the director requests a dossier; the (eager) task renders it.
    login(client, director)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("dossiers:create", args=[enrollment.pk]))
    vr = VerificationRequest.objects.get(enrollment=enrollment)
    assert response.status_code == 302
    assert vr.status == "ready", vr.failure_reason
    assert len(vr.sha256) == 64 and vr.page_count >= 2
    # The gate: one signed case is far from Level II, so the dossier cannot go to SCMR.
    page = client.get(reverse("dossiers:submit", args=[vr.pk])).content.decode()
    assert "Not every requirement is met" in page and "has not signed a final determination" in page
    client.post(reverse("dossiers:submit", args=[vr.pk]))
    vr.refresh_from_db()
    assert vr.status == "ready"

    # 4e': the trainee completes their training (seeded), the director signs the determination (re-authenticating)
    # and submits a new dossier, which now carries the determination.
    make_complete(enrollment, mentor)
    response = client.post(
        reverse("dossiers:determination", args=[enrollment.pk]),
        {
            "decision": "competent",
            "statement": "Competent to perform and interpret CMR independently.",
            "password": PASSWORD,
            "otp_code": current_code(),
            "attest": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("dossiers:create", args=[enrollment.pk]))
    vr = VerificationRequest.objects.filter(enrollment=enrollment).latest("created_at")
    assert vr.status == "ready", vr.failure_reason
    assert client.post(reverse("dossiers:submit", args=[vr.pk])).status_code == 302
    vr.refresh_from_db()
    assert vr.status == "submitted"
    client.logout()

    # 4f: the reviewer sees it in the queue, downloads it; anyone can check it.
    login(client, reviewer)
    assert (
        vr.code in client.get(reverse("dossiers:queue")).content.decode()
        or "Theo Trainee" in client.get(reverse("dossiers:queue")).content.decode()
    )
    response = client.get(reverse("dossiers:download", args=[vr.pk]))
    assert response.status_code == 200
    content = b"".join(response.streaming_content)
    assert content.startswith(b"%PDF")
    import hashlib

    assert hashlib.sha256(content).hexdigest() == vr.sha256
    client.logout()
    page = client.get(reverse("verify", args=[vr.code])).content.decode()
    assert vr.sha256 in page and "SL-0001" not in page
