"""evaluate(facts, ruleset, today=...) -> Report. Pure: data in, report out."""

import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal

from .facts import (
    ACQUISITION_ROLES,
    LOW_MENTOR,
    NO_CONSOLE,
    NOT_LINKED,
    OVER_VIRTUAL_SHARE,
    PERFORMED_ROLES,
    EntryFact,
    Facts,
    Tallies,
)
from .rulesets import CURRICULUM_ALL, VIRTUAL_SOURCE, Rule, Ruleset

DAYS_PER_MONTH = Decimal("30.44")
PACE_WINDOW_DAYS = 56  # pace = what was signed in the last 8 weeks
REVIEW_WAIT_DAYS = 7
VIRTUAL = VIRTUAL_SOURCE
VIRTUAL_CITATION = (
    "Patel AR, et al. SCMR level II/independent practitioner training guidelines for CMR: integration of a virtual "
    "training environment. J Cardiovasc Magn Reson. 2021;23:139."
)


@dataclass(frozen=True)
class RequirementResult:
    key: str
    label: str
    kind: str
    unit: str
    required: float
    achieved: float
    met: bool
    short: str = ""  # a column heading
    at_most: bool = False  # a ceiling (virtual share, group-cap violations) instead of a minimum
    evidence: tuple[int, ...] = ()
    forecast: date | None = None
    source: str = ""  # the citation key, e.g. "scmr-2018"
    citation: str = ""  # the full reference
    cites: str = ""  # the sentence or section it rests on
    confidence: str = ""
    local: bool = False
    overlay: bool = False
    missing: str = ""  # what is missing, in plain words ("" when met)
    detail: dict = field(default_factory=dict, hash=False)

    @property
    def remaining(self) -> float:
        if self.at_most:
            return 0
        return max(_difference(self.required, self.achieved), 0)

    @property
    def percent(self) -> int:
        if self.at_most:
            return 100 if self.met else min(100, int(self.achieved * 100 / self.required)) if self.required else 0
        return min(100, int(self.achieved * 100 / self.required)) if self.required else 100

    def as_dict(self) -> dict:
        data = asdict(self)
        data.update(remaining=self.remaining, percent=self.percent, evidence=list(self.evidence))
        data["forecast"] = self.forecast.isoformat() if self.forecast else None
        return data


@dataclass(frozen=True)
class Flag:
    code: str  # behind_pace | over_virtual_cap | reviews_waiting | missing_in_person | group_cap
    message: str


@dataclass(frozen=True)
class Report:
    enrollment_id: int
    ruleset: str
    ruleset_title: str
    as_of: date
    requirements: tuple[RequirementResult, ...]
    flags: tuple[Flag, ...]
    pace_per_week: float
    virtual_count: int
    in_person_count: int
    virtual_share: float | None
    pending_reviews: int
    reviews_waiting_over_7_days: int
    expected_end: date | None
    forecast: date | None
    weekly: tuple[int, ...] = ()  # signed entries per week, last 12 weeks, oldest first
    overlay: bool = False  # the SCMR 2021 virtual-training rules were applied
    overlay_note: str = ""  # why they apply or not, in plain words
    virtual_cap: int | None = None  # the share (%) virtual experience may replace, for this trainee
    mentor_min_level: str | None = None  # entries count only when signed by a mentor of at least this level

    @property
    def met_count(self) -> int:
        return sum(r.met for r in self.requirements)

    @property
    def all_met(self) -> bool:
        return all(r.met for r in self.requirements)

    @property
    def missing(self) -> list[str]:
        return [r.missing for r in self.requirements if not r.met and r.missing]

    @property
    def flag_codes(self) -> set[str]:
        return {f.code for f in self.flags}

    def requirement(self, key: str) -> RequirementResult | None:
        return next((r for r in self.requirements if r.key == key), None)

    def as_dict(self) -> dict:
        return {
            "enrollment": self.enrollment_id,
            "ruleset": self.ruleset,
            "ruleset_title": self.ruleset_title,
            "as_of": self.as_of.isoformat(),
            "all_met": self.all_met,
            "met_count": self.met_count,
            "requirements": [r.as_dict() for r in self.requirements],
            "missing": self.missing,
            "flags": [asdict(f) for f in self.flags],
            "pace_per_week": self.pace_per_week,
            "virtual_count": self.virtual_count,
            "in_person_count": self.in_person_count,
            "virtual_share": self.virtual_share,
            "pending_reviews": self.pending_reviews,
            "reviews_waiting_over_7_days": self.reviews_waiting_over_7_days,
            "expected_end": self.expected_end.isoformat() if self.expected_end else None,
            "forecast": self.forecast.isoformat() if self.forecast else None,
            "weekly": list(self.weekly),
            "overlay": self.overlay,
            "overlay_note": self.overlay_note,
            "virtual_cap": self.virtual_cap,
            "mentor_min_level": self.mentor_min_level,
        }


