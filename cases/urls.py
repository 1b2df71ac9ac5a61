from django.urls import path

from . import views

app_name = "cases"
urlpatterns = [
    path("", views.entry_list, name="list"),
    path("new/", views.entry_create, name="create"),
    path("review/", views.review_inbox, name="inbox"),
    path("review/sign/", views.review_sign_batch, name="sign_batch"),
    path("group-review/new/", views.group_review_create, name="group_review_create"),
    path("<int:pk>/", views.entry_detail, name="detail"),
    path("<int:pk>/edit/", views.entry_edit, name="edit"),
    path("<int:pk>/submit/", views.entry_submit, name="submit"),
    path("<int:pk>/review/", views.entry_review, name="review"),
    path("<int:pk>/amend/", views.entry_amend, name="amend"),
]
