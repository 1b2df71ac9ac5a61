"""Gather the engine's facts from the database: for one enrollment or a whole list, in a fixed number of queries.

The caller has already checked access to the enrollments it passes in.
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal

from django.db.models import Count, Q
from django.utils import timezone

from assessments.models import SignOff
from cases.models import Case, CaseLogEntry, Category
from programs.models import Attendance

from .engine import EntryFact, Facts, ProgramFacts, SessionFact, SignOffFact
from .engine.evaluate import REVIEW_WAIT_DAYS
from .models import Enrollment, LeavePeriod

ROLE_FIELDS = CaseLogEntry.ROLE_FIELDS


def gather_facts_for(enrollments: Sequence[Enrollment]) -> dict[int, Facts]:
    """Facts for each enrollment (with `program` loaded). Eight queries, whatever the number of enrollments or
    entries: entries, their case topics, topic names, review counts, leave, attendance, sign-offs — one each."""
    ids = [e.pk for e in enrollments]
    if not ids:
        return {}
    entries = (
        CaseLogEntry.objects.filter(enrollment_id__in=ids, status=CaseLogEntry.Status.SIGNED)
        .order_by()
        .values_list(
            "id", "enrollment_id", "case_id", "performed_on", *ROLE_FIELDS, "delivery", "case__source",
            "case__complete_study", "session__type", "session__console_shared",
        )
    )  # fmt: skip
    rows = list(entries)
    case_ids = {row[2] for row in rows}
    slugs = dict(Category.objects.values_list("id", "slug"))
    curriculum = tuple(Category.objects.order_by("position").values_list("slug", "name"))
    categories: dict[int, set[str]] = defaultdict(set)
    if case_ids:
        through = Case.categories.through.objects.filter(
            case_id__in=CaseLogEntry.objects.filter(enrollment_id__in=ids, status=CaseLogEntry.Status.SIGNED).values(
                "case_id"
            )
        ).values_list("case_id", "category_id")
        for case_id, category_id in through:
            categories[case_id].add(slugs[category_id])

    per_enrollment: dict[int, list[EntryFact]] = defaultdict(list)
    role_offset = 4
    for row in rows:
        roles = frozenset(f for i, f in enumerate(ROLE_FIELDS) if row[role_offset + i])
        delivery, source, complete, session_type, console = row[role_offset + len(ROLE_FIELDS) :]
        per_enrollment[row[1]].append(
            EntryFact(
                id=row[0],
                date=row[3],
                roles=roles,
                delivery=delivery,
                source=source,
                complete_study=complete,
                categories=frozenset(categories.get(row[2], ())),
                session_type=session_type,
                console_shared=bool(console),
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
            curriculum=curriculum,
        )
    return facts


def gather_facts(enrollment: Enrollment) -> Facts:
    return gather_facts_for([enrollment])[enrollment.pk]
