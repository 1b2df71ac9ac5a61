"""Pages for training sessions, attendance evidence, the lecture list and the calendar feed."""

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from curriculum.selectors import curriculum_topics
from programs.models import Membership
from programs.selectors import get_program_for_user
from trainees.selectors import active_enrollment_in_program, active_program_enrollments
from trainingportal.core.forms import add_service_errors, form_status

from . import ics, selectors, services
from .models import Lecture, TrainingSession

Role = Membership.Role
LOCAL_DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class SessionForm(forms.Form):
    title = forms.CharField(max_length=200)
    type = forms.ChoiceField(choices=TrainingSession.Type.choices)
    delivery = forms.ChoiceField(choices=TrainingSession.Delivery.choices)
    mentor = forms.ModelChoiceField(queryset=get_user_model().objects.none())
    starts_at = forms.DateTimeField(label="Starts", widget=LOCAL_DATETIME)
    duration_minutes = forms.IntegerField(label="Duration (minutes)", min_value=1, max_value=24 * 60, initial=60)
    capacity = forms.IntegerField(
        required=False, min_value=1, help_text="Interactive sessions are capped by the program's group cap anyway."
    )
    link = forms.URLField(required=False, label="Video link", assume_scheme="https")

    def __init__(self, *args, program, user, **kwargs):
        super().__init__(*args, **kwargs)
        leaders = selectors.program_session_leaders(program)
        self.fields["mentor"].queryset = leaders
        self.fields["mentor"].initial = user.pk


class AddAttendeeForm(forms.Form):
    enrollment = forms.ModelChoiceField(queryset=None, label="Trainee")

    def __init__(self, *args, session, **kwargs):
        super().__init__(*args, **kwargs)
        # Active trainees of the session's program not attending yet (attendance_add checks the same again).
        self.fields["enrollment"].queryset = active_program_enrollments(session.program_id).exclude(
            attendances__session=session
        )
        self.fields["enrollment"].label_from_instance = lambda e: str(e.trainee)


class AttendanceForm(forms.Form):
    joined_at = forms.DateTimeField(required=False, label="Joined", widget=LOCAL_DATETIME)
    left_at = forms.DateTimeField(required=False, label="Left", widget=LOCAL_DATETIME)
    active_input = forms.BooleanField(required=False, label="Gave input (sequences, changes, troubleshooting)")
    active_input_note = forms.CharField(
        required=False, max_length=500, label="Note", help_text="Short, and no patient identifiers."
    )

    def __init__(self, *args, attendance, **kwargs):
        super().__init__(*args, prefix=f"a{attendance.pk}", **kwargs)
        # The inputs sit in a table row; the <form> they belong to is outside the table (a form cannot wrap a row).
        for field in self.fields.values():
            field.widget.attrs["form"] = f"attendance-form-{attendance.pk}"


