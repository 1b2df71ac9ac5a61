from django.contrib import admin

from .models import Enrollment


@admin.register(Enrollment)
class EnrollmentAdmin(admin.ModelAdmin):
    list_display = ["trainee", "program", "target_level", "status", "start_date"]
    list_filter = ["status", "target_level"]
