"""`manage.py add_cluster NAME (--kubeconfig PATH [--context CTX] | --in-cluster) [options]`.

Registers a cluster, or updates it when it exists.  Only the API endpoint named by the
kubeconfig (or the in-cluster service) is ever contacted.
"""

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from inventory.constants import DEFAULT_KUBELET_ROOT
from inventory.management.options import cluster_name, csv_list, validation_messages
from inventory.models import Cluster


class Command(BaseCommand):
    help = "Register (or update) a Kubernetes cluster to snapshot."

    def add_arguments(self, parser):
        parser.add_argument("name")
        how = parser.add_mutually_exclusive_group(required=True)
        how.add_argument("--kubeconfig", metavar="PATH")
        how.add_argument("--in-cluster", action="store_true", help="use the pod's service account")
        parser.add_argument("--context", metavar="CTX")
        parser.add_argument("--interval", type=int, metavar="MINUTES", help="default 15")
        parser.add_argument("--tenant-label", metavar="KEY", help="Namespace label naming the tenant")
        parser.add_argument(
            "--owner-keys", metavar="K1,K2", help="Namespace label/annotation keys naming owners"
        )
        parser.add_argument(
            "--platform-namespaces", metavar="NS1,NS2", help="default: kube-system and Trident's"
        )
        parser.add_argument("--kubelet-root", metavar="PATH", help=f"default {DEFAULT_KUBELET_ROOT}")

    def handle(self, name, kubeconfig=None, in_cluster=False, context=None, interval=None, **options):
        name = cluster_name(name)
        if kubeconfig and not Path(kubeconfig).is_file():
            raise CommandError(f"kubeconfig {kubeconfig!r} does not exist")
        if in_cluster and context:
            raise CommandError("--context only applies to --kubeconfig")
        if interval is not None and interval < 1:
            raise CommandError("--interval must be at least 1 minute")
        cluster = Cluster.objects.filter(name=name).first() or Cluster(name=name)
        created = cluster.pk is None
        cluster.source = Cluster.Source.IN_CLUSTER if in_cluster else Cluster.Source.KUBECONFIG
        cluster.kubeconfig_path = "" if in_cluster else str(Path(kubeconfig).resolve())
        cluster.context = context or ""
        if interval is not None:
            cluster.interval_minutes = interval
        if options["tenant_label"] is not None:
            cluster.tenant_label = options["tenant_label"]
        for field, option in (("owner_keys", "owner_keys"), ("platform_namespaces", "platform_namespaces")):
            if options[option] is not None:
                setattr(cluster, field, csv_list(options[option]))
        if options["kubelet_root"] is not None:
            cluster.kubelet_root = options["kubelet_root"]
        try:
            cluster.full_clean()
        except ValidationError as error:
            raise CommandError(f"cluster {name}: {validation_messages(error)}") from None
        cluster.save()
        self.stdout.write(
            f"{'registered' if created else 'updated'} cluster {cluster.name} ({cluster.source})"
        )
