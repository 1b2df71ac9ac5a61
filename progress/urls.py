from django.urls import path

from . import views

# In the "programs" namespace (trainingportal/urls.py), beside programs.urls: the program page and its dashboard.
program_urlpatterns = [
    path("<int:pk>/", views.program_detail, name="detail"),
    path("<int:pk>/dashboard/", views.program_dashboard, name="dashboard"),
    path("<int:pk>/invitations/", views.invitation_create, name="invitation_create"),
    path("<int:pk>/enrollments/<int:enrollment_pk>/mentors/", views.enrollment_assign_mentor, name="assign_mentor"),
]

# In the "trainees" namespace: /enrollments/<id>/.
enrollment_urlpatterns = [
    path("<int:pk>/", views.enrollment_progress, name="progress"),
    path("<int:pk>/virtual-share/", views.enrollment_virtual_share, name="virtual_share"),
    path("<int:pk>/prior-experience/", views.enrollment_prior_experience, name="prior_experience"),
]
