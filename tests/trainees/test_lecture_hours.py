"""Lectures of the library completed by the trainee count as didactic hours, from the day they were completed."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from progress.selectors.facts import gather_facts
from training.models import Lecture
from trainingportal.engine import evaluate
from trainingportal.engine.rulesets import parse_ruleset

from ..factories import LectureCompletionFactory, LectureFactory

pytestmark = pytest.mark.django_db

RULESET = parse_ruleset(
    {
        "id": "didactics-test",
        "title": "Didactics",
        "version": 1,
        "body": "test",
        "target_level": "II",
        "scmr": False,
        "citations": {"t": "test"},
        "requirements": [
            {"key": "didactics", "kind": "didactic_hours", "label": "Didactics", "hours": 2, "source": "t"}
        ],
    }
)


def _lecture(program, hours: str) -> Lecture:
    return LectureFactory(program=program, title=f"{hours} h", topic_slug="safety", hours=Decimal(hours))


def test_completed_lectures_count_as_didactic_hours(enrollment, program):
    LectureCompletionFactory(lecture=_lecture(program, "1.50"), enrollment=enrollment)
    _lecture(program, "3.00")  # not completed: does not count
    report = evaluate(gather_facts(enrollment), RULESET, today=timezone.localdate())
    result = report.requirement("didactics")
    assert (result.achieved, result.met) == (1.5, False)
    LectureCompletionFactory(lecture=_lecture(program, "0.50"), enrollment=enrollment)
    result = evaluate(gather_facts(enrollment), RULESET, today=timezone.localdate()).requirement("didactics")
    assert (result.achieved, result.met) == (2.0, True)
    assert len(result.detail["lectures"]) == 2


def test_a_lecture_completed_after_the_report_date_does_not_count(enrollment, program):
    LectureCompletionFactory(lecture=_lecture(program, "2.00"), enrollment=enrollment)
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    assert evaluate(gather_facts(enrollment), RULESET, today=yesterday).requirement("didactics").achieved == 0
