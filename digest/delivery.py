"""Sending the digests: one row per recipient-week (Delivery), claimed under a lease, sent, recorded.

- `plan(now)` makes the row of every recipient whose week is due (a unique address + week, so
  any number of dispatchers make it once), with its Message-ID chosen there, before any attempt.
- `send_delivery(id)` claims the row with one conditional UPDATE (pending, due, and no live lease:
  then it sets `claimed_until`), builds the digest, sends it through Django's email backend (SMTP,
  TLS and authentication from settings), and records it under the same claim.  A worker that dies
  holding a claim leaves a lease that lapses after DIGEST_LEASE_SECONDS; the next dispatch
  sends the row again, with the Message-ID it already has.  A failure to send counts an attempt
  and retries with backoff (DIGEST_RETRY_SECONDS doubling, at most DIGEST_RETRY_MAX_SECONDS apart)
  up to DIGEST_MAX_ATTEMPTS; then the row is `failed` with its last error, in the admin.

Nothing is lost: a row exists before anything is sent and stays pending until sent (or given up).
SMTP cannot promise exactly once, so one duplicate window remains, and only one: after the SMTP
server accepted the message (its reply to the end of DATA) and before `_record_sent` committed.  A
worker killed there (or a database gone at that moment) leaves the row pending, and it is sent again
when the lease lapses: the same message twice, with the same Message-ID (which receiving systems
deduplicate on).  tests/test_digest_production.py provokes exactly that, with a real worker and a
real SMTP server, and shows that it is the only way a second copy goes out.

That holds while a live sender keeps its claim: the lease (DIGEST_LEASE_SECONDS, 10 minutes) is far
longer than an SMTP conversation (each step bounded by EMAIL_TIMEOUT, 30 s), and the send task's time
limits (digest/tasks.py) stop a sender before its lease lapses.  A sender that finds its claim gone
when it records (`_record_sent`) logs it: that is a second way to a duplicate, which these bounds
exist to make impossible.
"""

import logging
import secrets
import smtplib
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db.models import F, Q
from django.utils import timezone

from digest.content import build_digest
from digest.links import unsubscribe_url
from digest.models import Delivery
from digest.period import Period
from digest.recipients import Recipient, recipient_for, recipients
from digest.schedule import due_period, preferences_of

logger = logging.getLogger(__name__)

ERROR_LENGTH = 1000  # what the admin shows of a failure; the server's reply, never our credentials


def new_message_id() -> str:
    """Unique without the host name or process id make_msgid puts in; short enough that the header
    is never folded."""
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "localhost"
    return f"<digest.{secrets.token_hex(12)}@{domain}>"


def plan(now: datetime, found: dict[str, Recipient] | None = None) -> int:
    """Make the delivery row of every recipient due now (existing rows are left as they are);
    returns how many recipients are due."""
    found = recipients() if found is None else found
    preferences = preferences_of(found)
    rows = []
    for address, recipient in found.items():
        period = due_period(preferences[address], now)
        if period is not None:
            rows.append(
                Delivery(
                    address=address,
                    period_key=period.key,
                    kind=recipient.kind,
                    period_start=period.start,
                    period_end=period.end,
                    message_id=new_message_id(),
                    # Due since its moment, for every dispatcher, whatever its clock's `now`.
                    next_attempt_at=period.end,
                )
            )
    Delivery.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def _sendable(now: datetime):
    return Delivery.objects.filter(status=Delivery.Status.PENDING, next_attempt_at__lte=now).filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    )


def sendable_ids(now: datetime) -> list[int]:
    """Rows that a worker may claim now: pending, due for an attempt, no live lease."""
    return list(_sendable(now).order_by("next_attempt_at", "pk").values_list("pk", flat=True))


def claim(delivery_id: int, now: datetime) -> tuple[Delivery, str] | None:
    """The row and this claim's token, if this worker now holds it; None if someone else does, or
    it is no longer to send.  One UPDATE with the conditions in its WHERE: of workers racing for a
    row, the database lets exactly one match."""
    token = secrets.token_hex(16)
    claimed = _sendable(now).filter(pk=delivery_id)
    lease = timedelta(seconds=settings.DIGEST_LEASE_SECONDS)
    if not claimed.update(claimed_until=now + lease, claim_token=token, attempts=F("attempts") + 1):
        return None
    return Delivery.objects.get(pk=delivery_id), token


