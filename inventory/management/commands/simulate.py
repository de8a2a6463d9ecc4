"""`manage.py simulate --port P [--scale demo|small|bench|N] [--seed S] [--kubeconfig-out PATH]`.

Serves the simulated cluster over the Kubernetes wire format on 127.0.0.1 until Ctrl-C, and
writes a kubeconfig for it that `add_cluster` (or kubectl) can use.
"""

import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


def _scale(value: str) -> str | int:
    if value in ("demo", "small", "bench"):
        return value
    if value.isdigit() and int(value) > 0:
        return int(value)
    raise ValueError(value)


class Command(BaseCommand):
    help = "Serve the simulated multi-tenant Trident cluster as a Kubernetes API on 127.0.0.1."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, required=True, help="0 picks a free port")
        parser.add_argument(
            "--scale",
            type=_scale,
            default="demo",
            help="demo (default), small, bench, or a number of namespaces",
        )
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--kubeconfig-out", metavar="PATH", help="default: simulated-PORT.kubeconfig")

    def handle(self, port, scale, seed, kubeconfig_out=None, **options):
        from simulator.serving import SimulatedEstate  # building is the slow part: import on use
        from simulator.world import Simulation

        started = time.monotonic()
        simulation = Simulation(seed=seed, scale=scale)
        try:
            estate = SimulatedEstate(
                simulation,
                Path(settings.DATA_DIR) / f"simulated-{port or 'any'}",
                port=port,
                kubeconfig=Path(kubeconfig_out).resolve() if kubeconfig_out else None,
                # where `add_array --credentials file:…` may point (ARRAY_CREDENTIALS_DIR)
                credentials_dir=Path(settings.ARRAY_CREDENTIALS_DIR) / f"simulated-{port or 'any'}",
            )
        except OSError as error:
            raise CommandError(f"cannot listen on 127.0.0.1:{port}: {error}") from None
        estate.start()
        self.stdout.write(
            f"Simulated cluster (scale {scale}, seed {seed}) built in {time.monotonic() - started:.1f}s, "
            f"serving the Kubernetes API at {estate.kubernetes.url}"
        )
        self.stdout.write(f"Kubeconfig: {estate.kubeconfig}")
        for array in estate.arrays:
            self.stdout.write(f"Array {array.name} ({array.kind}) at {array.server.url}")
        self.stdout.write("Register it with:")
        self.stdout.write(f"  python manage.py add_cluster simulated --kubeconfig {estate.kubeconfig}")
        for array in estate.arrays:
            self.stdout.write(f"  {array.add_array_command()}")
        self.stdout.write("Ctrl-C stops it.")
        try:
            while True:
                # Short sleeps: a Ctrl-C the kernel hands to a server thread interrupts no sleep of this
                # one, and Python runs the handler only when this thread next wakes.
                time.sleep(1)
        except KeyboardInterrupt:
            self.stdout.write("Stopping.")
        finally:
            estate.stop()
