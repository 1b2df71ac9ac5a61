from django.urls import path  # noqa: F401 - filled by the sessions work (issue 5)

app_name = "sessions"
urlpatterns: list = []
