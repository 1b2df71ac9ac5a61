from django.urls import path

from . import views

# In the "programs" namespace (trainingportal/urls.py): the invitation link keeps its /programs/invitations/ address.
invitation_urlpatterns = [
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
]
