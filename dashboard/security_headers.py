"""Response headers Django 5.2 does not set by itself: the Content-Security-Policy on every
response, and `Cache-Control: private, no-store` on what a logged-in reader is shown.

(HSTS, nosniff, Referrer-Policy and the opener policy come from SecurityMiddleware; X-Frame-Options
from XFrameOptionsMiddleware; both configured in settings.)"""

from django.conf import settings


def content_security_policy() -> str:
    """The policy as one header value, from `settings.CONTENT_SECURITY_POLICY` (directive → sources)."""
    return "; ".join(
        " ".join([directive, *sources]) for directive, sources in settings.CONTENT_SECURITY_POLICY.items()
    )


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.policy = content_security_policy()

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", self.policy)
        # `request.user` exists once AuthenticationMiddleware ran (not for static files served above it).
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            # A logged-in page holds what this reader may see: no shared cache, no copy on disk
            # (the back button after logging out, a proxy, a shared browser profile).
            response["Cache-Control"] = "private, no-store"
        return response
