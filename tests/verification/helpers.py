"""A Level II trainee who honestly meets every requirement, and the director's signature on them."""

import datetime

from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value, yield_hotp_counters_from_time
from django.core.cache import cache
from django.utils import timezone

from assessments.selectors import current_competencies
from curriculum.models import Category
from verification.services.determinations import determination_sign

from ..conftest import TOTP_SECRET
from ..factories import PASSWORD, CaseFactory, EntryFactory, SignOffFactory


def current_code(secret: str = TOTP_SECRET) -> str:
    cache.clear()  # allauth refuses a code used twice; tests sign more than once within 30 s
    counters = list(yield_hotp_counters_from_time())
    return format_hotp_value(hotp_value(secret, counters[len(counters) // 2]))


def make_complete(enrollment, mentor, *, unsigned=()):
    """3 months and 150 interpretations carried forward from Level I; 50 signed in-person performed cases covering
    the 15 topics; every competency signed off in person."""
    enrollment.start_date = timezone.localdate() - datetime.timedelta(days=120)
    enrollment.carried_forward_cases, enrollment.carried_forward_months = 150, 3
    enrollment.save()
    slugs = list(Category.objects.order_by("position").values_list("slug", flat=True))
    for i in range(50):
        case = CaseFactory(program=enrollment.program, categories=[slugs[i % len(slugs)]])
        EntryFactory(
            enrollment=enrollment,
            case=case,
            supervising_mentor=mentor,
            signed=True,
            assisted_console=True,
            performed_on=timezone.localdate() - datetime.timedelta(days=1 + i),
        )
    # Every competency of the framework signed off at the sign-off level, in person (stress testing and device
    # patients need it), with an entry of the log as evidence.
    evidence = enrollment.entries.filter(status="signed").order_by("id").first()
    for code in current_competencies().exclude(code__in=unsigned).values_list("code", flat=True):
        SignOffFactory(enrollment=enrollment, competency_code=code, signer=mentor).evidence_entries.add(evidence)
    return enrollment


def sign_determination(director, enrollment, **overrides):
    data = {
        "decision": "competent",
        "statement": "Competent to perform and interpret CMR examinations independently.",
        "password": PASSWORD,
        "otp_code": current_code(),
        "attest": True,
        **overrides,
    }
    return determination_sign(actor=director, enrollment=enrollment, **data)
