"""When a digest is due: the recipient's weekday, hour and zone (default Monday 08:00 in the
configured zone), on the wall clock across daylight-saving changes, and not days late."""

from datetime import UTC, datetime

import pytest

from digest.models import Subscription
from digest.schedule import Preferences, due_period, last_moment, next_moment, preferences_of


def test_the_default_is_monday_eight_in_the_configured_zone(settings):
    settings.DIGEST_TIME_ZONE = "Europe/Berlin"
    default = Preferences.default()
    assert (default.weekday, default.hour, default.time_zone) == (0, 8, "Europe/Berlin")
    # Wednesday 2 December 2026: the last Monday 08:00 in Berlin (CET, UTC+1) is 30 November, 07:00 UTC.
    moment = last_moment(default, datetime(2026, 12, 2, 12, 0, tzinfo=UTC))
    assert moment.astimezone(UTC) == datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
    # Monday 07:59 UTC is 08:59 in Berlin: this Monday's moment has passed.
    assert last_moment(default, datetime(2026, 12, 7, 7, 59, tzinfo=UTC)).day == 7
    assert last_moment(default, datetime(2026, 12, 7, 6, 59, tzinfo=UTC)).day == 30


def test_the_hour_is_the_wall_clocks_across_daylight_saving():
    chosen = Preferences(weekday=0, hour=8, time_zone="Europe/Berlin")
    # Summer time ended on Sunday 25 October 2026: 08:00 is 06:00 UTC before, 07:00 UTC after.
    assert last_moment(chosen, datetime(2026, 10, 20, tzinfo=UTC)).astimezone(UTC).hour == 6
    assert last_moment(chosen, datetime(2026, 10, 27, tzinfo=UTC)).astimezone(UTC).hour == 7
    after = next_moment(chosen, datetime(2026, 10, 20, tzinfo=UTC))
    assert after.astimezone(UTC) == datetime(2026, 10, 26, 7, 0, tzinfo=UTC)


def test_a_week_is_due_from_its_moment_until_the_catch_up_ends(settings):
    settings.DIGEST_CATCH_UP_HOURS = 24
    chosen = Preferences(weekday=3, hour=17, time_zone="UTC")
    due = due_period(chosen, datetime(2026, 12, 3, 17, 0, tzinfo=UTC))
    assert due is not None and due.key == "2026-W49"
    assert due.end == datetime(2026, 12, 3, 17, 0, tzinfo=UTC) and (due.end - due.start).days == 7
    assert due_period(chosen, datetime(2026, 12, 4, 16, 59, tzinfo=UTC)).key == "2026-W49"
    assert due_period(chosen, datetime(2026, 12, 4, 17, 1, tzinfo=UTC)) is None, (
        "a day late: wait for next week"
    )
    unsubscribed = Preferences(weekday=3, hour=17, time_zone="UTC", unsubscribed=True)
    assert due_period(unsubscribed, datetime(2026, 12, 3, 17, 0, tzinfo=UTC)) is None


@pytest.mark.django_db
def test_preferences_fall_back_to_the_defaults_field_by_field(settings):
    settings.DIGEST_TIME_ZONE = "America/New_York"
    Subscription.objects.create(address="a@example.com", hour=6, silence_when_nothing_new=True)
    found = preferences_of(["a@example.com", "b@example.com"])
    assert found["a@example.com"] == Preferences(0, 6, "America/New_York", silence_when_nothing_new=True)
    assert found["b@example.com"] == Preferences(0, 8, "America/New_York")


@pytest.mark.django_db
def test_an_address_typed_in_the_admin_is_stored_as_recipients_spell_it():
    Subscription.objects.create(address="Bob@Example.COM", unsubscribed_at=datetime(2026, 12, 1, tzinfo=UTC))
    assert preferences_of(["Bob@example.com"])["Bob@example.com"].unsubscribed