def _difference(a: float, b: float) -> float:
    """a - b to one decimal without float artefacts (1 - 0.9 is 0.1, not 0.0999… rounded down to 0.0)."""
    return float((Decimal(str(a)) - Decimal(str(b))).quantize(Decimal("0.1"), rounding=ROUND_DOWN))


def _round(value: float) -> float:
    return float(Decimal(str(value)).quantize(Decimal("0.1"), rounding=ROUND_DOWN)) if value % 1 else value


def months_before(day: date, months: int) -> date:
    month_index = day.year * 12 + day.month - 1 - months
    year, month = divmod(month_index, 12)
    last_day = (date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month + 1, min(day.day, last_day))


def _overlap_days(start: date, end: date, periods: Iterable[tuple[date, date]]) -> int:
    """Days of [start, end) covered by the (inclusive) periods."""
    total = 0
    for p_start, p_end in periods:
        lo, hi = max(start, p_start), min(end, p_end + timedelta(days=1))
        total += max((hi - lo).days, 0)
    return total


def fte_months(facts: Facts, today: date) -> Decimal:
    """Months of full-time-equivalent training to `today` (or the end date), leave excluded. Not rounded."""
    last = min(today, facts.end_date) if facts.end_date else today
    days = max((last - facts.start_date).days, 0) - _overlap_days(facts.start_date, last, facts.leave)
    return Decimal(max(days, 0)) / DAYS_PER_MONTH * Decimal(facts.fte_fraction)


def effective_roles(entry: EntryFact, *, overlay: bool, mentor_level: str | None = None) -> frozenset[str]:
    """The roles an entry counts for. An entry signed by a mentor below the ruleset's minimum level counts for
    nothing. Under the virtual overlay an unlinked virtual live entry counts for nothing, and virtual acquisition
    without the console shared and the trainee's input counts only for its other roles."""
    if not entry.signed_at_least(mentor_level):
        return frozenset()
    if overlay and entry.unlinked_virtual_live:
        return frozenset()
    if overlay and entry.virtual_acquisition_without_console:
        return entry.roles - ACQUISITION_ROLES
    return entry.roles


def exclusion_reason(entry: EntryFact, *, overlay: bool, mentor_level: str | None) -> str:
    """Why a rule that matches the entry's fields does not count it (LOW_MENTOR, NOT_LINKED or NO_CONSOLE)."""
    if not entry.signed_at_least(mentor_level):
        return LOW_MENTOR
    if overlay and entry.unlinked_virtual_live:
        return NOT_LINKED
    return NO_CONSOLE


def virtual_cap(facts: Facts, ruleset: Ruleset, rule: Rule | None = None) -> int | None:
    """The share (%) of a requirement that virtual experience may replace: the rule's own maximum, and under the
    virtual overlay the program's maximum, lowered for the trainee by their mentor. None: no cap."""
    caps = []
    if rule is not None and rule.param("max_virtual_share") is not None:
        caps.append(rule.param("max_virtual_share"))
    if ruleset.virtual_overlay:
        caps.append(facts.program.max_virtual_share)
        if facts.trainee_max_virtual_share is not None:
            caps.append(facts.trainee_max_virtual_share)
    return min(caps) if caps else None


def allowed_room(required: int, cap: int | None) -> float:
    """How many virtual entries a requirement of `required` counts under a cap (%)."""
    return math.inf if cap is None else required * cap // 100


