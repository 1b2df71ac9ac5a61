"""The verification dossier (SPEC section 5): a JSON snapshot of the evidence, rendered to PDF.

The snapshot is taken once, at the first attempt, and stored on the request; every later rendering uses it, so
re-generation gives the same packet whatever happened to the training data in between.
"""

import base64
import csv
import io
import json
import math
from datetime import date

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.http import FileResponse, Http404, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe

from assessments.framework import current_framework
from assessments.selectors import competency_board, sign_offs_for
from cases.selectors import agreement_summary, signed_entries
from curriculum import cmr
from curriculum.selectors import curriculum_topics
from progress.selectors.determinations import determination_state
from progress.selectors.reports import progress_with_chart_data
from training.selectors import attended_sessions
from trainingportal.core import charts
from trainingportal.core.pdf import RenderedPDF, absolute_url, render_pdf_parts

from .selectors import program_checklist

# 2: requirement engine report, chart series, virtual share
# 3: the overlay note, the mentor's minimum level, the trainee-mentor agreement per field
# 4: the director's final determination; sessions and participation, sign-offs, the S1-S15 checklist, coverage by
#    diagnosis group, a richer case log (indication, diagnosis, sequences, session, agreement; topics by name)
SNAPSHOT_VERSION = 5


def _credentials(user) -> list[dict]:
    return [
        {
            "level": c.level,
            "level_label": c.get_level_display(),
            "body": c.body,
            "identifier": c.identifier,
            "issued_on": c.issued_on.isoformat(),
            "justification": c.justification,
        }
        for c in user.credentials.all()
    ]


def _agreement_words(entry) -> str:
    """ "agrees", or which fields the mentor's read differed on; "" when nothing was compared."""
    pairs = entry.agreement_display
    if not pairs:
        return {True: "agrees", False: "disagrees"}.get(entry.mentor_agrees, "")
    differs = [label for label, agreed in pairs if not agreed]
    return "differs: " + ", ".join(differs) if differs else "agrees"


def _determination(enrollment) -> dict | None:
    state = determination_state(enrollment)
    d = state["determination"]
    if d is None:
        return None
    return {
        "decision": d.decision,
        "decision_display": d.get_decision_display(),
        "director": d.director.display_name,
        "signed_at": d.signed_at.isoformat(),
        "statement": d.statement,
        "attestation": d.attestation,
        "in_person_assessed_on": d.in_person_assessed_on.isoformat() if d.in_person_assessed_on else None,
        "in_person_case": d.in_person_entry.case.reference if d.in_person_entry_id else None,
        "in_person_component": d.in_person_component,
        "requirements_met": d.requirements_met,
        "ruleset": d.ruleset,
        "report_sha256": d.report_sha256,
        "signature_sha256": d.signature_hash,
        "stale": state["stale"],
    }


SIGN_OFF_STATUS = {
    "signed": "Signed off",
    "prior_experience": "Prior experience",
    "in_progress": "Below the sign-off level",
    "virtual_only": "Signed only virtually",
    "not_yet": "Not yet",
}


def _sign_offs(enrollment, framework) -> list[dict]:
    """Every competency of the framework with its sign-off (signer, date, delivery, level, evidence, amendments)."""
    detail = {s.competency_id: s for s in sign_offs_for(enrollment)}
    rows = []
    for item in competency_board(enrollment):
        competency, sign_off = item["competency"], detail.get(item["competency"].pk)
        row = {
            "competency": competency.title,
            "needs": "In person" if competency.in_person_required else "In person or virtual",
            "status": SIGN_OFF_STATUS[item["status"]],
            "met": item["status"] in ("signed", "prior_experience"),
            "signer": None,
            "date": None,
            "delivery": None,
            "entrustment": None,
            "entrustment_label": None,
            "evidence": "",
            "amendments": 0,
        }
        if sign_off is not None:
            entries, sessions = len(sign_off.evidence_entries.all()), len(sign_off.evidence_sessions.all())
            row |= {
                "signer": sign_off.signer.display_name,
                "date": sign_off.signed_on.isoformat(),
                "delivery": sign_off.get_delivery_display(),
                "entrustment": sign_off.entrustment_level,
                "entrustment_label": framework.level_label(sign_off.entrustment_level),
                "evidence": ", ".join(
                    part
                    for part in (
                        f"{entries} case{'s' if entries != 1 else ''}" if entries else "",
                        f"{sessions} session{'s' if sessions != 1 else ''}" if sessions else "",
                    )
                    if part
                ),
                "amendments": sign_off.amendment_count,
            }
        elif item["prior"] is not None:
            row |= {
                "signer": item["prior"].recorded_by.display_name,
                "date": item["prior"].recorded_at.date().isoformat(),
            }
        rows.append(row)
    return rows


