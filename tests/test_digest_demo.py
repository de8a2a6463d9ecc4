"""The demo's month through the digest: its last simulated week has something to say, to an admin and
to an owner, as `send_digest --preview` writes it on `make run`."""

from datetime import UTC, datetime, timedelta

import pytest

from digest.content import build_digest
from digest.period import Period
from digest.recipients import Recipient
from inventory import demo as demo_module
from inventory.models import Cluster
from tenancy.scope import Scope

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def test_the_demos_last_week_gives_a_digest_with_content(tmp_path):
    demo = demo_module.Demo(tmp_path, now=NOW, days=30, step=timedelta(hours=24)).start()
    assert demo_module.progress.finished.wait(300), "backfill did not finish"
    demo.stop()
    cluster = Cluster.objects.get(name=demo_module.DEMO_NAME)
    period = Period.week_ending(NOW)
    admin = build_digest(
        Recipient("admin@example.com", "admin", Scope.everything(), "admin"), period, "http://x"
    )
    print(admin.subject, admin.text[:6000], sep="\n")
    assert not admin.nothing_new
    # Days 23 to 30: the cluster-wide grants revoked (day 23), tenant hooli deleted (day 25).
    assert "pv-writable-by-non-admins" in admin.text or "PersistentVolume" in admin.text
    assert "RESOLVED THIS WEEK" in admin.text and "GRADE CHANGES" in admin.text
    assert "(cluster-wide): F → D" in admin.text
    # An owner of two of acme's namespaces reads their own week, and nothing of the others.
    scope = Scope(namespaces={cluster.pk: frozenset({"acme-web", "acme-db"})})
    owner = build_digest(Recipient("owner@acme.example", "owner", scope), period, "http://x")
    print(owner.subject)
    assert "acme-web" in owner.text or "acme-db" in owner.text
    assert "globex" not in owner.text and "initech" not in owner.text and "hooli" not in owner.text