def _case_filter(
    rule: Rule, today: date, *, overlay: bool, mentor_level: str | None = None
) -> Callable[[EntryFact], bool]:
    roles = set(rule.param("roles_any") or ())
    delivery = set(rule.param("delivery_in") or ())
    sources = set(rule.param("source_in") or ())
    categories = set(rule.param("categories_any") or ())
    groups = set(rule.param("diagnosis_groups_any") or ())
    sequences = set(rule.param("sequences_any") or ())
    complete = rule.param("complete_study")
    window = rule.param("within_months")
    since = months_before(today, window) if window else None

    def accepts(e: EntryFact) -> bool:
        return (
            (not roles or bool(roles & effective_roles(e, overlay=overlay, mentor_level=mentor_level)))
            and (roles or bool(effective_roles(e, overlay=overlay, mentor_level=mentor_level)))
            and (not delivery or e.delivery in delivery)
            and (not sources or e.source in sources)
            and (not categories or bool(categories & e.categories))
            and (not groups or e.diagnosis_group in groups)
            and (not sequences or bool(sequences & e.sequences))
            and (complete is None or e.complete_study == complete)
            and (since is None or e.date >= since)
            and e.date <= today
        )

    return accepts


def without_complete_study(rule: Rule) -> Rule:
    """The rule without its complete-study condition: what it would count if incomplete studies were allowed."""
    return replace(rule, params={k: v for k, v in rule.params.items() if k != "complete_study"})


def _count_forecast(remaining: float, pace_per_week: float, today: date) -> date | None:
    if remaining <= 0:
        return None
    if pace_per_week <= 0:
        return None
    return today + timedelta(days=math.ceil(remaining / pace_per_week * 7))


