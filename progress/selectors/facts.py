"""Gather the requirement engine's facts from the database — signed case-log entries, leave, attendance, completed
lectures, sign-offs — for one enrollment or a whole list, in a fixed number of queries.

This layer stands above the case log, training sessions and assessments, so it may read all three. The caller has
already checked access to the enrollments it passes in.
"""

import json
import operator
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from functools import reduce
from typing import NamedTuple

from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone

from assessments.selectors import in_person_framework, prior_experience_rows, sign_off_rows
from cases.models import CaseLogEntry
from curriculum import cmr
from curriculum.selectors import topic_rows
from trainees.models import Enrollment
from trainees.selectors import leave_rows
from training.selectors import attendance_rows, lecture_completion_rows
from trainingportal.accounts.selectors import best_levels
from trainingportal.engine import EntryFact, Facts, LectureFact, ProgramFacts, Rule, Ruleset, SessionFact, SignOffFact
from trainingportal.engine.evaluate import (
    PACE_WINDOW_DAYS,
    REVIEW_WAIT_DAYS,
    WEEKS,
    months_before,
    without_complete_study,
)
from trainingportal.engine.facts import (
    ACQUISITION_ROLES,
    LOW_MENTOR,
    NO_CONSOLE,
    NOT_LINKED,
    OBSERVED_ROLES,
    PERFORMED_ROLES,
    VIRTUAL_LIVE,
    Tallies,
    levels_at_least,
)

ROLE_FIELDS = CaseLogEntry.ROLE_FIELDS
_ROLE_COLUMNS = ", ".join(f"e.{name}" for name in ROLE_FIELDS)  # field names from the model, not user input


def gather_facts_for(enrollments: Sequence[Enrollment]) -> dict[int, Facts]:
    """Facts for each enrollment (with `program` loaded). Ten queries, whatever the number of enrollments or
    entries: signed entries, their case topics, their signers' levels, review counts, leave, attendance, lectures,
    sign-offs, prior experience, the in-person competencies, the topic list."""
    ids = [e.pk for e in enrollments]
    if not ids:
        return {}
    # The two big reads use plain SQL through Django's connection: on a 50-trainee program they return ~15,000 and
    # ~30,000 rows, and the ORM's per-row overhead would dominate the director dashboard's time.
    placeholders = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT e.id, e.enrollment_id, e.case_id, e.performed_on, {_ROLE_COLUMNS},
                   e.delivery, c.source, c.complete_study, s.type, s.console_shared,
                   s.program_id = c.program_id AND a.id IS NOT NULL, a.active_input, e.signed_by_id,
                   c.diagnosis, c.sequences
            FROM cases_caselogentry e
            JOIN cases_case c ON c.id = e.case_id
            LEFT JOIN programs_trainingsession s ON s.id = e.session_id
            LEFT JOIN programs_attendance a ON a.session_id = e.session_id AND a.enrollment_id = e.enrollment_id
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
    other = _other_facts(ids)
    levels = best_levels({row[-3] for row in rows})
    sequence_sets: dict[str, frozenset[str]] = {}
    slugs = other["slugs"]
    categories: dict[int, set[str]] = defaultdict(set)
    for case_id, category_id in case_categories:
        categories[case_id].add(slugs[category_id])
    frozen_categories = {case_id: frozenset(c) for case_id, c in categories.items()}
    role_sets: dict[tuple, frozenset[str]] = {}

    per_enrollment: dict[int, list[EntryFact]] = defaultdict(list)
    empty: frozenset[str] = frozenset()
    n_roles = len(ROLE_FIELDS)
    for row in rows:
        entry_id, enrollment_id, case_id, day = row[:4]
        flags = row[4 : 4 + n_roles]
        (delivery, source, complete, session_type, console, attended, active_input, signer, diagnosis, sequences) = row[
            4 + n_roles :
        ]
        key_sequences = sequences if isinstance(sequences, str) else json.dumps(sequences)
        sequence_set = sequence_sets.get(key_sequences)
        if sequence_set is None:
            sequence_set = sequence_sets[key_sequences] = frozenset(json.loads(key_sequences) or ())
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
                bool(attended),
                bool(attended and active_input),
                levels.get(signer),
                cmr.group_of(diagnosis) if diagnosis else "",
                sequence_set,
            )
        )

    return {
        e.pk: _facts(e, other, entries=tuple(sorted(per_enrollment[e.pk], key=lambda f: (f.date, f.id))))
        for e in enrollments
    }


