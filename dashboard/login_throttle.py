"""Login throttling: failed sign-ins counted per username and per client address in the cache
(Redis in production, shared by every web process; in-process memory in the embedded mode, which
serves from one process).

It sits in `authenticate()` itself (the first authentication backend), so every way of signing in
with a password is throttled (the REST API takes none: tokens or the session).  While a username or
an address is over its limit, no password is even checked: a right guess then is refused too, and
the answer does not tell whether it was right.  The window is fixed from the first failure."""

import hashlib

from django.conf import settings
from django.contrib.auth import signals
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.dispatch import receiver

THROTTLED_MESSAGE = (
    "Too many failed sign-ins for this username or from this address. "
    "Wait %(minutes)d minutes, then try again."
)


def client_address(request) -> str:
    """The client's address: REMOTE_ADDR, or the address the first of TRUSTED_PROXY_COUNT reverse
    proxies saw (counted from the right of X-Forwarded-For, which a client can prepend to)."""
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies:
        forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "")


def _keys(request, username: str) -> list[tuple[str, int]]:
    name = hashlib.sha256(username.strip().casefold().encode()).hexdigest()
    keys = [(f"login-failures:user:{name}", settings.LOGIN_THROTTLE_USER_FAILURES)]
    if request is not None:
        address = client_address(request)
        keys.append((f"login-failures:addr:{address}", settings.LOGIN_THROTTLE_ADDRESS_FAILURES))
    return keys


def is_throttled(request, username: str) -> bool:
    counts = cache.get_many([key for key, _ in _keys(request, username)])
    return any(counts.get(key, 0) >= limit for key, limit in _keys(request, username))


def record_failure(request, username: str) -> None:
    for key, _ in _keys(request, username):
        cache.add(key, 0, settings.LOGIN_THROTTLE_WINDOW_SECONDS)
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr: this failure starts a new window
            cache.add(key, 1, settings.LOGIN_THROTTLE_WINDOW_SECONDS)


class ThrottleBackend:
    """First in AUTHENTICATION_BACKENDS: refuses, before any password is checked, while throttled."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is not None and is_throttled(request, username):
            if request is not None:
                request.login_throttled = True
            raise PermissionDenied("login throttled")  # stops authenticate(): no backend checks it
        return None

    # No get_user(): it authenticates no one, so no session names it as its user's backend (and
    # the test client's force_login, which takes the first backend that has one, skips it).


@receiver(signals.user_login_failed, dispatch_uid="dashboard.login_throttle.failed")
def _count_failure(sender, credentials, request=None, **kwargs):
    if getattr(request, "login_throttled", False):
        return  # a refused attempt does not extend the window
    username = credentials.get("username")
    if username is not None:
        record_failure(request, username)


@receiver(signals.user_logged_in, dispatch_uid="dashboard.login_throttle.succeeded")
def _forget_failures(sender, request, user, **kwargs):
    # The username's own count only: an address's failures stand (one known account must not
    # reset the guessing of others from the same address).
    cache.delete(_keys(None, user.get_username())[0][0])


class ThrottledAuthenticationForm(AuthenticationForm):
    def clean(self):
        try:
            return super().clean()
        except ValidationError:
            if getattr(self.request, "login_throttled", False):
                raise ValidationError(
                    THROTTLED_MESSAGE,
                    code="throttled",
                    params={"minutes": max(1, settings.LOGIN_THROTTLE_WINDOW_SECONDS // 60)},
                ) from None
            raise


class ThrottledLoginView(LoginView):
    authentication_form = ThrottledAuthenticationForm

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if getattr(self.request, "login_throttled", False):
            response.status_code = 429
        return response
