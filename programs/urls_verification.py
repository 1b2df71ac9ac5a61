from django.urls import path  # noqa: F401 - filled by the program verification work (issue 5)

app_name = "verification"
urlpatterns: list = []