class _Evaluator:
    def __init__(self, facts: Facts, ruleset: Ruleset, today: date):
        self.facts, self.ruleset, self.today = facts, ruleset, today
        self.overlay = ruleset.virtual_overlay
        self.mentor_level = ruleset.mentor_min_level
        self.t = facts.tallies if facts.tallies is not None else tally_entries(facts, ruleset, today=today)
        self.topics = dict(facts_curriculum(facts))
        self.virtual_citation = ruleset.citations.get(VIRTUAL, VIRTUAL_CITATION)

    def result(self, rule: Rule, **values) -> RequirementResult:
        return RequirementResult(
            key=rule.key,
            label=rule.label,
            short=rule.short,
            kind=rule.kind,
            source=rule.source,
            citation=self.ruleset.citation(rule),
            cites=rule.cites,
            confidence=rule.confidence,
            local=rule.local,
            **values,
        )

    def min_duration(self, rule: Rule) -> RequirementResult:
        required = Decimal(str(rule.param("months")))
        months = fte_months(self.facts, self.today)
        if rule.carried_forward:
            months += Decimal(self.facts.carried_forward_months)
        met = months >= required
        forecast = None
        if not met and self.facts.status == "active" and self.facts.fte_fraction > 0:
            days = (required - months) * DAYS_PER_MONTH / Decimal(self.facts.fte_fraction)
            forecast = self.today + timedelta(days=math.ceil(days))
        shown = float(months.quantize(Decimal("0.1"), rounding=ROUND_DOWN))
        missing = "" if met else f"{_difference(float(required), shown)} more months of training (full-time equivalent)"
        return self.result(
            rule, unit="months", required=float(required), achieved=shown, met=met, forecast=forecast, missing=missing
        )

    def min_cases(self, rule: Rule) -> RequirementResult:
        """Counted entries (plus carried-forward cases) against the minimum. Of the minimum, virtual experience may
        replace at most the capped share (SCMR 2021: virtual training "substitutes a portion of the required
        in-person training"; the percentage "can vary depending on (1) the program logistics ... (3) the competency
        of the individual trainee as evaluated by the CMR mentor"): virtual entries beyond it are reported, not
        counted. More evidence never lowers the result."""
        carried = self.facts.carried_forward_cases if rule.carried_forward else 0
        required = rule.param("minimum")
        counted = self.t.rule_counts.get(rule.key, 0)
        in_person = self.t.rule_in_person.get(rule.key, 0)
        virtual = counted - in_person
        cap = virtual_cap(self.facts, self.ruleset, rule)
        allowed = min(virtual, allowed_room(required, cap))
        achieved = carried + in_person + allowed
        min_in_person = rule.param("min_in_person") or 0
        met = achieved >= required and in_person >= min_in_person
        weeks = PACE_WINDOW_DAYS / 7
        in_person_pace = self.t.rule_recent_in_person.get(rule.key, 0) / weeks
        # Once the virtual allowance is used up, only in-person cases move the count.
        pace = self.t.rule_recent.get(rule.key, 0) / weeks if virtual < allowed_room(required, cap) else in_person_pace
        forecasts = [_count_forecast(required - achieved, pace, self.today)] if achieved < required else []
        if in_person < min_in_person:
            forecasts.append(_count_forecast(min_in_person - in_person, in_person_pace, self.today))
        forecast = None if not forecasts or None in forecasts else max(forecasts)
        detail = {
            "carried_forward": carried,
            "in_person": in_person,
            "virtual": virtual,
            "virtual_counted": allowed,
            "virtual_cap": cap,
            "min_in_person": min_in_person,
        }
        roles = set(rule.param("roles_any") or ())
        not_counted = []
        if virtual > allowed:
            not_counted.append(
                {
                    "count": virtual - allowed,
                    "reason": f"{OVER_VIRTUAL_SHARE} ({cap}%: at most {required * cap // 100} of {required})",
                }
            )
        if PERFORMED_ROLES & roles and self.t.observed_only:
            not_counted.append(
                {"count": self.t.observed_only, "reason": "observed the scan without operating the scanner"}
            )
        if self.overlay and ACQUISITION_ROLES & roles:
            detail["virtual_without_console"] = self.t.virtual_without_console
        excluded = self.t.excluded.get(rule.key, {})
        for reason in (LOW_MENTOR, NOT_LINKED, NO_CONSOLE):
            if excluded.get(reason):
                not_counted.append({"count": excluded[reason], "reason": reason})
        if self.t.incomplete.get(rule.key):
            not_counted.append({"count": self.t.incomplete[rule.key], "reason": "the study was not complete"})
        detail["not_counted"] = not_counted
        # "Cases performed" -> "cases performed", but "CMR cases" stays as it is.
        label = rule.label if rule.label[1:2].isupper() else rule.label[0].lower() + rule.label[1:]
        gaps = []
        if achieved < required:
            gaps.append(f"{required - achieved} more {label}")
        if in_person < min_in_person:
            gaps.append(f"{min_in_person - in_person} more in person (at least {min_in_person} in person)")
        missing = "; ".join(gaps)
        return self.result(
            rule,
            unit="cases",
            required=required,
            achieved=achieved,
            met=met,
            evidence=self.t.evidence.get(rule.key, ()),
            forecast=forecast,
            missing=missing,
            detail=detail,
        )

    def category_coverage(self, rule: Rule) -> RequirementResult:
        wanted = rule.param("categories")
        slugs = list(self.topics) if wanted == CURRICULUM_ALL else list(wanted)
        minimum = rule.param("min_per_category", 1)
        counts = {slug: self.t.categories.get(slug, 0) for slug in slugs}
        # Topics the ruleset lets a completed lecture cover (e.g. MR safety, contrast agents).
        by_lecture = {}
        for slug in rule.param("lecture_topics") or ():
            done = [lec.id for lec in self.facts.lectures if lec.topic == slug and lec.date <= self.today]
            if slug in counts and done:
                by_lecture[slug] = done
                counts[slug] += len(done)
        covered = [s for s in slugs if counts[s] >= minimum]
        uncovered = [self.topics.get(s, s) for s in slugs if counts[s] < minimum]
        met = not uncovered
        missing = "" if met else "Curriculum topics not yet covered: " + ", ".join(uncovered)
        return self.result(
            rule,
            unit="topics",
            required=len(slugs),
            achieved=len(covered),
            met=met,
            evidence=tuple(sorted({i for slug in slugs for i in self.t.evidence.get(CATEGORY_EVIDENCE + slug, ())})),
            missing=missing,
            detail={"counts": counts, "minimum": minimum, "lectures": by_lecture},
        )

    def category_minimum(self, rule: Rule) -> RequirementResult:
        slug = rule.param("category")
        name = self.topics.get(slug, slug)
        matching = self.t.categories.get(slug, 0)
        if rule.param("min_share_percent") is not None:
            required = float(rule.param("min_share_percent"))
            achieved = _round(matching * 100 / self.t.total) if self.t.total else 0
            met = achieved >= required
            missing = "" if met else f"{name}: {achieved}% of cases, at least {required:g}% required"
            unit = "%"
        else:
            required = rule.param("minimum")
            achieved = matching
            met = achieved >= required
            missing = "" if met else f"{required - achieved} more {name} cases"
            unit = "cases"
        return self.result(
            rule,
            unit=unit,
            required=required,
            achieved=achieved,
            met=met,
            missing=missing,
            evidence=self.t.evidence.get(CATEGORY_EVIDENCE + slug, ()),
        )

    def didactic_hours(self, rule: Rule) -> RequirementResult:
        """Didactic sessions attended plus lectures of the library completed (SCMR 2021: program faculty or a
        pre-recorded series)."""
        attended = [s for s in self.facts.sessions if s.is_didactic and s.date <= self.today]
        lectures = [lecture for lecture in self.facts.lectures if lecture.date <= self.today]
        hours = _round(sum(s.minutes for s in attended) / 60 + sum(lecture.hours for lecture in lectures))
        required = float(rule.param("hours"))
        met = hours >= required
        missing = "" if met else f"{_difference(required, hours)} more hours of didactics"
        return self.result(
            rule,
            unit="hours",
            required=required,
            achieved=hours,
            met=met,
            evidence=tuple(s.id for s in attended),
            missing=missing,
            detail={"lectures": [lecture.id for lecture in lectures]},
        )

    def _signed_competencies(self) -> set[str]:
        """Signed-off competencies; under the virtual overlay an in-person-required one counts only if signed in
        person."""
        return {
            s.competency
            for s in self.facts.sign_offs
            if s.entrusted
            and s.date <= self.today
            and not (self.overlay and s.in_person_required and s.delivery != "in_person")
        }

    def competency_signoffs(self, rule: Rule) -> RequirementResult:
        wanted = list(rule.param("competencies"))
        signed = self._signed_competencies()
        done = [c for c in wanted if c in signed]
        met = len(done) == len(wanted)
        missing = "" if met else "Competencies not yet signed off: " + ", ".join(c for c in wanted if c not in signed)
        return self.result(
            rule, unit="competencies", required=len(wanted), achieved=len(done), met=met, missing=missing
        )

    # --- the virtual overlay (SCMR 2021 virtual training statement)

    def overlay_results(self) -> list[RequirementResult]:
        facts = self.facts
        results = []
        # The framework's in-person competencies (not the sign-offs that happen to exist): each is met by an
        # in-person sign-off, or by the mentor's record that the trainee's prior experience covers it (SCMR 2021:
        # "Depending on a trainee's experience, some components ... may require an in-person experience"). A virtual
        # sign-off never meets it.
        framework = facts.in_person_competencies
        if framework:
            in_person = {
                s.competency
                for s in facts.sign_offs
                if s.delivery == "in_person" and s.entrusted and s.date <= self.today
            }
            done = [code for code, _ in framework if code in in_person or code in facts.prior_experience]
            virtual_only = {
                s.competency
                for s in facts.sign_offs
                if s.delivery != "in_person" and s.date <= self.today and s.competency not in in_person
            }
            missing = [
                f"{title} (signed only virtually)" if code in virtual_only else title
                for code, title in framework
                if code not in done
            ]
            results.append(
                RequirementResult(
                    key="in_person_competencies",
                    label="Competencies that need in-person experience",
                    short="In person",
                    kind="in_person_competencies",
                    unit="competencies",
                    required=len(framework),
                    achieved=len(done),
                    met=not missing,
                    overlay=True,
                    source=VIRTUAL,
                    citation=self.virtual_citation,
                    cites=(
                        "\"Depending on a trainee's experience, some components of CMR training such as (but not "
                        "limited to) stress testing and supervision of individuals with cardiac implantable electronic "
                        'devices may require an in-person experience" (SCMR 2021)'
                    ),
                    confidence=(
                        "High that they need in-person experience unless the trainee's experience covers them: "
                        'SCMR 2021, "some components of CMR training such as (but not limited to) stress testing and '
                        "supervision of individuals with cardiac implantable electronic devices may require an "
                        'in-person experience". Signed in person, or covered by prior experience the mentor '
                        "recorded with a reason."
                    ),
                    missing="" if not missing else "Sign in person: " + ", ".join(missing),
                    detail={
                        "signed_in_person": sorted(c for c, _ in framework if c in in_person),
                        "prior_experience": sorted(c for c, _ in framework if c in facts.prior_experience),
                    },
                )
            )
        group_cap = facts.program.interactive_group_cap
        over = [s for s in facts.sessions if s.date <= self.today and not s.is_didactic and s.attendees > group_cap]
        results.append(
            RequirementResult(
                key="group_cap",
                label=f"Interactive sessions within {group_cap} trainees per mentor",
                short="Group cap",
                kind="group_cap",
                unit="sessions over the cap",
                required=0,
                achieved=len(over),
                met=not over,
                at_most=True,
                overlay=True,
                evidence=tuple(s.id for s in over),
                source=VIRTUAL,
                citation=self.virtual_citation,
                cites=(
                    '"the interactive sessions of the virtual training (such as the image interpretation and image '
                    'acquisition) should be limited to a small group of trainees per mentor" (SCMR 2021)'
                ),
                confidence="High: interactive sessions limited to a small group per mentor; the cap is a program setting.",
                missing="" if not over else f"{len(over)} interactive sessions had more than {group_cap} trainees",
            )
        )
        return results


