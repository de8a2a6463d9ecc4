"""The digest's pages and command: the signed unsubscribe link (no account, no CSRF token, RFC 8058
one-click), an account's preferences, `send_digest --dry-run / --preview / --now`, the embedded
scheduler, and the canary: an owner's digest never names another tenant's namespace."""

from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core import mail, signing
from django.core.management import CommandError, call_command
from django.test import Client

from digest.delivery import send_due
from digest.links import unsubscribe_token, unsubscribe_url
from digest.models import ClusterDigestAddress, Delivery, Subscription
from digest.recipients import recipient_for
from inventory.models import Cluster
from inventory.scheduler import EmbeddedScheduler
from tenancy.models import NamespaceOwner
from tests.smtp_server import parts, smtp_fixture
from tests.test_canary import CANARY, MARKER, world  # noqa: F401  (the canary's two clusters, a fixture)

pytestmark = pytest.mark.django_db

MONDAY = datetime(2026, 12, 7, 8, 30, tzinfo=UTC)


@pytest.fixture
def csrf_client():
    return Client(enforce_csrf_checks=True)  # as a browser or a mail provider: no test exemption


def _unsubscribe_path(address: str) -> str:
    return f"/digest/unsubscribe/{unsubscribe_token(address)}/"


def test_the_link_asks_first_then_a_post_unsubscribes_without_an_account(csrf_client):
    path = _unsubscribe_path("Nobody@Example.com")
    page = csrf_client.get(path)
    assert page.status_code == 200 and "Stop sending the weekly exposure digest to Nobody@example.com" in (
        page.content.decode()
    )
    assert not Subscription.objects.exists(), "a GET (a link scanner, a prefetch) changes nothing"
    done = csrf_client.post(path, {"action": "unsubscribe"})
    assert done.status_code == 200 and "will get no more weekly digests" in done.content.decode()
    assert Subscription.objects.get(address="Nobody@example.com").unsubscribed_at is not None
    again = csrf_client.post(path, {"action": "resubscribe"})
    assert "will get the weekly digest again" in again.content.decode()
    assert Subscription.objects.get(address="Nobody@example.com").unsubscribed_at is None


def test_the_link_lets_an_address_without_an_account_choose_when(csrf_client):
    path = _unsubscribe_path("owner@example.com")
    assert "Monday 08:00" in csrf_client.get(path).content.decode()
    chosen = {
        "action": "preferences",
        "weekday": "2",
        "hour": "6",
        "time_zone": "Asia/Tokyo",
        "receive": "on",
    }
    page = csrf_client.post(path, chosen).content.decode()
    assert "Saved." in page and "Wednesday 06:00 Asia/Tokyo" in page
    saved = Subscription.objects.get(address="owner@example.com")
    assert (saved.weekday, saved.hour, saved.time_zone, saved.unsubscribed_at) == (2, 6, "Asia/Tokyo", None)
    refused = csrf_client.post(path, {**chosen, "time_zone": "Mars/Olympus"})
    assert refused.status_code == 200 and "is not a time zone" in refused.content.decode()
    assert Subscription.objects.get(address="owner@example.com").time_zone == "Asia/Tokyo"
    token = unsubscribe_token("x@example.com")
    altered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert csrf_client.post(f"/digest/unsubscribe/{altered}/", chosen).status_code == 404
    assert not Subscription.objects.filter(address="x@example.com").exists()


