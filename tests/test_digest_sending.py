"""Sending the digest to a real SMTP server (aiosmtpd on loopback, STARTTLS required, AUTH
required): the right people get their digest once, as parsed from the MIME that arrived; a server
down, then back, loses nothing and sends nothing twice; failures retry with backoff and show."""

from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import User
from django.core import mail

from digest import delivery
from digest.content import Digest
from digest.delivery import send_due
from digest.links import address_of
from digest.models import Delivery, Subscription
from tests.smtp_server import USER, parts, smtp_fixture

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres_too]

MONDAY = datetime(2026, 12, 7, 8, 30, tzinfo=UTC)  # half an hour after the default moment (UTC)
WEEK = "2026-W50"


@pytest.fixture
def smtp(tmp_path, settings, monkeypatch):
    settings.DIGEST_TIME_ZONE = "UTC"
    settings.SITE_URL = "https://dashboard.example.test"
    settings.DEFAULT_FROM_EMAIL = "exposure@dashboard.example.test"
    server = smtp_fixture(tmp_path, settings, monkeypatch)
    yield server
    server.stop()


@pytest.fixture
def people(clusters):
    """An admin, and the case's bare owners alice@example.com (alpha-*) and bob@example.com (beta-app)."""
    User.objects.create_superuser("root-user", "root@example.com", "pw")
    return ["alice@example.com", "bob@example.com", "root@example.com"]


def test_each_recipient_gets_one_digest_over_starttls_with_authentication(smtp, people):
    assert send_due(MONDAY) == {"sent": 3}
    received = smtp.wait_for(3)
    assert sorted(parseaddr(m["To"])[1] for m in received) == people
    assert all(session == {"tls": True, "login": USER.encode()} for session in smtp.sessions)
    rows = {row.address: row for row in Delivery.objects.all()}
    for message in received:
        address = parseaddr(message["To"])[1]
        row = rows[address]
        assert (row.status, row.period_key, row.attempts) == ("sent", WEEK, 1) and row.sent_at
        assert message["Message-ID"] == row.message_id and row.message_id.endswith("@dashboard.example.test>")
        assert message["Subject"] and message["From"] == "exposure@dashboard.example.test"
        assert message.get_content_type() == "multipart/alternative"
        body = parts(message)
        assert (
            set(body) == {"text/plain", "text/html"}
            and body["text/plain"].strip()
            and body["text/html"].strip()
        )
        # RFC 2369 / 8058: an unsubscribe link, signed for this address, under the site's public URL.
        link = message["List-Unsubscribe"].strip().strip("<>")  # a long header is folded
        assert link.startswith("https://dashboard.example.test/digest/unsubscribe/")
        assert address_of(urlsplit(link).path.split("/")[3]) == address
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message["Auto-Submitted"] == "auto-generated"
        # The same link in both parts of the body, for clients that show no header action.
        assert link in body["text/plain"] and link in body["text/html"]
    assert rows["root@example.com"].kind == "admin" and rows["alice@example.com"].kind == "owner"
    # The same tick again, and later that week: nothing more.
    assert send_due(MONDAY) == {}
    assert send_due(MONDAY + timedelta(hours=5)) == {}
    assert len(smtp.messages) == 3


def test_nothing_is_sent_before_the_moment_nor_days_after_it(smtp, people, settings):
    settings.DIGEST_CATCH_UP_HOURS = 24
    assert send_due(MONDAY - timedelta(hours=1)) == {}  # 07:30: last week's moment is a week old
    assert send_due(MONDAY + timedelta(days=1, hours=1)) == {}, "a missed Monday waits for the next"
    assert not smtp.messages and not Delivery.objects.exists()


def test_the_server_down_then_back_loses_nothing_and_sends_once(smtp, people, settings):
    settings.DIGEST_RETRY_SECONDS = 60
    smtp.stop()
    assert send_due(MONDAY) == {"pending": 3}
    rows = list(Delivery.objects.order_by("address"))
    assert all(r.status == "pending" and r.attempts == 1 and r.sent_at is None for r in rows)
    assert all("Connection refused" in r.last_error or "ConnectionRefused" in r.last_error for r in rows)
    assert all(r.next_attempt_at == MONDAY + timedelta(seconds=60) for r in rows), "backoff: the first retry"
    assert send_due(MONDAY + timedelta(seconds=30)) == {}, "not before its backoff"
    smtp.start()
    assert send_due(MONDAY + timedelta(seconds=61)) == {"sent": 3}
    received = smtp.wait_for(3)
    assert sorted(m["Message-ID"] for m in received) == sorted(r.message_id for r in rows), "the same ids"
    assert send_due(MONDAY + timedelta(seconds=200)) == {} and len(smtp.messages) == 3