def facts_curriculum(facts: Facts) -> tuple[tuple[str, str], ...]:
    return facts.curriculum or CURRICULUM


# The 15 SCMR Level I curriculum topics (slug, name); the same rows live in the Category table.
CURRICULUM: tuple[tuple[str, str], ...] = (
    ("safety", "MR safety"),
    ("contrast", "Contrast agents"),
    ("flow", "Flow quantification"),
    ("anatomy", "Cardiac anatomy"),
    ("ventricular-function", "Ventricular function"),
    ("infarction-viability", "Infarction and viability"),
    ("fibrosis-edema", "Fibrosis and edema (tissue characterization)"),
    ("pharmacologic-stress", "Pharmacologic stress perfusion"),
    ("vascular-aorta", "Vascular and aorta"),
    ("valvular", "Valvular disease"),
    ("congenital", "Congenital heart disease"),
    ("cardiomyopathy", "Cardiomyopathy and heart failure"),
    ("arrhythmia", "Arrhythmia"),
    ("pericardial", "Pericardial disease"),
    ("masses", "Cardiac masses"),
)


def _expected_end(facts: Facts, ruleset: Ruleset) -> date | None:
    if facts.end_date:
        return facts.end_date
    duration = next((r for r in ruleset.rules if r.kind == "min_duration"), None)
    if duration is None or facts.fte_fraction <= 0:
        return None
    months = Decimal(str(duration.param("months")))
    if duration.carried_forward:
        months -= Decimal(facts.carried_forward_months)
    days = max(months, 0) * DAYS_PER_MONTH / Decimal(facts.fte_fraction)
    end = facts.start_date + timedelta(days=math.ceil(days))
    return end + timedelta(days=_overlap_days(facts.start_date, end, facts.leave))