def _facts(e: Enrollment, other: dict, *, entries=(), tallies=None) -> Facts:
    review = other["reviews"].get(e.pk, {})
    return Facts(
        enrollment_id=e.pk,
        start_date=e.start_date,
        end_date=e.end_date,
        status=e.status,
        fte_fraction=Decimal(e.fte_fraction),
        carried_forward_cases=e.carried_forward_cases,
        carried_forward_months=Decimal(e.carried_forward_months),
        leave=tuple(other["leave"][e.pk]),
        entries=entries,
        tallies=tallies,
        pending_reviews=review.get("pending", 0),
        reviews_waiting_over_7_days=review.get("waiting", 0),
        drafts=review.get("drafts", 0),
        sessions=tuple(other["sessions"][e.pk]),
        lectures=tuple(other["lectures"][e.pk]),
        sign_offs=tuple(other["sign_offs"][e.pk]),
        program=ProgramFacts(
            mode=e.program.mode,
            max_virtual_share=e.program.max_virtual_share,
            interactive_group_cap=e.program.interactive_group_cap,
        ),
        trainee_max_virtual_share=e.max_virtual_share,
        in_person_competencies=other["in_person"],
        prior_experience=frozenset(other["prior"][e.pk]),
        curriculum=other["curriculum"],
    )


def _other_facts(ids: list[int]) -> dict:
    """Everything but the signed entries: review counts, leave, attendance, completed lectures, sign-offs, the
    topic list."""
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
    for enrollment_id, start, end in leave_rows(ids):
        leave[enrollment_id].append((start, end))

    sessions: dict[int, list[SessionFact]] = defaultdict(list)
    attendance = attendance_rows(ids)
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

    lectures: dict[int, list[LectureFact]] = defaultdict(list)
    for enrollment_id, lecture_id, completed_at, hours, topic in lecture_completion_rows(ids):
        lectures[enrollment_id].append(
            LectureFact(lecture_id, timezone.localtime(completed_at).date(), float(hours), topic)
        )

    sign_offs: dict[int, list[SignOffFact]] = defaultdict(list)
    for enrollment_id, code, delivery, signed_on, in_person, entrusted in sign_off_rows(ids):
        sign_offs[enrollment_id].append(SignOffFact(code, delivery, signed_on, in_person, entrusted))
    prior: dict[int, set[str]] = defaultdict(set)
    for enrollment_id, code in prior_experience_rows(ids):
        prior[enrollment_id].add(code)
    topics = topic_rows()
    return {
        "prior": prior,
        "in_person": in_person_framework(),
        "reviews": reviews,
        "leave": leave,
        "sessions": sessions,
        "sign_offs": sign_offs,
        "lectures": lectures,
        "curriculum": tuple((slug, name) for _, slug, name in topics),
        "slugs": {pk: slug for pk, slug, _ in topics},
    }


def _as_date(value) -> date:
    # SQLite returns dates from raw SQL as strings.
    return date.fromisoformat(value) if isinstance(value, str) else value


def gather_facts(enrollment: Enrollment) -> Facts:
    return gather_facts_for([enrollment])[enrollment.pk]


# --- counted by the database: the director's table -------------------------------------------------------------
#
# One pass over the signed entries of all the enrollments: an inner SELECT works out, once per entry, the facts the
# rules look at (attended, the console, the signer's level); the outer one counts with COUNT(*) FILTER (WHERE ...)
# over those columns. The inner query is fenced with OFFSET 0 so that PostgreSQL does not pull it up and repeat
# every sub-plan inside every FILTER. Each predicate below is the SQL twin of a condition of engine.evaluate; the
# tests compare both on varied data (tests/trainees/test_tallies.py).


class _Pred(NamedTuple):
    sql: str
    params: tuple = ()

    def __and__(self, other: "_Pred") -> "_Pred":
        return _Pred(f"({self.sql} AND {other.sql})", self.params + other.params)

    def __or__(self, other: "_Pred") -> "_Pred":
        return _Pred(f"({self.sql} OR {other.sql})", self.params + other.params)

    def __invert__(self) -> "_Pred":
        return _Pred(f"(NOT {self.sql})", self.params)


def _in(column: str, values) -> _Pred:
    values = list(values)
    return _Pred(f"{column} IN ({', '.join(['%s'] * len(values))})", tuple(values))


def _any_role(roles) -> _Pred:
    # Role names come from the engine's fixed list (the model's field names), never from user input.
    return _Pred("(" + " OR ".join(f"x.{name}" for name in sorted(roles) if name in ROLE_FIELDS) + ")")


