from django.urls import path

from . import views_io

app_name = "cases_io"
urlpatterns: list = []
