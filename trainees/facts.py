"""Gather the engine's facts from the database: for one enrollment or a whole list, in a fixed number of queries.

The caller has already checked access to the enrollments it passes in.
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone

from assessments.models import SignOff
from cases.models import CaseLogEntry, Category
from programs.models import Attendance

from .engine import EntryFact, Facts, ProgramFacts, SessionFact, SignOffFact
from .engine.evaluate import REVIEW_WAIT_DAYS
from .models import Enrollment, LeavePeriod

ROLE_FIELDS = CaseLogEntry.ROLE_FIELDS


def gather_facts_for(enrollments: Sequence[Enrollment]) -> dict[int, Facts]:
    """Facts for each enrollment (with `program` loaded). Seven queries, whatever the number of enrollments or
    entries: signed entries, their case topics, the topic list, review counts, leave, attendance, sign-offs."""
    ids = [e.pk for e in enrollments]
    if not ids:
        return {}
    # The two big reads use plain SQL through Django's connection: on a 50-trainee program they return ~15,000 and
    # ~30,000 rows, and the ORM's per-row overhead would dominate the director dashboard's time.
    placeholders = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT e.id, e.enrollment_id, e.case_id, e.performed_on, e.interpreted, e.acquired_hands_on,
                   e.observed_console, e.protocolled, e.post_processed, e.delivery, c.source, c.complete_study,
                   s.type, s.console_shared
            FROM cases_caselogentry e
            JOIN cases_case c ON c.id = e.case_id
            LEFT JOIN programs_trainingsession s ON s.id = e.session_id
            WHERE e.enrollment_id IN ({placeholders}) AND e.status = %s
            """,
            [*ids, CaseLogEntry.Status.SIGNED],
        )
        rows = cursor.fetchall()
        cursor.execute(
            f"""
            SELECT DISTINCT cc.case_id, cc.category_id
            FROM cases_case_categories cc
            JOIN cases_caselogentry e ON e.case_id = cc.case_id
            WHERE e.enrollment_id IN ({placeholders}) AND e.status = %s
            """,
            [*ids, CaseLogEntry.Status.SIGNED],
        )
        case_categories = cursor.fetchall()
    curriculum = tuple(Category.objects.order_by("position").values_list("id", "slug", "name"))
    slugs = {pk: slug for pk, slug, _ in curriculum}
    categories: dict[int, set[str]] = defaultdict(set)
    for case_id, category_id in case_categories:
        categories[case_id].add(slugs[category_id])
    frozen_categories = {case_id: frozenset(c) for case_id, c in categories.items()}
    role_sets: dict[tuple, frozenset[str]] = {}

    per_enrollment: dict[int, list[EntryFact]] = defaultdict(list)
    empty: frozenset[str] = frozenset()
    for entry_id, enrollment_id, case_id, day, *flags, delivery, source, complete, session_type, console in rows:
        key = tuple(flags)
        roles = role_sets.get(key)
        if roles is None:
            roles = role_sets[key] = frozenset(f for f, on in zip(ROLE_FIELDS, flags, strict=True) if on)
        per_enrollment[enrollment_id].append(
            EntryFact(
                entry_id,
                _as_date(day),
                roles,
                delivery,
                source,
                bool(complete),
                frozen_categories.get(case_id, empty),
                session_type,
                bool(console),
            )
        )

    waiting_since = timezone.now() - timedelta(days=REVIEW_WAIT_DAYS)
    reviews = {
        row["enrollment_id"]: row
        for row in CaseLogEntry.objects.filter(enrollment_id__in=ids)
        .exclude(status=CaseLogEntry.Status.SIGNED)
        .values("enrollment_id")
        .annotate(
            pending=Count("id", filter=Q(status=CaseLogEntry.Status.SUBMITTED)),
            waiting=Count("id", filter=Q(status=CaseLogEntry.Status.SUBMITTED, submitted_at__lt=waiting_since)),
            drafts=Count("id", filter=Q(status__in=list(CaseLogEntry.EDITABLE_STATUSES))),
        )
        .order_by()
    }

    leave: dict[int, list] = defaultdict(list)
    for enrollment_id, start, end in LeavePeriod.objects.filter(enrollment_id__in=ids).values_list(
        "enrollment_id", "start_date", "end_date"
    ):
        leave[enrollment_id].append((start, end))

    sessions: dict[int, list[SessionFact]] = defaultdict(list)
    attendance = (
        Attendance.objects.filter(enrollment_id__in=ids)
        .values_list(
            "enrollment_id", "session_id", "session__type", "session__delivery", "session__starts_at",
            "session__duration_minutes", "session__mentor_id", "session__console_shared", "active_input",
        )
        .annotate(attendees=Count("session__attendances"))
        .order_by()
    )  # fmt: skip
    for enrollment_id, sid, stype, delivery, starts, minutes, mentor, console, active, attendees in attendance:
        sessions[enrollment_id].append(
            SessionFact(
                id=sid,
                type=stype,
                delivery=delivery,
                date=timezone.localtime(starts).date(),
                minutes=minutes,
                mentor_id=mentor,
                attendees=attendees,
                console_shared=console,
                active_input=active,
            )
        )

    sign_offs: dict[int, list[SignOffFact]] = defaultdict(list)
    for enrollment_id, code, delivery, signed_on, in_person in SignOff.objects.filter(
        enrollment_id__in=ids
    ).values_list("enrollment_id", "competency__code", "delivery", "signed_on", "competency__in_person_required"):
        sign_offs[enrollment_id].append(SignOffFact(code, delivery, signed_on, in_person))

    facts = {}
    for e in enrollments:
        review = reviews.get(e.pk, {})
        facts[e.pk] = Facts(
            enrollment_id=e.pk,
            start_date=e.start_date,
            end_date=e.end_date,
            status=e.status,
            fte_fraction=Decimal(e.fte_fraction),
            carried_forward_cases=e.carried_forward_cases,
            carried_forward_months=Decimal(e.carried_forward_months),
            leave=tuple(leave[e.pk]),
            entries=tuple(sorted(per_enrollment[e.pk], key=lambda f: (f.date, f.id))),
            pending_reviews=review.get("pending", 0),
            reviews_waiting_over_7_days=review.get("waiting", 0),
            drafts=review.get("drafts", 0),
            sessions=tuple(sessions[e.pk]),
            sign_offs=tuple(sign_offs[e.pk]),
            program=ProgramFacts(
                mode=e.program.mode,
                max_virtual_share=e.program.max_virtual_share,
                interactive_group_cap=e.program.interactive_group_cap,
            ),
            curriculum=tuple((slug, name) for _, slug, name in curriculum),
        )
    return facts


def _as_date(value) -> date:
    # SQLite returns dates from raw SQL as strings.
    return date.fromisoformat(value) if isinstance(value, str) else value


def gather_facts(enrollment: Enrollment) -> Facts:
    return gather_facts_for([enrollment])[enrollment.pk]