def evaluate(facts: Facts, ruleset: Ruleset, *, today: date) -> Report:
    """Evaluate one enrollment against a ruleset as of `today`."""
    ev = _Evaluator(facts, ruleset, today)
    results = [getattr(ev, rule.kind)(rule) for rule in ruleset.rules]
    if ruleset.virtual_overlay:
        results += ev.overlay_results()

    pace = _round(ev.t.recent / (PACE_WINDOW_DAYS / 7))
    # Only time-bound requirements (duration, case counts) have a pace; topics and overlay items do not.
    counting = [r for r in results if not r.met and r.kind in ("min_cases", "min_duration")]
    forecast = max(r.forecast for r in counting) if counting and all(r.forecast for r in counting) else None
    expected_end = _expected_end(facts, ruleset)
    flags = []
    if facts.status == "active" and counting and (forecast is None or (expected_end and forecast > expected_end)):
        stalled = [r.label for r in counting if r.forecast is None]
        when = (
            f"no progress in the last 8 weeks on {', '.join(stalled).lower()}"
            if stalled
            else f"projected to finish {forecast:%d %b %Y}"
        )
        expected = f", expected by {expected_end:%d %b %Y}" if expected_end else ""
        flags.append(Flag("behind_pace", f"Behind pace: {when}{expected}"))
    virtual, total = ev.t.virtual, ev.t.total
    share = _round(virtual * 100 / total) if total else None
    cap = virtual_cap(facts, ruleset)
    # Tracked and flagged (SPEC S14); what counts is capped per requirement, so more evidence never fails a trainee.
    if cap is not None and virtual * 100 > cap * total:  # exact: 50.05% is over a 50% cap
        flags.append(
            Flag(
                "over_virtual_cap",
                f"Virtual share {share:g}% is over the {cap}% maximum: virtual cases beyond it do not count",
            )
        )
    if facts.reviews_waiting_over_7_days:
        waiting = facts.reviews_waiting_over_7_days
        flags.append(
            Flag("reviews_waiting", f"{waiting} review{'s' if waiting != 1 else ''} waiting > {REVIEW_WAIT_DAYS} days")
        )
    in_person = next((r for r in results if r.key == "in_person_competencies"), None)
    if in_person is not None and not in_person.met:
        flags.append(Flag("missing_in_person", in_person.missing))
    group = next((r for r in results if r.key == "group_cap"), None)
    if group is not None and not group.met:
        flags.append(Flag("group_cap", group.missing))

    return Report(
        enrollment_id=facts.enrollment_id,
        ruleset=ruleset.label,
        ruleset_title=ruleset.title,
        as_of=today,
        requirements=tuple(results),
        flags=tuple(flags),
        pace_per_week=pace,
        virtual_count=virtual,
        in_person_count=total - virtual,
        virtual_share=share,
        pending_reviews=facts.pending_reviews,
        reviews_waiting_over_7_days=facts.reviews_waiting_over_7_days,
        expected_end=expected_end,
        forecast=forecast,
        weekly=ev.t.weekly,
        overlay=ruleset.virtual_overlay,
        overlay_note=overlay_note(ruleset),
        virtual_cap=cap,
        mentor_min_level=ruleset.mentor_min_level,
    )


