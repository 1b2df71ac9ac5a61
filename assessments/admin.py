from django.contrib import admin

from .models import Competency


@admin.register(Competency)
class CompetencyAdmin(admin.ModelAdmin):
    list_display = ["code", "title", "framework", "in_person_required"]
