"""Lectures of the library completed by the trainee count as didactic hours (issue 5, item 6)."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from curriculum.models import Category
from progress.selectors.facts import gather_facts
from training.models import Lecture, LectureCompletion
from trainingportal.engine import evaluate
from trainingportal.engine.rulesets import parse_ruleset

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
    return Lecture.objects.create(
        program=program,
        title=f"{hours} h",
        topic=Category.objects.get(slug="safety"),
        kind="recorded",
        hours=Decimal(hours),
    )


def test_completed_lectures_count_as_didactic_hours(enrollment, program):
    LectureCompletion.objects.create(lecture=_lecture(program, "1.50"), enrollment=enrollment)
    _lecture(program, "3.00")  # not completed: does not count
    report = evaluate(gather_facts(enrollment), RULESET, today=timezone.localdate())
    result = report.requirement("didactics")
    assert (result.achieved, result.met) == (1.5, False)
    LectureCompletion.objects.create(lecture=_lecture(program, "0.50"), enrollment=enrollment)
    result = evaluate(gather_facts(enrollment), RULESET, today=timezone.localdate()).requirement("didactics")
    assert (result.achieved, result.met) == (2.0, True)
    assert len(result.detail["lectures"]) == 2


def test_a_lecture_completed_after_the_report_date_does_not_count(enrollment, program):
    LectureCompletion.objects.create(lecture=_lecture(program, "2.00"), enrollment=enrollment)
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    assert evaluate(gather_facts(enrollment), RULESET, today=yesterday).requirement("didactics").achieved == 0
