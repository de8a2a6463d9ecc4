"""Restricting querysets: the one way a reader gets rows.

Every model a page, the API, an export or the digest reads has `.restrict(scope)`; a reader passes the
`Scope` of the person it serves (tenancy.access.scope_of).  Admins see every row; anyone else the
rows of the namespaces they may see, and nothing of what belongs to no namespace they see.

A leaf every app's models import (it imports only Django and tenancy/scope.py), so restricting
creates no cycle between the models and the access rules.
"""

from django.db import models
from django.db.models import Q

from tenancy.scope import Scope

NOTHING = Q(pk__in=[])


def per_cluster(scope: Scope, condition) -> Q:
    """OR over the reader's clusters of `condition(cluster_id, sorted namespace names)`."""
    q = NOTHING
    for cluster_id, names in sorted(scope.namespaces.items()):
        if names:
            q |= condition(cluster_id, sorted(names))
    return q


class RestrictedQuerySet(models.QuerySet):
    def restrict(self, scope: Scope):
        if not isinstance(scope, Scope):  # a user or None here would silently mean someone else's view
            raise TypeError(f"restrict() takes a Scope, not {type(scope).__name__}")
        return self.all() if scope.admin else self.filter(self.scope_condition(scope))

    def scope_condition(self, scope: Scope) -> Q:
        return NOTHING  # admin-only tables: grants, arrays


class ClusterQuerySet(RestrictedQuerySet):
    def scope_condition(self, scope):
        return Q(pk__in=sorted(scope.cluster_ids()))


class PerClusterQuerySet(RestrictedQuerySet):
    """Rows of a whole cluster (snapshots, rule settings): seen by anyone who sees one of its namespaces."""

    def scope_condition(self, scope):
        return Q(cluster_id__in=sorted(scope.cluster_ids()))


class PerNamespaceQuerySet(RestrictedQuerySet):
    """Rows that carry their cluster and namespace ("" = cluster-wide: admins only)."""

    def scope_condition(self, scope):
        return per_cluster(scope, lambda cluster_id, names: Q(cluster_id=cluster_id, namespace__in=names))
