"""Import and export of a trainee's case log Trainees only: anyone else has no case log (403)."""

import io

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.uploadedfile import InMemoryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET

from curriculum.selectors import curriculum_topics
from trainees.selectors import active_enrollment_for_trainee

from .. import exporting, importing

SESSION_KEY = "cases_io_import"


def _not_a_trainee(request) -> HttpResponse:
    return render(request, "cases/no_enrollment.html", status=403)


@login_required
@require_GET
def export_csv(request):
    if not exporting.has_case_log(request.user):
        return _not_a_trainee(request)
    return exporting.csv_response(request.user)


@login_required
@require_GET
def export_json(request):
    if not exporting.has_case_log(request.user):
        return _not_a_trainee(request)
    return exporting.json_response(request.user)


@login_required
@require_GET
def import_template(request):
    enrollment = active_enrollment_for_trainee(request.user)
    if enrollment is None:
        return _not_a_trainee(request)
    response = HttpResponse("\ufeff" + importing.template_csv(enrollment), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="case-log-import-template.csv"'
    response["Cache-Control"] = "private, no-store"
    return response


class _CappedMemoryUploadHandler(FileUploadHandler):
    """Keeps the upload in memory up to the cap and drops it past that: an import file never touches the disk (Django
    spools uploads over 2.5 MB to a temporary file), and a huge one is neither stored nor kept in memory."""

    def __init__(self, request=None, *, cap: int):
        super().__init__(request)
        self.cap = cap
        self.too_big = False

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.buffer = io.BytesIO()

    def receive_data_chunk(self, raw_data, start):
        if start + len(raw_data) > self.cap:
            self.too_big = True
            raise SkipFile
        self.buffer.write(raw_data)
        return None

    def file_complete(self, file_size):
        self.buffer.seek(0)
        return InMemoryUploadedFile(
            self.buffer, self.field_name, self.file_name, self.content_type, file_size, self.charset
        )


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="UTF-8 CSV (with or without a byte-order mark), up to 2 MB.",
        widget=forms.FileInput(attrs={"accept": ".csv,text/csv"}),
    )


@csrf_exempt
def import_upload(request):
    # The upload handlers can only be swapped before anything reads request.POST, and CsrfViewMiddleware does: so
    # the view is exempt from the middleware and protected by the decorator inside (Django's documented way).
    handler = _CappedMemoryUploadHandler(request, cap=importing.MAX_BYTES)
    request.upload_handlers = [handler]
    return _import_upload(request, handler)


@csrf_protect
@login_required
def _import_upload(request, handler: _CappedMemoryUploadHandler):
    enrollment = active_enrollment_for_trainee(request.user)
    if enrollment is None:
        return _not_a_trainee(request)
    if request.method == "POST" and request.POST.get("action") == "confirm":
        return _confirm(request, enrollment)

    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        if handler.too_big:
            form.add_error(
                "file",
                f"The file is larger than {importing.MAX_BYTES // 1024 // 1024} MB. Split it into smaller files and "
                "import them one after another.",
            )
        elif form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                parsed = importing.read_csv(upload.read())
            except importing.ImportFileError as exc:
                form.add_error("file", str(exc))
            else:
                report = importing.run_import(actor=request.user, enrollment=enrollment, parsed=parsed, dry_run=True)
                request.session.pop(SESSION_KEY, None)
                if report.ok and report.created_count:
                    request.session[SESSION_KEY] = {
                        **parsed.to_session(),
                        "filename": upload.name[:200],
                        "enrollment": enrollment.pk,
                    }
                return _dry_run_page(request, enrollment, report, parsed.sha256, upload.name, ImportUploadForm())
    context = {
        "form": form,
        "enrollment": enrollment,
        "columns": importing.COLUMNS,
        "categories": curriculum_topics(),
        "max_rows": importing.MAX_ROWS,
    }
    # A refused upload (too big, unreadable) is a client error, with the reasons on the page.
    return render(request, "cases/io_import.html", context, status=400 if form.errors else 200)


def _dry_run_page(request, enrollment, report, sha256: str, filename: str, form):
    context = {
        "enrollment": enrollment,
        "report": report,
        "token": sha256,
        "filename": filename,
        "form": form,
    }
    # A file with refused rows answers 400 with the per-line errors; a clean one 200.
    return render(request, "cases/io_dry_run.html", context, status=200 if report.ok else 400)


def _confirm(request, enrollment):
    pending = request.session.get(SESSION_KEY)
    if not pending or pending["sha256"] != request.POST.get("token") or pending["enrollment"] != enrollment.pk:
        messages.error(request, "That check has expired or was replaced by another upload. Upload the file again.")
        return redirect("cases_io:import")
    parsed = importing.ParsedFile.from_session(pending)
    submit = request.POST.get("submit") == "on"
    report = importing.run_import(
        actor=request.user,
        enrollment=enrollment,
        parsed=parsed,
        dry_run=False,
        submit=submit,
        filename=pending.get("filename", ""),
    )
    del request.session[SESSION_KEY]
    if not report.committed:
        # Something changed since the dry run (a mentor unassigned, the same file imported in another tab).
        messages.error(request, "Nothing was imported: some rows no longer pass the checks. Fix them and try again.")
        return _dry_run_page(request, enrollment, report, "", pending.get("filename", ""), ImportUploadForm())
    created, skipped = report.created_count, report.skipped_count
    state = "submitted for review" if submit else "saved as drafts: open each one and submit it for review"
    text = f"{created} entr{'y' if created == 1 else 'ies'} imported and {state}."
    if skipped:
        text += f" {skipped} row{'' if skipped == 1 else 's'} already in your log {'was' if skipped == 1 else 'were'} skipped."
    messages.success(request, text)
    return redirect("cases:list")
