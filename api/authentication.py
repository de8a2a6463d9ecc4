"""`Authorization: Token <key>`: the token's user, as if signed in (scope_of(user) decides what it
sees).  A missing header is no authentication (the session may still be there); a wrong, expired or
revoked key is a 401, worded the same for each so the answer does not tell which."""

from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions

from api.models import ApiToken
from api.tokens import token_for

KEYWORD = "Token"
# Writing last_used_at on every request would make every read a write: once a minute is enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class TokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != KEYWORD.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header: use 'Token <key>'.")
        try:
            key = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.") from None
        token = token_for(key)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        now = timezone.now()
        if token.last_used_at is None or token.last_used_at < now - LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request):
        return KEYWORD  # makes DRF answer 401 (with WWW-Authenticate), not 403, when credentials lack
