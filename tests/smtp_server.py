"""A real SMTP server on loopback (aiosmtpd) for the digest's tests: STARTTLS required, with a
certificate generated for the test, and AUTH required (over TLS only).

It keeps every message it accepted, parsed (`messages`), and the protocol it saw; it can be stopped
and started again on the same port (the server down, then back), and told to hold a conversation
at a step (`hold_at("RCPT")`: before the message is accepted; `hold_at("DATA")`: after the whole
message arrived and was recorded, before the 250 reply), so a test can kill the sender there.
"""

import threading
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from simulator.tls import TlsMaterial
from tests.listeners import free_port

USER, PASSWORD = "digest-sender", "smtp-pass-not-a-secret"


class _Handler:
    def __init__(self, server: "SmtpServer"):
        self.server = server

    async def handle_RCPT(self, smtp, session, envelope, address, rcpt_options):
        await self.server._maybe_hold("RCPT")
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, smtp, session, envelope):
        message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        with self.server._lock:
            self.server.messages.append(message)
            login = getattr(session.auth_data, "login", None)
            self.server.sessions.append({"tls": session.ssl is not None, "login": login})
        await self.server._maybe_hold("DATA")
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(self, workdir: Path, *, tls: bool = True, auth: bool = True):
        self.tls = TlsMaterial.generate(workdir / "smtp-tls")
        self.port = free_port()
        self.messages: list[EmailMessage] = []
        self.sessions: list[dict] = []
        self._lock = threading.Lock()
        self._use_tls, self._use_auth = tls, auth
        self._controller: Controller | None = None
        self._held_at: str | None = None
        self._release = threading.Event()
        self.holding = threading.Event()  # set while a conversation waits at the hold

    # --- the settings a sender needs (Django's EMAIL_*), and the CA its TLS must trust --------------
    def email_settings(self) -> dict[str, object]:
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": self.port,
            "EMAIL_USE_TLS": self._use_tls,
            "EMAIL_USE_SSL": False,
            "EMAIL_HOST_USER": USER if self._use_auth else "",
            "EMAIL_HOST_PASSWORD": PASSWORD if self._use_auth else "",
        }

    def email_environment(self) -> dict[str, str]:
        """The same, as a worker process reads it from its environment."""
        values = self.email_settings()
        env = {key: str(value) for key, value in values.items()}
        env["EMAIL_USE_TLS"] = "true" if self._use_tls else "false"
        env["EMAIL_USE_SSL"] = "false"
        env["SSL_CERT_FILE"] = str(self.tls.ca_bundle)  # OpenSSL's default trust: the test's CA
        return env

    # --- life ---------------------------------------------------------------------------------------
    def start(self) -> "SmtpServer":
        kwargs = {}
        if self._use_tls:
            kwargs.update(tls_context=self.tls.server_context(), require_starttls=True)
        if self._use_auth:
            kwargs.update(authenticator=self._authenticate, auth_required=True, auth_require_tls=True)
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port, **kwargs)
        self._controller.start()
        return self

    def stop(self) -> None:
        self.release()
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @staticmethod
    def _authenticate(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            USER.encode(),
            PASSWORD.encode(),
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data)  # not handled: aiosmtpd says 535

    # --- holding a conversation at a step -----------------------------------------------------------
    def hold_at(self, step: str) -> None:
        self._held_at = step
        self._release.clear()
        self.holding.clear()

    def release(self) -> None:
        self._held_at = None
        self._release.set()

    async def _maybe_hold(self, step: str) -> None:
        import asyncio

        if self._held_at != step:
            return
        self.holding.set()
        while not self._release.is_set():
            await asyncio.sleep(0.05)

    # --- what arrived -------------------------------------------------------------------------------
    def to(self, address: str) -> list[EmailMessage]:
        with self._lock:
            return [m for m in self.messages if address in str(m["To"])]

    def wait_for(self, count: int, timeout: float = 30.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{len(self.messages)} messages arrived, not {count}, within {timeout:g}s"
                )
            time.sleep(0.05)
        return list(self.messages)


def parts(message: EmailMessage) -> dict[str, str]:
    """content type -> decoded body of a digest's parts (text/plain, text/html)."""
    return {part.get_content_type(): part.get_content() for part in message.walk() if not part.is_multipart()}


def smtp_fixture(tmp_path, settings, monkeypatch, **options) -> SmtpServer:
    """Started, with Django's EMAIL_* settings and the CA trust pointed at it (stopped by the caller)."""
    server = SmtpServer(tmp_path, **options).start()
    for key, value in server.email_settings().items():
        setattr(settings, key, value)
    monkeypatch.setenv("SSL_CERT_FILE", str(server.tls.ca_bundle))
    return server