def send_delivery(delivery_id: int, now: datetime | None = None, found=None) -> str:
    """Claim, build, send, record one row; returns what became of it (a Delivery status, or "busy"
    when it was not ours to send)."""
    now = now or timezone.now()
    held = claim(delivery_id, now)
    if held is None:
        return "busy"
    delivery, token = held
    # Who the address is now (its scope may have changed since the row was made): read for it alone.
    recipient = recipient_for(delivery.address) if found is None else found.get(delivery.address)
    preferences = preferences_of([delivery.address])[delivery.address]
    if recipient is None or preferences.unsubscribed:  # since the row was made
        _finish(delivery, token, Delivery.Status.DROPPED)
        return Delivery.Status.DROPPED
    period = Period(delivery.period_start, delivery.period_end, delivery.period_key)
    try:
        # One signed link for the body and the List-Unsubscribe header (its signature carries a time).
        unsubscribe = unsubscribe_url(recipient.address)
        digest = build_digest(recipient, period, site_url=settings.SITE_URL, unsubscribe_url=unsubscribe)
        if digest.nothing_new and preferences.silence_when_nothing_new:
            _finish(delivery, token, Delivery.Status.SILENCED, content_hash=digest.content_hash)
            return Delivery.Status.SILENCED
        message = compose(recipient, digest, delivery.message_id, unsubscribe)
        message.send()
    except Exception as error:  # any failure is this row's, retried; the next row goes on
        return _failed(delivery, token, error, now)
    # ---- the duplicate window: the server has accepted the message; until the UPDATE below
    # commits, a worker dying here leaves the row pending and it is sent again, same Message-ID.
    _record_sent(delivery, token, digest.content_hash)
    return Delivery.Status.SENT


def compose(recipient: Recipient, digest, message_id: str, unsubscribe: str) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        subject=digest.subject,
        body=digest.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[recipient.address],
        connection=get_connection(fail_silently=False, timeout=settings.EMAIL_TIMEOUT),
        headers={
            "Message-ID": message_id,
            # RFC 2369 and RFC 8058: mail clients offer "unsubscribe", and may do it in one POST.
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",  # RFC 3834: no vacation auto-replies to it
        },
    )
    message.attach_alternative(digest.html, "text/html")
    return message


def _record_sent(delivery: Delivery, token: str, content_hash: str) -> None:
    recorded = Delivery.objects.filter(pk=delivery.pk, claim_token=token).update(
        status=Delivery.Status.SENT,
        sent_at=timezone.now(),
        content_hash=content_hash,
        claimed_until=None,
        last_error="",
    )
    if not recorded:  # our lease lapsed mid-send and another worker took the row: it may send too
        logger.warning(
            "digest %s to %s was sent after its lease lapsed", delivery.period_key, delivery.address
        )


def _finish(delivery: Delivery, token: str, status: str, content_hash: str = "") -> None:
    Delivery.objects.filter(pk=delivery.pk, claim_token=token).update(
        status=status, content_hash=content_hash, claimed_until=None
    )


def _failed(delivery: Delivery, token: str, error: Exception, now: datetime) -> str:
    attempts = delivery.attempts  # this attempt included (counted by the claim)
    refused_for_good = isinstance(error, smtplib.SMTPRecipientsRefused) and all(
        code >= 500 for code, _ in error.recipients.values()
    )
    give_up = refused_for_good or attempts >= settings.DIGEST_MAX_ATTEMPTS
    delay = min(settings.DIGEST_RETRY_SECONDS * 2 ** (attempts - 1), settings.DIGEST_RETRY_MAX_SECONDS)
    status = Delivery.Status.FAILED if give_up else Delivery.Status.PENDING
    Delivery.objects.filter(pk=delivery.pk, claim_token=token).update(
        status=status,
        claimed_until=None,
        next_attempt_at=now + timedelta(seconds=delay),
        last_error=f"{type(error).__name__}: {error}"[:ERROR_LENGTH],
    )
    log = logger.error if give_up else logger.warning
    log(
        "digest %s to %s: attempt %d failed (%s: %s)%s",
        delivery.period_key,
        delivery.address,
        attempts,
        type(error).__name__,
        error,
        ", given up" if give_up else f", retrying in {delay:g}s",
    )
    return status


def send_due(now: datetime | None = None) -> dict[str, int]:
    """Plan and send every sendable row now, in this process (`send_digest --now`, the tests):
    outcome -> how many."""
    now = now or timezone.now()
    found = recipients()
    plan(now, found)
    outcomes: dict[str, int] = {}
    for delivery_id in sendable_ids(now):
        outcome = send_delivery(delivery_id, now, found)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes
