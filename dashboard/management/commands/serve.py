"""`manage.py serve`: what `make run` starts.

Serves the dashboard on 127.0.0.1:PORT with gunicorn (a production server, not Django's development
server), static files through WhiteNoise.  With the embedded defaults (no broker) it also runs the
in-process scheduler, and while no real cluster is registered it starts the built-in demo cluster
(the simulator, served over HTTP on loopback) with a month of backfilled history.  Ctrl-C stops
everything it started.  With --ensure-admin (as `make run` starts it) it creates the first admin
account, and says how to sign in once the server is up and again, last, when the demo history is
complete: the one-time password is not buried under the log of the backfill.

Exactly one process runs the demo and the scheduler: gunicorn's single worker (threads serve the
requests), which starts them once it is up.  In that process the backfill's progress (the banner)
and the in-memory cache (login throttling) are the pages' own; gunicorn's master forks the worker
before any thread of ours exists.
"""

import os
import socket
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections, connections
from gunicorn.app.base import BaseApplication

from dashboard.admin_account import AdminAccount, ensure_admin_account
from inventory import demo as demo_module
from inventory.scheduler import EmbeddedScheduler

# Requests are served by threads of the one worker; a slow page (SQLite waiting for the scheduler's
# write) never gets the worker killed: gthread's heartbeat does not wait on requests.
THREADS = 8


class EmbeddedServices:
    """The demo cluster and the embedded scheduler, started in the serving process."""

    def __init__(self, stdout, *, demo: bool, url: str = "", account: AdminAccount | None = None):
        self.stdout = stdout
        self.want_demo = demo
        self.url = url
        self.account = account
        self.demo = None
        self.scheduler = None

    def start(self) -> None:
        try:
            if self.want_demo and settings.DEMO_ENABLED and not demo_module.real_cluster_registered():
                self.demo = demo_module.Demo(settings.DATA_DIR).start()
                self.stdout.write(
                    f"demo cluster: simulated Kubernetes API on {self.demo.server.url}, backfilling "
                    f"{len(self.demo.backfill_times())} snapshots over {demo_module.BACKFILL_DAYS} days"
                )
            elif demo_module.real_cluster_registered() and demo_module.retire():
                self.stdout.write(
                    "a real cluster is registered: the demo cluster and its arrays were removed"
                )
            if settings.CELERY_TASK_ALWAYS_EAGER:
                self.scheduler = EmbeddedScheduler().start()
                self.stdout.write("embedded scheduler: snapshots run in-process (no broker configured)")
        finally:
            close_old_connections()
        self.say_how_to_sign_in()
        if self.demo:
            threading.Thread(target=self._after_the_backfill, name="demo-sign-in", daemon=True).start()

    def say_how_to_sign_in(self) -> None:
        if self.account is not None:
            for line in self.account.sign_in(self.url):
                self.stdout.write(line)
            self.stdout.flush()

    def _after_the_backfill(self) -> None:
        # The demo logs "demo history complete" (inventory/demo.py); the sign-in follows it, last.
        progress = demo_module.progress
        progress.finished.wait()
        if progress.total and progress.done == progress.total:  # not when stopped halfway (Ctrl-C)
            self.say_how_to_sign_in()

    def stop(self) -> None:
        if self.scheduler:
            self.scheduler.stop()
        if self.demo:
            self.demo.stop()


class DashboardServer(BaseApplication):
    """gunicorn, configured here rather than from its command line or a config file."""

    def __init__(self, port: int, services: EmbeddedServices):
        self.port = port
        self.services = services
        super().__init__()

    def load_config(self):
        services = self.services

        def post_worker_init(worker):
            # In a thread: the demo's first steps (removing the previous demo's history) take a
            # while, and the worker answers meanwhile (the banner says the history is filling).
            threading.Thread(target=services.start, name="embedded-services", daemon=True).start()

        def worker_exit(server, worker):
            services.stop()

        for name, value in {
            "bind": [f"127.0.0.1:{self.port}"],
            "workers": 1,
            "worker_class": "gthread",
            "threads": THREADS,
            "timeout": 120,
            "graceful_timeout": 10,
            "control_socket_disable": True,
            "post_worker_init": post_worker_init,
            "worker_exit": worker_exit,
        }.items():
            self.cfg.set(name, value)

    def load(self):
        from django.core.wsgi import get_wsgi_application

        from dashboard.server_heap import settle_heap

        application = get_wsgi_application()
        settle_heap()  # in the worker, which loads the application after gunicorn's fork
        return application


class Command(BaseCommand):
    help = "Serve the dashboard with gunicorn (with the embedded scheduler and demo cluster when applicable)."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--no-demo", action="store_true", help="do not start the demo cluster")
        parser.add_argument(
            "--ensure-admin",
            action="store_true",
            help="create the first admin account if there is none, and say how to sign in",
        )

    def handle(self, *args, port, no_demo, ensure_admin, **options):
        url = f"http://127.0.0.1:{port}/"
        # Before the account is made: a generated password is printed only once the server is up, so
        # a server that cannot bind would lose it, and the next run finds the account made.
        if not _port_free(port):
            raise CommandError(
                f"127.0.0.1:{port} is in use (another dashboard?): stop it, or serve on another port "
                f"(make run PORT={port + 1})"
            )
        account = ensure_admin_account() if ensure_admin else None
        services = EmbeddedServices(self.stdout, demo=not no_demo, url=url, account=account)
        self.stdout.write(f"dashboard: {url}")
        # Nothing open to inherit across gunicorn's fork: the worker opens its own connections.
        connections.close_all()
        DashboardServer(port, services).run()


def _port_free(port: int) -> bool:
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds: TIME_WAIT is free
    try:
        probe.bind(("127.0.0.1", port))
    except OSError:
        return False
    finally:
        probe.close()
    return True