def overlay_note(ruleset: Ruleset) -> str:
    """Whether the SCMR 2021 virtual-training rules apply, and why (they are written for Level II)."""
    if ruleset.overlay_opted_in:
        return (
            f"The SCMR 2021 virtual-training rules apply: the program opted in for this Level {ruleset.target_level} "
            "ruleset."
        )
    if ruleset.virtual_overlay:
        return "The SCMR 2021 virtual-training rules apply (the statement is about Level II training)."
    if not ruleset.scmr:
        return f"The SCMR 2021 virtual-training rules do not apply: this is a {ruleset.body} rulebook, not SCMR's."
    return (
        "The SCMR 2021 virtual-training rules do not apply: the statement is about Level II, and the program has not "
        "opted in for this ruleset."
    )


def cumulative_points(facts: Facts, ruleset: Ruleset, key: str, *, today: date) -> list[tuple[date, int]]:
    """(date, cumulative count) for a min_cases requirement, for the progress chart. Carried-forward cases start
    the line at the enrollment's start."""
    rule = next(r for r in ruleset.rules if r.key == key)
    accepts = _case_filter(rule, today, overlay=ruleset.virtual_overlay, mentor_level=ruleset.mentor_min_level)
    total = facts.carried_forward_cases if rule.carried_forward else 0
    points = [(facts.start_date, total)] if total else []
    cap = virtual_cap(facts, ruleset, rule)
    virtual_room = None if cap is None else rule.param("minimum") * cap // 100
    per_day: dict[date, int] = {}
    for e in sorted(facts.entries, key=lambda f: (f.date, f.id)):
        if accepts(e):
            if e.is_virtual and virtual_room is not None:
                if virtual_room <= 0:
                    continue  # beyond the share virtual experience may replace: not counted (as in min_cases)
                virtual_room -= 1
            per_day[e.date] = per_day.get(e.date, 0) + 1
    for day in sorted(per_day):
        total += per_day[day]
        points.append((day, total))
    return points


