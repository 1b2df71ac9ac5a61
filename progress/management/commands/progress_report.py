import json
from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from progress.selectors.facts import gather_facts
from progress.selectors.reports import ruleset_for
from trainees.selectors import enrollment_for_command
from trainingportal.engine import RulesetError, evaluate, get_ruleset


class Command(BaseCommand):
    help = "Print the requirement report of one enrollment (the same Report the dashboards, API and dossier use)."

    def add_arguments(self, parser):
        parser.add_argument("enrollment_id", type=int)
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")
        parser.add_argument("--ruleset", help="Evaluate against another ruleset id (e.g. cbcmr-exam-eligibility).")
        parser.add_argument("--as-of", help="Evaluate as of this date (YYYY-MM-DD) instead of today.")

    def handle(self, *args, enrollment_id: int, ruleset: str | None, as_of: str | None, **options):
        enrollment = enrollment_for_command(enrollment_id)
        if enrollment is None:
            raise CommandError(f"No enrollment with id {enrollment_id}.")
        try:
            today = date.fromisoformat(as_of) if as_of else timezone.localdate()
        except ValueError as exc:
            raise CommandError(f"--as-of {as_of!r} is not a date (YYYY-MM-DD): {exc}") from exc
        try:
            # Another rulebook is read as it is: the program's local rules are written for its own ruleset.
            other = get_ruleset(ruleset) if ruleset else None
            rules = ruleset_for(enrollment, other)
        except RulesetError as exc:
            raise CommandError(str(exc)) from exc
        report = evaluate(gather_facts(enrollment), rules, today=today)
        if options["json"]:
            self.stdout.write(_json_dumps(report.as_dict()))
            return
        self.stdout.write(f"{enrollment.trainee.display_name} — {enrollment.program.name}")
        self.stdout.write(f"{report.ruleset_title} ({report.ruleset}), as of {report.as_of}")
        self.stdout.write(f"  {report.overlay_note}")
        for r in report.requirements:
            mark = "MET " if r.met else "    "
            bound = "at most " if r.at_most else ""
            self.stdout.write(f"  {mark} {r.label}: {r.achieved} / {bound}{r.required} {r.unit}")
        for item in report.missing:
            self.stdout.write(f"  missing: {item}")
        for flag in report.flags:
            self.stdout.write(f"  flag: {flag.message}")
        forecast = report.forecast.isoformat() if report.forecast else "—"
        self.stdout.write(f"  pace {report.pace_per_week}/week, forecast {forecast}, {report.pending_reviews} pending")


def _json_dumps(data) -> str:
    return json.dumps(data, indent=2, default=str)
