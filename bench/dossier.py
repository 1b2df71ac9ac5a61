"""The dossier section of `make bench` (issue 10): how long the verification dossier takes, end to end, for a trainee
with 300 and with 1,500 signed entries, next to the bare WeasyPrint render of the same HTML.

The subjects live in their own program, "Bench dossier subjects", with users `bench-dossier-...@bench.test`: outside
seed_bench's namespace (`bench-pNNN-...`), so they change neither its counts nor any dashboard figure. They are
created at the start of the section (after deleting whatever an interrupted run left) and deleted at its end, with
every verification request, stored PDF and audit event the measurements wrote. Each subject has the complete content
the dossier prints: cases with the clinical fields (diagnosis, sequences, vendor, contrast, stress, devices), the
trainee's structured read and the mentor's blind read with per-field agreement, feedback, sessions with attendance and
active input (every virtual live case comes from an attended session), lecture completions, a sign-off of every
competency of the current framework (the in-person ones in person by the director) and the director's signed final
determination. The case mix and texts are seed_demo's, the sessions and notes seed_bench's.

Per size and repetition, interleaved in this process: (a) end to end: a queued VerificationRequest run through the
Celery task function itself (`verification.tasks.verification_request_generate`, called synchronously: snapshot,
render, SHA-256, stored file, row update, audit event); (b) the snapshot alone (`build_snapshot`); (c) the floor:
the bare WeasyPrint render of the same dossier as ONE document in one pass (the template with the whole case log,
from the context the task rendered), `weasyprint.HTML(string=html, base_url=<static dir>).write_pdf()`. A long
dossier is rendered in parts in parallel processes (trainingportal/core/pdf_parts.py), so (a) can be faster than
(c); the CPU seconds of (a) are this process's only. Peak memory
of the render: the peak resident size (VmHWM) of a fresh Python process that renders the same HTML the bare way once
(after a warm-up render that loads the fonts), and its growth over the resident size just before the render.
"""

from __future__ import annotations

import gc
import hashlib
import inspect
import json
import math
import random
import re
import statistics
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from unittest import mock

EMAIL_PREFIX = "bench-dossier-"
EMAIL_DOMAIN = "@bench.test"
PROGRAM_NAME = "Bench dossier subjects — Hybrid CMR Level II"
INSTITUTION = "Bench Dossier Heart Centre"
REFERENCE_PREFIX = "BDS"
SEED = 2026
# The earlier independent figures (issue 10) and the limit for the richer dossier: 1.2 times them.
BASELINES = {300: {"end_to_end_s": 8.1, "bare_s": 4.9}, 1500: {"end_to_end_s": 27.5, "bare_s": 26.8}}
LIMIT_FACTOR = 1.2
# Not resource.getrusage(RUSAGE_SELF).ru_maxrss: a child started by subprocess inherits the bench process's own peak
# through fork and keeps it across exec, so every size would show the bench's ~570 MB. VmHWM is the child's own.
MEMORY_METHOD = (
    "peak resident size (VmHWM, /proc/self/status) of a fresh Python process rendering the same HTML the bare way "
    "once, after a warm-up render; growth = that peak minus the resident size (VmRSS) just before the render"
)

LGE_BY_DIAGNOSIS = {
    "myocarditis": "subepicardial",
    "hcm": "mid_wall",
    "arrhythmia-substrate": "subendocardial",
    "ihd-viability": "subendocardial",
    "ihd-ischaemia": "none",
    "dcm": "mid_wall",
    "amyloidosis": "diffuse",
    "sarcoidosis": "subepicardial",
    "acm": "subepicardial",
    "normal": "none",
}
IN_PERSON_COMPONENT = (
    "Observed the trainee plan and acquire a complete cardiomyopathy protocol at the console, then report it "
    "independently; the report agreed with mine."
)
STATEMENT = (
    "I have reviewed the case log, the sessions and the competency sign-offs; the trainee performs and interprets "
    "CMR examinations independently."
)


def _email(who: str) -> str:
    return f"{EMAIL_PREFIX}{who}{EMAIL_DOMAIN}"


def _users():
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(email__startswith=EMAIL_PREFIX, email__endswith=EMAIL_DOMAIN)


# --- subjects -----------------------------------------------------------------------------------------------------


