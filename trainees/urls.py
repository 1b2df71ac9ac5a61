from django.urls import path

from . import views

app_name = "trainees"
urlpatterns = [
    path("<int:pk>/", views.enrollment_progress, name="progress"),
]
