"""Invitations: the e-mailed link, re-inviting, refusals, and signing up (or accepting) through the link."""

import datetime

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from programs import services
from programs.models import Invitation, Membership
from trainees import services as trainee_services
from trainees.models import Enrollment
from trainingportal.core.pdf import absolute_url

from ..conftest import login

pytestmark = pytest.mark.django_db

User = get_user_model()
PASSWORD = "Str0ng-passphrase!"


@pytest.fixture
def invite(director, program, django_capture_on_commit_callbacks):
    def invite(email: str, role: str = Membership.Role.TRAINEE, mentor=None) -> Invitation:
        with django_capture_on_commit_callbacks(execute=True):
            return services.invitation_create(actor=director, program=program, email=email, role=role, mentor=mentor)

    return invite


def _accept_path(invitation: Invitation) -> str:
    return reverse("programs:invitation_accept", args=[invitation.token])


def _sign_up(client, invitation: Invitation, name: str = "Nia Newcomer"):
    return client.post(_accept_path(invitation), {"full_name": name, "password1": PASSWORD, "password2": PASSWORD})


# --- create -------------------------------------------------------------------------------------------------------


def test_create_sends_one_email_with_the_link(invite, program):
    invitation = invite(" New.Trainee@Example.TEST ")

    assert invitation.email == "new.trainee@example.test"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["new.trainee@example.test"]
    assert program.name in message.subject
    assert absolute_url(_accept_path(invitation)) in message.body


def test_email_is_sent_only_after_commit(director, program, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.invitation_create(actor=director, program=program, email="late@example.test", role="trainee")

    assert mail.outbox == []
    assert len(callbacks) == 1


def test_create_writes_an_audit_event(invite, director):
    from trainingportal.core.models import AuditEvent

    invitation = invite("audit@example.test", role="mentor")

    event = AuditEvent.objects.get(action="invitation.create", object_id=str(invitation.pk))
    assert event.actor == director
    assert event.after == {"email": "audit@example.test", "role": "mentor"}


def test_reinviting_replaces_the_open_invitation(invite, client):
    first = invite("again@example.test")
    second = invite("AGAIN@example.test")

    assert list(Invitation.objects.filter(email="again@example.test")) == [second]
    assert second.token != first.token
    assert len(mail.outbox) == 2
    assert absolute_url(_accept_path(second)) in mail.outbox[1].body
    assert client.get(_accept_path(first)).status_code == 404
    assert client.get(_accept_path(second)).status_code == 200


def test_inviting_an_existing_member_in_the_same_role_is_refused(director, program, mentor):
    with pytest.raises(ValidationError) as exc_info:
        services.invitation_create(actor=director, program=program, email=mentor.email.upper(), role="mentor")

    assert "already a mentor" in exc_info.value.message_dict["email"][0]
    assert not Invitation.objects.exists()
    assert mail.outbox == []


def test_inviting_an_enrolled_trainee_again_is_refused(director, program, enrollment):
    with pytest.raises(ValidationError):
        services.invitation_create(actor=director, program=program, email=enrollment.trainee.email, role="trainee")

    assert not Invitation.objects.exists()


def test_inviting_a_director_role_is_refused(director, program):
    with pytest.raises(ValidationError) as exc_info:
        services.invitation_create(actor=director, program=program, email="boss@example.test", role="director")

    assert "role" in exc_info.value.message_dict


def test_the_chosen_mentor_must_mentor_in_the_program(director, program, outsider):
    with pytest.raises(ValidationError) as exc_info:
        services.invitation_create(
            actor=director, program=program, email="t@example.test", role="trainee", mentor=outsider
        )

    assert "mentor" in exc_info.value.message_dict
    assert not Invitation.objects.exists()


# --- accept ---------------------------------------------------------------------------------------------------------


def test_trainee_sign_up_creates_verified_email_membership_and_enrollment_with_mentor(invite, client, mentor, program):
    invitation = invite("newbie@example.test", mentor=mentor)
    client.logout()

    response = _sign_up(client, invitation, name="Nia Newcomer")

    assert response.status_code == 302
    user = User.objects.get(email="newbie@example.test")
    assert user.full_name == "Nia Newcomer"
    assert user.check_password(PASSWORD)
    address = EmailAddress.objects.get(user=user)
    assert address.email == "newbie@example.test" and address.verified and address.primary
    assert Membership.objects.filter(user=user, program=program, role="trainee").exists()
    enrollment = Enrollment.objects.get(trainee=user, program=program)
    assert enrollment.status == Enrollment.Status.ACTIVE
    assert list(enrollment.mentors.all()) == [mentor]
    invitation.refresh_from_db()
    assert invitation.accepted_at is not None and invitation.accepted_by == user
    assert int(client.session["_auth_user_id"]) == user.pk


def test_mentor_sign_up_creates_a_membership_and_no_enrollment(invite, client, program):
    invitation = invite("new.mentor@example.test", role="mentor")

    assert _sign_up(client, invitation).status_code == 302

    user = User.objects.get(email="new.mentor@example.test")
    assert list(Membership.objects.filter(user=user).values_list("role", flat=True)) == ["mentor"]
    assert not Enrollment.objects.filter(trainee=user).exists()


def test_sign_up_with_mismatched_passwords_creates_nothing(invite, client):
    invitation = invite("typo@example.test")

    response = client.post(
        _accept_path(invitation), {"full_name": "Ty Po", "password1": PASSWORD, "password2": PASSWORD + "x"}
    )

    assert response.status_code == 200
    assert not User.objects.filter(email="typo@example.test").exists()
    invitation.refresh_from_db()
    assert invitation.accepted_at is None


def test_expired_invitation_is_refused_with_410(invite, client):
    invitation = invite("late@example.test")
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - datetime.timedelta(minutes=1))

    assert client.get(_accept_path(invitation)).status_code == 410
    response = _sign_up(client, invitation)

    assert response.status_code == 410
    assert "expired" in response.content.decode()
    assert not User.objects.filter(email="late@example.test").exists()


