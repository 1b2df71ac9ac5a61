from django.urls import path

from . import views

app_name = "assessments"
urlpatterns = [
    path("request/<int:enrollment_pk>/", views.request_create, name="create"),
    path("review/", views.review_queue, name="queue"),
    path("<int:pk>/", views.request_detail, name="detail"),
    path("<int:pk>/status/", views.request_status, name="status"),
    path("<int:pk>/dossier.pdf", views.dossier_download, name="download"),
    path("<int:pk>/submit/", views.request_submit, name="submit"),
    path("<int:pk>/retry/", views.request_retry, name="retry"),
    path("<int:pk>/decide/", views.request_decide, name="decide"),
]
