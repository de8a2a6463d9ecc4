"""Celery tasks of the digest: the dispatcher (beat, every DIGEST_DISPATCH_INTERVAL_SECONDS) and one
send per recipient-week.

As for snapshots, the database says what is due, not the broker: the dispatcher makes the rows of
the recipients due now and queues a send for every row that may be claimed (pending, due, no live
lease), so a send lost with the broker, or a worker killed mid-send, is queued again by a later
tick.  A send queued twice is harmless: the claim lets one through.  Without a broker the embedded
scheduler (inventory/scheduler.py) runs the same dispatcher and the sends run eagerly, in-process.
"""

import logging

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from digest import delivery

logger = logging.getLogger(__name__)


@shared_task(name="digest.tasks.dispatch_due_digests")
def dispatch_due_digests() -> list[int]:
    now = timezone.now()
    delivery.plan(now)
    queued = delivery.sendable_ids(now)
    for delivery_id in queued:
        send_digest.delay(delivery_id)
    return queued


# A send never outlives its claim (a pool that enforces limits stops it first): past the lease another
# worker may take the row, and two live senders could both reach the server.
@shared_task(
    name="digest.tasks.send_digest",
    acks_late=True,
    soft_time_limit=0.8 * settings.DIGEST_LEASE_SECONDS,
    time_limit=0.9 * settings.DIGEST_LEASE_SECONDS,
)
def send_digest(delivery_id: int) -> str:
    return delivery.send_delivery(delivery_id)
