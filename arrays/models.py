"""The arrays an admin configured."""

from django.db import models

from inventory.constants import ONTAP, SOLIDFIRE
from inventory.models import Cluster
from tenancy.restrict import RestrictedQuerySet


class Array(models.Model):
    """A storage array an admin configured: the only array endpoints the product ever contacts.

    Arrays are global: several Trident backends, of several clusters, may use one.  A backend is
    linked to an array when the management LIF / SVIP Trident records for it is one of the
    array's `trident_addresses`, or when the backend's name or UUID is in `trident_backends`.
    Credentials are a reference (`env:PREFIX` reads PREFIX_USERNAME and PREFIX_PASSWORD; `file:DIR`
    reads DIR/username and DIR/password, as a mounted Kubernetes Secret), never stored here.
    """

    class Kind(models.TextChoices):
        ONTAP = ONTAP, "NetApp ONTAP"
        SOLIDFIRE = SOLIDFIRE, "NetApp SolidFire / Element"

    name = models.SlugField(max_length=63, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    host = models.CharField(
        max_length=253, help_text="Management address to contact (configured, never discovered)."
    )
    port = models.PositiveIntegerField(null=True, blank=True)
    scheme = models.CharField(max_length=5, default="https", choices=[("https", "https"), ("http", "http")])
    ca_bundle = models.CharField(max_length=1024, blank=True, help_text="PEM file; empty: the system's CAs.")
    verify_tls = models.BooleanField(default=True)
    credentials = models.CharField(max_length=1024, help_text="env:PREFIX or file:/path/to/secret/dir")
    trident_addresses = models.JSONField(default=list, blank=True)
    trident_backends = models.JSONField(default=list, blank=True)
    clusters = models.ManyToManyField(
        Cluster, blank=True, related_name="arrays", help_text="Also read for these clusters (static NFS PVs)."
    )
    enabled = models.BooleanField(default=True)
    demo = models.BooleanField(default=False, editable=False, help_text="Served by the built-in demo.")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name
