"""`python manage.py seed_bench --programs P --trainees-per-program T --cases-per-trainee C [--seed N] [--reset]`

Large, realistic data for benchmarks (SPEC section 6): per program a director with TOTP, 3-5 mentors,
T trainees at different stages of Level II training, and C case-log entries per trainee, each on its own
pseudonymous Case, plus live-acquisition and didactic sessions with attendance. The case mix, the texts and the
feedback come from seed_demo, so nothing here identifies a patient.

Speed over idempotence: every table is written with `bulk_create` in batches inside one transaction, one password
hash is shared by all bench users and one encrypted TOTP secret by all bench directors. 10 x 50 x 300 (150,000
entries) takes about 45 s on PostgreSQL on a 2-core machine.

Bench rows are namespaced: users are `bench-pNNN-...@bench.test` and programs are the ones such a user directs.
`--reset` deletes exactly those (and everything hanging off them) before seeding; without it the command refuses to
run over existing bench data.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.utils import encrypt
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

from assessments.models import FinalDetermination, SignOff
from cases.models import Case, CaseLogEntry
from curriculum.models import Category
from programs.models import Membership, Program
from trainees.models import Enrollment
from training.models import Attendance, TrainingSession
from trainingportal.accounts.models import Credential
from trainingportal.core.models import AuditEvent
from verification.models import VerificationRequest

from .seed_demo import FEEDBACK_ACQUISITION, FEEDBACK_AGREE, FEEDBACK_DISAGREE, RETURN_REASONS, TEMPLATES

BENCH_PASSWORD = "bench-pass-2026"
EMAIL_PREFIX = "bench-p"
EMAIL_DOMAIN = "@bench.test"
# Not secret: bench directors only, printed on screen so a person can sign in to a bench program.
BENCH_TOTP_SECRET = "BENCHB3NCHBENCHB3NCHBENCHB3NCHBE"
BATCH_SIZE = 5000
RULESET = "scmr-2018-level-2"

S = Case.Source
D = CaseLogEntry.Delivery
ST = CaseLogEntry.Status
SessionType = TrainingSession.Type

FIRST_NAMES = [
    "Alice", "Bruno", "Chiara", "Dmitri", "Elif", "Farah", "Gustavo", "Hana", "Ivan", "Jana", "Kofi", "Lena",
    "Mateo", "Nadia", "Oskar", "Paula", "Quentin", "Rania", "Sven", "Tara", "Umar", "Vera", "Wen", "Ximena",
    "Yusuf", "Zofia", "Aiko", "Björn", "Camila", "Dario", "Esther", "Felix", "Greta", "Hamid", "Ines", "Jonas",
]  # fmt: skip
LAST_NAMES = [
    "Abebe", "Bergström", "Castillo", "Dubois", "Eriksen", "Fontaine", "García", "Hoffmann", "Ibrahim", "Jensen",
    "Kowalski", "Lindqvist", "Moreau", "Nakamura", "Okafor", "Petrov", "Quist", "Rossi", "Schmidt", "Tanaka",
    "Usman", "Varga", "Weber", "Xu", "Yilmaz", "Zimmermann", "Adeyemi", "Brennan", "Cohen", "Desai",
]  # fmt: skip
INSTITUTIONS = [
    ("Riverside Cardiac Imaging Centre", "RCI"),
    ("St. Aldric University Hospital", "SAU"),
    ("Lakeshore Heart Institute", "LHI"),
    ("Hollings Cardiovascular Center", "HCC"),
    ("Meridian Medical Center", "MMC"),
    ("Northgate Heart and Vascular", "NHV"),
    ("Kestrel Valley Hospital", "KVH"),
    ("Beaumont Park Cardiology", "BPC"),
    ("Oakridge University Heart Centre", "OUH"),
    ("Harbourview Cardiac MR Unit", "HCM"),
]
SESSION_TITLES = {
    SessionType.LIVE_ACQUISITION: [
        "Live scan: adenosine stress perfusion",
        "Live scan: myocarditis protocol with mapping",
        "Live scan: aortic flow and MRA",
        "Live scan: LGE inversion-time optimisation",
        "Live scan: congenital follow-up, phase contrast",
        "Live scan: MR-conditional device protocol",
    ],
    SessionType.DIDACTIC_LIVE: [
        "Lecture: MR physics for cardiologists",
        "Lecture: T1 and T2 mapping in practice",
        "Lecture: valvular quantification by phase contrast",
        "Lecture: cardiomyopathy patterns on LGE",
        "Lecture: MR safety and implanted devices",
    ],
    SessionType.DIDACTIC_RECORDED: [
        "Recorded: SCMR case review series, ischaemic heart disease",
        "Recorded: SCMR case review series, congenital heart disease",
    ],
    SessionType.PROTOCOL_SELECTION: [
        "Protocol selection: choosing sequences for the clinical question",
        "Protocol selection: non-contrast protocols for renal impairment",
    ],
    SessionType.PLANNING_TROUBLESHOOTING: [
        "Planning and troubleshooting: arrhythmia and breath-hold artefacts",
        "Planning and troubleshooting: off-resonance and flow artefacts",
    ],
    SessionType.CASE_REVIEW: [
        "Case review: difficult LGE patterns",
        "Case review: stress perfusion artefacts versus ischaemia",
        "Case review: right ventricle and pulmonary hypertension",
    ],
}
DURATIONS = {
    SessionType.LIVE_ACQUISITION: 90,
    SessionType.DIDACTIC_LIVE: 60,
    SessionType.DIDACTIC_RECORDED: 45,
    SessionType.PROTOCOL_SELECTION: 60,
    SessionType.PLANNING_TROUBLESHOOTING: 75,
    SessionType.CASE_REVIEW: 60,
}
ACTIVE_INPUT_NOTES = [
    "Suggested adding T2 mapping for the suspected inflammation.",
    "Chose the slice positions for the short-axis stack.",
    "Adjusted the velocity encoding after aliasing on the first acquisition.",
    "Proposed a free-breathing LGE after repeated breath-hold failure.",
    "Picked the inversion time from the TI scout.",
    "Recommended a non-contrast protocol given the renal function.",
]


def bench_users():
    """Every bench user: e-mail addresses `bench-pNNN-...@bench.test`."""
    return get_user_model().objects.filter(email__startswith=EMAIL_PREFIX, email__endswith=EMAIL_DOMAIN)


def bench_programs():
    return Program.objects.filter(director__in=bench_users())


def bench_email(program_no: int, who: str) -> str:
    return f"{EMAIL_PREFIX}{program_no:03d}-{who}{EMAIL_DOMAIN}"


def reset_bench_data() -> dict[str, int]:
    """Delete bench rows only, dependants first; everything that is not bench data is left alone."""
    users = bench_users()
    programs = bench_programs()
    enrollments = Enrollment.objects.filter(program__in=programs)
    deleted: dict[str, int] = {}

    def drop(label, qs):
        deleted[label] = qs.delete()[1].get(qs.model._meta.label, 0)

    def drop_fast(label, qs):
        # One DELETE ... WHERE pk IN (subquery) instead of Django's collector, which loads every row first (half a
        # minute for 150,000 entries). Safe because the rows that point at these were deleted just before; the
        # database's foreign keys would refuse the commit otherwise.
        meta = qs.model._meta
        subquery, params = qs.values("pk").query.sql_with_params()
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {quote(meta.db_table)} WHERE {quote(meta.pk.column)} IN ({subquery})", params)
            deleted[label] = cursor.rowcount

    drop("sign-off evidence", SignOff.evidence_entries.through.objects.filter(signoff__enrollment__in=enrollments))
    drop("sign-off sessions", SignOff.evidence_sessions.through.objects.filter(signoff__enrollment__in=enrollments))
    drop("sign-offs", SignOff.objects.filter(enrollment__in=enrollments))
    drop("determinations", FinalDetermination.objects.filter(enrollment__in=enrollments))
    drop("verification requests", VerificationRequest.objects.filter(enrollment__in=enrollments))
    drop_fast("entries", CaseLogEntry.objects.filter(enrollment__program__in=programs))
    drop_fast("case categories", Case.categories.through.objects.filter(case__program__in=programs))
    drop_fast("cases", Case.objects.filter(program__in=programs))
    drop_fast("attendance", Attendance.objects.filter(session__program__in=programs))
    drop("sessions", TrainingSession.objects.filter(program__in=programs))
    drop("enrollment mentors", Enrollment.mentors.through.objects.filter(enrollment__in=enrollments))
    drop("enrollments", enrollments)
    drop("audit events", AuditEvent.objects.filter(actor__in=users))
    drop("programs", programs)  # memberships, invitations, reviews and feedback cascade
    drop("users", users)  # e-mail addresses, authenticators, credentials and API tokens cascade
    return deleted


def _insert(model, objs: list, *, pks: bool = True) -> list:
    """bulk_create in batches; the caller relies on primary keys being set (PostgreSQL, SQLite >= 3.35)."""
    if pks and objs and not connection.features.can_return_rows_from_bulk_insert:
        raise CommandError("seed_bench needs a database that returns primary keys from bulk inserts.")
    return model.objects.bulk_create(objs, batch_size=BATCH_SIZE)


@dataclass
class _Trainee:
    user: object
    enrollment: Enrollment | None
    mentor_ids: list[int]
    virtual_share: float
    p_interpreted: float
    hands_on_factor: float
    live_sessions: list[TrainingSession] = field(default_factory=list)


@dataclass
class _Program:
    no: int
    code: str
    institution: str
    director: object = None
    mentors: list = field(default_factory=list)
    trainees: list[_Trainee] = field(default_factory=list)
    program: Program | None = None
    sessions: list[TrainingSession] = field(default_factory=list)


class Command(BaseCommand):
    help = "Create large, realistic benchmark data (bench-namespaced users and programs) with bulk inserts."

    def add_arguments(self, parser):
        parser.add_argument("--programs", type=int, default=10)
        parser.add_argument("--trainees-per-program", type=int, default=50)
        parser.add_argument("--cases-per-trainee", type=int, default=300)
        parser.add_argument("--seed", type=int, default=2026, help="Random seed (same seed, same data).")
        parser.add_argument("--reset", action="store_true", help="Delete existing bench data first.")

    def handle(self, *args, programs, trainees_per_program, cases_per_trainee, seed, reset, **options):
        if programs < 0 or trainees_per_program < 1 or cases_per_trainee < 0:
            raise CommandError("Use --programs >= 0, --trainees-per-program >= 1 and --cases-per-trainee >= 0.")
        if programs > len(INSTITUTIONS) * 100:
            raise CommandError(f"At most {len(INSTITUTIONS) * 100} programs.")
        started = time.perf_counter()
        with transaction.atomic():
            if reset:
                deleted = reset_bench_data()
                if any(deleted.values()):
                    self.stdout.write(
                        f"Deleted bench data in {time.perf_counter() - started:.1f} s: "
                        + ", ".join(f"{k} {v}" for k, v in deleted.items() if v)
                    )
            elif bench_users().exists():
                raise CommandError("Bench data exists already; pass --reset to replace it.")
            seeder = _BenchSeeder(seed=seed, trainees=trainees_per_program, cases=cases_per_trainee, out=self)
            counts = seeder.run(programs) if programs else {}
            committing = time.perf_counter()
        self.phase("commit (deferred FK checks)", committing)
        if connection.vendor == "postgresql":
            # Fresh planner statistics, so the first queries after a bulk load do not get row estimates of zero.
            analyzing = time.perf_counter()
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
            self.phase("analyze", analyzing)
        elapsed = time.perf_counter() - started
        if not programs:
            self.stdout.write(self.style.SUCCESS(f"No programs requested; done in {elapsed:.1f} s."))
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Bench data ready in {elapsed:.1f} s: {programs} programs x {trainees_per_program} trainees x "
                f"{cases_per_trainee} cases ({counts['entries']:,} log entries)."
            )
        )
        self.stdout.write("  " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
        self.stdout.write(
            f"  Sign in as {bench_email(1, 'director')} or {bench_email(1, 't001')}, password {BENCH_PASSWORD}; "
            f"directors' TOTP secret {BENCH_TOTP_SECRET}."
        )

    def phase(self, label: str, started: float) -> None:
        self.stdout.write(f"  {label:<30} {time.perf_counter() - started:6.1f} s")


class _BenchSeeder:
    def __init__(self, *, seed: int, trainees: int, cases: int, out: Command) -> None:
        self.seed = seed
        self.n_trainees = trainees
        self.n_cases = cases
        self.out = out
        self.now = timezone.now()
        self.today = timezone.localdate()
        self.tz = timezone.get_current_timezone()
        self.rng = random.Random(seed)
        self.counts: dict[str, int] = {}
        self._days_cache: dict[date, list[date]] = {}
        self._weights = [t.weight for t in TEMPLATES]

    def _count(self, label: str, n: int) -> None:
        self.counts[label] = self.counts.get(label, 0) + n

    def run(self, n_programs: int) -> dict[str, int]:
        t0 = time.perf_counter()
        plans = [self._plan(no) for no in range(1, n_programs + 1)]
        self._people(plans)
        self._programs(plans)
        self._enrollments(plans)
        self.out.phase("people, programs, enrollments", t0)
        t1 = time.perf_counter()
        self._sessions(plans)
        self.out.phase("sessions, attendance", t1)
        t2 = time.perf_counter()
        self.category_ids = dict(Category.objects.values_list("slug", "pk"))
        for plan in plans:
            self._case_log(plan)
        self.out.phase("cases, log entries", t2)
        return self.counts

    # --- people -------------------------------------------------------------------------------------------------

    def _plan(self, no: int) -> _Program:
        name, code = INSTITUTIONS[(no - 1) % len(INSTITUTIONS)]
        if no > len(INSTITUTIONS):
            name, code = f"{name} {(no - 1) // len(INSTITUTIONS) + 1}", f"{code}{(no - 1) // len(INSTITUTIONS) + 1}"
        return _Program(no=no, code=code, institution=name)

    def _name(self) -> str:
        return f"{self.rng.choice(FIRST_NAMES)} {self.rng.choice(LAST_NAMES)}"

    def _people(self, plans: list[_Program]) -> None:
        User = get_user_model()
        password = make_password(BENCH_PASSWORD)  # one hash for everybody: hashing is the slow part
        users = []
        for plan in plans:
            plan.director = User(
                email=bench_email(plan.no, "director"),
                full_name=self._name(),
                institution=plan.institution,
            )
            plan.mentors = [
                User(email=bench_email(plan.no, f"m{m}"), full_name=self._name(), institution=plan.institution)
                for m in range(1, self.rng.randint(3, 5) + 1)
            ]
            trainees = [
                User(email=bench_email(plan.no, f"t{t:03d}"), full_name=self._name(), institution=plan.institution)
                for t in range(1, self.n_trainees + 1)
            ]
            plan.trainees = [_Trainee(user=u, enrollment=None, mentor_ids=[], **self._profile()) for u in trainees]
            users += [plan.director, *plan.mentors, *trainees]
        for user in users:
            user.password = password
        _insert(User, users)
        self._count("users", len(users))
        _insert(
            EmailAddress,
            [EmailAddress(user=u, email=u.email, verified=True, primary=True) for u in users],
            pks=False,
        )
        secret = encrypt(BENCH_TOTP_SECRET)
        _insert(
            Authenticator,
            [Authenticator(user=p.director, type=Authenticator.Type.TOTP, data={"secret": secret}) for p in plans],
            pks=False,
        )
        self._count("authenticators", len(plans))
        credentials = []
        for plan in plans:
            credentials.append(
                Credential(
                    user=plan.director,
                    level=Credential.Level.III,
                    body="SCMR",
                    identifier=f"SCMR-L3-{plan.no:03d}{self.rng.randint(10, 99)}",
                    issued_on=date(self.rng.randint(2010, 2020), self.rng.randint(1, 12), 1),
                )
            )
            for n, mentor in enumerate(plan.mentors, start=1):
                level = Credential.Level.III if n == 1 or self.rng.random() < 0.4 else Credential.Level.II
                credentials.append(
                    Credential(
                        user=mentor,
                        level=level,
                        body=self.rng.choice(["SCMR", "SCMR", "EACVI"]),
                        identifier=f"L{len(level)}-{plan.no:03d}{n:02d}{self.rng.randint(100, 999)}",
                        issued_on=date(self.rng.randint(2012, 2023), self.rng.randint(1, 12), 1),
                    )
                )
        _insert(Credential, credentials, pks=False)

    def _profile(self) -> dict:
        """How a trainee works: some lean on virtual cases (a few beyond the program's cap), some rarely scan."""
        rng = self.rng
        return {
            "virtual_share": rng.choice([0.2, 0.3, 0.35, 0.4, 0.45, 0.45, 0.5, 0.6]),
            "p_interpreted": rng.uniform(0.85, 0.98),
            "hands_on_factor": rng.choice([0.3, 0.6, 0.9, 1.0, 1.0, 1.1]),
        }

    def _programs(self, plans: list[_Program]) -> None:
        rng = self.rng
        for plan in plans:
            years = rng.randint(5, 20)
            mode = rng.choice([Program.Mode.HYBRID, Program.Mode.HYBRID, Program.Mode.VIRTUAL])
            plan.program = Program(
                name=f"{plan.institution} — {mode.label} CMR Level II",
                institution=plan.institution,
                director=plan.director,
                mode=mode,
                onsite_training_years=years,
                onsite_trainees_trained=years * rng.randint(3, 9),
                track_record_evidence=(
                    f"On-site CMR fellowship for {years} years; program records available to SCMR on request."
                ),
                video_setup_attestation=(
                    "Two-way video with the scanner console shared over KVM-over-IP; remote review on the PACS web "
                    "viewer with a calibrated diagnostic display."
                ),
                privacy_attestation=True,
                max_virtual_share=rng.choice([40, 50, 50, 60]),
                interactive_group_cap=4,
                ruleset=RULESET,
                # Half the programs review blind (the default for new ones); program 1, the benchmark's subject,
                # does not, so that its mentors' batch sign-off can be measured.
                blind_review=plan.no % 2 == 0,
                verification_status=rng.choice(
                    [Program.VerificationStatus.VERIFIED] * 3 + [Program.VerificationStatus.SUBMITTED]
                ),
            )
        _insert(Program, [p.program for p in plans])
        self._count("programs", len(plans))
        memberships = []
        for plan in plans:
            memberships.append(Membership(user=plan.director, program=plan.program, role=Membership.Role.DIRECTOR))
            memberships += [Membership(user=m, program=plan.program, role=Membership.Role.MENTOR) for m in plan.mentors]
            memberships += [
                Membership(user=t.user, program=plan.program, role=Membership.Role.TRAINEE) for t in plan.trainees
            ]
        _insert(Membership, memberships, pks=False)
        self._count("memberships", len(memberships))

    def _enrollments(self, plans: list[_Program]) -> None:
        rng = self.rng
        enrollments = []
        for plan in plans:
            for trainee in plan.trainees:
                # Between 1 and 12 months ago, so trainees are at every stage of the program.
                start = self.today - timedelta(days=rng.randint(30, 365))
                part_time = rng.random() < 0.1
                carried = rng.random() < 0.1
                trainee.enrollment = Enrollment(
                    trainee=trainee.user,
                    program=plan.program,
                    target_level=Enrollment.Level.II,
                    track=Enrollment.Track.PART_TIME if part_time else Enrollment.Track.FULL_TIME,
                    fte_fraction=Decimal("0.50") if part_time else Decimal("1.00"),
                    ruleset=RULESET,
                    start_date=start,
                    status=Enrollment.Status.ACTIVE,
                    carried_forward_cases=50 if carried else 0,
                    carried_forward_months=Decimal("1.0") if carried else Decimal("0"),
                )
                k = 1 if rng.random() < 0.7 else 2
                trainee.mentor_ids = [m.pk for m in rng.sample(plan.mentors, k)]
                enrollments.append(trainee.enrollment)
        _insert(Enrollment, enrollments)
        self._count("enrollments", len(enrollments))
        Through = Enrollment.mentors.through
        links = [
            Through(enrollment_id=t.enrollment.pk, user_id=mentor_id)
            for plan in plans
            for t in plan.trainees
            for mentor_id in t.mentor_ids
        ]
        _insert(Through, links, pks=False)
        self._count("enrollment mentors", len(links))

    # --- sessions -----------------------------------------------------------------------------------------------

    def _sessions(self, plans: list[_Program]) -> None:
        rng = self.rng
        mix = [
            (SessionType.LIVE_ACQUISITION, max(4, self.n_trainees // 2)),
            (SessionType.DIDACTIC_LIVE, 4),
            (SessionType.DIDACTIC_RECORDED, 2),
            (SessionType.PROTOCOL_SELECTION, 2),
            (SessionType.PLANNING_TROUBLESHOOTING, 2),
            (SessionType.CASE_REVIEW, 3),
        ]
        # Live acquisition is the remote kind (console shared over video); a few other interactive ones are on site.
        live_or_didactic = {SessionType.LIVE_ACQUISITION, *TrainingSession.DIDACTIC_TYPES}
        sessions = []
        for plan in plans:
            for type_, n in mix:
                for i in range(n):
                    day = self._weekday(self.today - timedelta(days=rng.randint(1, 364)))
                    mentor = rng.choice(plan.mentors)
                    starts_at = self._aware(day, rng.randint(8, 15), rng.choice([0, 30]))
                    # About one live scan in five without the console shared: it must not count (SPEC S5).
                    shared = type_ == SessionType.LIVE_ACQUISITION and i % 5 != 1
                    didactic = type_ in TrainingSession.DIDACTIC_TYPES
                    session = TrainingSession(
                        program=plan.program,
                        type=type_,
                        delivery=(
                            TrainingSession.Delivery.IN_PERSON
                            if type_ not in live_or_didactic and rng.random() < 0.15
                            else TrainingSession.Delivery.VIRTUAL_TWO_WAY
                        ),
                        title=rng.choice(SESSION_TITLES[type_]),
                        mentor=mentor,
                        starts_at=starts_at,
                        duration_minutes=DURATIONS[type_],
                        capacity=None if didactic else plan.program.interactive_group_cap,
                        console_shared=shared,
                        console_shared_by=mentor if shared else None,
                        console_shared_at=starts_at + timedelta(minutes=5) if shared else None,
                    )
                    plan.sessions.append(session)
                    sessions.append(session)
        _insert(TrainingSession, sessions)
        self._count("sessions", len(sessions))

        attendance = []
        for plan in plans:
            for session in plan.sessions:
                day = session.starts_at.date()
                eligible = [t for t in plan.trainees if t.enrollment.start_date <= day]
                if not eligible:
                    continue
                if session.type in TrainingSession.DIDACTIC_TYPES:
                    chosen = rng.sample(eligible, max(1, int(len(eligible) * rng.uniform(0.4, 0.8))))
                else:
                    chosen = rng.sample(eligible, min(len(eligible), rng.randint(2, session.capacity)))
                for trainee in chosen:
                    interactive = session.type not in TrainingSession.DIDACTIC_TYPES
                    active = interactive and rng.random() < 0.7
                    attendance.append(
                        Attendance(
                            session=session,
                            enrollment=trainee.enrollment,
                            joined_at=session.starts_at + timedelta(minutes=rng.randint(0, 4)),
                            left_at=session.starts_at + timedelta(minutes=session.duration_minutes),
                            active_input=active,
                            active_input_note=rng.choice(ACTIVE_INPUT_NOTES) if active else "",
                        )
                    )
                    if session.type == SessionType.LIVE_ACQUISITION:
                        trainee.live_sessions.append(session)
        _insert(Attendance, attendance, pks=False)
        self._count("attendance", len(attendance))

    # --- case log -----------------------------------------------------------------------------------------------

    def _case_log(self, plan: _Program) -> None:
        """One program at a time, so memory stays flat: its cases, their categories, then the entries."""
        rng = self.rng
        seq = {"local": rng.randint(100, 900), "registry": rng.randint(10000, 20000), "teaching": rng.randint(1, 90)}
        cases: list[Case] = []
        case_categories: list[list[str]] = []
        entries: list[CaseLogEntry] = []
        for trainee in plan.trainees:
            for case_spec, entry in self._trainee_entries(plan, trainee):
                # The categories wait until the Case has a primary key.
                case_categories.append(case_spec.pop("_categories"))
                reference = self._reference(plan, case_spec.pop("_year"), case_spec["source"], seq)
                cases.append(Case(program=plan.program, reference=reference, **case_spec))
                entries.append(entry)
        _insert(Case, cases)
        self._count("cases", len(cases))
        Through = Case.categories.through
        links = [
            Through(case_id=case.pk, category_id=self.category_ids[slug])
            for case, slugs in zip(cases, case_categories, strict=True)
            for slug in slugs
        ]
        _insert(Through, links, pks=False)
        self._count("case categories", len(links))
        for case, entry in zip(cases, entries, strict=True):
            entry.case = case
        _insert(CaseLogEntry, entries, pks=False)
        self._count("entries", len(entries))

    def _reference(self, plan: _Program, year: int, source: str, seq: dict) -> str:
        """Unique within the program (the Case constraint): one running number per kind of collection."""
        if source == S.REGISTRY:
            seq["registry"] += 1
            return f"SCMR-REG-{seq['registry']:06d}"
        if source == S.TEACHING_FILE:
            seq["teaching"] += 1
            return f"{plan.code}-TF-{seq['teaching']:05d}"
        seq["local"] += self.rng.choice((1, 1, 2, 3))
        return f"{plan.code}-{year}-{seq['local']:06d}"

    def _trainee_entries(self, plan: _Program, trainee: _Trainee) -> list[tuple[dict, CaseLogEntry]]:
        rng = self.rng
        specs = []
        # Scans seen live over a shared console: one or two entries per attended live-acquisition session.
        linked = 0
        for session in trainee.live_sessions:
            for _ in range(rng.randint(1, 2)):
                if linked >= self.n_cases // 4:
                    break
                specs.append(self._entry(plan, trainee, session=session))
                linked += 1
        specs += [self._entry(plan, trainee) for _ in range(self.n_cases - len(specs))]
        specs.sort(key=lambda s: s[1].performed_on)
        self._statuses(trainee, [entry for _, entry in specs])
        return specs

    def _entry(self, plan: _Program, trainee: _Trainee, session: TrainingSession | None = None):
        rng = self.rng
        if session is not None:
            delivery, source = D.VIRTUAL_LIVE_TWO_WAY, S.LIVE_SCAN
            performed_on = session.starts_at.date()
        else:
            if rng.random() < trainee.virtual_share:
                delivery = D.VIRTUAL_LIVE_TWO_WAY if rng.random() < 0.6 else D.ASYNCHRONOUS
            else:
                delivery = D.IN_PERSON
            if delivery == D.IN_PERSON:
                source = S.LIVE_SCAN if rng.random() < 0.45 else S.CENTER_ARCHIVE
            elif delivery == D.VIRTUAL_LIVE_TWO_WAY:
                source = rng.choices([S.LIVE_SCAN, S.CENTER_ARCHIVE, S.REGISTRY], weights=[35, 50, 15])[0]
            else:
                source = rng.choices([S.CENTER_ARCHIVE, S.REGISTRY, S.TEACHING_FILE], weights=[45, 35, 20])[0]
            days = self._training_days(trainee.enrollment.start_date)
            performed_on = days[int(rng.random() * len(days))]

        template = rng.choices(TEMPLATES, weights=self._weights)[0]
        categories = list(template.categories[:3])
        if len(categories) < 3 and "ventricular-function" not in categories and rng.random() < 0.3:
            categories.append("ventricular-function")
        tags = list(template.tags)
        if "LGE" in tags and "T1 mapping" not in tags and rng.random() < 0.3:
            tags.append("T1 mapping")
        case_spec = {
            "source": source,
            "complete_study": source != S.TEACHING_FILE or rng.random() < 0.7,
            "indication": template.indication,
            "technique_tags": tags,
            "field_strength": template.field_strength or ("3T" if rng.random() < 0.35 else "1.5T"),
            "_categories": categories,
            "_year": performed_on.year if source == S.LIVE_SCAN else rng.choice((2023, 2024, 2025, performed_on.year)),
        }
        findings, impression, measurements = template.text(rng)

        live = source == S.LIVE_SCAN
        if session is not None:
            # Only a shared console lets a remote trainee see (or drive) the acquisition (SPEC S5).
            observed = session.console_shared
            hands_on = session.console_shared and rng.random() < 0.3 * trainee.hands_on_factor
        else:
            in_person = delivery == D.IN_PERSON
            p_hands_on = (0.8 if live else 0.6) * trainee.hands_on_factor
            hands_on = in_person and source in (S.LIVE_SCAN, S.CENTER_ARCHIVE) and rng.random() < p_hands_on
            observed = live and not hands_on and delivery != D.ASYNCHRONOUS and rng.random() < 0.9
        protocolled = rng.random() < (0.3 if live else 0.08)
        post_processed = rng.random() < 0.3
        interpreted = rng.random() < trainee.p_interpreted
        if not (interpreted or hands_on or observed or protocolled or post_processed):
            interpreted = True
        if not interpreted:
            findings = impression = measurements = ""
        entry = CaseLogEntry(
            enrollment=trainee.enrollment,
            performed_on=performed_on,
            interpreted=interpreted,
            # At the controls on a live scan, assisting otherwise; watching is in the room or remote by delivery.
            primary_operator=hands_on and live,
            assisted_console=hands_on and not live,
            observed_in_room=observed and delivery == D.IN_PERSON,
            observed_remotely=observed and delivery != D.IN_PERSON,
            protocolled=protocolled,
            post_processed=post_processed,
            delivery=delivery,
            session=session,
            supervising_mentor_id=trainee.mentor_ids[int(rng.random() * len(trainee.mentor_ids))],
            findings=findings,
            impression=impression,
            key_measurements=measurements,
        )
        return case_spec, entry

    def _statuses(self, trainee: _Trainee, entries: list[CaseLogEntry]) -> None:
        """Oldest to newest: mostly signed; the newest few are drafts, returned or awaiting review, and some
        trainees have older entries a mentor has let wait for weeks."""
        rng = self.rng
        n = len(entries)
        # Capped for short logs, so that even a 10-case log is mostly signed.
        drafts = min(n // 5, rng.choice([0, 0, 1, 1, 2, 3]))
        returned = min(n // 10, rng.choice([0, 0, 0, 1, 2]))
        submitted = min(n // 5, rng.randint(1, 10))
        newest_first = entries[::-1]
        status_of = {}
        for i in range(n):
            if i < drafts:
                status_of[i] = ST.DRAFT
            elif i < drafts + returned:
                status_of[i] = ST.RETURNED
            elif i < drafts + returned + submitted:
                status_of[i] = ST.SUBMITTED
        if rng.random() < 0.35:
            backlog_from = self.today - timedelta(days=8)
            older = [i for i in range(n) if i not in status_of and newest_first[i].performed_on <= backlog_from]
            for i in rng.sample(older[:60], min(len(older[:60]), rng.randint(1, max(1, min(4, n // 10))))):
                status_of[i] = ST.SUBMITTED
        for i, entry in enumerate(newest_first):
            status = status_of.get(i, ST.SIGNED)
            entry.status = status
            if status == ST.DRAFT:
                continue
            submitted_at = min(
                self._aware(entry.performed_on, rng.randint(16, 21), rng.randint(0, 59)),
                self.now - timedelta(minutes=30),
            )
            entry.submitted_at = submitted_at
            if status == ST.RETURNED:
                entry.returned_reason = rng.choice(RETURN_REASONS)
            elif status == ST.SIGNED:
                reviewed = self._aware(entry.performed_on + timedelta(days=rng.randint(0, 3)), rng.randint(7, 19), 30)
                entry.signed_at = min(max(reviewed, submitted_at + timedelta(hours=1)), self.now)
                entry.signed_by_id = entry.supervising_mentor_id
                entry.mentor_agrees = rng.random() < 0.9 or not entry.interpreted
                if not entry.interpreted:
                    pool = FEEDBACK_ACQUISITION
                else:
                    pool = FEEDBACK_AGREE if entry.mentor_agrees else FEEDBACK_DISAGREE
                entry.mentor_feedback = rng.choice(pool)

    # --- dates --------------------------------------------------------------------------------------------------

    def _training_days(self, start: date) -> list[date]:
        """Weekdays from the enrollment start to today."""
        if start not in self._days_cache:
            span = (start + timedelta(days=n) for n in range((self.today - start).days + 1))
            self._days_cache[start] = [d for d in span if d.weekday() < 5] or [self.today]
        return self._days_cache[start]

    @staticmethod
    def _weekday(day: date) -> date:
        return day - timedelta(days=max(0, day.weekday() - 4))

    def _aware(self, day: date, hour: int, minute: int) -> datetime:
        return datetime(day.year, day.month, day.day, hour, minute, tzinfo=self.tz)
