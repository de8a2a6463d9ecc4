"""The digest in the admin site: per-cluster address lists and subscriptions edited; deliveries
viewed (failures with their last error), and retried or given up by action."""

from django.contrib import admin, messages
from django.utils import timezone

from digest.models import ClusterDigestAddress, Delivery, Subscription


@admin.register(ClusterDigestAddress)
class ClusterDigestAddressAdmin(admin.ModelAdmin):
    list_display = ("address", "cluster")
    list_filter = ("cluster",)
    search_fields = ("address", "cluster__name")


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ("address", "weekday", "hour", "time_zone", "silence_when_nothing_new", "unsubscribed_at")
    list_filter = ("unsubscribed_at", "silence_when_nothing_new")
    search_fields = ("address",)


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ("address", "period_key", "kind", "status", "attempts", "next_attempt_at", "sent_at")
    list_filter = ("status", "kind", "period_key")
    search_fields = ("address", "message_id")
    ordering = ("-period_end", "address")
    readonly_fields = [f.name for f in Delivery._meta.fields]
    actions = ("retry_now",)

    def has_add_permission(self, request):
        return False  # rows are made by the dispatcher, each with its Message-ID

    @admin.action(description="Retry the selected failed or pending deliveries now")
    def retry_now(self, request, queryset):
        count = queryset.filter(status__in=[Delivery.Status.FAILED, Delivery.Status.PENDING]).update(
            status=Delivery.Status.PENDING, next_attempt_at=timezone.now(), attempts=0
        )
        self.message_user(
            request,
            f"{count} deliver{'y' if count == 1 else 'ies'} will be sent at the next dispatch.",
            messages.SUCCESS,
        )
