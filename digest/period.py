"""The week a digest covers."""

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Period:
    """[start, end): the seven days before a recipient's send moment, in aware datetimes; `key`
    names it for the delivery records (e.g. "2026-W49" in the recipient's time zone)."""

    start: datetime
    end: datetime
    key: str

    @classmethod
    def week_ending(cls, end: datetime, key: str | None = None) -> "Period":
        if end.tzinfo is None:
            raise ValueError("a digest period needs an aware datetime")
        year, week, _ = end.isocalendar()
        return cls(start=end - timedelta(days=7), end=end, key=key or f"{year}-W{week:02d}")

    def before(self) -> "Period":
        """The week before, to compare against."""
        return Period(start=self.start - (self.end - self.start), end=self.start, key=f"{self.key}-before")