_TRUE = _Pred("1 = 1")
_IN_PERSON = _Pred("x.delivery = %s", ("in_person",))
# EntryFact.unlinked_virtual_live, and the console condition of EntryFact.virtual_acquisition_without_console.
_UNLINKED = _Pred("(x.delivery = %s AND NOT x.attended)", (VIRTUAL_LIVE,))
_CONSOLE_OK = _Pred("x.console_ok")


def _qualified(level: str) -> _Pred:
    return _Pred(f"x.q_{level.lower()}")  # levels come from engine.facts.LEVEL_RANK


def _has_sequence(code: str) -> _Pred:
    """The case's sequences list holds `code`: jsonb containment on PostgreSQL; the JSON text on SQLite (the demo),
    which has no containment operator (a code is quoted in the text, and codes never contain quotes)."""
    if connection.vendor == "postgresql":
        return _Pred("x.sequences @> %s::jsonb", (json.dumps([code]),))
    return _Pred("x.sequences LIKE %s", (f'%"{code}"%',))


def rule_sql(rule: Rule, today: date, *, overlay: bool, mentor_level: str | None = None) -> _Pred:
    """The SQL twin of engine.evaluate._case_filter for a min_cases rule, over the inner query's columns."""
    q = _Pred("x.day <= %s", (today,))
    if mentor_level is not None:
        q &= _qualified(mentor_level)
    if overlay:
        q &= ~_UNLINKED
    if roles := rule.param("roles_any"):
        acquisition = [r for r in roles if r in ACQUISITION_ROLES]
        if overlay and acquisition:
            others = [r for r in roles if r not in ACQUISITION_ROLES]
            allowed = _any_role(acquisition) & (_IN_PERSON | _CONSOLE_OK)
            q &= (_any_role(others) | allowed) if others else allowed
        else:
            q &= _any_role(roles)
    elif overlay:
        # No role filter: the entry counts unless its only roles are virtual acquisition without the console (the
        # engine's effective_roles leaves it none).
        q &= ~(~_IN_PERSON & ~_CONSOLE_OK & ~_any_role(set(ROLE_FIELDS) - ACQUISITION_ROLES))
    if delivery := rule.param("delivery_in"):
        q &= _in("x.delivery", delivery)
    if sources := rule.param("source_in"):
        q &= _in("x.source", sources)
    if categories := rule.param("categories_any"):
        slugs = _in("k.slug", categories)
        q &= _Pred(
            "EXISTS (SELECT 1 FROM cases_case_categories cc JOIN cases_category k ON k.id = cc.category_id "
            f"WHERE cc.case_id = x.case_id AND {slugs.sql})",
            slugs.params,
        )
    if groups := rule.param("diagnosis_groups_any"):
        codes = cmr.codes_in_groups(groups)
        q &= _in("x.diagnosis", codes) if codes else _Pred("1 = 0")
    if sequences := rule.param("sequences_any"):
        q &= reduce(operator.or_, (_has_sequence(code) for code in sorted(sequences)))
    if (complete := rule.param("complete_study")) is not None:
        q &= _Pred("x.complete = %s", (complete,))
    if months := rule.param("within_months"):
        q &= _Pred("x.day >= %s", (months_before(today, months),))
    return q


def _signed_entries_sql(ids: list[int], today: date, levels: set[str]) -> tuple[str, list]:
    """The inner query: one row per signed entry up to today, with what the rules look at worked out once."""
    qualified, params = [], []
    for level in sorted(levels):
        allowed = _in("level", sorted(levels_at_least(level)))
        qualified.append(
            f"e.signed_by_id IN (SELECT user_id FROM accounts_credential WHERE {allowed.sql}) AS q_{level.lower()}"
        )
        params += allowed.params
    extra = "".join(f", {column}" for column in qualified)
    if connection.vendor == "postgresql":
        # Probe the case by its key for each entry: otherwise the planner hashes the whole cases table (every
        # program's), and the time follows the size of the site instead of the program's.
        case_join = (
            "CROSS JOIN LATERAL (SELECT id, program_id, source, complete_study, diagnosis, sequences "
            "FROM cases_case WHERE id = e.case_id OFFSET 0) c"
        )
    else:
        case_join = "JOIN cases_case c ON c.id = e.case_id"
    placeholders = ", ".join(["%s"] * len(ids))
    sql = f"""
        SELECT e.id, e.enrollment_id, e.performed_on AS day, e.delivery, {_ROLE_COLUMNS}, e.case_id,
               c.source, c.complete_study AS complete, c.diagnosis, c.sequences,
               COALESCE(s.program_id = c.program_id AND a.id IS NOT NULL, FALSE) AS attended,
               COALESCE(s.type = 'live_acquisition' AND s.console_shared AND s.program_id = c.program_id
                        AND a.active_input, FALSE) AS console_ok{extra}
        FROM cases_caselogentry e
        {case_join}
        LEFT JOIN programs_trainingsession s ON s.id = e.session_id
        LEFT JOIN programs_attendance a ON a.session_id = e.session_id AND a.enrollment_id = e.enrollment_id
        WHERE e.enrollment_id IN ({placeholders}) AND e.status = %s AND e.performed_on <= %s
        {"OFFSET 0" if connection.vendor == "postgresql" else "LIMIT -1 OFFSET 0"}
    """
    return sql, [*params, *ids, CaseLogEntry.Status.SIGNED, today]


