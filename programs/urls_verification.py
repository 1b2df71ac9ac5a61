from django.urls import path

from . import views_verification as views

app_name = "verification"
urlpatterns = [
    path("queue/", views.queue, name="queue"),
    path("<int:pk>/profile/", views.profile, name="profile"),
    path("<int:pk>/submit/", views.submit, name="submit"),
    path("<int:pk>/plan/", views.plan, name="plan"),
    path("<int:pk>/review/", views.review, name="review"),
    path("<int:pk>/take/", views.take, name="take"),
    path("<int:pk>/decide/", views.decide, name="decide"),
]