WEEKS = 12
CATEGORY_EVIDENCE = "topic:"  # evidence key prefix: "topic:<slug>" -> entry ids


def week_index(day: date, today: date, weeks: int = WEEKS) -> int | None:
    """Position of `day` in the last `weeks` weeks ending today (oldest first), or None if outside."""
    age = (today - day).days
    return weeks - 1 - age // 7 if 0 <= age < weeks * 7 else None


def tally_entries(facts: Facts, ruleset: Ruleset, *, today: date) -> Tallies:
    """Count the entries the way the rules need them. The database does the same in
    progress.selectors.gather_tallied_facts_for; tests check that both agree."""
    entries = [e for e in facts.entries if e.date <= today]
    overlay, mentor_level = ruleset.virtual_overlay, ruleset.mentor_min_level
    since = today - timedelta(days=PACE_WINDOW_DAYS)
    rule_counts, rule_recent, rule_in_person, rule_recent_in_person = {}, {}, {}, {}
    evidence, incomplete, excluded = {}, {}, {}
    for rule in ruleset.rules:
        if rule.kind == "min_cases":
            accepts = _case_filter(rule, today, overlay=overlay, mentor_level=mentor_level)
            counted = [e for e in entries if accepts(e)]
            rule_counts[rule.key] = len(counted)
            rule_recent[rule.key] = sum(1 for e in counted if e.date > since)
            rule_in_person[rule.key] = sum(1 for e in counted if not e.is_virtual)
            rule_recent_in_person[rule.key] = sum(1 for e in counted if not e.is_virtual and e.date > since)
            evidence[rule.key] = tuple(e.id for e in counted)
            # Every entry the rule's fields match but that is not counted gets one reason, in this order: the
            # signer's level, an unlinked virtual live entry, an incomplete study, the console.
            loose = without_complete_study(rule)
            raw = _case_filter(loose, today, overlay=False)
            relaxed = _case_filter(loose, today, overlay=overlay, mentor_level=mentor_level)
            reasons: dict[str, int] = {}
            left_incomplete = 0
            for e in entries:
                if raw(e) and not accepts(e):
                    if relaxed(e):
                        left_incomplete += 1
                        continue
                    reason = exclusion_reason(e, overlay=overlay, mentor_level=mentor_level)
                    reasons[reason] = reasons.get(reason, 0) + 1
            if reasons:
                excluded[rule.key] = reasons
            if left_incomplete:
                incomplete[rule.key] = left_incomplete
    by_topic: dict[str, list[int]] = {}
    weekly = [0] * WEEKS
    for e in entries:
        # A topic is covered by an entry that counts: signed at the ruleset's mentor level and, under the overlay,
        # not a virtual live entry without an attended session.
        if e.signed_at_least(mentor_level) and not (overlay and e.unlinked_virtual_live):
            for slug in e.categories:
                by_topic.setdefault(slug, []).append(e.id)
        index = week_index(e.date, today)
        if index is not None:
            weekly[index] += 1
    categories = {slug: len(ids) for slug, ids in by_topic.items()}
    for slug, ids in by_topic.items():
        evidence[CATEGORY_EVIDENCE + slug] = tuple(ids)
    return Tallies(
        rule_counts=rule_counts,
        rule_recent=rule_recent,
        categories=categories,
        total=len(entries),
        virtual=sum(1 for e in entries if e.is_virtual),
        virtual_without_console=sum(1 for e in entries if e.virtual_acquisition_without_console),
        observed_only=sum(1 for e in entries if e.observed_only),
        incomplete=incomplete,
        excluded=excluded,
        rule_in_person=rule_in_person,
        rule_recent_in_person=rule_recent_in_person,
        recent=sum(1 for e in entries if e.date > since),
        weekly=tuple(weekly),
        evidence=evidence,
    )