def gather_tallied_facts_for(
    enrollments: Sequence[Enrollment], rulesets: dict[int, Ruleset], *, today: date
) -> dict[int, Facts]:
    """Facts with the entries counted by the database (Tallies) instead of read one by one: what a 50-trainee
    table needs, in ten queries and a few hundred rows whatever the size of the logs: counts (per rule, per week),
    review counts, leave, attendance, lectures, sign-offs, prior experience, the in-person framework, the topic
    list, topic counts. No evidence ids."""
    ids = [e.pk for e in enrollments]
    if not ids:
        return {}
    since = today - timedelta(days=PACE_WINDOW_DAYS)
    recent = _Pred("x.day > %s", (since,))
    acquisition = _any_role(ACQUISITION_ROLES)
    aggregates: dict[str, _Pred] = {
        "total": _TRUE,
        "virtual": ~_IN_PERSON,
        "virtual_without_console": acquisition & ~_IN_PERSON & ~_CONSOLE_OK,
        "observed_only": _any_role(OBSERVED_ROLES) & ~_any_role(PERFORMED_ROLES),
        "recent": recent,
    }
    for index in range(WEEKS):
        # Week `index` of the last WEEKS weeks (oldest first), as engine.evaluate.week_index numbers them.
        newest = today - timedelta(days=7 * (WEEKS - 1 - index))
        aggregates[f"week_{index}"] = _Pred("x.day > %s AND x.day <= %s", (newest - timedelta(days=7), newest))
    # Counts per distinct (ruleset, rule): usually a program shares one ruleset.
    columns: dict[tuple[str, str], str] = {}
    levels: set[str] = set()
    for ruleset in {r.label: r for r in rulesets.values()}.values():
        overlay, mentor_level = ruleset.virtual_overlay, ruleset.mentor_min_level
        if mentor_level:
            levels.add(mentor_level)
        for rule in ruleset.rules:
            if rule.kind != "min_cases":
                continue
            name = f"rule_{len(columns)}"
            columns[(ruleset.label, rule.key)] = name
            q = rule_sql(rule, today, overlay=overlay, mentor_level=mentor_level)
            aggregates[name] = q
            aggregates[f"{name}_recent"] = q & recent
            aggregates[f"{name}_in_person"] = q & _IN_PERSON
            aggregates[f"{name}_recent_in_person"] = q & _IN_PERSON & recent
            loose = without_complete_study(rule)
            if overlay or mentor_level or rule.param("complete_study"):
                # Left out = matched by the rule's fields - counted, one reason each in the order of
                # engine.evaluate.tally_entries: the signer's level, unlinked, incomplete, the console (the rest).
                raw = rule_sql(loose, today, overlay=False)
                aggregates[f"{name}_raw"] = raw
                qualified = _qualified(mentor_level) if mentor_level else _TRUE
                if mentor_level:
                    aggregates[f"{name}_low_mentor"] = raw & ~qualified
                if overlay:
                    aggregates[f"{name}_unlinked"] = raw & qualified & _UNLINKED
            if rule.param("complete_study"):
                relaxed = rule_sql(loose, today, overlay=overlay, mentor_level=mentor_level)
                aggregates[f"{name}_incomplete"] = relaxed & ~q
    inner, inner_params = _signed_entries_sql(ids, today, levels)
    names = list(aggregates)
    select = ",\n".join(f"COUNT(*) FILTER (WHERE {aggregates[n].sql})" for n in names)
    params = [p for n in names for p in aggregates[n].params]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT x.enrollment_id, {select} FROM ({inner}) x GROUP BY x.enrollment_id", [*params, *inner_params]
        )
        counts = {row[0]: dict(zip(names, row[1:], strict=True)) for row in cursor.fetchall()}

    other = _other_facts(ids)
    slugs = other["slugs"]
    categories: dict[int, dict[str, int]] = defaultdict(dict)
    gates: dict[tuple, list[int]] = defaultdict(list)  # one topic query per (overlay, mentor level): usually one
    for e in enrollments:
        gates[(rulesets[e.pk].virtual_overlay, rulesets[e.pk].mentor_min_level)].append(e.pk)
    for (overlay, mentor_level), group in gates.items():
        for enrollment_id, category_id, n in _category_counts(group, today, overlay=overlay, mentor_level=mentor_level):
            categories[enrollment_id][slugs[category_id]] = n

    facts = {}
    for e in enrollments:
        row = counts.get(e.pk, {})
        ruleset = rulesets[e.pk]
        keys = [(key, columns[(label, key)]) for (label, key) in columns if label == ruleset.label]
        tallies = Tallies(
            rule_counts={key: row.get(column, 0) for key, column in keys},
            rule_recent={key: row.get(f"{column}_recent", 0) for key, column in keys},
            categories=categories.get(e.pk, {}),
            total=row.get("total", 0),
            virtual=row.get("virtual", 0),
            virtual_without_console=row.get("virtual_without_console", 0),
            observed_only=row.get("observed_only", 0),
            incomplete={key: row[f"{column}_incomplete"] for key, column in keys if row.get(f"{column}_incomplete")},
            excluded={key: reasons for key, column in keys if (reasons := _reasons(row, column))},
            rule_in_person={key: row.get(f"{column}_in_person", 0) for key, column in keys},
            rule_recent_in_person={key: row.get(f"{column}_recent_in_person", 0) for key, column in keys},
            recent=row.get("recent", 0),
            weekly=tuple(row.get(f"week_{index}", 0) for index in range(WEEKS)),
        )
        facts[e.pk] = _facts(e, other, tallies=tallies)
    return facts