def delete_subjects() -> dict[str, int]:
    """Delete the dossier subjects and everything hanging off them (verification requests with their files and audit
    events, determinations, sign-offs, entries, cases, sessions, enrollments, the program, the users). Idempotent."""
    from django.core.files.storage import default_storage
    from django.db import transaction

    from assessments.models import FinalDetermination, SignOff
    from cases.models import Case, CaseLogEntry
    from programs.models import Program
    from trainees.models import Enrollment
    from training.models import Attendance, TrainingSession
    from trainingportal.core.models import AuditEvent
    from verification.models import VerificationRequest

    users = _users()
    programs = Program.objects.filter(director__in=users)
    enrollments = Enrollment.objects.filter(program__in=programs)
    deleted: dict[str, int] = {}

    def drop(label, qs):
        deleted[label] = qs.delete()[1].get(qs.model._meta.label, 0)

    with transaction.atomic():
        requests = VerificationRequest.objects.filter(enrollment__in=enrollments)
        for name in requests.exclude(dossier="").values_list("dossier", flat=True):
            if default_storage.exists(name):
                default_storage.delete(name)
        ids = [str(pk) for pk in requests.values_list("pk", flat=True)]
        drop(
            "audit events (requests)",
            AuditEvent.objects.filter(object_type="verification.verificationrequest", object_id__in=ids),
        )
        drop("verification requests", requests)
        drop("determinations", FinalDetermination.objects.filter(enrollment__in=enrollments))
        drop("sign-off evidence", SignOff.evidence_entries.through.objects.filter(signoff__enrollment__in=enrollments))
        drop("sign-off sessions", SignOff.evidence_sessions.through.objects.filter(signoff__enrollment__in=enrollments))
        drop("sign-offs", SignOff.objects.filter(enrollment__in=enrollments))
        drop("audit events", AuditEvent.objects.filter(actor__in=users))
        drop("entries", CaseLogEntry.objects.filter(enrollment__in=enrollments))
        drop("case categories", Case.categories.through.objects.filter(case__program__in=programs))
        drop("cases", Case.objects.filter(program__in=programs))
        drop("attendance", Attendance.objects.filter(session__program__in=programs))
        drop("sessions", TrainingSession.objects.filter(program__in=programs))
        drop("enrollment mentors", Enrollment.mentors.through.objects.filter(enrollment__in=enrollments))
        drop("enrollments", enrollments)
        drop("programs", programs)  # memberships and lectures (with their completions) cascade
        drop("users", users)  # credentials cascade
    return {k: v for k, v in deleted.items() if v}


