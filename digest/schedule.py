"""When each recipient gets its digest: its preferences (or the site's defaults) and the week due now."""

import zoneinfo
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.conf import settings

from digest.models import Subscription
from digest.period import Period


@dataclass(frozen=True)
class Preferences:
    weekday: int  # 0 = Monday
    hour: int
    time_zone: str
    silence_when_nothing_new: bool = False
    unsubscribed: bool = False

    @classmethod
    def default(cls) -> "Preferences":
        return cls(settings.DIGEST_WEEKDAY, settings.DIGEST_HOUR, settings.DIGEST_TIME_ZONE)

    @classmethod
    def of(cls, subscription: Subscription | None) -> "Preferences":
        default = cls.default()
        if subscription is None:
            return default
        return cls(
            weekday=default.weekday if subscription.weekday is None else subscription.weekday,
            hour=default.hour if subscription.hour is None else subscription.hour,
            time_zone=subscription.time_zone or default.time_zone,
            silence_when_nothing_new=subscription.silence_when_nothing_new,
            unsubscribed=subscription.unsubscribed_at is not None,
        )

    def describe(self) -> str:
        return f"{_DAY_NAMES[self.weekday]} {self.hour:02d}:00 {self.time_zone}"


_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def preferences_of(addresses) -> dict[str, Preferences]:
    """address -> its preferences, for many addresses in one query."""
    rows = {s.address: s for s in Subscription.objects.filter(address__in=list(addresses))}
    return {address: Preferences.of(rows.get(address)) for address in addresses}


def last_moment(preferences: Preferences, now: datetime) -> datetime:
    """The latest send moment at or before `now`: the chosen weekday and hour, on the wall clock of
    the chosen zone (08:00 stays 08:00 across a daylight-saving change)."""
    zone = zoneinfo.ZoneInfo(preferences.time_zone)
    today = now.astimezone(zone).date()
    day = today - timedelta(days=(today.weekday() - preferences.weekday) % 7)
    moment = datetime.combine(day, time(preferences.hour), tzinfo=zone)
    if moment > now:
        moment = datetime.combine(day - timedelta(days=7), time(preferences.hour), tzinfo=zone)
    return moment


def next_moment(preferences: Preferences, now: datetime) -> datetime:
    zone = zoneinfo.ZoneInfo(preferences.time_zone)
    last = last_moment(preferences, now)
    return datetime.combine(last.date() + timedelta(days=7), time(preferences.hour), tzinfo=zone)


def due_period(preferences: Preferences, now: datetime) -> Period | None:
    """The week whose digest is due now, if any: the one ending at the last send moment, unless
    that moment is older than DIGEST_CATCH_UP_HOURS (then the next moment is awaited)."""
    if preferences.unsubscribed:
        return None
    moment = last_moment(preferences, now)
    if now - moment > timedelta(hours=settings.DIGEST_CATCH_UP_HOURS):
        return None
    return Period.week_ending(moment)
