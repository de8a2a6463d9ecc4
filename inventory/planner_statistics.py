"""PostgreSQL's planner statistics refreshed after a bulk load.

A first snapshot (or a large change) writes tens of thousands of rows at once; until autovacuum
next analyses the tables (minutes later, or never where it is off), the planner believes they are
nearly empty and picks sequential scans and nested loops that make the pages seconds slow.  A
snapshot that wrote at least ANALYZE_AFTER_ROWS rows therefore analyses the database itself: a
sample per table, a second or two at bench scale, once.
"""

import logging

from django.conf import settings
from django.db import connection

logger = logging.getLogger(__name__)


def refresh_after(rows_written: int) -> bool:
    """ANALYZE when `rows_written` reaches the threshold, on PostgreSQL; True when it ran."""
    threshold = settings.ANALYZE_AFTER_ROWS
    if connection.vendor != "postgresql" or not threshold or rows_written < threshold:
        return False
    try:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    except Exception as error:  # the statistics are an optimisation: never the snapshot's failure
        logger.warning("ANALYZE after %s rows failed: %s", rows_written, error)
        return False
    return True
