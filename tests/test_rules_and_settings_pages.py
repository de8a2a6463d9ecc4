"""The rules catalog (every rule, its severity on the reader's clusters, their open findings of it) and
the admins' settings page (what the rules are told to trust, and where each is set)."""

import re

import orjson
import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from exposure.catalog import catalog
from exposure.findings import by_status
from exposure.models import Finding, RuleSetting
from exposure.rules import ALL_RULES, RULES
from inventory.models import Cluster
from tenancy.models import Grant
from tests.factories import dashboard_admin, made_findings

pytestmark = [pytest.mark.django_db, pytest.mark.postgres_too]

HOSTILE = '<script>alert("x")</script>'


@pytest.fixture
def alice(clusters):
    """Tenant alpha's reader, on prod only."""
    user = User.objects.create_user("alice")
    Grant.objects.create(user=user, cluster=Cluster.objects.get(name="prod"), tenant="alpha")
    return user


def _page(client, user, url="/rules/") -> str:
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode()


def _rule_row(page: str, slug: str) -> str:
    return re.search(rf'<tr id="rule-{slug}">(.*?)</tr>', page, re.S).group(1)


def _open_count(row: str) -> int:
    return int(re.search(r'<a href="/findings/\?rule=[\w-]+"[^>]*>(\d+)</a>', row).group(1))


def _listed(client, user, query: str) -> set[int]:
    client.force_login(user)
    page = client.get(f"/findings/{query}").content.decode()
    return {int(pk) for pk in re.findall(r'<a href="/findings/(\d+)/">', page)}


# --- the rules catalog ------------------------------------------------------------------------------


def test_every_rule_is_listed_with_what_the_cli_lists(client, clusters, admin):
    page = _page(client, admin)
    cli = orjson.loads(_call("rules", "--format", "json"))
    assert [row["slug"] for row in cli] == [rule.slug for rule in ALL_RULES] == [r["slug"] for r in catalog()]
    for row in cli:
        shown = _rule_row(page, row["slug"])
        assert f'<span class="sev sev-{row["severity"]}">{row["severity"]}</span>' in shown
        for key in ("title", "guideline", "remediation", "evidence_key", "attributed_to"):
            assert row[key] and _as_shown(row[key]) in shown, (row["slug"], key)
        assert row["fires_when"], row["slug"]
        assert ", ".join(row["reads"]) in shown
    # rules.md's sections head the tables; `code` in its text is shown as code, escaped.
    assert "<h2>Guideline 1 — namespaces are the trust boundaries</h2>" in page
    assert "<code>securityContext.privileged: true</code>" in _rule_row(page, "privileged-container")


def test_titles_are_each_rules_first_sentence_without_its_slug():
    for row in catalog():
        assert row["title"] and not row["title"].startswith("`"), row
        assert row["title"][0].isupper() and row["title"].endswith("."), row


def test_open_findings_count_what_the_linked_list_shows(client, clusters, admin, alice):
    for user in (admin, alice):
        page = _page(client, user)
        for rule in ALL_RULES:
            shown = _open_count(_rule_row(page, rule.slug))
            assert shown == len(_listed(client, user, f"?rule={rule.slug}")), (user, rule.slug)
    # Alice sees prod's alpha findings only: fewer than the admin, never beta's alone.
    admin_total = by_status(Finding.objects.all(), "open").count()
    alice_page = _page(client, alice)
    alice_total = sum(_open_count(_rule_row(alice_page, r.slug)) for r in ALL_RULES)
    assert 0 < alice_total < admin_total


