"""First version of Level II progress (SPEC section 4). The full requirement engine replaces this in issue 3.

`gather_facts` reads the database (one query); `level2_progress` is pure, so the same numbers reach the page, the API
and the dossier.
"""

from dataclasses import asdict, dataclass
from datetime import date
from decimal import ROUND_DOWN, Decimal

from django.db.models import Count, Q

DAYS_PER_MONTH = Decimal("30.44")
RULESET = "scmr-2018-level-2 (first version)"


@dataclass(frozen=True)
class Facts:
    start_date: date
    end_date: date | None
    fte_fraction: Decimal
    carried_forward_cases: int
    carried_forward_months: Decimal
    signed_interpreted: int
    signed_hands_on: int
    pending: int
    drafts: int


@dataclass(frozen=True)
class Requirement:
    key: str
    label: str
    unit: str
    required: Decimal | int
    achieved: Decimal | int
    source: str

    @property
    def met(self) -> bool:
        return self.achieved >= self.required

    @property
    def remaining(self):
        return max(self.required - self.achieved, 0)

    @property
    def percent(self) -> int:
        return min(100, int(self.achieved * 100 / self.required)) if self.required else 100

    def as_dict(self) -> dict:
        data = asdict(self)
        data.update(met=self.met, remaining=self.remaining, percent=self.percent)
        for key in ("required", "achieved", "remaining"):
            data[key] = float(data[key]) if isinstance(data[key], Decimal) else data[key]
        return data


def gather_facts(enrollment, *, today: date | None = None) -> Facts:
    counts = enrollment.entries.aggregate(
        signed_interpreted=Count("id", filter=Q(status="signed", interpreted=True)),
        signed_hands_on=Count("id", filter=Q(status="signed", acquired_hands_on=True)),
        pending=Count("id", filter=Q(status="submitted")),
        drafts=Count("id", filter=Q(status__in=["draft", "returned"])),
    )
    return Facts(
        start_date=enrollment.start_date,
        end_date=enrollment.end_date,
        fte_fraction=Decimal(enrollment.fte_fraction),
        carried_forward_cases=enrollment.carried_forward_cases,
        carried_forward_months=Decimal(enrollment.carried_forward_months),
        **counts,
    )


def level2_progress(facts: Facts, *, today: date) -> list[Requirement]:
    last_day = min(today, facts.end_date) if facts.end_date else today
    days = max((last_day - facts.start_date).days, 0)
    months = (Decimal(days) / DAYS_PER_MONTH * facts.fte_fraction + facts.carried_forward_months).quantize(
        Decimal("0.1"),
        rounding=ROUND_DOWN,  # 90 days are 2.96 months: not yet 3
    )
    return [
        Requirement(
            key="duration",
            label="Training duration (full-time equivalent)",
            unit="months",
            required=Decimal(3),
            achieved=months,
            source="SCMR 2018 Level II: at least 3 months FTE; Level I time carries forward",
        ),
        Requirement(
            key="interpreted",
            label="Cases interpreted with a mentor (signed)",
            unit="cases",
            required=150,
            achieved=facts.signed_interpreted + facts.carried_forward_cases,
            source="SCMR 2018 Level II: at least 150 mentored interpretations; Level I cases carry forward",
        ),
        Requirement(
            key="hands_on",
            label="Cases with hands-on or present-at-acquisition involvement (signed)",
            unit="cases",
            required=50,
            achieved=facts.signed_hands_on,
            source="SCMR 2018 Level II: at least 50 hands-on cases",
        ),
    ]
