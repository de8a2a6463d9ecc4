"""A namespace's lives chart reads only the columns it draws (not every finding's paths whole), and
titles and states each life as the redacted finding summary does, for a tenant of the canary world
(whose findings share volumes and exports with the other tenant's) and for an admin."""

import pytest

from dashboard.queries import redacted_findings
from dashboard.timelines import namespace_lives
from exposure.models import Finding
from inventory.models import Cluster
from tenancy.access import scope_of
from tests.factories import dashboard_admin
from tests.test_canary import world  # noqa: F401 (the canary world, a fixture)

pytestmark = pytest.mark.django_db


def test_each_life_is_titled_as_the_redacted_summary(world):  # noqa: F811
    redacted_titles, tenant_a = 0, scope_of(world)
    for scope in (tenant_a, scope_of(dashboard_admin())):
        for cluster in Cluster.objects.all():
            for namespace in sorted(tenant_a.visible_in(cluster.pk)):
                lives, _ = namespace_lives(cluster, namespace, scope)
                findings = Finding.objects.filter(pk__in=[life.id for life in lives]).select_related(
                    "cluster"
                )
                shown = {row["id"]: row for row in redacted_findings(findings, scope)}
                assert [(life.status, life.title) for life in lives] == [
                    (shown[life.id]["status"], shown[life.id]["title"]) for life in lives
                ]
                redacted_titles += sum(1 for life in lives if shown[life.id].get("redacted"))
    assert redacted_titles, "the canary world redacts some of tenant A's findings"
