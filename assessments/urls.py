from django.urls import path

from . import views

# In the "trainees" namespace, under /enrollments/ (trainingportal/urls.py).
enrollment_urlpatterns = [
    path("<int:pk>/competencies/", views.competencies, name="competencies"),
    path("<int:pk>/competencies/<slug:code>/", views.sign_off, name="sign_off"),
]
