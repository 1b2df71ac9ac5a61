from django.urls import path

from . import views

app_name = "programs"
urlpatterns = [
    path("", views.program_list, name="list"),
    path("new/", views.program_create, name="create"),
    path("<int:pk>/", views.program_detail, name="detail"),
    path("<int:pk>/dashboard/", views.program_dashboard, name="dashboard"),
    path("<int:pk>/invitations/", views.invitation_create, name="invitation_create"),
    path("<int:pk>/enrollments/<int:enrollment_pk>/mentors/", views.enrollment_assign_mentor, name="assign_mentor"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
]
