"""Who may see what: grants to users and groups, and owners an admin declared by hand."""

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.db.models import Q

from inventory.models import Cluster
from tenancy.restrict import PerNamespaceQuerySet, RestrictedQuerySet


class Grant(models.Model):
    """Lets a non-admin user (directly or through a group) see namespaces of a cluster.

    A grant names either one namespace or a tenant (every namespace whose admin-declared tenant
    label has that value).  Admins (superusers and holders of `view_all_namespaces`) need none.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE)
    group = models.ForeignKey(Group, null=True, blank=True, on_delete=models.CASCADE)
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="grants")
    namespace = models.CharField(max_length=253, blank=True)
    tenant = models.CharField(max_length=253, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(Q(user__isnull=False) & Q(group__isnull=True))
                | (Q(user__isnull=True) & Q(group__isnull=False)),
                name="grant_has_exactly_one_grantee",
            ),
            models.CheckConstraint(
                condition=(~Q(namespace="") & Q(tenant="")) | (Q(namespace="") & ~Q(tenant="")),
                name="grant_names_namespace_or_tenant",
            ),
        ]
        permissions = [("view_all_namespaces", "Sees every cluster and namespace (a dashboard admin)")]

    def __str__(self):
        who = self.user or self.group
        what = f"namespace {self.namespace}" if self.namespace else f"tenant {self.tenant}"
        return f"{who} → {self.cluster.name}: {what}"


class NamespaceOwner(models.Model):
    """An owner an admin declared by hand: it wins over what the cluster's objects say."""

    class Kind(models.TextChoices):
        USER = "user"
        GROUP = "group"

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="manual_owners")
    namespace = models.CharField(max_length=253)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    name = models.CharField(max_length=253)

    objects = PerNamespaceQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["cluster", "namespace", "kind", "name"], name="one_manual_owner")
        ]

    def __str__(self):
        return f"{self.namespace}: {self.kind} {self.name}"
