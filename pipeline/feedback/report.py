"""Campaign reports: what happened to each issue, against the limits that keep an account
in good standing (SES review thresholds, Gmail's bulk-sender spam rate)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from pipeline.db import Store
from pipeline.db.schema import deliveries, events
from pipeline.delivery.sendlog import Campaign, SendLog
from pipeline.errors import InputError, NotFoundError
from pipeline.feedback.eventstore import EventStore

# (warning, danger) rates: SES reviews an account at a 5% bounce rate and a 0.1% complaint
# rate (and may pause it at 10% / 0.5%); Gmail requires bulk senders to keep the spam rate
# under 0.3% and recommends under 0.1%.
SES_BOUNCE = (0.05, 0.10)
SES_COMPLAINT = (0.001, 0.005)
GMAIL_SPAM = (0.001, 0.003)


def _rate(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _flag(rate: float, limits: tuple[float, float]) -> str:
    warning, danger = limits
    if rate >= danger:
        return "danger"
    if rate >= warning:
        return "warning"
    return "ok"


def campaign_report(store: Store, campaign: Campaign, counts: dict[str, int]) -> dict[str, Any]:
    events = EventStore(store)
    seen = events.event_counts(campaign.id)
    sent = counts["sent"]
    delivered = seen.get("Delivery", 0)
    permanent = seen.get("Bounce:Permanent", 0)
    transient = seen.get("Bounce:Transient", 0) + seen.get("Bounce:Undetermined", 0)
    bounced = permanent + transient
    complained = seen.get("Complaint", 0)
    # SES's bounce rate counts hard bounces only; soft ones are shown but not rated.
    bounce_rate = _rate(permanent, sent)
    complaint_rate = _rate(complained, delivered or sent)
    return {
        "campaign": campaign.id,
        "issue": campaign.issue_number,
        "list": campaign.list_name,
        # Who it was for: '' for the whole list, else the filter (of `segment`, if named)
        "audience": campaign.audience,
        "segment": campaign.segment,
        "skipped_inactive": campaign.skipped_inactive,
        "status": campaign.status,
        "dry_run": campaign.dry_run,
        "started_at": campaign.started_at,
        "targeted": sum(counts.values()),
        "sent": sent,
        "delivered": delivered,
        "bounced": bounced,
        "bounced_permanent": permanent,
        "bounced_transient": transient,
        "complained": complained,
        "rejected": seen.get("Reject", 0),
        "delayed": seen.get("DeliveryDelay", 0),
        "unsubscribed": events.unsubscribed_after(campaign.id),
        "unique_opens": seen.get("Open", 0),
        "unique_clicks": seen.get("Click", 0),
        "opens_clicks_approximate": True,  # image blocking and privacy proxies skew both
        "failed": counts["failed"],
        "skipped": counts["skipped"],
        "unknown": counts["unknown"],
        "pending": counts["pending"] + counts["sending"],
        "bounce_rate": round(bounce_rate, 6),
        "complaint_rate": round(complaint_rate, 6),
        "bounce_rate_flag": _flag(bounce_rate, SES_BOUNCE),
        "complaint_rate_flag": max(
            _flag(complaint_rate, SES_COMPLAINT),
            _flag(complaint_rate, GMAIL_SPAM),
            key=["ok", "warning", "danger"].index,
        ),
        "top_links": events.top_links(campaign.id),
    }


def reports(
    store: Store, *, issue_number: int | None = None, list_name: str | None = None
) -> list[dict[str, Any]]:
    found = SendLog(store).campaigns(issue_number=issue_number, list_name=list_name)
    return [campaign_report(store, c, counts) for c, counts in found if not c.dry_run]


def event_totals(store: Store, campaign_id: int) -> dict[str, int]:
    """Every event of a campaign per kind, repeats included (two opens by one reader are
    two), beside the unique counts of `EventStore.event_counts`."""
    query = (
        sa.select(events.c.event_type, sa.func.count())
        .join(deliveries, deliveries.c.id == events.c.delivery_id)
        .where(deliveries.c.campaign_id == campaign_id)
        .group_by(events.c.event_type)
    )
    with store.begin(write=False) as tx:
        return {str(kind): int(n) for kind, n in tx.conn.execute(query)}


def one_campaign(
    store: Store, issue_number: int, list_name: str | None, campaign_id: int | None = None
) -> dict[str, Any]:
    """The report of the issue's one real campaign (to `list_name`, and the campaign
    `campaign_id`, when given); an error naming the lists, or the campaigns of one list
    (its segments), when the issue went out in several and none was chosen."""
    if list_name is not None:
        SendLog(store).list_of(list_name)  # a clear error for an unknown list
    found = reports(store, issue_number=issue_number, list_name=list_name)
    if campaign_id is not None:
        found = [r for r in found if r["campaign"] == campaign_id]
        if not found:
            raise NotFoundError(
                f"issue {issue_number} has no campaign {campaign_id}",
                hint="`newsletter report ISSUE` shows its campaigns and their ids",
            )
    if not found:
        where = f" to {list_name}" if list_name else ""
        raise NotFoundError(
            f"issue {issue_number} has no campaign{where} to report on",
            hint="`newsletter log` lists the campaigns",
        )
    if len({r["list"] for r in found}) > 1:
        names = ", ".join(str(r["list"]) for r in found)
        raise InputError(
            f"issue {issue_number} went to several lists: {names}",
            hint="choose one with --list NAME",
        )
    if len(found) > 1:  # segments of one list: the page is for one campaign
        shown = ", ".join(f"{r['campaign']} ({r['audience'] or 'whole list'})" for r in found)
        raise InputError(
            f"issue {issue_number} went out in several campaigns: {shown}",
            hint="choose one with --campaign ID (`newsletter report ISSUE` shows each)",
        )
    record = found[0]
    campaign = SendLog(store).get(record["campaign"])
    record["subject"] = campaign.subject
    record["list_id"] = campaign.list_id  # None once the list is deleted
    record["event_totals"] = event_totals(store, record["campaign"])
    return record
