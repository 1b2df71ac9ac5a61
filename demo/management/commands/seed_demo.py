"""`python manage.py seed_demo [--force]` — idempotent demo data for the hybrid CMR Level II program (SPEC section 6).

Creates one program, a director, two mentors, four trainees at different stages of their Level II training and an
SCMR reviewer, plus a realistic, de-identified CMR case log. Everything is keyed on stable keys (e-mail addresses, the
program name, case references, and (enrollment, case) for log entries) and generated from `random.Random(2026)`, so
running it again leaves the same data. No random draw depends on today's date (dates are picked with one
`random()` each), so a re-run on a later day still produces the same case references. Existing log entries are never modified
(signed entries are immutable).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock
from decimal import Decimal

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from allauth.mfa.utils import decrypt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from assessments.models import SignOff
from assessments.selectors import current_competencies
from cases.models import Case, CaseLogEntry
from curriculum import cmr
from curriculum.models import Category
from programs.models import Membership, Program
from trainees.models import Enrollment
from training.models import Attendance, Lecture, LectureCompletion, TrainingSession
from trainingportal.accounts.models import Credential

DEMO_PASSWORD = "demo-pass-2026"
# A fixed salt lets a re-run compare the stored hash instead of re-hashing every user (one hash per run). Demo
# accounts only: the password is printed on screen anyway.
_DEMO_SALT = "trainingportaldemoseed2026"  # >= 22 chars, so Django never asks to re-salt it
SEED = 2026
RULESET = "scmr-2018-level-2"
DEMO_VIRTUAL_SHARE = 0.45  # below the program's max_virtual_share of 50%
VENDORS = [Case.Vendor.SIEMENS, Case.Vendor.PHILIPS, Case.Vendor.GE]

PROGRAM_NAME = "Northbridge Heart Institute — Hybrid CMR Level II"
INSTITUTION = "Northbridge Heart Institute"
REVIEWER_INSTITUTION = "SCMR Verification Committee"

DIRECTOR = "director@demo.test"
MENTOR = "mentor@demo.test"
MENTOR2 = "mentor2@demo.test"
REVIEWER = "reviewer@demo.test"

# email, full name, institution, is_reviewer
USERS = [
    (DIRECTOR, "Helena Varga", INSTITUTION, False),
    (MENTOR, "Tomás Okafor", INSTITUTION, False),
    (MENTOR2, "Priya Raman", INSTITUTION, False),
    ("trainee@demo.test", "Jonas Lindqvist", INSTITUTION, False),
    ("trainee2@demo.test", "Amara Nwosu", INSTITUTION, False),
    ("trainee3@demo.test", "Lucas Ferreira", INSTITUTION, False),
    ("trainee4@demo.test", "Mei Tanaka", INSTITUTION, False),
    (REVIEWER, "Ruth Abernathy", REVIEWER_INSTITUTION, True),
]

# email, level, body, identifier, issued on
CREDENTIALS = [
    (DIRECTOR, Credential.Level.III, "SCMR", "SCMR-L3-04417", date(2016, 5, 12)),
    (MENTOR, Credential.Level.III, "SCMR", "SCMR-L3-05128", date(2018, 9, 3)),
    (MENTOR2, Credential.Level.II, "SCMR", "SCMR-L2-11873", date(2021, 2, 22)),
]


@dataclass(frozen=True)
class TraineePlan:
    email: str
    mentors: tuple[str, ...]
    started_days_ago: int
    cases: int
    p_interpreted: float
    drafts: int
    submitted: int
    returned: int
    carried_forward_cases: int = 0
    carried_forward_months: Decimal = Decimal("0")
    # Fully and honestly complete: virtual live cases from attended sessions, in-person sign-offs of the
    # competencies that need them.
    complete: bool = False


TRAINEES = [
    # The main demo login: mid-way.
    TraineePlan(
        "trainee@demo.test",
        (MENTOR,),
        started_days_ago=42,
        cases=60,
        p_interpreted=0.92,
        drafts=2,
        submitted=5,
        returned=1,
    ),
    # Every Level II requirement met, on evidence that supports it.
    TraineePlan(
        "trainee2@demo.test",
        (MENTOR, MENTOR2),
        started_days_ago=152,
        cases=240,
        p_interpreted=0.97,
        drafts=1,
        submitted=3,
        returned=1,
        complete=True,
    ),
    # Just started.
    TraineePlan(
        "trainee3@demo.test",
        (MENTOR,),
        started_days_ago=7,
        cases=8,
        p_interpreted=0.9,
        drafts=3,
        submitted=2,
        returned=0,
    ),
    # Level I experience carried forward toward Level II.
    TraineePlan(
        "trainee4@demo.test",
        (MENTOR2,),
        started_days_ago=38,
        cases=30,
        p_interpreted=0.9,
        drafts=1,
        submitted=3,
        returned=1,
        carried_forward_cases=50,
        carried_forward_months=Decimal("1.0"),
    ),
]

PROGRAM_FIELDS = {
    "institution": INSTITUTION,
    "mode": Program.Mode.HYBRID,
    "onsite_training_years": 12,
    "onsite_trainees_trained": 85,
    "track_record_evidence": (
        "On-site CMR fellowship running since 2014 with 85 trainees trained on site (program records, "
        "available to SCMR on request). Two Level III faculty; about 2,400 clinical CMR studies a year."
    ),
    "video_setup_attestation": (
        "Two-way video on the institutional video-conferencing platform; the scanner control console is shared "
        "through a KVM-over-IP link so trainees see sequence planning live. Remote image review uses the web "
        "viewer of the departmental PACS on a calibrated diagnostic display (DICOM GSDF, 1920x1200 or better)."
    ),
    "privacy_attestation": True,
    "max_virtual_share": 50,
    "interactive_group_cap": 4,
    "ruleset": RULESET,
    "blind_review": True,
}


# --- The case mix -------------------------------------------------------------------------------------------------
#
# Each template is one kind of clinical question. `text` returns (findings, impression, key measurements) for a
# random number generator; nothing here identifies a patient (no names, dates, record or accession numbers).


def _myocarditis(r: random.Random) -> tuple[str, str, str]:
    lvef, t1, t2 = r.randint(50, 62), r.randint(1080, 1160), r.randint(50, 58)
    return (
        "Subepicardial LGE in the basal to mid inferolateral wall with matching raised T2 signal; no regional "
        "wall motion abnormality; small pericardial effusion.",
        r.choice(["Pattern consistent with acute myocarditis.", "Non-ischaemic injury, most likely myocarditis."]),
        f"LVEF {lvef}%, native T1 {t1} ms at 3T (raised), T2 {t2} ms",
    )


def _hcm(r: random.Random) -> tuple[str, str, str]:
    wt, lvef, lge = r.randint(16, 25), r.randint(62, 74), r.randint(2, 14)
    return (
        f"Asymmetric septal hypertrophy, maximal wall thickness {wt} mm at the basal anteroseptum; patchy mid-wall "
        "LGE at the RV insertion points; elongated anterior mitral leaflet.",
        r.choice(
            [
                "Hypertrophic cardiomyopathy, non-obstructive at rest.",
                "Hypertrophic cardiomyopathy with systolic anterior motion and LVOT flow turbulence.",
            ]
        ),
        f"Max WT {wt} mm, LVEF {lvef}%, LGE {lge}% of LV mass",
    )


def _aortic_root(r: random.Random) -> tuple[str, str, str]:
    root, asc, rf = r.randint(40, 48), r.randint(36, 43), r.randint(5, 18)
    return (
        f"Aortic root {root} mm at the sinuses, ascending aorta {asc} mm; tricuspid aortic valve with mild "
        "regurgitation on phase contrast; normal LV size and function.",
        r.choice(["Stable root dimension compared with prior; continue surveillance.", "Mild interval root growth."]),
        f"Root {root} mm, ascending aorta {asc} mm, aortic RF {rf}%",
    )


def _vt(r: random.Random) -> tuple[str, str, str]:
    lvef, edvi = r.randint(28, 48), r.randint(100, 140)
    return (
        "Transmural inferior and inferolateral scar with a heterogeneous border zone; thinned akinetic segments; "
        "no LV thrombus.",
        r.choice(["Ischaemic substrate for ventricular tachycardia.", "Scar-related VT substrate, inferior wall."]),
        f"LVEF {lvef}%, LV EDVi {edvi} ml/m2, scar {r.randint(12, 24)}% of LV mass",
    )


def _viability(r: random.Random) -> tuple[str, str, str]:
    lvef, edvi, seg = r.randint(30, 45), r.randint(95, 130), r.randint(3, 6)
    return (
        f"Subendocardial LGE in the LAD territory with less than 50% transmurality in {seg} segments; "
        "hypokinesia of the mid anterior wall.",
        "Viable myocardium in the LAD territory; revascularisation likely to improve function.",
        f"LVEF {lvef}%, LV EDVi {edvi} ml/m2; subendocardial LGE in LAD territory",
    )


def _stress(r: random.Random) -> tuple[str, str, str]:
    if r.random() < 0.55:
        return (
            "Inducible subendocardial perfusion defect in the basal to mid inferolateral wall (3 segments) under "
            "adenosine; no LGE in that territory.",
            "Inducible ischaemia in the LCx territory, myocardium viable.",
            f"LVEF {r.randint(52, 66)}%, ischaemic burden 3/16 segments, rest-stress HR rise {r.randint(12, 30)} bpm",
        )
    return (
        "No inducible perfusion defect with an adequate haemodynamic response; no LGE.",
        "No evidence of inducible ischaemia or infarction.",
        f"LVEF {r.randint(55, 68)}%, HR rise {r.randint(12, 30)} bpm with adenosine",
    )


def _dcm(r: random.Random) -> tuple[str, str, str]:
    lvef, edvi = r.randint(22, 40), r.randint(115, 170)
    return (
        "Dilated LV with global hypokinesia; linear mid-wall septal LGE; functional mitral regurgitation.",
        "Non-ischaemic dilated cardiomyopathy with septal mid-wall fibrosis.",
        f"LVEF {lvef}%, LV EDVi {edvi} ml/m2, RVEF {r.randint(35, 55)}%",
    )


def _amyloid(r: random.Random) -> tuple[str, str, str]:
    ecv, t1 = r.randint(42, 62), r.randint(1090, 1180)
    return (
        "Concentric LV hypertrophy, diffuse subendocardial LGE and difficult myocardial nulling; biatrial "
        "enlargement; small pleural effusions.",
        "Appearances typical of cardiac amyloidosis; correlate with bone scintigraphy and light chains.",
        f"Native T1 {t1} ms at 1.5T, ECV {ecv}%, septum {r.randint(14, 19)} mm",
    )


def _tof(r: random.Random) -> tuple[str, str, str]:
    rvedvi, prf = r.randint(125, 170), r.randint(25, 48)
    return (
        "Repaired tetralogy of Fallot: dilated RV with free pulmonary regurgitation; RVOT aneurysmal segment; "
        "preserved LV function.",
        "Severe pulmonary regurgitation with RV dilatation; discuss timing of pulmonary valve replacement.",
        f"RV EDVi {rvedvi} ml/m2, RVEF {r.randint(40, 52)}%, pulmonary RF {prf}%",
    )


def _bav(r: random.Random) -> tuple[str, str, str]:
    asc = r.randint(38, 47)
    return (
        "Bicuspid aortic valve with fusion of the right and left cusps; mild stenosis; no coarctation; "
        "no collateral flow.",
        "Bicuspid aortopathy without coarctation.",
        f"Ascending aorta {asc} mm, peak velocity {r.randint(22, 32) / 10:.1f} m/s, aortic RF {r.randint(4, 15)}%",
    )


def _pericardial(r: random.Random) -> tuple[str, str, str]:
    thick = r.randint(4, 7)
    return (
        f"Pericardial thickening to {thick} mm with pericardial LGE; septal bounce on real-time cine with "
        "respiratory variation of septal position.",
        "Findings support constrictive physiology with active pericardial inflammation.",
        f"Pericardium {thick} mm, IVC dilated, LVEF {r.randint(52, 64)}%",
    )


def _mass(r: random.Random) -> tuple[str, str, str]:
    size = r.randint(15, 35)
    return (
        f"Mobile {size} mm mass attached to the interatrial septum in the left atrium; T2 bright, heterogeneous "
        "LGE; no infiltration.",
        "Features most in keeping with atrial myxoma.",
        f"Mass {size} x {r.randint(10, 20)} mm, LVEF {r.randint(55, 68)}%",
    )


def _valvular(r: random.Random) -> tuple[str, str, str]:
    rf, lvedvi = r.randint(20, 48), r.randint(85, 125)
    return (
        "Posterior leaflet prolapse with an eccentric regurgitant jet; LV dilated with preserved function.",
        r.choice(["Moderate primary mitral regurgitation.", "Severe primary mitral regurgitation."]),
        f"Mitral RF {rf}% (volumetric), LV EDVi {lvedvi} ml/m2, LVEF {r.randint(58, 70)}%",
    )


def _sarcoid(r: random.Random) -> tuple[str, str, str]:
    return (
        "Patchy mid-wall and subepicardial LGE in the basal septum extending to the RV side; focal T2 rise.",
        "Pattern compatible with cardiac sarcoidosis; consider FDG-PET for activity.",
        f"LVEF {r.randint(40, 58)}%, LGE {r.randint(4, 12)}% of LV mass",
    )


def _acm(r: random.Random) -> tuple[str, str, str]:
    rvedvi = r.randint(100, 150)
    return (
        "Regional RV dyskinesia of the subtricuspid region; no fatty infiltration seen; LV normal.",
        r.choice(["Meets a major imaging criterion for ARVC.", "Minor imaging criterion only for ARVC."]),
        f"RV EDVi {rvedvi} ml/m2, RVEF {r.randint(35, 48)}%, LVEF {r.randint(55, 65)}%",
    )


def _iron(r: random.Random) -> tuple[str, str, str]:
    t2s = r.randint(8, 32)
    return (
        "Normal biventricular size and function; myocardial T2* measured in the mid septum.",
        "Significant myocardial iron loading." if t2s < 20 else "No myocardial iron loading.",
        f"Myocardial T2* {t2s} ms, LVEF {r.randint(55, 68)}%",
    )


def _device(r: random.Random) -> tuple[str, str, str]:
    return (
        "Scan performed under MR-conditional pacing protocol with device reprogramming and monitoring; artefact "
        "limited to the anterior RV; LV adequately assessed.",
        "Preserved LV function; no LGE in the assessable segments.",
        f"LVEF {r.randint(50, 64)}%, SAR limits respected",
    )


def _contrast(r: random.Random) -> tuple[str, str, str]:
    return (
        "Non-contrast protocol because of advanced renal impairment: cine, native T1 and T2 mapping; diffuse "
        "native T1 rise.",
        "Diffuse myocardial disease without focal oedema; contrast withheld.",
        f"Native T1 {r.randint(1010, 1080)} ms at 1.5T, LVEF {r.randint(45, 60)}%",
    )


def _anatomy(r: random.Random) -> tuple[str, str, str]:
    return (
        "Anomalous origin of the right coronary artery from the left sinus with an interarterial course; no "
        "intramural segment seen; no LGE.",
        "Anomalous RCA with interarterial course; no infarction.",
        f"LVEF {r.randint(58, 68)}%",
    )


def _lv_thrombus(r: random.Random) -> tuple[str, str, str]:
    return (
        "Apical akinesia after anterior infarction with a non-enhancing apical filling defect on early and late "
        "imaging.",
        "Apical LV thrombus.",
        f"Thrombus {r.randint(9, 22)} mm, LVEF {r.randint(30, 44)}%",
    )


def _ph(r: random.Random) -> tuple[str, str, str]:
    return (
        "Dilated hypertrophied RV with septal flattening in systole; LGE at the RV insertion points; reduced pulmonary "
        "artery distensibility.",
        "RV pressure overload consistent with pulmonary hypertension.",
        f"RV EDVi {r.randint(110, 160)} ml/m2, RVEF {r.randint(25, 45)}%, PA {r.randint(30, 40)} mm",
    )


def _athlete(r: random.Random) -> tuple[str, str, str]:
    return (
        "Balanced biventricular dilatation with normal function; no LGE; normal wall thickness.",
        "Appearances in keeping with athletic remodelling.",
        f"LV EDVi {r.randint(105, 125)} ml/m2, LVEF {r.randint(55, 63)}%, max WT {r.randint(10, 12)} mm",
    )


@dataclass(frozen=True)
class Template:
    indication: str
    categories: tuple[str, ...]
    tags: tuple[str, ...]
    weight: int
    text: Callable[[random.Random], tuple[str, str, str]] = field(repr=False)  # findings, impression, measurements
    field_strength: str | None = None
    diagnosis: str = ""  # a code of curriculum.cmr's taxonomy
    contrast: str = Case.Contrast.GBCA_MACROCYCLIC
    stress: str = Case.Stress.NONE
    device: str = Case.Device.NONE


TEMPLATES = [
    Template(
        "Chest pain, troponin rise, unobstructed coronaries",
        ("fibrosis-edema", "infarction-viability"),
        ("cine", "LGE", "T1 mapping", "T2 mapping"),
        12,
        _myocarditis,
        diagnosis="myocarditis",
    ),
    Template(
        "Suspected hypertrophic cardiomyopathy",
        ("cardiomyopathy", "ventricular-function"),
        ("cine", "LGE", "T1 mapping", "phase contrast"),
        10,
        _hcm,
        diagnosis="hcm",
    ),
    Template(
        "Aortic root dilatation follow-up",
        ("vascular-aorta", "valvular"),
        ("cine", "phase contrast", "MRA"),
        5,
        _aortic_root,
        diagnosis="aortic-dilatation",
    ),
    Template(
        "Ventricular tachycardia work-up",
        ("arrhythmia", "infarction-viability"),
        ("cine", "LGE", "T1 mapping"),
        6,
        _vt,
        diagnosis="arrhythmia-substrate",
    ),
    Template(
        "Viability assessment before revascularisation",
        ("infarction-viability", "ventricular-function"),
        ("cine", "LGE"),
        11,
        _viability,
        diagnosis="ihd-viability",
    ),
    Template(
        "Stable chest pain, intermediate pre-test probability",
        ("pharmacologic-stress", "infarction-viability"),
        ("cine", "stress perfusion", "LGE"),
        10,
        _stress,
        stress=Case.Stress.ADENOSINE,
        diagnosis="ihd-ischaemia",
    ),
    Template(
        "Heart failure with reduced ejection fraction, aetiology",
        ("cardiomyopathy", "ventricular-function"),
        ("cine", "LGE", "T1 mapping"),
        11,
        _dcm,
        diagnosis="dcm",
    ),
    Template(
        "Suspected cardiac amyloidosis",
        ("cardiomyopathy", "fibrosis-edema"),
        ("cine", "LGE", "T1 mapping", "ECV"),
        5,
        _amyloid,
        diagnosis="amyloidosis",
    ),
    Template(
        "Repaired tetralogy of Fallot, RV volumes",
        ("congenital", "flow", "valvular"),
        ("cine", "phase contrast", "4D flow"),
        2,
        _tof,
        diagnosis="tetralogy",
    ),
    Template(
        "Bicuspid aortic valve, coarctation screen",
        ("congenital", "vascular-aorta", "valvular"),
        ("cine", "phase contrast", "MRA"),
        2,
        _bav,
        diagnosis="coarctation",
    ),
    Template(
        "Suspected constrictive pericarditis",
        ("pericardial",),
        ("cine", "real-time cine", "LGE", "T2 STIR"),
        2,
        _pericardial,
        diagnosis="constriction",
    ),
    Template(
        "Mass on echocardiography",
        ("masses",),
        ("cine", "T1 mapping", "T2 STIR", "first-pass perfusion", "LGE"),
        2,
        _mass,
        diagnosis="tumour",
    ),
    Template(
        "Mitral regurgitation quantification",
        ("valvular", "flow"),
        ("cine", "phase contrast", "4D flow"),
        5,
        _valvular,
        diagnosis="mitral-regurgitation",
    ),
    Template(
        "Suspected cardiac sarcoidosis",
        ("cardiomyopathy", "fibrosis-edema", "arrhythmia"),
        ("cine", "LGE", "T2 mapping"),
        3,
        _sarcoid,
        diagnosis="sarcoidosis",
    ),
    Template(
        "Arrhythmogenic cardiomyopathy, family screening",
        ("cardiomyopathy", "arrhythmia"),
        ("cine", "LGE"),
        3,
        _acm,
        diagnosis="acm",
    ),
    Template(
        "Iron overload surveillance",
        ("cardiomyopathy", "ventricular-function"),
        ("cine", "T2*"),
        2,
        _iron,
        field_strength=Case.FieldStrength.T1_5,
        contrast=Case.Contrast.NONE,
        diagnosis="iron-overload",
    ),
    Template(
        "LV function with MR-conditional pacemaker",
        ("safety", "ventricular-function"),
        ("cine", "LGE"),
        2,
        _device,
        field_strength=Case.FieldStrength.T1_5,
        device=Case.Device.PACEMAKER,
        diagnosis="other-cardiomyopathy",
    ),
    Template(
        "Cardiomyopathy work-up, eGFR below 30",
        ("contrast", "safety", "fibrosis-edema"),
        ("cine", "T1 mapping", "T2 mapping"),
        2,
        _contrast,
        contrast=Case.Contrast.NONE,
        diagnosis="other-cardiomyopathy",
    ),
    Template(
        "Anomalous coronary origin on CT",
        ("anatomy", "congenital"),
        ("cine", "3D whole-heart", "LGE"),
        3,
        _anatomy,
        diagnosis="other-congenital",
    ),
    Template(
        "LV thrombus exclusion after anterior infarction",
        ("infarction-viability", "masses"),
        ("cine", "early gadolinium", "LGE"),
        3,
        _lv_thrombus,
        diagnosis="thrombus",
    ),
    Template(
        "Pulmonary hypertension, RV assessment",
        ("ventricular-function", "flow", "anatomy"),
        ("cine", "phase contrast", "LGE"),
        3,
        _ph,
        diagnosis="other-vascular",
    ),
    Template(
        "Athlete with abnormal ECG",
        ("ventricular-function", "cardiomyopathy"),
        ("cine", "LGE", "T1 mapping"),
        3,
        _athlete,
        diagnosis="normal",
    ),
]
_WEIGHTS = [t.weight for t in TEMPLATES]

FEEDBACK_AGREE = [
    "Agree. Systematic report; next time comment on RV size and function as well.",
    "Concur with your interpretation. Well-structured impression that answers the clinical question.",
    "Agree. Your measurements are within inter-observer variability of mine.",
    "Agree. Good use of the mapping values to support the tissue characterization.",
    "Agree. Consider stating the LGE pattern in the impression, not only in the findings.",
    "Concur. Nice work on the flow quantification; check the velocity encoding before measuring.",
    "Agree with findings and impression. Report the segments using the AHA 17-segment model.",
]
FEEDBACK_DISAGREE = [
    "Partly disagree: the LGE is mid-wall rather than subendocardial, which points away from an ischaemic cause. "
    "Review the short-axis stack again.",
    "I would grade the regurgitation one step higher; the forward flow was under-estimated at the valve plane.",
    "Disagree with the impression: the perfusion defect is a dark-rim artefact (transient, first pass only).",
]
FEEDBACK_ACQUISITION = [
    "Good planning of the short-axis stack; check the inversion time before the first LGE images.",
    "Confident console work. Next time adjust the cine temporal resolution for the heart rate yourself.",
]
RETURN_REASONS = [
    "Please add LV volumes indexed to BSA and describe the LGE pattern before I sign.",
    "The impression does not answer the clinical question; revise it and resubmit.",
    "Key measurements are missing. Add LVEF and the relevant flow values.",
]


class Command(BaseCommand):
    help = "Create idempotent demo data: one hybrid Level II program, its people and a realistic CMR case log."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Run even when DEBUG is off (never in production).")

    def handle(self, *args, force: bool = False, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "seed_demo creates demo accounts with a published password, so it refuses to run with DEBUG off. "
                "Use the local settings (DJANGO_SETTINGS_MODULE=trainingportal.settings.local) or pass --force "
                "if you really mean it."
            )
        started = time.perf_counter()
        with transaction.atomic():
            summary = _Seeder().run()
        elapsed = time.perf_counter() - started
        self._report(summary, elapsed)

    def _report(self, summary: dict, elapsed: float) -> None:
        out = self.stdout
        bypass = getattr(settings, "MFA_TOTP_INSECURE_BYPASS_CODE", None)
        if bypass and settings.DEBUG:
            mfa = f"TOTP: enter {bypass} (DEBUG bypass code)"
        else:
            mfa = "TOTP: use the secret below in an authenticator app"
        out.write(self.style.SUCCESS(f"Demo data ready in {elapsed:.1f} s — {PROGRAM_NAME}"))
        out.write(
            f"  users {summary['users']}, cases {summary['cases']}, log entries {summary['entries']} "
            f"({summary['new_entries']} new), by status: "
            + ", ".join(f"{k} {v}" for k, v in sorted(summary["by_status"].items()))
        )
        out.write("")
        rows = [
            ("Role", "Login", "Password", "MFA"),
            ("Program director", DIRECTOR, DEMO_PASSWORD, mfa),
            ("Mentor", MENTOR, DEMO_PASSWORD, "—"),
            ("Trainee", "trainee@demo.test", DEMO_PASSWORD, "—"),
            ("SCMR reviewer", REVIEWER, DEMO_PASSWORD, mfa),
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        for n, row in enumerate(rows):
            out.write("  " + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
            if n == 0:
                out.write("  " + "  ".join("-" * w for w in widths))
        out.write("")
        out.write(
            f"  Also: {MENTOR2}, trainee2@demo.test (every requirement met), trainee3@demo.test (just started), "
            "trainee4@demo.test (Level I carried forward) — same password."
        )
        if not (bypass and settings.DEBUG):
            for email, secret in summary["totp_secrets"].items():
                out.write(f"  TOTP secret for {email}: {secret}")


def _aware(day: date, hour: int, minute: int) -> datetime:
    return timezone.make_aware(datetime.combine(day, datetime.min.time()).replace(hour=hour, minute=minute))


class _Seeder:
    def __init__(self) -> None:
        self.rng = random.Random(SEED)
        self.today = timezone.localdate()
        self.now = timezone.now()
        self.users: dict[str, object] = {}
        self._days_cache: dict[date, list[date]] = {}

    def run(self) -> dict:
        self._users()
        self._mfa()
        program = self._program()
        enrollments = self._enrollments(program)
        new_entries = self._case_log(program, enrollments)
        self._sessions_and_lectures(program, [enrollment for _, enrollment in enrollments])
        entries = CaseLogEntry.objects.filter(enrollment__program=program)
        by_status: dict[str, int] = {}
        for status in entries.values_list("status", flat=True):
            by_status[status] = by_status.get(status, 0) + 1
        totp_secrets = {}
        for email in (DIRECTOR, REVIEWER):
            auth = Authenticator.objects.get(user=self.users[email], type=Authenticator.Type.TOTP)
            totp_secrets[email] = decrypt(auth.data["secret"])
        return {
            "users": len(self.users),
            "cases": program.cases.count(),
            "entries": entries.count(),
            "new_entries": new_entries,
            "by_status": by_status,
            "totp_secrets": totp_secrets,
        }

    # --- sessions and lectures ---------------------------------------------------------------------------------

    def _sessions_and_lectures(self, program: Program, enrollments: list[Enrollment]) -> None:
        """A small lecture library (with the MR-safety module, done by every trainee), one past live acquisition
        session with the console shared and three trainees, and one upcoming case review. Keyed by title."""

        topics = {c.slug: c for c in Category.objects.all()}
        lectures = {}
        for title, topic, kind, hours, safety in (
            ("MR safety for remote trainees", "safety", Lecture.Kind.RECORDED, "1.50", True),
            ("Tissue characterization: T1, T2 and ECV", "fibrosis-edema", Lecture.Kind.RECORDED, "1.00", False),
            ("Stress perfusion: protocol and pitfalls", "pharmacologic-stress", Lecture.Kind.LIVE, "1.50", False),
        ):
            lectures[title], _ = Lecture.objects.get_or_create(
                program=program,
                title=title,
                defaults={
                    "topic": topics[topic],
                    "kind": kind,
                    "hours": Decimal(hours),
                    "source": "Northbridge faculty",
                    "is_mr_safety_module": safety,
                },
            )
        for enrollment in enrollments:
            LectureCompletion.objects.get_or_create(
                lecture=lectures["MR safety for remote trainees"], enrollment=enrollment
            )
        mentor = self.users[MENTOR]
        start = timezone.make_aware(datetime.combine(self.today - timedelta(days=6), clock(14, 0)))
        live, created = TrainingSession.objects.get_or_create(
            program=program,
            title="Live acquisition: cardiomyopathy protocol",
            defaults={
                "type": TrainingSession.Type.LIVE_ACQUISITION,
                "delivery": TrainingSession.Delivery.VIRTUAL_TWO_WAY,
                "mentor": mentor,
                "starts_at": start,
                "duration_minutes": 90,
                "console_shared": True,
                "console_shared_by": mentor,
                "console_shared_at": start,
            },
        )
        if created:
            for enrollment in enrollments[:3]:
                Attendance.objects.create(
                    session=live,
                    enrollment=enrollment,
                    joined_at=start,
                    left_at=start + timedelta(minutes=90),
                    active_input=True,
                    active_input_note="Chose the inversion time and re-planned the short-axis stack.",
                )
        TrainingSession.objects.get_or_create(
            program=program,
            title="Case review: myocarditis and its mimics",
            defaults={
                "type": TrainingSession.Type.CASE_REVIEW,
                "delivery": TrainingSession.Delivery.VIRTUAL_TWO_WAY,
                "mentor": mentor,
                "starts_at": timezone.make_aware(datetime.combine(self.today + timedelta(days=3), clock(17, 0))),
                "duration_minutes": 60,
            },
        )

    # --- people -----------------------------------------------------------------------------------------------

    def _users(self) -> None:
        User = get_user_model()
        demo_hash = make_password(DEMO_PASSWORD, salt=_DEMO_SALT)
        for email, full_name, institution, is_reviewer in USERS:
            user = User.objects.filter(email__iexact=email).first() or User(email=email)
            changed = user.pk is None
            for attr, value in (("full_name", full_name), ("institution", institution), ("is_reviewer", is_reviewer)):
                if getattr(user, attr) != value:
                    setattr(user, attr, value)
                    changed = True
            if user.password != demo_hash:
                user.password = demo_hash
                changed = True
            if not user.is_active:
                user.is_active = True
                changed = True
            if changed:
                user.save()
            EmailAddress.objects.update_or_create(user=user, email=email, defaults={"verified": True, "primary": True})
            self.users[email] = user
        for email, level, body, identifier, issued_on in CREDENTIALS:
            Credential.objects.update_or_create(
                user=self.users[email],
                body=body,
                identifier=identifier,
                defaults={"level": level, "issued_on": issued_on},
            )

    def _mfa(self) -> None:
        for email in (DIRECTOR, REVIEWER):
            user = self.users[email]
            if not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
                TOTP.activate(user, generate_totp_secret())

    def _program(self) -> Program:
        program, _ = Program.objects.update_or_create(
            name=PROGRAM_NAME, defaults={"director": self.users[DIRECTOR], **PROGRAM_FIELDS}
        )
        roles = [
            (DIRECTOR, Membership.Role.DIRECTOR),
            (MENTOR, Membership.Role.MENTOR),
            (MENTOR2, Membership.Role.MENTOR),
        ]
        roles += [(plan.email, Membership.Role.TRAINEE) for plan in TRAINEES]
        for email, role in roles:
            Membership.objects.get_or_create(user=self.users[email], program=program, role=role)
        return program

    def _enrollments(self, program: Program) -> list[tuple[TraineePlan, Enrollment]]:
        result = []
        for plan in TRAINEES:
            trainee = self.users[plan.email]
            enrollment = (
                Enrollment.objects.filter(trainee=trainee, program=program, target_level=Enrollment.Level.II)
                .order_by("pk")
                .first()
            )
            if enrollment is None:
                enrollment = Enrollment.objects.create(
                    trainee=trainee,
                    program=program,
                    target_level=Enrollment.Level.II,
                    track=Enrollment.Track.FULL_TIME,
                    fte_fraction=Decimal("1.00"),
                    ruleset=RULESET,
                    start_date=self.today - timedelta(days=plan.started_days_ago),
                    status=Enrollment.Status.ACTIVE,
                    carried_forward_cases=plan.carried_forward_cases,
                    carried_forward_months=plan.carried_forward_months,
                )
            enrollment.mentors.add(*(self.users[m] for m in plan.mentors))
            result.append((plan, enrollment))
        return result

    # --- case log ---------------------------------------------------------------------------------------------

    def _case_log(self, program: Program, enrollments: list[tuple[TraineePlan, Enrollment]]) -> int:
        """Generate every case and entry deterministically, then insert only what is missing."""
        cases: dict[str, dict] = {}  # reference -> case spec (the first definition wins)
        entries: list[tuple[Enrollment, str, dict]] = []
        counters = {2024: 311, 2025: 204, 2026: 102}
        for plan, enrollment in enrollments:
            used: set[str] = set()
            # Keep every demo trainee comfortably inside the program's maximum virtual share (SPEC S14).
            virtual_left = int(plan.cases * DEMO_VIRTUAL_SHARE)
            specs = []
            for _ in range(plan.cases):
                ref, spec = self._entry_spec(plan, enrollment, cases, counters, used, allow_virtual=virtual_left > 0)
                virtual_left -= spec["delivery"] != CaseLogEntry.Delivery.IN_PERSON
                specs.append((ref, spec))
            specs.sort(key=lambda s: s[1]["performed_on"])
            self._statuses(plan, enrollment, [s[1] for s in specs])
            entries += [(enrollment, ref, spec) for ref, spec in specs]

        # Cases: create the missing ones, then their categories through the M2M table.
        existing = dict(Case.objects.filter(program=program, reference__in=cases).values_list("reference", "pk"))
        Case.objects.bulk_create(
            [
                Case(
                    program=program,
                    reference=ref,
                    source=spec["source"],
                    complete_study=spec["complete_study"],
                    indication=spec["indication"],
                    technique_tags=spec["tags"],
                    field_strength=spec["field_strength"],
                    **self._study(ref, spec),
                )
                for ref, spec in cases.items()
                if ref not in existing
            ]
        )
        case_ids = dict(Case.objects.filter(program=program, reference__in=cases).values_list("reference", "pk"))
        category_ids = dict(Category.objects.values_list("slug", "pk"))
        Through = Case.categories.through
        Through.objects.bulk_create(
            [
                Through(case_id=case_ids[ref], category_id=category_ids[slug])
                for ref, spec in cases.items()
                if ref not in existing
                for slug in spec["categories"]
                if slug in category_ids
            ],
            ignore_conflicts=True,
        )

        # Entries keyed on (enrollment, case).
        have = set(
            CaseLogEntry.objects.filter(enrollment__in=[e for _, e in enrollments]).values_list(
                "enrollment_id", "case_id"
            )
        )
        complete = {e.pk for plan, e in enrollments if plan.complete}
        new = []
        for enrollment, ref, spec in entries:
            if (enrollment.pk, case_ids[ref]) in have:
                continue
            if enrollment.pk in complete and spec["delivery"] == CaseLogEntry.Delivery.VIRTUAL_LIVE_TWO_WAY:
                spec = {**spec, "session": self._attended_review(program, enrollment, spec)}
            new.append(CaseLogEntry(enrollment=enrollment, case_id=case_ids[ref], **spec))
        CaseLogEntry.objects.bulk_create(new, batch_size=500)
        for plan, enrollment in enrollments:
            if plan.complete or plan.cases >= 50:
                self._sign_offs(enrollment, complete=plan.complete)
        return len(new)

    def _attended_review(self, program: Program, enrollment: Enrollment, spec: dict) -> TrainingSession:
        """The virtual case review a virtual live case came from, with the trainee's attendance and input: a virtual
        live case counts only from an attended session of the program (SCMR 2021: "active participation")."""
        day = spec["performed_on"]
        start = _aware(day, 17, 0)
        session, _ = TrainingSession.objects.get_or_create(
            program=program,
            title=f"Virtual case review, {day:%d %b %Y}",
            defaults={
                "type": TrainingSession.Type.CASE_REVIEW,
                "delivery": TrainingSession.Delivery.VIRTUAL_TWO_WAY,
                "mentor": spec["supervising_mentor"],
                "starts_at": start,
                "duration_minutes": 60,
            },
        )
        Attendance.objects.get_or_create(
            session=session,
            enrollment=enrollment,
            defaults={
                "joined_at": start,
                "left_at": start + timedelta(minutes=60),
                "active_input": True,
                "active_input_note": "Gave the first read of each case before the mentor's.",
            },
        )
        return session

    def _sign_offs(self, enrollment: Enrollment, *, complete: bool) -> None:
        """The competency framework signed off with evidence from the log: every competency for the trainee who has
        completed (stress testing and patients with devices in person, as SCMR 2021 expects), the first few, some
        still below the sign-off level, for a trainee mid-way. Evidence: signed in-person entries."""
        evidence = list(
            CaseLogEntry.objects.filter(
                enrollment=enrollment, status=CaseLogEntry.Status.SIGNED, delivery=CaseLogEntry.Delivery.IN_PERSON
            ).order_by("performed_on", "id")[:40]
        )
        if not evidence:
            return
        competencies = list(current_competencies())
        if not complete:
            competencies = competencies[:4]
        signer = self.users[DIRECTOR] if complete else self.users[MENTOR]
        for i, competency in enumerate(competencies):
            linked = [evidence[(3 * i + k) % len(evidence)] for k in range(3)]
            signed_on = max(linked[-1].performed_on, min(enrollment.start_date + timedelta(days=100 + i), self.today))
            sign_off, created = SignOff.objects.get_or_create(
                enrollment=enrollment,
                competency=competency,
                defaults={
                    "signer": signer,
                    "signed_on": min(signed_on, self.today),
                    "delivery": SignOff.Delivery.IN_PERSON,
                    "entrustment_level": 4 if complete or i % 2 == 0 else 3,
                    "note": "Observed at the console and at the reporting station.",
                },
            )
            if created:
                sign_off.evidence_entries.set(linked)

    def _study(self, ref: str, spec: dict) -> dict:
        """What the study was, from its template; no random draw (a re-run draws the same references)."""
        template = spec["template"]
        live_stress = template.stress != Case.Stress.NONE and spec["source"] == Case.Source.LIVE_SCAN
        return {
            "vendor": VENDORS[sum(map(ord, ref)) % len(VENDORS)],
            "contrast_agent": template.contrast,
            "stress_agent": template.stress,
            # The director supervises every stress study in person.
            "stress_supervisor": self.users[DIRECTOR] if live_stress else None,
            "cardiac_device": template.device,
            "sedation": Case.Sedation.NONE,
            "congenital": cmr.group_of(template.diagnosis) == "congenital",
            "sequences": [code for code, _ in cmr.SEQUENCES if code in {cmr.sequence_code(t) for t in spec["tags"]}],
            "diagnosis": template.diagnosis,
            "diagnosis_taxonomy": cmr.TAXONOMY_VERSION,
        }

    def _training_days(self, start: date) -> list[date]:
        """Weekdays from the enrollment start to today (never in the future); today if there are none."""
        if start not in self._days_cache:
            span = (start + timedelta(days=n) for n in range((self.today - start).days + 1))
            self._days_cache[start] = [d for d in span if d.weekday() < 5] or [self.today]
        return self._days_cache[start]

    def _reference(self, source: str, counters: dict[int, int], used: set[str]) -> str:
        rng = self.rng
        if source in (Case.Source.REGISTRY, Case.Source.TEACHING_FILE):
            # Shared collections: several trainees may read the same registry or teaching-file case.
            pool = range(10000, 10400) if source == Case.Source.REGISTRY else range(1, 90)
            while True:
                n = rng.choice(pool)
                ref = f"SCMR-REG-{n:05d}" if source == Case.Source.REGISTRY else f"NB-TF-{n:03d}"
                if ref not in used:
                    return ref
        year = 2026 if source == Case.Source.LIVE_SCAN else rng.choice((2024, 2025, 2025, 2026))
        counters[year] += rng.choice((1, 1, 2, 3, 5))
        return f"NB-{year}-{counters[year]:04d}"

    def _entry_spec(self, plan, enrollment, cases, counters, used, *, allow_virtual: bool) -> tuple[str, dict]:
        rng = self.rng
        # Delivery first; the source and the trainee's roles follow from it.
        delivery = rng.choices(
            [
                CaseLogEntry.Delivery.IN_PERSON,
                CaseLogEntry.Delivery.VIRTUAL_LIVE_TWO_WAY,
                CaseLogEntry.Delivery.ASYNCHRONOUS,
            ],
            weights=[58, 27, 15],
        )[0]
        if not allow_virtual:
            delivery = CaseLogEntry.Delivery.IN_PERSON
        S = Case.Source
        if delivery == CaseLogEntry.Delivery.IN_PERSON:
            source = rng.choices([S.LIVE_SCAN, S.CENTER_ARCHIVE], weights=[45, 55])[0]
        elif delivery == CaseLogEntry.Delivery.VIRTUAL_LIVE_TWO_WAY:
            source = rng.choices([S.LIVE_SCAN, S.CENTER_ARCHIVE, S.REGISTRY], weights=[35, 50, 15])[0]
        else:
            source = rng.choices([S.CENTER_ARCHIVE, S.REGISTRY, S.TEACHING_FILE], weights=[45, 35, 20])[0]
        ref = self._reference(source, counters, used)
        used.add(ref)
        if ref not in cases:
            template = rng.choices(TEMPLATES, weights=_WEIGHTS)[0]
            categories = list(template.categories[:3])
            if len(categories) < 3 and "ventricular-function" not in categories and rng.random() < 0.3:
                categories.append("ventricular-function")
            tags = list(template.tags)
            if "LGE" in tags and "T1 mapping" not in tags and rng.random() < 0.3:
                tags.append("T1 mapping")
            strength = template.field_strength or rng.choices(["1.5T", "3T"], weights=[65, 35])[0]
            cases[ref] = {
                "source": source,
                "complete_study": source != S.TEACHING_FILE or rng.random() < 0.7,
                "template": template,
                "indication": template.indication,
                "categories": categories,
                "tags": tags,
                "field_strength": strength,
            }
        case = cases[ref]
        findings, impression, measurements = case["template"].text(rng)

        live = case["source"] == S.LIVE_SCAN
        in_person = delivery == CaseLogEntry.Delivery.IN_PERSON
        hands_on = (
            in_person and case["source"] in (S.LIVE_SCAN, S.CENTER_ARCHIVE) and rng.random() < (0.8 if live else 0.6)
        )
        observed = live and not hands_on and delivery != CaseLogEntry.Delivery.ASYNCHRONOUS and rng.random() < 0.9
        protocolled = rng.random() < (0.3 if live else 0.08)
        post_processed = rng.random() < 0.3
        interpreted = rng.random() < plan.p_interpreted
        if not (interpreted or hands_on or observed or protocolled or post_processed):
            interpreted = True
        if not interpreted:
            # A case the trainee only helped acquire: no interpretation written.
            findings = impression = measurements = ""

        days = self._training_days(enrollment.start_date)
        performed_on = days[int(rng.random() * len(days))]

        mentor = self.users[plan.mentors[int(rng.random() * len(plan.mentors))]]
        return ref, {
            "performed_on": performed_on,
            "interpreted": interpreted,
            # At the controls on a live scan, assisting otherwise; watching is in the room or remote by delivery.
            "primary_operator": hands_on and live,
            "assisted_console": hands_on and not live,
            "observed_in_room": observed and in_person,
            "observed_remotely": observed and not in_person,
            "protocolled": protocolled,
            "post_processed": post_processed,
            "delivery": delivery,
            "supervising_mentor": mentor,
            "findings": findings,
            "impression": impression,
            "key_measurements": measurements,
            # The trainee's structured final diagnosis, compared with the mentor's when signed.
            "final_diagnosis": cmr.diagnosis(case["template"].diagnosis).label if interpreted else "",
        }

    def _statuses(self, plan: TraineePlan, enrollment: Enrollment, specs: list[dict]) -> None:
        """Newest first: drafts, then entries awaiting review (one of them returned), the rest signed."""
        rng = self.rng
        newest_first = list(reversed(specs))
        pending = plan.submitted + plan.returned
        returned_at = plan.drafts + pending // 2 if plan.returned else -1
        for i, spec in enumerate(newest_first):
            # Fixed number of draws per entry, whatever its status.
            sub_hour, sub_min, sign_days, sign_hour, agree, fb = (
                rng.randint(16, 21),
                rng.randint(0, 59),
                rng.randint(0, 3),
                rng.randint(7, 19),
                rng.random(),
                rng.random(),
            )
            day = spec["performed_on"]
            submitted_at = min(_aware(day, sub_hour, sub_min), self.now)
            if i < plan.drafts:
                spec["status"] = CaseLogEntry.Status.DRAFT
            elif i == returned_at:
                spec.update(
                    status=CaseLogEntry.Status.RETURNED,
                    submitted_at=submitted_at,
                    returned_reason=RETURN_REASONS[int(fb * len(RETURN_REASONS))],
                )
            elif i < plan.drafts + pending:
                spec.update(status=CaseLogEntry.Status.SUBMITTED, submitted_at=submitted_at)
            else:
                reviewed = _aware(day + timedelta(days=sign_days), sign_hour, 30)
                signed_at = min(max(reviewed, submitted_at + timedelta(hours=1)), self.now)
                # Acquisition-only entries carry no interpretation to disagree with.
                agrees = agree < 0.9 or not spec["interpreted"]
                if not spec["interpreted"]:
                    pool = FEEDBACK_ACQUISITION
                else:
                    pool = FEEDBACK_AGREE if agrees else FEEDBACK_DISAGREE
                spec.update(
                    status=CaseLogEntry.Status.SIGNED,
                    submitted_at=submitted_at,
                    signed_at=signed_at,
                    signed_by=spec["supervising_mentor"],
                    mentor_agrees=agrees,
                    mentor_feedback=pool[int(fb * len(pool))],
                    agreement={"final_diagnosis": agrees} if spec["interpreted"] else {},
                )
