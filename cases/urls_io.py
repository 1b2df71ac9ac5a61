from django.urls import path

from . import views_io

app_name = "cases_io"
urlpatterns = [
    path("export.csv", views_io.export_csv, name="export_csv"),
    path("export.json", views_io.export_json, name="export_json"),
    path("import/", views_io.import_upload, name="import"),
    path("import/template.csv", views_io.import_template, name="import_template"),
]
