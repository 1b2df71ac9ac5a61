from django.urls import path

from . import views

# Included by trainingportal/urls.py in the "programs" namespace, together with the program pages that show the
# trainees (progress.urls.program_urlpatterns) and the invitation link (trainees.urls.invitation_urlpatterns).
urlpatterns = [
    path("", views.program_list, name="list"),
    path("new/", views.program_create, name="create"),
]
