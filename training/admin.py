from django.contrib import admin

from .models import TrainingSession


@admin.register(TrainingSession)
class TrainingSessionAdmin(admin.ModelAdmin):
    list_display = ["title", "program", "type", "delivery", "starts_at"]
