"""The digest's own links: unsubscribing (signed, so it works without an account) and preferences."""

from django.conf import settings
from django.core import signing
from django.urls import reverse

from tenancy.ownership import normalise_address

_SALT = "digest.unsubscribe"  # a token for this purpose only: no other signed value passes for one


def unsubscribe_token(address: str) -> str:
    # No expiry: a digest found in an archive a year later must still unsubscribe.
    return signing.dumps(normalise_address(address), salt=_SALT)


def address_of(token: str) -> str | None:
    """The address a token was made for, or None if it was not made here (or was altered)."""
    try:
        address = signing.loads(token, salt=_SALT)
    except signing.BadSignature:
        return None
    return address if isinstance(address, str) else None


def unsubscribe_url(address: str) -> str:
    return settings.SITE_URL + reverse("digest-unsubscribe", args=[unsubscribe_token(address)])


def preferences_url() -> str:
    return settings.SITE_URL + reverse("digest-preferences")
