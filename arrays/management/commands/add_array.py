"""`manage.py add_array NAME --kind ontap|solidfire --host HOST --credentials env:PREFIX|file:DIR [options]`.

Registers a storage array (or updates it).  The product contacts an array only at the host
given here, never at a management LIF it read from Trident.  Credentials are a reference,
resolved at each read: the secret itself is never stored or shown.
"""

from django.core.management.base import BaseCommand, CommandError

from arrays.credentials import CredentialsError, validate_reference
from arrays.models import Array
from inventory.management.options import csv_list
from inventory.models import Cluster


class Command(BaseCommand):
    help = "Register (or update) an ONTAP or SolidFire array to read access control from."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--kind", choices=[k.value for k in Array.Kind])
        parser.add_argument("--host", help="management address to contact")
        parser.add_argument("--port", type=int)
        parser.add_argument("--scheme", choices=["https", "http"], help="ONTAP only; default https")
        parser.add_argument("--ca-bundle", metavar="PEM", help="CA bundle to verify the array's certificate")
        parser.add_argument("--insecure", action="store_true", help="do not verify TLS (not recommended)")
        parser.add_argument(
            "--credentials",
            metavar="REF",
            help="env:PREFIX (PREFIX_USERNAME/_PASSWORD; PREFIX allowed by ARRAY_CREDENTIAL_ENV_PREFIXES) "
            "or file:DIR (inside ARRAY_CREDENTIALS_DIR)",
        )
        parser.add_argument(
            "--trident-addresses",
            metavar="A1,A2",
            help="management LIFs / SVIPs Trident backends name for it",
        )
        parser.add_argument(
            "--trident-backends", metavar="B1,B2", help="Trident backend names or UUIDs using it"
        )
        parser.add_argument(
            "--clusters", metavar="C1,C2", help="also read it for these clusters (static NFS PVs)"
        )

    def handle(self, name, **options):
        array = Array.objects.filter(name=name).first() or Array(name=name)
        created = array.pk is None
        for field in ("kind", "host", "port", "scheme", "ca_bundle", "credentials"):
            if options[field] is not None:
                setattr(array, field, options[field])
        if created and not (array.kind and array.host and array.credentials):
            raise CommandError("a new array needs --kind, --host and --credentials")
        if options["insecure"]:
            array.verify_tls = False
        if array.kind == Array.Kind.SOLIDFIRE and array.scheme != "https":
            raise CommandError("SolidFire's API is HTTPS only")
        try:
            validate_reference(array.credentials)
        except CredentialsError as error:
            raise CommandError(str(error)) from None
        for field in ("trident_addresses", "trident_backends"):
            if options[field] is not None:
                setattr(array, field, csv_list(options[field]))
        array.full_clean()
        array.save()
        if options["clusters"] is not None:
            names = csv_list(options["clusters"])
            clusters = list(Cluster.objects.filter(name__in=names))
            if missing := set(names) - {c.name for c in clusters}:
                raise CommandError(f"no cluster named {', '.join(sorted(missing))}")
            array.clusters.set(clusters)
        verified = "without TLS verification" if not array.verify_tls else "TLS verified"
        self.stdout.write(
            f"{'registered' if created else 'updated'} array {array.name} ({array.kind}, {verified})"
        )
