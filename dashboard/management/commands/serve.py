"""`manage.py serve`: what `make run` starts.

Serves the dashboard on 127.0.0.1:PORT.  With the embedded defaults (no broker) it also runs the
in-process scheduler, and while no real cluster is registered it starts the built-in demo
cluster (the simulator, served over HTTP on loopback) with a month of backfilled history.
Ctrl-C stops everything it started.
"""

import os

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from inventory import demo as demo_module
from inventory.scheduler import EmbeddedScheduler


class Command(BaseCommand):
    help = "Serve the dashboard (with the embedded scheduler and demo cluster when applicable)."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--no-demo", action="store_true", help="do not start the demo cluster")

    def handle(self, *args, port, no_demo, **options):
        demo = None
        if settings.DEMO_ENABLED and not no_demo and not demo_module.real_cluster_registered():
            demo = demo_module.Demo(settings.DATA_DIR).start()
            self.stdout.write(
                f"demo cluster: simulated Kubernetes API on {demo.server.url}, "
                f"backfilling {len(demo.backfill_times())} snapshots over {demo_module.BACKFILL_DAYS} days"
            )
        elif demo_module.real_cluster_registered() and demo_module.retire():
            self.stdout.write("a real cluster is registered: the demo cluster and its arrays were removed")
        scheduler = None
        if settings.CELERY_TASK_ALWAYS_EAGER:
            scheduler = EmbeddedScheduler().start()
            self.stdout.write("embedded scheduler: snapshots run in-process (no broker configured)")
        self.stdout.write(f"dashboard: http://127.0.0.1:{port}/")
        try:
            call_command("runserver", f"127.0.0.1:{port}", use_reloader=False, insecure_serving=True)
        finally:
            if scheduler:
                scheduler.stop()
            if demo:
                demo.stop()
