"""The director's final determination (S15): signed after re-authentication, over the report it rests on."""

import hashlib
import json
from datetime import date

from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from assessments.models import FinalDetermination
from assessments.selectors import competency_board
from cases.models import CaseLogEntry
from progress.selectors.determinations import evidence_fingerprint
from progress.selectors.reports import report_for
from trainees.models import Enrollment
from trainingportal.core.audit import log_action
from trainingportal.core.phi import check_phi_fields

Decision = FinalDetermination.Decision
# What the director attests by signing, stored word for word with the determination and printed in the dossier.
ATTESTATION = (
    'I am the director of this training program and this final determination is mine (SCMR 2021: "The final '
    "determination of a trainee's competency to independently perform and interpret CMR studies is up to the "
    'program director"). I have reviewed the requirement report, the case log, the competency sign-offs and the '
    "participation evidence it rests on; the in-person final assessment recorded here took place as described; and "
    "to my knowledge the record holds no patient identifiers."
)
LABELS = {"statement": "Statement", "in_person_component": "In-person final assessment"}


def _reauthenticate(actor, *, password: str, otp_code: str) -> None:
    """The signer proves it is them now: their password, and the code of their authenticator app if they have one."""
    errors = {}
    if not password or not actor.check_password(password):
        errors["password"] = "The password is not right."
    totp = Authenticator.objects.filter(user=actor, type=Authenticator.Type.TOTP).first()
    if totp is not None and not TOTP(totp).validate_code((otp_code or "").strip()):
        errors["otp_code"] = "The code from your authenticator app is not right (or has expired)."
    if errors:
        raise ValidationError(errors)


def signature_of(determination: FinalDetermination) -> str:
    """SHA-256 over the determination and the report it rests on (canonical JSON)."""
    payload = {
        "enrollment": determination.enrollment_id,
        "director": determination.director_id,
        "decision": determination.decision,
        "in_person_assessed_on": determination.in_person_assessed_on.isoformat()
        if determination.in_person_assessed_on
        else None,
        "in_person_entry": determination.in_person_entry_id,
        "in_person_component": determination.in_person_component,
        "statement": determination.statement,
        # Only when there is one, so that determinations signed before the attestation keep their signature.
        **({"attestation": determination.attestation} if determination.attestation else {}),
        "ruleset": determination.ruleset,
        "requirements_met": determination.requirements_met,
        "report_sha256": determination.report_sha256,
        "evidence_fingerprint": determination.evidence_fingerprint,
        "signed_at": determination.signed_at.isoformat(),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@transaction.atomic
def determination_sign(
    *,
    actor,
    enrollment: Enrollment,
    decision: str,
    statement: str,
    password: str,
    otp_code: str = "",
    in_person_component: str = "",
    in_person_assessed_on: date | None = None,
    in_person_entry: int | None = None,
    attest: bool = False,
) -> FinalDetermination:
    enrollment = Enrollment.objects.select_for_update().select_related("program").get(pk=enrollment.pk)
    if enrollment.program.director_id != actor.pk:
        raise PermissionDenied("Only the program's director signs the final determination.")
    _reauthenticate(actor, password=password, otp_code=otp_code)
    statement, in_person_component = (statement or "").strip(), (in_person_component or "").strip()
    errors = {}
    if decision not in Decision.values:
        errors["decision"] = "Choose competent or not yet competent."
    if len(statement) < 20:
        errors["statement"] = "Write the statement the determination makes (at least a sentence)."
    entry = None
    if in_person_entry not in (None, ""):
        entry = CaseLogEntry.objects.filter(
            pk=getattr(in_person_entry, "pk", in_person_entry),
            enrollment=enrollment,
            status=CaseLogEntry.Status.SIGNED,
            delivery=CaseLogEntry.Delivery.IN_PERSON,
        ).first()
        if entry is None:
            errors["in_person_entry"] = "Choose a signed, in-person case of this trainee."
    today = timezone.localdate()
    if in_person_assessed_on and not (enrollment.start_date <= in_person_assessed_on <= today):
        errors["in_person_assessed_on"] = "The date is between the start of training and today."
    if (entry or in_person_component) and not in_person_assessed_on:
        errors["in_person_assessed_on"] = "Give the date of the in-person final assessment."
    report = report_for(enrollment, today=today)
    if decision == Decision.COMPETENT and not report.all_met:
        errors["decision"] = "Competent needs every requirement met; still missing: " + "; ".join(report.missing)
    elif decision == Decision.COMPETENT:
        unsigned = [
            item["competency"].title
            for item in competency_board(enrollment)
            if item["status"] not in ("signed", "prior_experience")
        ]
        if unsigned:
            errors["decision"] = "Competent needs every competency signed off; not yet: " + "; ".join(unsigned)
    if not attest:
        errors["attest"] = "Confirm the attestation to sign."
    if errors:
        raise ValidationError(errors)
    check_phi_fields({"statement": statement, "in_person_component": in_person_component}, LABELS)
    report_json = json.dumps(report.as_dict(), sort_keys=True, separators=(",", ":"), default=str)
    determination = FinalDetermination(
        enrollment=enrollment,
        director=actor,
        decision=decision,
        statement=statement,
        attestation=ATTESTATION,
        in_person_component=in_person_component,
        in_person_assessed_on=in_person_assessed_on,
        in_person_entry=entry,
        ruleset=report.ruleset,
        requirements_met=report.all_met,
        report_sha256=hashlib.sha256(report_json.encode()).hexdigest(),
        evidence_fingerprint=evidence_fingerprint(enrollment),
        signed_at=timezone.now(),
    )
    determination.signature_hash = signature_of(determination)
    determination.save()
    log_action(
        actor=actor,
        action="determination.sign",
        obj=enrollment,
        after={
            "decision": decision,
            "requirements_met": report.all_met,
            "signature": determination.signature_hash,
            "report_sha256": determination.report_sha256,
        },
    )
    return determination