def build_snapshot(verification_request) -> dict:
    """Collect everything the dossier prints, as plain JSON. A fixed number of queries, whatever the log size."""
    enrollment = verification_request.enrollment
    program = enrollment.program
    as_of: date = timezone.localtime(verification_request.created_at).date()
    report, _facts, ruleset, primary, points = progress_with_chart_data(enrollment, today=as_of)
    framework = current_framework()
    primary_result = report.requirement(primary.key) if primary else None
    entries = list(signed_entries(enrollment))
    categories = list(curriculum_topics())
    # Coverage as the requirement counts it (entries that count; lectures where the ruleset allows them).
    rule = next((r for r in report.requirements if r.kind == "category_coverage"), None)
    counted = rule.detail["counts"] if rule else {}
    coverage = {c.slug: counted.get(c.slug, 0) for c in categories}
    log = []
    by_group: dict[str, int] = {}
    for entry in entries:
        slugs = [c.slug for c in entry.case.categories.all()]
        diagnosis = cmr.diagnosis(entry.case.diagnosis) if entry.case.diagnosis else None
        if diagnosis:
            by_group[diagnosis.group_label] = by_group.get(diagnosis.group_label, 0) + 1
        log.append(
            {
                "date": entry.performed_on.isoformat(),
                "reference": entry.case.reference,
                "source": entry.case.get_source_display(),
                "complete_study": entry.case.complete_study,
                "categories": slugs,
                "topics": [c.name for c in entry.case.categories.all()],
                "indication": entry.case.indication,
                "diagnosis": diagnosis.label if diagnosis else "",
                "sequences": [cmr.SEQUENCE_SHORT.get(code, code) for code in entry.case.sequences or []],
                "field_strength": entry.case.get_field_strength_display(),
                "session": entry.session.title if entry.session_id else "",
                "agreement": _agreement_words(entry),
                "roles": entry.roles_display,
                "delivery": entry.get_delivery_display(),
                "mentor": entry.signed_by.display_name,
                "signed_on": timezone.localtime(entry.signed_at).date().isoformat(),
            }
        )
    mentors = list(enrollment.mentors.prefetch_related("credentials").order_by("email"))
    director = program.director
    return {
        "version": SNAPSHOT_VERSION,
        "code": verification_request.code,
        "as_of": as_of.isoformat(),
        "requested_by": verification_request.requested_by.display_name,
        "trainee": {"name": enrollment.trainee.display_name, "email": enrollment.trainee.email},
        "enrollment": {
            "target_level": enrollment.target_level,
            "start_date": enrollment.start_date.isoformat(),
            "end_date": enrollment.end_date.isoformat() if enrollment.end_date else None,
            "status": enrollment.get_status_display(),
            "ruleset": enrollment.ruleset,
            "carried_forward_cases": enrollment.carried_forward_cases,
            "carried_forward_months": float(enrollment.carried_forward_months),
        },
        "program": {
            "name": program.name,
            "institution": program.institution,
            "mode": program.get_mode_display(),
            "verification_status": program.verification_status,
            "verification_status_display": program.get_verification_status_display(),
            "max_virtual_share": program.max_virtual_share,
        },
        "director": {"name": director.display_name, "credentials": _credentials(director)},
        "mentors": [{"name": m.display_name, "credentials": _credentials(m)} for m in mentors],
        "ruleset_label": f"{ruleset.title} ({ruleset.label})",
        # A list, not a dict: PostgreSQL's jsonb does not keep key order, and the packet must render identically.
        "citations": sorted(ruleset.citations.items()),
        # Evidence ids stay out of the packet: the case log below is the evidence, in full.
        "requirements": [{k: v for k, v in r.as_dict().items() if k != "evidence"} for r in report.requirements],
        "missing": report.missing,
        "overlay_note": report.overlay_note,
        "mentor_min_level": report.mentor_min_level,
        "agreement": agreement_summary(enrollment),
        "determination": _determination(enrollment),
        "coverage_by_group": sorted(by_group.items()),
        "sessions": [
            {
                "date": timezone.localtime(a.session.starts_at).date().isoformat(),
                "title": a.session.title,
                "type": a.session.get_type_display(),
                "delivery": a.session.get_delivery_display(),
                "console_shared": a.session.console_shared,
                "active_input": a.active_input,
                "input_note": a.active_input_note,
            }
            for a in attended_sessions(enrollment)
        ],
        "competency_framework": {
            "label": framework.label,
            "sign_off_level": framework.sign_off_level,
            "sign_off_label": framework.level_label(framework.sign_off_level),
        },
        "sign_offs": _sign_offs(enrollment, framework),
        "checklist": [
            {"code": line.code, "title": line.title, "status": line.status_label, "evidence": line.evidence}
            for line in program_checklist(program)
        ],
        "chart": {
            "label": primary_result.label,
            "target": int(primary_result.required),
            "forecast": primary_result.forecast.isoformat() if primary_result.forecast else None,
            "points": [[day.isoformat(), count] for day, count in points],
        }
        if primary_result
        else None,
        "virtual": {"virtual": report.virtual_count, "in_person": report.in_person_count, "cap": report.virtual_cap},
        "flags": [{"code": f.code, "message": f.message} for f in report.flags],
        "coverage": [{"slug": c.slug, "name": c.name, "cases": coverage[c.slug]} for c in categories],
        "case_log": log,
    }