def test_a_clusters_severity_and_off_switch_show_to_its_readers(client, clusters, admin, alice):
    prod = Cluster.objects.get(name="prod")
    RuleSetting.objects.create(cluster=prod, rule="host-network", severity="critical")
    RuleSetting.objects.create(cluster=prod, rule="showmount-enabled", enabled=False)
    RuleSetting.objects.create(
        cluster=Cluster.objects.get(name="shared"), rule="host-path-volume", enabled=False
    )
    page = _page(client, admin)
    row = _rule_row(page, "host-network")
    assert (
        "prod:" in row
        and '<span class="sev sev-critical">critical</span>' in row
        and "set by an admin" in row
    )
    assert "shared:" in row and '<span class="sev sev-medium">medium</span>' in row
    assert re.search(
        r"prod:\s*<span class=\"status status-failed\">off</span>", _rule_row(page, "showmount-enabled")
    )
    assert "on, high" in _rule_row(page, "privileged-container")
    # Alice sees prod's settings (they judge her findings), nothing of a cluster she does not see.
    page = _page(client, alice)
    assert '<span class="sev sev-critical">critical</span>' in _rule_row(page, "host-network")
    assert "shared:" not in page
    default = RULES["host-path-volume"].severity
    assert f"on, {default}" in _rule_row(page, "host-path-volume"), "shared's setting is not prod's"


def test_the_catalog_costs_the_same_queries_for_few_or_many_findings(client, clusters, alice):
    client.force_login(alice)
    client.get("/rules/")  # warm: the scope's per-snapshot values are kept (tenancy/snapshot_cache.py)
    with CaptureQueriesContext(connection) as few:
        assert client.get("/rules/").status_code == 200
    made_findings("prod", "alpha-web", 300, prefix="many")
    with CaptureQueriesContext(connection) as many:
        page = client.get("/rules/").content.decode()
    assert len(many) == len(few)
    assert _open_count(_rule_row(page, "privileged-container")) >= 300


def test_rules_need_login(client):
    response = client.get("/rules/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


# --- settings ---------------------------------------------------------------------------------------


def test_admins_read_each_clusters_trust_inputs_and_where_they_are_set(client, clusters, admin):
    prod = Cluster.objects.get(name="prod")
    prod.platform_service_accounts = ["monitoring/node-exporter"]
    prod.storage_network_firewalled = True
    prod.firewall_attestation = f"network team, 2026-05-30 {HOSTILE}"
    prod.save()
    RuleSetting.objects.create(cluster=prod, rule="host-network", severity="critical")
    page = _page(client, admin, "/settings/")
    section = page.split('id="cluster-prod"', 1)[1].split("</section>", 1)[0]
    assert "<code>team</code>" in section  # the tenant label the cases configure
    assert "<code>owner.example.com/email</code>" in section
    assert "kube-system, trident (kube-system and Trident&#x27;s) (default)" in section
    assert "<code>monitoring/node-exporter</code>" in section
    assert "<code>yes</code>" in section and "network team, 2026-05-30" in section
    assert HOSTILE not in page and "&lt;script&gt;" in page
    assert f'href="/admin/inventory/cluster/{prod.pk}/change/"' in section
    assert '<a href="/rules/#rule-host-network"><code>host-network</code></a>' in section
    assert '<span class="sev sev-critical">critical</span>' in section
    shared = page.split('id="cluster-shared"', 1)[1].split("</section>", 1)[0]
    assert "Every rule on, at its default severity." in shared
    # The environment's settings, and whether the environment or the default set them.
    env = page.split("From the environment", 1)[1]
    assert "<code>ARRAY_CREDENTIALS_DIR</code>" in env and "the environment (ARRAY_CREDENTIALS_DIR)" in env
    assert "<code>DUMP_MAX_FILE_BYTES</code>" in env and "the default (set DUMP_MAX_FILE_BYTES" in env


def test_settings_are_for_admins_only(client, clusters, alice):
    assert client.get("/settings/").status_code == 302  # to the login
    client.force_login(alice)
    assert client.get("/settings/").status_code == 404
    assert 'href="/settings/"' not in client.get("/").content.decode()
    client.force_login(dashboard_admin())
    assert 'href="/settings/"' in client.get("/").content.decode()


def _call(*args) -> str:
    import io

    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def _as_shown(text: str) -> str:
    """Escaped, `code` as code."""
    from django.utils.html import escape

    return re.sub(r"`([^`]+)`", r"<code>\1</code>", escape(text))