def _reasons(row: dict, column: str) -> dict[str, int]:
    if f"{column}_raw" not in row:  # no gates, or no signed entries
        return {}
    low, unlinked = row.get(f"{column}_low_mentor", 0), row.get(f"{column}_unlinked", 0)
    incomplete = row.get(f"{column}_incomplete", 0)
    console = row.get(f"{column}_raw", 0) - row.get(column, 0) - low - unlinked - incomplete
    counts = {LOW_MENTOR: low, NOT_LINKED: unlinked, NO_CONSOLE: console}
    return {reason: n for reason, n in counts.items() if n}


def _category_counts(
    ids: list[int], today: date, *, overlay: bool, mentor_level: str | None
) -> list[tuple[int, int, int]]:
    """(enrollment id, category id, signed entries that count) — topic coverage for many enrollments at once. The
    SQL twin of the topic loop of engine.evaluate.tally_entries: signed by a mentor of the ruleset's level and,
    under the overlay, not a virtual live entry without an attended session of the case's program."""
    placeholders = ", ".join(["%s"] * len(ids))
    gates, params = "", []
    if mentor_level is not None:
        levels = sorted(levels_at_least(mentor_level))
        gates += (
            " AND e.signed_by_id IN (SELECT user_id FROM accounts_credential WHERE level IN "
            f"({', '.join(['%s'] * len(levels))}))"
        )
        params += levels
    if overlay:
        gates += """ AND NOT (e.delivery = %s AND NOT EXISTS (
                SELECT 1 FROM programs_trainingsession s
                JOIN programs_attendance a ON a.session_id = s.id AND a.enrollment_id = e.enrollment_id
                JOIN cases_case c ON c.id = e.case_id
                WHERE s.id = e.session_id AND s.program_id = c.program_id))"""
        params.append(VIRTUAL_LIVE)
    if connection.vendor == "postgresql":
        # ~15,000 entries × ~2 topics: probing the (case, category) index per entry is twice as fast as the hash
        # join over the whole topics table that the planner prefers; OFFSET 0 keeps it from flattening the probe.
        topics = (
            "CROSS JOIN LATERAL (SELECT category_id FROM cases_case_categories WHERE case_id = e.case_id OFFSET 0) cc"
        )
    else:
        topics = "JOIN cases_case_categories cc ON cc.case_id = e.case_id"
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT e.enrollment_id, cc.category_id, COUNT(*)
            FROM cases_caselogentry e {topics}
            WHERE e.enrollment_id IN ({placeholders}) AND e.status = %s AND e.performed_on <= %s{gates}
            GROUP BY e.enrollment_id, cc.category_id
            """,
            [*ids, CaseLogEntry.Status.SIGNED, today, *params],
        )
        return cursor.fetchall()