def test_expired_invitation_is_refused_by_the_service(invite, other_trainee):
    invitation = invite(other_trainee.email, role="mentor")
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))

    with pytest.raises(ValidationError):
        trainee_services.invitation_accept(invitation=invitation, user=other_trainee)

    assert not Membership.objects.filter(user=other_trainee, role="mentor").exists()


def test_logged_in_user_with_a_different_email_cannot_accept(invite, client, other_trainee, program):
    invitation = invite("someone.else@example.test", role="mentor")
    login(client, other_trainee)

    response = client.post(_accept_path(invitation))

    assert response.status_code == 400
    assert "someone.else@example.test" in response.content.decode()
    assert not Membership.objects.filter(user=other_trainee, program=program, role="mentor").exists()
    invitation.refresh_from_db()
    assert invitation.accepted_at is None


def test_logged_in_user_with_the_invited_email_accepts(invite, client, outsider, program):
    invitation = invite(outsider.email, role="mentor")
    client.force_login(outsider)

    response = client.post(_accept_path(invitation))

    assert response.status_code == 302
    assert Membership.objects.filter(user=outsider, program=program, role="mentor").exists()
    invitation.refresh_from_db()
    assert invitation.accepted_by == outsider


def test_sign_up_is_refused_when_an_account_exists_already(invite, client, outsider):
    invitation = invite(outsider.email, role="mentor")

    response = _sign_up(client, invitation, name="Impostor")

    assert response.status_code == 200
    assert "exists already" in response.content.decode()
    outsider.refresh_from_db()
    assert outsider.full_name == "Olga Outsider"
    assert not Membership.objects.filter(user=outsider, role="mentor").exists()


def test_accepted_invitation_cannot_be_reused(invite, client, mentor, program):
    invitation = invite("once@example.test", mentor=mentor)
    assert _sign_up(client, invitation).status_code == 302
    user = User.objects.get(email="once@example.test")
    client.logout()

    assert client.get(_accept_path(invitation)).status_code == 410
    assert _sign_up(client, invitation, name="Second Try").status_code == 410
    with pytest.raises(ValidationError):
        trainee_services.invitation_accept(invitation=invitation, user=user)

    assert User.objects.filter(email="once@example.test").count() == 1
    assert Enrollment.objects.filter(trainee=user, program=program).count() == 1
