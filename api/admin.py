"""API tokens in the admin site: listed with their state, revoked with an action (keys are made by
`manage.py api_token`, which shows the key once; the admin never sees a key)."""

from django.contrib import admin, messages

from api.models import ApiToken
from api.tokens import revoke


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "user",
        "prefix",
        "state",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    )
    list_filter = ("revoked_at",)
    search_fields = ("name", "user__username", "prefix")
    readonly_fields = ("user", "name", "prefix", "created_at", "last_used_at")
    fields = ("user", "name", "prefix", "created_at", "expires_at", "revoked_at", "last_used_at")
    actions = ("revoke_tokens",)

    def has_add_permission(self, request):
        return False  # `manage.py api_token USERNAME` makes one and prints its key once

    @admin.action(description="Revoke the selected tokens")
    def revoke_tokens(self, request, queryset):
        revoked = revoke(queryset)
        self.message_user(request, f"{revoked} token(s) revoked.", messages.SUCCESS)