def _qr_svg_data_uri(text: str) -> str:
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


def render_dossier(snapshot: dict) -> RenderedPDF:
    verify_url = absolute_url(reverse("verify", args=[snapshot["code"]]))
    chart = snapshot.get("chart")
    as_of = date.fromisoformat(snapshot["as_of"])
    start = date.fromisoformat(snapshot["enrollment"]["start_date"])
    forecast = date.fromisoformat(chart["forecast"]) if chart and chart["forecast"] else None
    context = {
        "s": snapshot,
        "chart": charts.cumulative_chart(
            [(date.fromisoformat(d), n) for d, n in chart["points"]],
            target=chart["target"],
            start=start,
            end=max(as_of, forecast or as_of),
            forecast=forecast,
            title=f"{chart['label']}: cumulative",
        )
        if chart
        else None,
        "share_chart": charts.share_bar(
            virtual=snapshot["virtual"]["virtual"],
            in_person=snapshot["virtual"]["in_person"],
            # Snapshots before version 3 have no cap of their own: the program's applied.
            cap_percent=snapshot["virtual"].get("cap", snapshot["program"]["max_virtual_share"]),
        ),
        "verify_url": verify_url,
        "qr": _qr_svg_data_uri(verify_url),
        "program_verified": snapshot["program"]["verification_status"] == "verified",
        "coverage_met": sum(1 for c in snapshot["coverage"] if c["cases"]),
        "met_count": sum(1 for r in snapshot["requirements"] if r["met"]),
    }
    context["page_css"] = _page_css(snapshot)
    rows = snapshot["case_log"]
    filename = f"dossier-{snapshot['code']}.pdf"
    part_rows = settings.DOSSIER_LOG_PART_ROWS
    if len(rows) <= part_rows:
        return render_pdf_parts("pdf/dossier.html", [{**context, "part": "all", "log_start": 0}], filename=filename)
    # The case log is most of a long dossier: its slices are laid out side by side, after the front matter. The
    # slices depend on the number of rows only, so the same data gives the same bytes on any machine.
    count = math.ceil(len(rows) / part_rows)
    size = math.ceil(len(rows) / count)
    parts = [{**context, "part": "front"}] + [
        {**context, "part": "log", "log_rows": rows[start : start + size], "log_start": start}
        for start in range(0, len(rows), size)
    ]
    return render_pdf_parts("pdf/dossier.html", parts, filename=filename)