def test_failures_back_off_then_give_up_and_show_in_the_admin(smtp, people, settings, client):
    settings.DIGEST_RETRY_SECONDS, settings.DIGEST_RETRY_MAX_SECONDS, settings.DIGEST_MAX_ATTEMPTS = 10, 25, 3
    settings.EMAIL_HOST_PASSWORD = "wrong-password-not-shown"
    now = MONDAY
    assert send_due(now) == {"pending": 3}
    delays = []
    for _ in range(2):
        row = Delivery.objects.get(address="root@example.com")
        delays.append((row.next_attempt_at - now).total_seconds())
        now = row.next_attempt_at
        outcome = send_due(now)
    assert delays == [10, 20] and outcome == {"failed": 3}
    failed = Delivery.objects.get(address="root@example.com")
    assert (failed.status, failed.attempts) == ("failed", 3)
    assert "SMTPAuthenticationError" in failed.last_error and "wrong-password" not in failed.last_error
    assert send_due(now + timedelta(hours=1)) == {}, "given up: not tried again by itself"
    client.force_login(User.objects.get(username="root-user"))
    page = client.get("/admin/digest/delivery/?status=failed").content.decode()
    assert "root@example.com" in page and "failed" in page
    # The admin's action sends it again, once the server lets the sender in.
    settings.EMAIL_HOST_PASSWORD = smtp.email_settings()["EMAIL_HOST_PASSWORD"]
    response = client.post(
        "/admin/digest/delivery/",
        {"action": "retry_now", "_selected_action": [failed.pk]},
    )
    assert response.status_code == 302
    assert send_due(now + timedelta(hours=1)) == {"sent": 1}
    assert [parseaddr(m["To"])[1] for m in smtp.messages] == ["root@example.com"]
    assert smtp.messages[0]["Message-ID"] == failed.message_id


def test_a_refused_recipient_is_given_up_at_once(smtp, people, monkeypatch):
    import smtplib

    def refuse(message):
        raise smtplib.SMTPRecipientsRefused({message.to[0]: (550, b"no such mailbox")})

    monkeypatch.setattr(delivery.EmailMultiAlternatives, "send", lambda self, *a, **k: refuse(self))
    assert send_due(MONDAY) == {"failed": 3}
    assert Delivery.objects.filter(status="failed", attempts=1).count() == 3


def test_silence_when_nothing_new_is_the_recipients_choice(smtp, people, monkeypatch):
    quiet = Digest("No change", "No change this week.\n", "<p>No change this week.</p>", "h" * 64, True)
    monkeypatch.setattr(delivery, "build_digest", lambda recipient, period, **links: quiet)
    Subscription.objects.create(address="bob@example.com", silence_when_nothing_new=True)
    assert send_due(MONDAY) == {"sent": 2, "silenced": 1}
    assert sorted(parseaddr(m["To"])[1] for m in smtp.wait_for(2)) == [
        "alice@example.com",
        "root@example.com",
    ]
    assert Delivery.objects.get(address="bob@example.com").content_hash == "h" * 64


def test_the_recipients_own_schedule_and_unsubscribing(smtp, people):
    Subscription.objects.create(address="alice@example.com", weekday=2, hour=18, time_zone="Asia/Tokyo")
    Subscription.objects.create(address="bob@example.com", unsubscribed_at=MONDAY - timedelta(days=3))
    assert send_due(MONDAY) == {"sent": 1}  # root only: alice's Wednesday has not come, bob left
    wednesday = datetime(2026, 12, 9, 9, 5, tzinfo=UTC)  # 18:05 in Tokyo
    assert send_due(wednesday) == {"sent": 1}
    assert [parseaddr(m["To"])[1] for m in smtp.wait_for(2)] == ["root@example.com", "alice@example.com"]
    assert Delivery.objects.get(address="alice@example.com").period_key == WEEK


def test_a_row_for_someone_no_longer_a_recipient_is_dropped(smtp, people):
    delivery.plan(MONDAY)
    Subscription.objects.create(address="bob@example.com", unsubscribed_at=MONDAY)
    User.objects.filter(username="root-user").update(is_active=False)
    # One row at a time, as a worker's task does (each reads its recipient afresh).
    outcomes = [delivery.send_delivery(pk, MONDAY) for pk in delivery.sendable_ids(MONDAY)]
    assert sorted(outcomes) == ["dropped", "dropped", "sent"]
    assert [parseaddr(m["To"])[1] for m in smtp.wait_for(1)] == ["alice@example.com"]


def test_the_locmem_backend_gets_the_same_message(people, settings):
    """Any configured email backend is used (here Django's test outbox): nothing is SMTP-specific."""
    settings.DIGEST_TIME_ZONE = "UTC"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert send_due(MONDAY) == {"sent": 3}
    assert sorted(m.to[0] for m in mail.outbox) == people
    assert all(m.extra_headers["Message-ID"] for m in mail.outbox)
