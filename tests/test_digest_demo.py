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
    assert not admin.nothing_new
    # Days 23 to 30: the cluster-wide grants revoked (day 23), tenant hooli deleted (day 25).
    assert admin.subject.startswith("Storage exposure 2026-W47: 3 resolved, 1 grade changed — grade F in ")
    resolved = admin.text[admin.text.index("RESOLVED THIS WEEK (3)") : admin.text.index("STILL OPEN")]
    assert "may write PersistentVolumes or Trident's objects" in " ".join(resolved.split())
    assert "every namespace (cluster-wide)" in resolved
    assert "- demo / (cluster-wide): F → D" in admin.text
    assert "FIX FIRST" in admin.text and admin.text.count("   Fix: ") == 3
    # An owner of two of acme's namespaces reads their own week, and nothing of the others.
    scope = Scope(namespaces={cluster.pk: frozenset({"acme-web", "acme-db"})})
    owner = build_digest(Recipient("owner@acme.example", "owner", scope), period, "http://x")
    assert not owner.nothing_new and "RESOLVED THIS WEEK (2)" in owner.text
    assert "acme-web" in owner.text and "acme-db" in owner.text
    assert "globex" not in owner.text and "initech" not in owner.text and "hooli" not in owner.text
