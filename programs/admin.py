from django.contrib import admin

from .models import Invitation, Membership, Program


@admin.register(Program)
class ProgramAdmin(admin.ModelAdmin):
    list_display = ["name", "institution", "director", "mode", "verification_status"]
    search_fields = ["name", "institution"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "program", "role"]
    list_filter = ["role"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "program", "role", "created_at", "accepted_at"]
    readonly_fields = ["token"]
