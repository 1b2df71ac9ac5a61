from django.urls import path

from . import views

app_name = "sessions"
urlpatterns = [
    path("program/<int:program_pk>/", views.session_list, name="list"),
    path("program/<int:program_pk>/new/", views.session_create, name="create"),
    path("program/<int:program_pk>/lectures/", views.lecture_list, name="lectures"),
    path("lectures/<int:pk>/done/", views.lecture_done, name="lecture_done"),
    path("<int:pk>/", views.session_detail, name="detail"),
    path("<int:pk>/attend/", views.session_attend, name="attend"),
    path("<int:pk>/attendees/", views.session_add_attendee, name="add_attendee"),
    path("<int:pk>/console/", views.session_console, name="console"),
    path("attendance/<int:pk>/", views.attendance_record, name="attendance_record"),
    path("calendar/", views.calendar, name="calendar"),
    path("calendar/<str:token>.ics", views.calendar_feed, name="feed"),
]
