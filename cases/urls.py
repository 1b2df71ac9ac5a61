from django.urls import path

from .views import entries, io

app_name = "cases"
urlpatterns = [
    path("", entries.entry_list, name="list"),
    path("new/", entries.entry_create, name="create"),
    path("review/", entries.review_inbox, name="inbox"),
    path("review/sign/", entries.review_sign_batch, name="sign_batch"),
    path("group-review/new/", entries.group_review_create, name="group_review_create"),
    path("<int:pk>/", entries.entry_detail, name="detail"),
    path("<int:pk>/edit/", entries.entry_edit, name="edit"),
    path("<int:pk>/submit/", entries.entry_submit, name="submit"),
    path("<int:pk>/review/", entries.entry_review, name="review"),
    path("<int:pk>/amend/", entries.entry_amend, name="amend"),
]

# Under /cases/io/, in the "cases_io" namespace (trainingportal/urls.py).
io_urlpatterns = [
    path("export.csv", io.export_csv, name="export_csv"),
    path("export.json", io.export_json, name="export_json"),
    path("import/", io.import_upload, name="import"),
    path("import/template.csv", io.import_template, name="import_template"),
]
