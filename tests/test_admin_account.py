"""The first admin account, and the sign-in `make run` prints where it stands out: framed, once the
server is up and again, last, when the demo history is complete."""

import io
import socket
import threading

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError, OutputWrapper

from dashboard.admin_account import AdminAccount, ensure_admin_account
from dashboard.management.commands.serve import EmbeddedServices
from inventory import demo as demo_module

pytestmark = pytest.mark.django_db

URL = "http://127.0.0.1:8123/"


def test_the_account_is_made_once_with_a_generated_password(monkeypatch):
    monkeypatch.delenv("DJANGO_SUPERUSER_PASSWORD", raising=False)
    made = ensure_admin_account()
    assert made.created and made.username == "admin" and len(made.password) >= 16
    assert User.objects.get(username="admin").check_password(made.password)
    again = ensure_admin_account()
    assert not again.created and again.password == ""
    said = "\n".join(again.sign_in(URL))
    assert "an existing account: its password was not changed" in said
    assert "manage.py changepassword admin" in said


def test_a_password_from_the_environment_is_never_printed(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "pw-from-env-1")
    made = ensure_admin_account()
    assert made.created and made.password == ""
    lines = made.sign_in(URL)
    assert "pw-from-env-1" not in "\n".join(lines) and "DJANGO_SUPERUSER_PASSWORD" in lines[2]
    out = io.StringIO()
    User.objects.all().delete()
    call_command("ensure_admin", stdout=out)
    assert (
        "with the password from the environment" in out.getvalue() and "pw-from-env-1" not in out.getvalue()
    )


def test_the_sign_in_is_framed():
    lines = AdminAccount("admin", created=True, password="s3cret-once").sign_in(URL)
    assert lines[0] == lines[-1] == "=" * max(len(line) for line in lines)
    assert lines[1] == f"  Sign in at {URL}"
    assert "user admin, password s3cret-once" in lines[2]


def test_serve_says_how_to_sign_in_when_up_and_again_when_the_demo_history_is_complete(settings):
    settings.DEMO_ENABLED = False
    settings.CELERY_TASK_ALWAYS_EAGER = False  # no embedded scheduler thread in this test
    out = io.StringIO()
    account = AdminAccount("admin", created=True, password="s3cret-once")
    services = EmbeddedServices(OutputWrapper(out), demo=True, url=URL, account=account)
    services.start()
    assert out.getvalue().count("password s3cret-once") == 1, "once the server is up"
    progress = demo_module.progress
    try:
        progress.finished.clear()
        progress.total, progress.done = 3, 3
        waiting = threading.Thread(target=services._after_the_backfill)
        waiting.start()
        waiting.join(0.2)
        assert waiting.is_alive() and out.getvalue().count("s3cret-once") == 1, "not before it is complete"
        progress.finished.set()
        waiting.join(5)
        text = out.getvalue()
        assert text.count("password s3cret-once") == 2 and text.rstrip().endswith("=")
        # Stopped halfway (Ctrl-C during the backfill): no second sign-in.
        progress.finished.clear()
        progress.done = 1
        stopped = threading.Thread(target=services._after_the_backfill)
        stopped.start()
        progress.finished.set()
        stopped.join(5)
        assert out.getvalue().count("s3cret-once") == 2
    finally:
        progress.total = progress.done = 0
        progress.finished.set()
        services.stop()


def test_make_run_lets_serve_make_the_account():
    from pathlib import Path

    makefile = (Path(__file__).resolve().parents[1] / "Makefile").read_text()
    run = makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert "manage.py serve --ensure-admin" in run and "ensure_admin\n" not in run


def test_serve_on_a_port_in_use_stops_before_making_the_account():
    """Else the generated password, printed once the server is up, would be lost with it."""
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        with pytest.raises(CommandError, match=f"127.0.0.1:{port} is in use"):
            call_command("serve", "--port", str(port), "--ensure-admin", "--no-demo")
    finally:
        taken.close()
    assert not User.objects.exists()
