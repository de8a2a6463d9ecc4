"""Rate limits per token (per user for a browser session), counted in the shared cache.

A fixed window: one counter per caller and window, created with `add` and raised with `incr`, both
atomic in Redis, so web processes share one count (DRF's own throttles read, append and write back
a list: two processes can both pass).  `API_THROTTLE_RATE` ("600/minute"; empty: no limit).
"""

import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

from api.models import ApiToken

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """ "600/minute" -> (600, 60): requests allowed per window of seconds."""
    count, _, period = rate.partition("/")
    return int(count), PERIODS[period.strip()[:1].lower()]


class TokenRateThrottle(BaseThrottle):
    def allow_request(self, request, view):
        rate = settings.API_THROTTLE_RATE
        if not rate:
            return True
        limit, window = parse_rate(rate)
        if isinstance(request.auth, ApiToken):
            caller = f"token:{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            caller = f"user:{request.user.pk}"
        else:
            caller = f"address:{self.get_ident(request)}"
        now = time.time()
        start = int(now // window) * window
        key = f"api-throttle:{caller}:{start}"
        cache.add(key, 0, timeout=window + 1)
        try:
            count = cache.incr(key)
        except ValueError:  # the window's counter expired between add and incr
            cache.add(key, 1, timeout=window + 1)
            count = 1
        self.retry_after = max(1, int(start + window - now + 0.999))
        return count <= limit

    def wait(self):
        return self.retry_after
