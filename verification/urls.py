from django.urls import path

from .views import determinations, dossiers, programs

# /program-verification/, namespace "verification" (trainingportal/urls.py).
program_urlpatterns = [
    path("queue/", programs.queue, name="queue"),
    path("<int:pk>/profile/", programs.profile, name="profile"),
    path("<int:pk>/submit/", programs.submit, name="submit"),
    path("<int:pk>/plan/", programs.plan, name="plan"),
    path("<int:pk>/review/", programs.review, name="review"),
    path("<int:pk>/take/", programs.take, name="take"),
    path("<int:pk>/decide/", programs.decide, name="decide"),
]

# /dossiers/, namespace "dossiers".
dossier_urlpatterns = [
    path("request/<int:enrollment_pk>/", dossiers.request_create, name="create"),
    path("enrollment/<int:enrollment_pk>/", dossiers.enrollment_dossiers, name="for_enrollment"),
    path("enrollment/<int:enrollment_pk>/determination/", determinations.determination, name="determination"),
    path("review/", dossiers.review_queue, name="queue"),
    path("<int:pk>/", dossiers.request_detail, name="detail"),
    path("<int:pk>/status/", dossiers.request_status, name="status"),
    path("<int:pk>/dossier.pdf", dossiers.dossier_download, name="download"),
    path("<int:pk>/dossier.json", dossiers.snapshot_json_download, name="download_json"),
    path("<int:pk>/case-log.csv", dossiers.case_log_csv_download, name="download_csv"),
    path("<int:pk>/submit/", dossiers.request_submit, name="submit"),
    path("<int:pk>/retry/", dossiers.request_retry, name="retry"),
    path("<int:pk>/take/", dossiers.request_take, name="take"),
    path("<int:pk>/notes/", dossiers.request_note_add, name="note_add"),
    path("<int:pk>/decide/", dossiers.request_decide, name="decide"),
    path("<int:pk>/revoke/", dossiers.request_revoke, name="revoke"),
]