def _css_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ").replace("<", "\\3C ")
    return f'"{escaped}"'


def _page_css(snapshot: dict) -> str:
    """The running header of every page: the trainee and the verification code (the parts of a long dossier are
    separate documents, so the header cannot come from the cover)."""
    trainee = _css_string(f"Verification dossier · {snapshot['trainee']['name']}")
    code = _css_string(snapshot["code"])
    return mark_safe(f"@page {{ @top-left {{ content: {trainee}; }} @top-right {{ content: {code}; }} }}")  # noqa: S308


def dossier_response(verification_request):
    """The stored PDF as a private download (the caller has checked access). A file that is not there (never written,
    or lost from the storage) is a 404 with a reason, not a server error."""
    try:
        stored = verification_request.dossier.open("rb")
    except (ValueError, FileNotFoundError) as exc:
        raise Http404("The dossier's file is not available; generate the dossier again.") from exc
    response = FileResponse(
        stored,
        content_type="application/pdf",
        as_attachment=True,
        filename=f"dossier-{verification_request.code}.pdf",
    )
    response["Cache-Control"] = "private, no-store"
    return response


CASE_LOG_COLUMNS = [
    ("date", "date"),
    ("reference", "reference"),
    ("source", "source"),
    ("complete_study", "complete study"),
    ("diagnosis", "diagnosis"),
    ("topics", "topics"),
    ("indication", "indication"),
    ("field_strength", "field strength"),
    ("sequences", "sequences"),
    ("roles", "roles"),
    ("delivery", "delivery"),
    ("session", "session"),
    ("mentor", "signed by"),
    ("signed_on", "signed on"),
    ("agreement", "mentor's read"),
]


def snapshot_json(snapshot: dict) -> bytes:
    """The dossier's machine-readable twin: canonical JSON (sorted keys, fixed separators), so the same data gives
    the same bytes."""
    return json.dumps(snapshot, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def case_log_csv(snapshot: dict) -> bytes:
    """The dossier's case log as CSV, the same rows as the PDF. Cells that a spreadsheet would run as a formula are
    prefixed with a quote."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([label for _, label in CASE_LOG_COLUMNS])
    for entry in snapshot.get("case_log", []):
        row = []
        for key, _ in CASE_LOG_COLUMNS:
            value = entry.get(key, entry.get("categories") if key == "topics" else "")
            if isinstance(value, list):
                value = "; ".join(str(v) for v in value)
            elif isinstance(value, bool):
                value = "yes" if value else "no"
            text = "" if value is None else str(value)
            row.append("'" + text if text[:1] in ("=", "+", "-", "@") else text)
        writer.writerow(row)
    return out.getvalue().encode()


def snapshot_download(verification_request, kind: str) -> HttpResponse:
    """The JSON document or the CSV case log that travel with the PDF (the caller has checked access)."""
    snapshot = verification_request.snapshot or {}
    if kind == "json":
        body, content_type, name = snapshot_json(snapshot), "application/json", "json"
    else:
        body, content_type, name = case_log_csv(snapshot), "text/csv; charset=utf-8", "case-log.csv"
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="dossier-{verification_request.code}.{name}"'
    response["Cache-Control"] = "private, no-store"
    return response