def test_one_click_unsubscribe_as_rfc_8058_posts_it(csrf_client):
    response = csrf_client.post(
        _unsubscribe_path("list@example.com"),
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    assert Subscription.objects.get(address="list@example.com").unsubscribed_at is not None


def test_a_forged_or_altered_token_unsubscribes_no_one(csrf_client):
    token = unsubscribe_token("victim@example.com")
    forged = [
        signing.dumps("victim@example.com"),  # signed, but for another purpose
        token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        signing.dumps("victim@example.com", salt="digest.unsubscribe", key="not-our-key"),
    ]
    for bad in forged:
        assert csrf_client.post(f"/digest/unsubscribe/{bad}/").status_code == 404
        assert csrf_client.get(f"/digest/unsubscribe/{bad}/").status_code == 404
    assert not Subscription.objects.exists()


def test_the_link_is_under_the_sites_public_url(settings):
    settings.SITE_URL = "https://exposure.example.org"
    assert unsubscribe_url("a@example.com").startswith("https://exposure.example.org/digest/unsubscribe/")


def test_an_account_chooses_when_and_whether(client, clusters):
    user = User.objects.create_user("ally", "alice@example.com", "pw")  # the case's owner of alpha-*
    assert client.get("/digest/preferences/").status_code == 302, "sign in first"
    client.force_login(user)
    page = client.get("/digest/preferences/").content.decode()
    assert "gets the digest of the" in page and "namespaces you own" in page
    assert "Monday 08:00" in page
    response = client.post(
        "/digest/preferences/",
        {"weekday": "4", "hour": "17", "time_zone": "Europe/Paris", "receive": "on"},
    )
    assert response.status_code == 302
    chosen = Subscription.objects.get(address="alice@example.com")
    assert (chosen.weekday, chosen.hour, chosen.time_zone, chosen.unsubscribed_at) == (
        4,
        17,
        "Europe/Paris",
        None,
    )
    assert "Friday 17:00 Europe/Paris" in client.get("/digest/preferences/").content.decode()
    client.post("/digest/preferences/", {"weekday": "4", "hour": "17", "time_zone": "Europe/Paris"})
    assert Subscription.objects.get(address="alice@example.com").unsubscribed_at is not None
    refused = client.post(
        "/digest/preferences/", {"hour": "25", "time_zone": "Mars/Olympus", "receive": "on"}
    )
    assert refused.status_code == 200 and "is not a time zone" in refused.content.decode()


def test_an_account_without_an_address_is_told_so(client):
    client.force_login(User.objects.create_user("nomail"))
    assert "has no email address" in client.get("/digest/preferences/").content.decode()


# --- the command ---------------------------------------------------------------------------------


def test_dry_run_lists_who_gets_what_and_sends_nothing(clusters, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    User.objects.create_superuser("root-user", "root@example.com", "pw")
    Subscription.objects.create(address="bob@example.com", unsubscribed_at=MONDAY)
    out = StringIO()
    call_command("send_digest", "--dry-run", stdout=out)
    lines = out.getvalue().splitlines()
    assert any(line.startswith("root@example.com  admin: every cluster") for line in lines)
    assert any(
        line.startswith("alice@example.com  owner: 4 namespace(s) in 2 cluster(s), no account")
        for line in lines
    )
    assert any(line.startswith("bob@example.com") and line.endswith("unsubscribed") for line in lines)
    assert not mail.outbox and not Delivery.objects.exists()


def test_preview_writes_html_and_text_and_sends_nothing(clusters, tmp_path, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    User.objects.create_superuser("root-user", "admin@example.com", "pw")
    out = StringIO()
    call_command("send_digest", "--preview", "admin@example.com", "--out", str(tmp_path / "out"), stdout=out)
    html = (tmp_path / "out" / "digest-admin@example.com.html").read_text()
    text = (tmp_path / "out" / "digest-admin@example.com.txt").read_text()
    assert html.strip() and text.strip() and "nothing sent" in out.getvalue()
    assert not mail.outbox and not Delivery.objects.exists()
    with pytest.raises(CommandError, match="stranger@example.com gets no digest"):
        call_command("send_digest", "--preview", "stranger@example.com", "--out", str(tmp_path))
    assert not (tmp_path / "digest-stranger@example.com.html").exists()


def test_preview_writes_into_the_current_directory_by_default(clusters, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    call_command("send_digest", "--preview", "alice@example.com", stdout=StringIO())
    assert (tmp_path / "digest-alice@example.com.html").exists() and (
        tmp_path / "digest-alice@example.com.txt"
    ).exists()


def test_now_sends_what_is_due_once(clusters, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.DIGEST_CATCH_UP_HOURS = 24 * 7  # whenever this runs, this week's moment is due
    out = StringIO()
    call_command("send_digest", "--now", stdout=out)
    assert out.getvalue().strip() == "digests: 2 sent"
    call_command("send_digest", "--now", stdout=out)
    assert out.getvalue().splitlines()[-1] == "digests: none due" and len(mail.outbox) == 2


def test_the_embedded_scheduler_runs_the_digest_dispatcher_too(clusters, settings):
    """Without a broker, the beat schedule's every entry runs in-process, the digest's included."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.DIGEST_CATCH_UP_HOURS = 24 * 7
    assert settings.CELERY_TASK_ALWAYS_EAGER
    scheduler = EmbeddedScheduler(tick_seconds=30)
    assert scheduler.run_due() == ["dispatch-due-snapshots", "dispatch-due-digests"]
    assert scheduler.run_due() == [], "each on its own interval, not every tick"
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@example.com", "bob@example.com"]


# --- the canary --------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_owners_digest_never_names_another_tenants_namespace(world, tmp_path, settings, monkeypatch):  # noqa: F811
    """Tenant A's owner (a bare address) and tenant B's owner each get their digest from a real SMTP
    server; A's names nothing of B (whose namespaces carry the marker, and an HTML payload in a label)."""
    settings.DIGEST_TIME_ZONE = "UTC"
    for cluster_name, namespace in (("hostile-share", "alpha-web"), ("policy-shared", "alpha-db")):
        cluster = Cluster.objects.get(name=cluster_name)
        NamespaceOwner.objects.create(
            cluster=cluster, namespace=namespace, kind="user", name="owner-a@a.example"
        )
    # A cluster's address list gets that cluster's digest: nothing of the other cluster's namespaces.
    ClusterDigestAddress.objects.create(
        cluster=Cluster.objects.get(name="hostile-share"), address="web@a.example"
    )
    b_owner = f"{MARKER}@b.example"  # the canary namespace's owner key (tests/test_canary.py)
    recipient = recipient_for("owner-a@a.example")
    visible = {
        Cluster.objects.get(pk=pk).name: set(names) for pk, names in recipient.scope.namespaces.items()
    }
    assert visible == {"hostile-share": {"alpha-web"}, "policy-shared": {"alpha-db"}}
    smtp = smtp_fixture(tmp_path, settings, monkeypatch)
    try:
        send_due(MONDAY)
        received = {parseaddr(m["To"])[1]: m for m in smtp.messages}
    finally:
        smtp.stop()
    assert "owner-a@a.example" in received
    a_digest = received["owner-a@a.example"]
    whole = a_digest.as_string() + "".join(parts(a_digest).values())
    assert MARKER not in whole and all(canary not in whole for _, canary in CANARY.values())
    assert "onerror=" not in parts(a_digest)["text/html"]
    listed = received["web@a.example"]
    assert CANARY["policy-shared"][1] not in listed.as_string() + "".join(parts(listed).values())
    assert "onerror=" not in parts(listed)["text/html"]
    if b_owner in received:  # B's owner key is trusted only if no one but admins may change B's namespace
        assert "onerror=" not in parts(received[b_owner])["text/html"]


@pytest.mark.django_db(transaction=True)
def test_make_runs_admin_previews_the_demo_clusters_last_week(tmp_path, monkeypatch):
    """What `make run` then `send_digest --preview admin@example.com` does: the demo admin's digest
    of the simulated cluster's last week (a shorter backfill here), written, nothing sent."""
    from django.utils import timezone

    from dashboard.admin_account import ensure_admin_account
    from inventory import demo as demo_module

    monkeypatch.delenv("DJANGO_SUPERUSER_EMAIL", raising=False)
    monkeypatch.delenv("DJANGO_SUPERUSER_USERNAME", raising=False)
    ensure_admin_account()
    demo = demo_module.Demo(tmp_path / "demo", now=timezone.now(), days=8, step=timedelta(hours=24)).start()
    try:
        assert demo_module.progress.finished.wait(120), "backfill did not finish"
        out = StringIO()
        call_command("send_digest", "--preview", "admin@example.com", "--out", str(tmp_path), stdout=out)
    finally:
        demo.stop()
    assert "admin: every cluster; nothing sent" in out.getvalue()
    assert (tmp_path / "digest-admin@example.com.html").read_text().strip()
    assert (tmp_path / "digest-admin@example.com.txt").read_text().strip()
    assert not Delivery.objects.exists()
    # The demo's owners (the simulated namespaces' owner annotations) are recipients too.
    dry = StringIO()
    call_command("send_digest", "--dry-run", stdout=dry)
    assert "admin@example.com  admin: every cluster" in dry.getvalue()
    assert "owner:" in dry.getvalue()
