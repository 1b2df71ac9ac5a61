from django.contrib import admin

from .models import Enrollment, LeavePeriod


class LeavePeriodInline(admin.TabularInline):
    model = LeavePeriod
    extra = 0


@admin.register(Enrollment)
class EnrollmentAdmin(admin.ModelAdmin):
    inlines = [LeavePeriodInline]
    list_display = ["trainee", "program", "target_level", "status", "start_date"]
    list_filter = ["status", "target_level"]
