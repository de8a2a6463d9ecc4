"""The weekly digest's records: who gets it when, and what was sent (issue 12)."""

import zoneinfo

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models

from inventory.models import Cluster
from tenancy.ownership import normalise_address

WEEKDAYS = [(0, "Monday"), (1, "Tuesday"), (2, "Wednesday"), (3, "Thursday"), (4, "Friday")]
WEEKDAYS += [(5, "Saturday"), (6, "Sunday")]


def validate_time_zone(name: str) -> None:
    if name and name not in zoneinfo.available_timezones():
        raise ValidationError(f"{name!r} is not a time zone (e.g. Europe/Berlin)")


class Subscription(models.Model):
    """One address's choices; an address without a row gets the site's defaults (settings.DIGEST_*).
    Keyed by address, not account: a bare owner email chooses (and unsubscribes) as well as a user."""

    address = models.EmailField(max_length=254, unique=True)
    # Empty: the site's default (DIGEST_WEEKDAY, DIGEST_HOUR, DIGEST_TIME_ZONE).
    weekday = models.PositiveSmallIntegerField(choices=WEEKDAYS, null=True, blank=True)
    hour = models.PositiveSmallIntegerField(null=True, blank=True, validators=[MaxValueValidator(23)])
    time_zone = models.CharField(max_length=64, blank=True, validators=[validate_time_zone])
    silence_when_nothing_new = models.BooleanField(
        default=False, help_text="No email at all in a week with nothing new (else a one-line digest)."
    )
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return self.address

    def save(self, *args, **kwargs):
        self.address = normalise_address(self.address)  # as recipients and links spell it
        super().save(*args, **kwargs)


class ClusterDigestAddress(models.Model):
    """An address (a team's list, the security desk) that gets the cluster-wide digest of a cluster."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="digest_addresses")
    address = models.EmailField(max_length=254)

    class Meta:
        verbose_name = "cluster digest address"
        constraints = [
            models.UniqueConstraint(fields=["cluster", "address"], name="one_digest_address_per_cluster")
        ]

    def __str__(self):
        return f"{self.cluster.name}: {self.address}"


class Delivery(models.Model):
    """One recipient's digest of one week: claimed under a lease, sent, retried (digest/delivery.py).

    The Message-ID is chosen when the row is made, before any attempt, and every retry sends the same
    one: a copy sent twice (the narrow window in digest/delivery.py) is the same message to any mail
    system that deduplicates, and visibly the same to a person."""

    class Status(models.TextChoices):
        PENDING = "pending"  # to send (again, after next_attempt_at)
        SENT = "sent"
        SILENCED = "silenced"  # nothing new, and the recipient chose silence
        DROPPED = "dropped"  # no longer a recipient (unsubscribed, lost the ownership) before it went
        FAILED = "failed"  # gave up after DIGEST_MAX_ATTEMPTS, or refused for good by the server

    address = models.EmailField(max_length=254)
    period_key = models.CharField(max_length=32)  # Period.key: the ISO week of the send moment
    kind = models.CharField(max_length=16)  # Recipient.kind when the row was made
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()  # the send moment
    message_id = models.CharField(max_length=255, unique=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    claimed_until = models.DateTimeField(null=True, blank=True)  # a worker's lease; lapsed: free
    claim_token = models.CharField(max_length=32, blank=True)  # whose lease (fences a late writer)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_error = models.TextField(blank=True)
    content_hash = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["address", "period_key"], name="one_digest_per_address_and_week")
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="digest_delivery_due")]

    def __str__(self):
        return f"{self.address} {self.period_key} ({self.status})"
