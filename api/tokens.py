"""Making and recognising API keys.

A key is 32 random bytes (URL-safe text) after a recognisable prefix; the database keeps its
SHA-256 only.  The key has the entropy a password lacks, so a fast hash is enough: nobody can
guess keys from a leaked hash, and looking one up is a single indexed query.
"""

import hashlib
import secrets
from datetime import timedelta

from django.utils import timezone

from api.models import ApiToken

KEY_PREFIX = "sed_"  # "storage exposure dashboard": tells a leaked key for what it is (secret scanners)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def issue(user, name: str, expires_in_days: int | None = None) -> tuple[ApiToken, str]:
    """A new token for `user`, and its key (shown once, never stored)."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    expires_at = timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None
    token = ApiToken.objects.create(
        user=user, name=name, key_hash=hash_key(key), prefix=key[:12], expires_at=expires_at
    )
    return token, key


def token_for(key: str) -> ApiToken | None:
    """The usable token with this key (an active user's, not revoked, not expired), or None."""
    return ApiToken.objects.usable().select_related("user").filter(key_hash=hash_key(key)).first()


def revoke(tokens) -> int:
    return tokens.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
