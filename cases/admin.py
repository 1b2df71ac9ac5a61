from django.contrib import admin

from .models import Case, CaseLogEntry


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    list_display = ["reference", "program", "source", "complete_study"]
    search_fields = ["reference"]


@admin.register(CaseLogEntry)
class CaseLogEntryAdmin(admin.ModelAdmin):
    list_display = ["case", "enrollment", "performed_on", "status", "signed_by"]
    list_filter = ["status", "delivery"]
    list_select_related = ["case", "enrollment__trainee", "signed_by"]

    def has_change_permission(self, request, obj=None):
        # Signed entries are immutable, in the admin too; corrections are amendments.
        if obj is not None and obj.status == CaseLogEntry.Status.SIGNED:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.status == CaseLogEntry.Status.SIGNED:
            return False
        return super().has_delete_permission(request, obj)
