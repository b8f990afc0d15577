"""A campaign that hurts the account pauses itself.

SES reviews an account whose hard-bounce rate reaches 5% or whose complaint rate reaches
0.1%, and may pause its sending for every campaign. While a campaign sends, its own rates
are read from the events arriving meanwhile (`watch`); past the `pause_bounce_rate` or
`pause_complaint_rate` setting, once `pause_min_sent` messages went out, it pauses with
the reason, for a person to look before `send` resumes it.

Each run judges the messages it sent itself: a person who resumes a paused campaign has
looked, and the count starts over.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from pipeline.db import Store
from pipeline.db.schema import deliveries, events
from pipeline.settings import Settings


@dataclass(frozen=True)
class Harm:
    sent: int
    bounced: int  # hard (Permanent) bounces: what SES's bounce rate counts
    complained: int

    def verdict(self, settings: Settings) -> str | None:
        """Why the campaign must pause, or None."""
        if self.sent < settings.pause_min_sent:
            return None
        for what, count, limit, review in (
            ("bounce", self.bounced, settings.pause_bounce_rate, "5%"),
            ("complaint", self.complained, settings.pause_complaint_rate, "0.1%"),
        ):
            if count / self.sent > limit:
                return (
                    f"the {what} rate of this run is {count / self.sent:.2%} ({count} of "
                    f"{self.sent} sent), past pause_{what}_rate {limit:.2%} (SES reviews an "
                    f"account at {review}): look at the {what}s (`newsletter report`) and "
                    "clean the list before `newsletter send` resumes it"
                )
        return None


def watch(store: Store, campaign_id: int, since: datetime) -> Harm:
    """The campaign's messages sent since `since`, and their hard bounces and complaints."""
    ours = (deliveries.c.campaign_id == campaign_id) & (deliveries.c.sent_at >= since)
    sent = sa.select(sa.func.count()).select_from(deliveries).where(ours)
    kind = sa.case(
        ((events.c.event_type == "Bounce") & (events.c.bounce_type == "Permanent"), "bounce"),
        (events.c.event_type == "Complaint", "complaint"),
    )
    harmed = (
        sa.select(kind, sa.func.count(sa.distinct(events.c.delivery_id)))
        .join(deliveries, deliveries.c.id == events.c.delivery_id)
        .where(ours, events.c.event_type.in_(("Bounce", "Complaint")))
        .group_by(kind)
    )
    with store.begin(write=False) as tx:
        total = int(tx.conn.execute(sent).scalar_one())
        found = {str(k): int(n) for k, n in tx.conn.execute(harmed) if k is not None}
    return Harm(total, found.get("bounce", 0), found.get("complaint", 0))
