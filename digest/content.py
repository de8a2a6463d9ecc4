"""What a digest says (issue 12): PLACEHOLDER until the content slice lands.

The interface is fixed: `build_digest(recipient, period, site_url=...) -> Digest`.  This first version
only counts the open findings the recipient may see; the real content (new, resolved, still open,
expiring suppressions, grade changes, trend, the three paths to fix first, HTML and text templates)
replaces it.
"""

import hashlib
from dataclasses import dataclass

from digest.period import Period
from digest.recipients import Recipient
from exposure.models import Finding


@dataclass(frozen=True)
class Digest:
    subject: str
    text: str
    html: str
    content_hash: str  # of what the recipient reads (not of volatile parts such as links' tokens)
    nothing_new: bool  # nothing changed this week: a one-line "no change" digest (or none, if silenced)


def build_digest(recipient: Recipient, period: Period, site_url: str = "") -> Digest:
    open_count = Finding.objects.restrict(recipient.scope).filter(status="open").count()
    text = f"{open_count} open findings you may see, week {period.key}.\n"
    return Digest(
        subject=f"Storage exposure digest, week {period.key}",
        text=text,
        html=f"<p>{open_count} open findings you may see, week {period.key}.</p>",
        content_hash=hashlib.sha256(text.encode()).hexdigest(),
        nothing_new=False,
    )