class LectureForm(forms.ModelForm):
    class Meta:
        model = Lecture
        fields = ["title", "topic", "kind", "hours", "source", "link", "is_mr_safety_module"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["topic"].queryset = curriculum_topics()


# --- sessions ---------------------------------------------------------------------------------------------------------


@login_required
def session_list(request, program_pk: int):
    program, roles = get_program_for_user(request.user, program_pk, action="view")
    upcoming, past = selectors.program_sessions(program)
    context = {
        "program": program,
        "upcoming": upcoming,
        "past": past,
        "can_lead": bool(roles & {Role.DIRECTOR, Role.MENTOR}),
    }
    return render(request, "training/session_list.html", context)


@login_required
def session_create(request, program_pk: int):
    program, _ = get_program_for_user(request.user, program_pk, action="lead_sessions")
    form = SessionForm(request.POST or None, program=program, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            session = services.session_create(actor=request.user, program=program, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Session “{session.title}” is scheduled.")
            return redirect("sessions:detail", pk=session.pk)
    return render(request, "training/session_form.html", {"form": form, "program": program}, status=form_status(form))


def _detail_context(request, session, roles, **extra) -> dict:
    can_lead = selectors.can_lead(request.user, session, roles)
    attendances, attendee_count = selectors.session_attendances(request.user, session)
    own = None
    if Role.TRAINEE in roles:
        own = active_enrollment_in_program(request.user, session.program_id)
    limit = selectors.group_limit(session)
    return {
        "session": session,
        "attendances": attendances,
        "attendance_forms": [
            (
                a,
                AttendanceForm(
                    initial={
                        "joined_at": a.joined_at,
                        "left_at": a.left_at,
                        "active_input": a.active_input,
                        "active_input_note": a.active_input_note,
                    },
                    attendance=a,
                ),
            )
            for a in attendances
        ]
        if can_lead
        else [],
        "can_lead": can_lead,
        "add_form": AddAttendeeForm(session=session) if can_lead else None,
        "own_enrollment": own,
        "attending": bool(own and any(a.enrollment_id == own.pk for a in attendances)),
        "limit": limit,
        "attendee_count": attendee_count,
        "places_left": None if limit is None else max(limit - attendee_count, 0),
        "is_live_acquisition": session.type == TrainingSession.Type.LIVE_ACQUISITION,
        "next_sessions": selectors.next_sessions(session),
        **extra,
    }


@login_required
def session_detail(request, pk: int):
    session, roles = selectors.get_session_for_user(request.user, pk, action="view")
    return render(request, "training/session_detail.html", _detail_context(request, session, roles))


@login_required
@require_POST
def session_attend(request, pk: int):
    session = selectors.get_session_for_user(request.user, pk, action="attend").obj
    enrollment = active_enrollment_in_program(request.user, session.program_id)
    if enrollment is None:
        messages.error(request, "You need an active enrollment in this program to sign up.")
        return redirect("sessions:detail", pk=pk)
    try:
        services.attendance_add(actor=request.user, session=session, enrollment=enrollment)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"You are signed up for “{session.title}”.")
    return redirect("sessions:detail", pk=pk)


@login_required
@require_POST
def session_add_attendee(request, pk: int):
    session, roles = selectors.get_session_for_user(request.user, pk, action="lead")
    form = AddAttendeeForm(request.POST, session=session)
    if form.is_valid():
        enrollment = form.cleaned_data["enrollment"]
        try:
            services.attendance_add(actor=request.user, session=session, enrollment=enrollment)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"{enrollment.trainee} is attending.")
            return redirect("sessions:detail", pk=pk)
    else:
        messages.error(request, "Choose a trainee of this program who is not attending yet.")
    context = _detail_context(request, session, roles, add_form=form)
    return render(request, "training/session_detail.html", context, status=400)


@login_required
@require_POST
def session_console(request, pk: int):
    session = selectors.get_session_for_user(request.user, pk, action="lead").obj
    shared = request.POST.get("console_shared") == "on"
    try:
        services.session_set_console_shared(actor=request.user, session=session, shared=shared)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Console shared with the trainees." if shared else "Console not shared.")
    return redirect("sessions:detail", pk=pk)


@login_required
@require_POST
def attendance_record(request, pk: int):
    attendance = selectors.get_attendance_for_user(request.user, pk)
    form = AttendanceForm(request.POST, attendance=attendance)
    if form.is_valid():
        try:
            services.attendance_record(actor=request.user, attendance=attendance, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Attendance of {attendance.enrollment.trainee} saved.")
            return redirect(reverse("sessions:detail", args=[attendance.session_id]) + f"#attendance-{pk}")
    for errors in form.errors.values():
        messages.error(request, f"{attendance.enrollment.trainee}: " + " ".join(errors))
    return redirect("sessions:detail", pk=attendance.session_id)


# --- lectures ---------------------------------------------------------------------------------------------------------


@login_required
def lecture_list(request, program_pk: int):
    program, roles = get_program_for_user(request.user, program_pk, action="view")
    is_director = Role.DIRECTOR in roles
    form = LectureForm(request.POST or None) if is_director else None
    if request.method == "POST":
        if not is_director:
            get_program_for_user(request.user, program_pk, action="manage")  # raises 403
        if form.is_valid():
            try:
                lecture = services.lecture_create(actor=request.user, program=program, **form.cleaned_data)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, f"Lecture “{lecture.title}” added.")
                return redirect("sessions:lectures", program_pk=program.pk)
    enrollment = active_enrollment_in_program(request.user, program.pk) if Role.TRAINEE in roles else None
    context = {
        "program": program,
        "lectures": selectors.program_lectures(program, enrollment=enrollment),
        "enrollment": enrollment,
        "form": form,
    }
    return render(request, "training/lecture_list.html", context, status=form_status(form))


@login_required
@require_POST
def lecture_done(request, pk: int):
    lecture, _ = selectors.get_lecture_for_user(request.user, pk)
    try:
        services.lecture_mark_done(actor=request.user, lecture=lecture)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"“{lecture.title}” marked done.")
    return redirect("sessions:lectures", program_pk=lecture.program_id)


# --- calendar ---------------------------------------------------------------------------------------------------------


@login_required
def calendar(request):
    if request.method == "POST":
        if request.POST.get("action") == "revoke":
            services.calendar_token_revoke(actor=request.user)
            messages.success(request, "Your calendar feed is switched off; the old address no longer works.")
        else:
            services.calendar_token_replace(actor=request.user)
            messages.success(request, "Your calendar feed has a new private address; the old one no longer works.")
        return redirect("sessions:calendar")
    token = selectors.active_calendar_token(request.user)
    feed_url = request.build_absolute_uri(reverse("sessions:feed", args=[token.token])) if token else None
    return render(request, "training/session_calendar.html", {"token": token, "feed_url": feed_url})


def calendar_feed(request, token: str):
    """No login: the token in the address is the credential (calendar apps cannot sign in)."""
    user = selectors.get_feed_user(token)
    body = ics.render_ics(user, selectors.feed_sessions(user), host=request.get_host().split(":")[0])
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="trainingportal.ics"'
    response["Cache-Control"] = "private, max-age=300"
    return response