class _SubjectSeeder:
    """One program, a director and three mentors, and one Level II trainee per size with exactly `size` signed
    entries and everything else the dossier prints."""

    def __init__(self) -> None:
        from django.utils import timezone

        self.rng = random.Random(SEED)
        self.today = timezone.localdate()
        self.now = timezone.now()
        self.tz = timezone.get_current_timezone()

    def aware(self, day: date, hour: int, minute: int = 0) -> datetime:
        return datetime(day.year, day.month, day.day, hour, minute, tzinfo=self.tz)

    def weekday(self, start: date) -> date:
        """A random weekday between `start` and yesterday."""
        while True:
            day = start + timedelta(days=self.rng.randint(0, (self.today - start).days - 1))
            if day.weekday() < 5:
                return day

    def run(self, sizes: list[int]) -> dict[int, dict]:
        from django.contrib.auth import get_user_model
        from django.contrib.auth.hashers import make_password

        from demo.management.commands.seed_bench import BENCH_PASSWORD
        from demo.management.commands.seed_demo import PROGRAM_FIELDS
        from programs.models import Membership, Program
        from trainingportal.accounts.models import Credential

        User = get_user_model()
        password = make_password(BENCH_PASSWORD)
        self.director = User.objects.create(
            email=_email("director"), full_name="Dora Dossier", institution=INSTITUTION, password=password
        )
        self.mentors = [
            User.objects.create(email=_email(f"m{n}"), full_name=name, institution=INSTITUTION, password=password)
            for n, name in enumerate(["Mona Lindqvist", "Marek Okafor", "Maya Tanaka"], start=1)
        ]
        Credential.objects.create(
            user=self.director, level=Credential.Level.III, body="SCMR", identifier="SCMR-L3-BDS01",
            issued_on=date(2014, 5, 1),
        )  # fmt: skip
        for n, mentor in enumerate(self.mentors, start=1):
            Credential.objects.create(
                user=mentor, level=Credential.Level.III if n == 1 else Credential.Level.II, body="SCMR",
                identifier=f"SCMR-BDS-M{n:02d}", issued_on=date(2016 + n, 3, 1),
            )  # fmt: skip
        fields = {**PROGRAM_FIELDS, "institution": INSTITUTION}
        self.program = Program.objects.create(
            name=PROGRAM_NAME,
            director=self.director,
            verification_status=Program.VerificationStatus.VERIFIED,
            video_platform="Hospital-approved video platform",
            console_sharing_method="KVM-over-IP link to the scanner console",
            display_meets_local_standards=True,
            didactic_source="own_recorded",
            **fields,
        )
        Membership.objects.create(user=self.director, program=self.program, role=Membership.Role.DIRECTOR)
        for mentor in self.mentors:
            Membership.objects.create(user=mentor, program=self.program, role=Membership.Role.MENTOR)
        self.lectures = self._lectures()
        return {size: self._subject(size, password) for size in sizes}

    def _lectures(self) -> list:
        from curriculum.models import Category
        from training.models import Lecture

        topics = {c.slug: c for c in Category.objects.all()}
        rows = [
            ("MR safety for remote trainees", "safety", Lecture.Kind.RECORDED, "1.50", True),
            ("Contrast agents: safety and dosing", "contrast", Lecture.Kind.RECORDED, "1.00", False),
            ("Tissue characterization: T1, T2 and ECV", "fibrosis-edema", Lecture.Kind.LIVE, "1.00", False),
        ]
        return [
            Lecture.objects.create(
                program=self.program,
                title=title,
                topic=topics[slug],
                kind=kind,
                hours=Decimal(hours),
                source="Bench faculty",
                is_mr_safety_module=safety,
            )  # fmt: skip
            for title, slug, kind, hours, safety in rows
            if slug in topics
        ]

    def _subject(self, size: int, password: str) -> dict:
        from django.contrib.auth import get_user_model

        from programs.models import Membership
        from trainees.models import Enrollment
        from training.models import LectureCompletion

        trainee = get_user_model().objects.create(
            email=_email(f"t{size:05d}"), full_name=f"Tess Trainee {size}", institution=INSTITUTION, password=password
        )
        Membership.objects.create(user=trainee, program=self.program, role=Membership.Role.TRAINEE)
        enrollment = Enrollment.objects.create(
            trainee=trainee,
            program=self.program,
            target_level=Enrollment.Level.II,
            track=Enrollment.Track.FULL_TIME,
            fte_fraction=Decimal("1.00"),
            ruleset=self.program.ruleset,
            start_date=self.today - timedelta(days=365),
            status=Enrollment.Status.ACTIVE,
        )
        enrollment.mentors.add(*self.mentors[:2])
        for lecture in self.lectures:
            LectureCompletion.objects.create(lecture=lecture, enrollment=enrollment)
        sessions = self._case_log(enrollment, size)
        sign_offs = self._sign_offs(enrollment, sessions)
        determination = self._determination(enrollment)
        return {
            "enrollment": enrollment,
            "sessions": len(sessions),
            "sign_offs": sign_offs,
            "determination": determination.decision,
        }

    def _sessions(self, enrollment, kind, count: int, start: date) -> list:
        from demo.management.commands.seed_bench import ACTIVE_INPUT_NOTES, DURATIONS, SESSION_TITLES
        from training.models import Attendance, TrainingSession

        rng = self.rng
        sessions = []
        for _ in range(count):
            mentor = rng.choice(self.mentors)
            starts_at = self.aware(self.weekday(start), rng.randint(8, 16), rng.choice([0, 30]))
            live = kind == TrainingSession.Type.LIVE_ACQUISITION
            sessions.append(
                TrainingSession(
                    program=self.program,
                    type=kind,
                    delivery=TrainingSession.Delivery.VIRTUAL_TWO_WAY,
                    title=rng.choice(SESSION_TITLES[kind]),
                    mentor=mentor,
                    starts_at=starts_at,
                    duration_minutes=DURATIONS[kind],
                    capacity=None if kind in TrainingSession.DIDACTIC_TYPES else self.program.interactive_group_cap,
                    console_shared=live,
                    console_shared_by=mentor if live else None,
                    console_shared_at=starts_at + timedelta(minutes=5) if live else None,
                )
            )
        TrainingSession.objects.bulk_create(sessions)
        attendance = []
        for session in sessions:
            active = session.type not in TrainingSession.DIDACTIC_TYPES and rng.random() < 0.8
            attendance.append(
                Attendance(
                    session=session,
                    enrollment=enrollment,
                    joined_at=session.starts_at + timedelta(minutes=rng.randint(0, 4)),
                    left_at=session.starts_at + timedelta(minutes=session.duration_minutes),
                    active_input=active,
                    active_input_note=rng.choice(ACTIVE_INPUT_NOTES) if active else "",
                )
            )
        Attendance.objects.bulk_create(attendance)
        return sessions

    def _case_log(self, enrollment, size: int) -> list:
        """`size` signed entries, each on its own case; every virtual live one from an attended session."""
        from cases.models import Case, CaseLogEntry
        from curriculum import cmr
        from curriculum.models import Category
        from demo.management.commands.seed_demo import (
            _WEIGHTS,
            FEEDBACK_ACQUISITION,
            FEEDBACK_AGREE,
            FEEDBACK_DISAGREE,
            TEMPLATES,
            VENDORS,
        )
        from training.models import TrainingSession

        rng = self.rng
        S, D, T = Case.Source, CaseLogEntry.Delivery, TrainingSession.Type
        start = enrollment.start_date
        plans = []
        for _ in range(size):
            delivery = rng.choices([D.IN_PERSON, D.VIRTUAL_LIVE_TWO_WAY, D.ASYNCHRONOUS], weights=[58, 27, 15])[0]
            if delivery == D.IN_PERSON:
                source = rng.choices([S.LIVE_SCAN, S.CENTER_ARCHIVE], weights=[45, 55])[0]
            elif delivery == D.VIRTUAL_LIVE_TWO_WAY:
                source = rng.choices([S.LIVE_SCAN, S.CENTER_ARCHIVE, S.REGISTRY], weights=[35, 50, 15])[0]
            else:
                source = rng.choices([S.CENTER_ARCHIVE, S.REGISTRY, S.TEACHING_FILE], weights=[45, 35, 20])[0]
            plans.append((delivery, source))
        # Sessions: live scans over a shared console (two cases each), case reviews (three each), and didactics.
        virtual_live = [i for i, (d, _) in enumerate(plans) if d == D.VIRTUAL_LIVE_TWO_WAY]
        live_cases = [i for i in virtual_live if plans[i][1] == S.LIVE_SCAN]
        review_cases = [i for i in virtual_live if plans[i][1] != S.LIVE_SCAN]
        live = self._sessions(enrollment, T.LIVE_ACQUISITION, math.ceil(len(live_cases) / 2), start)
        reviews = self._sessions(enrollment, T.CASE_REVIEW, math.ceil(len(review_cases) / 3), start)
        others = []
        for kind, n in ((T.DIDACTIC_LIVE, 4), (T.DIDACTIC_RECORDED, 2), (T.PROTOCOL_SELECTION, 2)):
            others += self._sessions(enrollment, kind, n, start)
        others += self._sessions(enrollment, T.PLANNING_TROUBLESHOOTING, 2, start)
        session_of = {i: live[n // 2] for n, i in enumerate(live_cases)}
        session_of |= {i: reviews[n // 3] for n, i in enumerate(review_cases)}

        cases, case_categories, entries = [], [], []
        for i, (delivery, source) in enumerate(plans):
            template = rng.choices(TEMPLATES, weights=_WEIGHTS)[0]
            categories = list(template.categories[:3])
            if len(categories) < 3 and "ventricular-function" not in categories and rng.random() < 0.3:
                categories.append("ventricular-function")
            tags = list(template.tags)
            if "LGE" in tags and "T1 mapping" not in tags and rng.random() < 0.3:
                tags.append("T1 mapping")
            session = session_of.get(i)
            performed_on = timezone_date(session.starts_at, self.tz) if session else self.weekday(start)
            is_live = source == S.LIVE_SCAN
            year = performed_on.year if is_live else rng.choice((2023, 2024, 2025, performed_on.year))
            reference = f"{REFERENCE_PREFIX}{enrollment.pk}-{year}-{i + 1:06d}"
            cases.append(
                Case(
                    program=self.program,
                    reference=reference,
                    source=source,
                    complete_study=source != S.TEACHING_FILE or rng.random() < 0.7,
                    indication=template.indication,
                    technique_tags=tags,
                    field_strength=template.field_strength or ("3T" if rng.random() < 0.35 else "1.5T"),
                    vendor=VENDORS[i % len(VENDORS)],
                    contrast_agent=template.contrast,
                    stress_agent=template.stress,
                    stress_supervisor=self.director if template.stress != Case.Stress.NONE and is_live else None,
                    cardiac_device=template.device,
                    sedation=Case.Sedation.NONE,
                    congenital=cmr.group_of(template.diagnosis) == "congenital",
                    sequences=[c for c, _ in cmr.SEQUENCES if c in {cmr.sequence_code(t) for t in tags}],
                    diagnosis=template.diagnosis,
                    diagnosis_taxonomy=cmr.TAXONOMY_VERSION,
                )
            )
            case_categories.append(categories)
            findings, impression, measurements = template.text(rng)
            if session is not None:
                in_person = False
                observed = session.type == T.LIVE_ACQUISITION
                hands_on = observed and rng.random() < 0.3
            else:
                in_person = delivery == D.IN_PERSON
                hands_on = in_person and source in (S.LIVE_SCAN, S.CENTER_ARCHIVE) and rng.random() < 0.7
                observed = is_live and not hands_on and delivery != D.ASYNCHRONOUS and rng.random() < 0.9
            protocolled = rng.random() < (0.3 if is_live else 0.08)
            post_processed = rng.random() < 0.3
            interpreted = rng.random() < 0.93 or not (hands_on or observed or protocolled or post_processed)
            mentor = self.mentors[:2][int(rng.random() * 2)]
            submitted_at = min(self.aware(performed_on, rng.randint(16, 21), rng.randint(0, 59)), self.now)
            reviewed = self.aware(performed_on + timedelta(days=rng.randint(0, 3)), rng.randint(7, 19), 30)
            signed_at = min(max(reviewed, submitted_at + timedelta(hours=1)), self.now)
            entry = CaseLogEntry(
                enrollment=enrollment,
                performed_on=performed_on,
                interpreted=interpreted,
                preliminary_report=interpreted and rng.random() < 0.5,
                primary_operator=hands_on and is_live,
                assisted_console=hands_on and not is_live,
                observed_in_room=observed and in_person,
                observed_remotely=observed and not in_person,
                protocolled=protocolled,
                post_processed=post_processed,
                delivery=delivery,
                session=session,
                supervising_mentor=mentor,
                status=CaseLogEntry.Status.SIGNED,
                submitted_at=submitted_at,
                signed_at=signed_at,
                signed_by=mentor,
            )
            if interpreted:
                self._reads(entry, template, findings, impression, measurements, signed_at)
                pool = FEEDBACK_AGREE if entry.mentor_agrees else FEEDBACK_DISAGREE
            else:
                entry.mentor_agrees = True
                pool = FEEDBACK_ACQUISITION
            entry.mentor_feedback = rng.choice(pool)
            entries.append(entry)
        Case.objects.bulk_create(cases, batch_size=2000)
        category_ids = dict(Category.objects.values_list("slug", "pk"))
        Through = Case.categories.through
        Through.objects.bulk_create(
            [
                Through(case_id=case.pk, category_id=category_ids[slug])
                for case, slugs in zip(cases, case_categories, strict=True)
                for slug in slugs
                if slug in category_ids
            ],
            batch_size=5000,
        )
        for case, entry in zip(cases, entries, strict=True):
            entry.case = case
        CaseLogEntry.objects.bulk_create(entries, batch_size=2000)
        return live + reviews + others

    def _reads(self, entry, template, findings, impression, measurements, signed_at) -> None:
        """The trainee's structured read and the mentor's blind read, compared field by field."""
        from curriculum import cmr

        rng = self.rng
        entry.findings, entry.impression, entry.key_measurements = findings, impression, measurements
        found = re.search(r"LVEF (\d+)", measurements)
        lvef = int(found.group(1)) if found else rng.randint(52, 68)
        edvi = re.search(r"EDVi (\d+)", measurements)
        lv_edvi = int(edvi.group(1)) if edvi else rng.randint(65, 95)
        label = cmr.diagnosis(template.diagnosis).label if template.diagnosis else ""
        pattern = LGE_BY_DIAGNOSIS.get(template.diagnosis, "not_assessed")
        entry.lvef, entry.lv_edvi, entry.lge_pattern, entry.final_diagnosis = lvef, lv_edvi, pattern, label
        entry.mentor_lvef = min(100, max(5, lvef + rng.randint(-6, 6)))
        entry.mentor_lv_edvi = max(30, lv_edvi + rng.randint(-12, 12))
        entry.mentor_lge_pattern = pattern if rng.random() < 0.9 else "mid_wall"
        entry.mentor_final_diagnosis = label if rng.random() < 0.92 else "Other cardiomyopathy"
        entry.mentor_read_at = signed_at - timedelta(minutes=rng.randint(10, 50))
        entry.agreement = {
            "lvef": abs(entry.mentor_lvef - lvef) <= 5,
            "lv_edvi": abs(entry.mentor_lv_edvi - lv_edvi) <= 10,
            "lge_pattern": entry.mentor_lge_pattern == pattern,
            "final_diagnosis": entry.mentor_final_diagnosis == label,
        }
        entry.mentor_agrees = entry.agreement["lge_pattern"] and entry.agreement["final_diagnosis"]

    def _sign_offs(self, enrollment, sessions: list) -> int:
        from assessments.models import SignOff
        from assessments.selectors import current_competencies
        from cases.models import CaseLogEntry

        rng = self.rng
        entries = list(CaseLogEntry.objects.filter(enrollment=enrollment).values_list("pk", "delivery"))
        in_person_entries = [pk for pk, delivery in entries if delivery == CaseLogEntry.Delivery.IN_PERSON]
        count = 0
        for competency in current_competencies():
            in_person = competency.in_person_required or rng.random() < 0.4
            sign_off = SignOff.objects.create(
                enrollment=enrollment,
                competency=competency,
                signer=self.director if competency.in_person_required else rng.choice(self.mentors[:2]),
                signed_on=self.today - timedelta(days=rng.randint(20, 200)),
                delivery=SignOff.Delivery.IN_PERSON if in_person else SignOff.Delivery.VIRTUAL,
                entrustment_level=rng.choice([4, 4, 5]),
                note="Observed directly; consistent over several cases.",
            )
            pool = in_person_entries if in_person else [pk for pk, _ in entries]
            sign_off.evidence_entries.set(rng.sample(pool, min(3, len(pool))))
            sign_off.evidence_sessions.set(rng.sample(sessions, min(1, len(sessions))))
            count += 1
        return count

    def _determination(self, enrollment):
        """The director's final determination, signed through the service (password re-authentication)."""
        from cases.models import CaseLogEntry
        from demo.management.commands.seed_bench import BENCH_PASSWORD
        from progress.selectors.reports import report_for
        from verification.services.determinations import determination_sign

        report = report_for(enrollment, today=self.today)
        entry = (
            CaseLogEntry.objects.filter(
                enrollment=enrollment, delivery=CaseLogEntry.Delivery.IN_PERSON, primary_operator=True
            )
            .order_by("-performed_on", "pk")
            .first()
        )
        # The director attests (newer services ask for it explicitly; older ones had no such argument).
        attest = {"attest": True} if "attest" in inspect.signature(determination_sign).parameters else {}
        return determination_sign(
            **attest,
            actor=self.director,
            enrollment=enrollment,
            decision="competent" if report.all_met else "not_yet",
            statement=STATEMENT,
            password=BENCH_PASSWORD,
            in_person_component=IN_PERSON_COMPONENT,
            in_person_assessed_on=entry.performed_on if entry else self.today - timedelta(days=7),
            in_person_entry=entry.pk if entry else None,
        )


def timezone_date(moment: datetime, tz) -> date:
    return moment.astimezone(tz).date()


def create_subjects(sizes: list[int]) -> dict[int, dict]:
    from django.db import transaction

    with transaction.atomic():
        return _SubjectSeeder().run(sizes)


# --- measurements -------------------------------------------------------------------------------------------------


def _static_base_url() -> str:
    """The directory `pdf/dossier.css` (the dossier's only stylesheet) is found in, as a file: URL."""
    from django.contrib.staticfiles import finders

    found = finders.find("pdf/dossier.css")
    if not found:
        raise SystemExit("dossier bench: static file pdf/dossier.css not found")
    return Path(found).resolve().parent.parent.as_uri() + "/"


def _bare_render(html: str, base_url: str) -> bytes:
    import weasyprint

    return weasyprint.HTML(string=html, base_url=base_url).write_pdf()


def _timed(function, *args):
    """(result, wall-clock seconds, CPU seconds of this process). On a busy machine the wall clock stretches with
    the load; the CPU time much less."""
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    result = function(*args)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def _end_to_end(enrollment, director) -> tuple[float, float, str, object]:
    """The Celery task function, called synchronously on a queued request. Returns (wall seconds, CPU seconds of this
    process — the parts of a long dossier are laid out in other processes —, the HTML of the same dossier as one
    document, the request after the run)."""
    from trainingportal.core import pdf
    from verification.models import VerificationRequest
    from verification.tasks import verification_request_generate

    vr = VerificationRequest.objects.create(enrollment=enrollment, requested_by=director)
    handed: list[tuple[str, dict]] = []
    real_render = pdf.render_to_string

    def recording_render(template_name, context=None, *args, **kwargs):
        handed.append((template_name, context))
        return real_render(template_name, context, *args, **kwargs)

    with mock.patch.object(pdf, "render_to_string", recording_render):
        _, seconds, cpu = _timed(verification_request_generate, vr.pk)
    vr.refresh_from_db()
    if vr.status != VerificationRequest.Status.READY:
        raise SystemExit(f"dossier bench: request {vr.pk} ended {vr.status}: {vr.failure_reason}")
    if not handed:
        raise SystemExit("dossier bench: the dossier template was not rendered")
    # The floor: the same dossier as a single WeasyPrint document (front matter and the whole case log), one pass.
    template_name, context = handed[0]
    single = real_render(template_name, {**context, "part": "all", "log_start": 0, "log_rows": None})
    return seconds, cpu, single, vr


def _delete_request(vr) -> None:
    from django.core.files.storage import default_storage

    from trainingportal.core.models import AuditEvent

    if vr.dossier and default_storage.exists(vr.dossier.name):
        default_storage.delete(vr.dossier.name)
    AuditEvent.objects.filter(object_type="verification.verificationrequest", object_id=str(vr.pk)).delete()
    vr.delete()


MEMORY_CHILD = r"""
import json, sys
from weasyprint import HTML
html, base = open(sys.argv[1], encoding="utf-8").read(), sys.argv[2]
HTML(string='<link rel="stylesheet" href="pdf/dossier.css"><p>warm-up</p>', base_url=base).write_pdf()
def status_kb(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
before = status_kb("VmRSS")
HTML(string=html, base_url=base).write_pdf()
print(json.dumps({"rss_before_kb": before, "peak_rss_kb": status_kb("VmHWM")}))
"""


def _render_memory(html: str, base_url: str, work: Path) -> dict:
    path = work / f"dossier-memory-{len(html)}.html"
    path.write_text(html, encoding="utf-8")
    try:
        output = subprocess.run(
            [sys.executable, "-c", MEMORY_CHILD, str(path), base_url], capture_output=True, text=True, check=True
        ).stdout
    finally:
        path.unlink(missing_ok=True)
    raw = json.loads(output.strip().splitlines()[-1])
    return {
        "peak_rss_mb": round(raw["peak_rss_kb"] / 1024, 1),
        "growth_mb": round((raw["peak_rss_kb"] - raw["rss_before_kb"]) / 1024, 1),
    }


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 2)


def measure(subjects: dict[int, dict], *, repeat: int, work: Path, memory: bool = True) -> dict:
    from verification.dossier import build_snapshot

    base_url = _static_base_url()
    _bare_render('<link rel="stylesheet" href="pdf/dossier.css"><p>warm-up</p>', base_url)  # fontconfig, fonts
    keys = ("end_to_end", "snapshot", "bare_weasyprint")
    runs = {size: {f"{k}_{unit}": [] for k in keys for unit in ("s", "cpu_s")} for size in subjects}
    for size in subjects:
        runs[size]["task_render_ms"] = []
    last: dict[int, dict] = {}
    for rep in range(repeat):
        for size, subject in subjects.items():
            r = runs[size]
            print(f"Dossier, {size} signed entries, repetition {rep + 1}/{repeat}:", flush=True)
            seconds, cpu, html, vr = _end_to_end(subject["enrollment"], subject["director"])
            r["end_to_end_s"].append(seconds)
            r["end_to_end_cpu_s"].append(cpu)
            r["task_render_ms"].append(vr.render_ms)
            print(f"  end to end {seconds:.2f} s (CPU {cpu:.2f} s, {vr.page_count} pages)", flush=True)
            snapshot, seconds, cpu = _timed(build_snapshot, vr)
            r["snapshot_s"].append(seconds)
            r["snapshot_cpu_s"].append(cpu)
            print(f"  snapshot {seconds:.2f} s (CPU {cpu:.2f} s)", flush=True)
            bare, seconds, cpu = _timed(_bare_render, html, base_url)
            r["bare_weasyprint_s"].append(seconds)
            r["bare_weasyprint_cpu_s"].append(cpu)
            print(f"  bare WeasyPrint {seconds:.2f} s (CPU {cpu:.2f} s)", flush=True)
            last[size] = {
                "html": html,
                "pages": vr.page_count,
                "pdf_bytes": vr.size_bytes,
                "bare_pdf_bytes": len(bare),
                "html_bytes": len(html.encode()),
                "html_sha256": hashlib.sha256(html.encode()).hexdigest(),
                "case_log_rows": len(snapshot["case_log"]),
                "requirements_met": f"{sum(1 for r in snapshot['requirements'] if r['met'])} of "
                f"{len(snapshot['requirements'])}",
                "determination": (snapshot.get("determination") or {}).get("decision_display", "not signed"),
                "determination_stale": (snapshot.get("determination") or {}).get("stale"),
            }
            _delete_request(vr)

    results = {}
    for size, subject in subjects.items():
        r = runs[size]
        e2e, snap, bare = _median(r["end_to_end_s"]), _median(r["snapshot_s"]), _median(r["bare_weasyprint_s"])
        info = last[size]
        html = info.pop("html")
        baseline = BASELINES.get(size)
        limit = round(baseline["end_to_end_s"] * LIMIT_FACTOR, 2) if baseline else None
        results[str(size)] = {
            "enrollment": subject["enrollment"].pk,
            "signed_entries": subject["signed_entries"],
            "sessions_attended": subject["sessions"],
            "sign_offs": subject["sign_offs"],
            **info,
            "end_to_end_s": e2e,
            "snapshot_s": snap,
            "bare_weasyprint_s": bare,
            "end_to_end_cpu_s": _median(r["end_to_end_cpu_s"]),
            "snapshot_cpu_s": _median(r["snapshot_cpu_s"]),
            "bare_weasyprint_cpu_s": _median(r["bare_weasyprint_cpu_s"]),
            "rest_s": round(e2e - snap - bare, 2),
            "ratio_end_to_end_to_bare": round(e2e / bare, 2) if bare else None,
            "ratio_end_to_end_to_bare_cpu": round(
                _median(r["end_to_end_cpu_s"]) / _median(r["bare_weasyprint_cpu_s"]), 2
            )
            if _median(r["bare_weasyprint_cpu_s"])
            else None,
            "runs": {k: [round(v, 3) if isinstance(v, float) else v for v in vs] for k, vs in r.items()},
            "baseline": baseline,
            "limit_s": limit,
            "within_limit": e2e <= limit if limit else None,
            "ratio_to_baseline": round(e2e / baseline["end_to_end_s"], 2) if baseline else None,
        }
        if memory:
            print(f"Dossier {size}: peak memory of the bare render (separate process) ...", flush=True)
            results[str(size)]["render_memory"] = _render_memory(html, base_url, work)
    return results


def run(args, work: Path) -> dict:
    """Create the subjects, measure, delete the subjects (whatever happens)."""
    from cases.models import CaseLogEntry

    sizes = sorted({int(s) for s in args.dossier_sizes.split(",") if s.strip()})
    started = time.perf_counter()
    leftovers = delete_subjects()
    if leftovers:
        print(f"Deleted dossier subjects an earlier run left: {leftovers}")
    try:
        print(f"Creating dossier subjects: {', '.join(map(str, sizes))} signed entries ...", flush=True)
        seeded = time.perf_counter()
        created = create_subjects(sizes)
        seed_seconds = round(time.perf_counter() - seeded, 1)
        subjects = {}
        for size, subject in created.items():
            enrollment = subject["enrollment"]
            signed = CaseLogEntry.objects.filter(enrollment=enrollment, status=CaseLogEntry.Status.SIGNED).count()
            if signed != size:
                raise SystemExit(f"dossier bench: enrollment {enrollment.pk} has {signed} signed entries, not {size}")
            subjects[size] = {**subject, "signed_entries": signed, "director": enrollment.program.director}
        results = measure(subjects, repeat=args.dossier_repeat, work=work, memory=not args.dossier_no_memory)
    finally:
        deleted = delete_subjects()
    return {
        "repeat": args.dossier_repeat,
        "statistic": "median",
        "limit_factor": LIMIT_FACTOR,
        "memory_method": None if args.dossier_no_memory else MEMORY_METHOD,
        "subjects_seconds": seed_seconds,
        "section_seconds": round(time.perf_counter() - started, 1),
        "deleted_afterwards": deleted,
        "sizes": results,
    }


def table(section: dict) -> str:
    """Wall-clock medians, with the CPU seconds of this process in brackets."""
    lines = [
        "| signed entries | pages | end to end s (CPU) | snapshot s (CPU) | bare WeasyPrint s (CPU) "
        "| end to end ÷ bare (CPU) | limit: 1.2 × earlier end to end | render peak RSS MB (growth) "
        "| runs: end to end / bare s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for size, r in section["sizes"].items():
        limit = ""
        if r["limit_s"] is not None:
            verdict = "met" if r["within_limit"] else "**missed**"
            limit = f"≤ {r['limit_s']} s {verdict} ({r['ratio_to_baseline']} × {r['baseline']['end_to_end_s']} s)"
        memory = r.get("render_memory")
        memory_cell = f"{memory['peak_rss_mb']} (+{memory['growth_mb']})" if memory else ""
        runs = r["runs"]
        run_cell = (
            " ".join(f"{e:.2f}" for e in runs["end_to_end_s"])
            + " / "
            + " ".join(f"{b:.2f}" for b in runs["bare_weasyprint_s"])
        )
        lines.append(
            f"| {int(size):,} | {r['pages']} | {r['end_to_end_s']} ({r['end_to_end_cpu_s']}) "
            f"| {r['snapshot_s']} ({r['snapshot_cpu_s']}) | {r['bare_weasyprint_s']} ({r['bare_weasyprint_cpu_s']}) "
            f"| {r['ratio_end_to_end_to_bare']} ({r['ratio_end_to_end_to_bare_cpu']}) | {limit} | {memory_cell} "
            f"| {run_cell} |"
        )
    return "\n".join(lines)
