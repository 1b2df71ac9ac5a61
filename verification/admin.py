from django.contrib import admin

from .models import VerificationRequest


@admin.register(VerificationRequest)
class VerificationRequestAdmin(admin.ModelAdmin):
    list_display = ["code", "enrollment", "status", "created_at", "ready_at"]
    list_filter = ["status"]
    readonly_fields = [f.name for f in VerificationRequest._meta.fields]

    def has_add_permission(self, request):
        return False
