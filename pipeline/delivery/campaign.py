"""A campaign from start to end: plan (what will happen), then run, then settle.

The CLI shows the plan and asks for confirmation in between; tests and scripts call
these functions directly.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from pipeline.audience.records import MailingList
from pipeline.audience.segments import Audience
from pipeline.clock import utcnow
from pipeline.db import Store
from pipeline.delivery import overlap, senders
from pipeline.delivery.archive import web_page
from pipeline.delivery.send import RATE_HEADROOM, CampaignRunner, Progress, SendOptions
from pipeline.delivery.senders import HEARTBEAT_SECONDS, LEASE_SECONDS, Lease, expire
from pipeline.delivery.sendlog import Campaign, SendLog
from pipeline.delivery.settling import UNKNOWN_SETTLE_SECONDS
from pipeline.delivery.transports.base import Quota, SendFailure, Transport
from pipeline.errors import NewsletterError
from pipeline.issue.build import Build
from pipeline.issue.render import Rendered
from pipeline.settings import Settings

log = logging.getLogger(__name__)
# Where SES does not report the account (GetAccount), pace at the rate of a new account.
DEFAULT_RATE = 14.0

SES_PRICE_PER_1000 = 0.10  # USD, outbound email, before any free tier


class CampaignError(NewsletterError):
    """The campaign cannot start or go on (finished already, sending disabled, ...)."""


@dataclass
class Plan:
    rendered: Rendered
    mailing_list: MailingList
    dry_run: bool
    campaign: Campaign | None  # None: a new campaign, created by `run`
    to_send: int
    rate: float
    quota: Quota | None
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)  # rows a crash left `sending`
    reopen: tuple[str, ...] = ()  # statuses `run` puts back to pending (--retry-...)
    unknown_before: datetime | None = None  # only `unknown` rows older than this reopen
    audience: Audience = field(default_factory=Audience)
    counted: overlap.Counted | None = None  # who a new campaign takes, and who it leaves out

    @property
    def estimated_seconds(self) -> float:
        return self.to_send / self.rate if self.rate else 0.0

    @property
    def estimated_cost(self) -> float:
        return 0.0 if self.dry_run else self.to_send * SES_PRICE_PER_1000 / 1000


@dataclass
class Report:
    campaign: Campaign
    counts: dict[str, int]
    progress: Progress
    stopped_by_user: bool
    pause_reason: str | None


def plan(
    store: Store,
    built: Build,
    list_name: str,
    transport: Transport,
    *,
    rate: float | None = None,
    dry_run: bool = False,
    retry_unknown: bool = False,
    retry_failed: bool = False,
    lease_seconds: float = LEASE_SECONDS,
    unknown_settle_seconds: float = UNKNOWN_SETTLE_SECONDS,
    audience: Audience | None = None,
) -> Plan:
    """Work out what `send` will do; recovers rows a crash left in `sending` first (of
    senders silent for `lease_seconds`). The pace is the account's MaxSendRate; `rate`
    only lowers it."""
    assert built.rendered is not None and built.issue is not None
    sendlog = SendLog(store)
    mailing_list = sendlog.list_of(list_name)
    number = built.issue.number
    audience = audience or Audience()
    campaign = sendlog.find(number, mailing_list.id, dry_run=dry_run, audience=audience.key)
    if dry_run:
        campaign = None  # a dry run always starts over
    notes: list[str] = []
    recovered: list[str] = []
    reopen: tuple[str, ...] = ()
    unknown_before = None
    counted = None
    if campaign is None:
        counted = overlap.count(store, number, mailing_list.id, audience)
        to_send = counted.to_send
        if counted.receiving == 0:
            raise CampaignError(
                f"list {list_name!r} has no active subscribers",
                hint=f"add some: newsletter subscribers import FILE.csv --list {list_name}",
            )
        notes.extend(overlap.notes(audience, counted, number))
        if to_send == 0:
            raise CampaignError(
                f"nobody to send issue {number} to in {list_name!r} ({audience.described()})",
                hint="see the counts above; `newsletter subscribers list --list "
                f"{list_name} --where ...` shows whom a filter matches",
            )
    else:
        recovered = sendlog.recover(campaign.id, lease_seconds)
        settled_now, settled = sendlog.settle_unknown(campaign.id)
        settled_note = (
            f"{settled} message(s) left 'unknown' were settled by SES's own record "
            "(its events show SES took them): not sent again"
        )
        if settled_now or (retry_unknown and settled):
            notes.append(settled_note)
        # Reopened by `run`, once confirmed: a declined or refused retry changes nothing.
        wanted = (("unknown", retry_unknown), ("failed", retry_failed))
        reopen = tuple(status for status, asked in wanted if asked)
        if retry_unknown:
            unknown_before = utcnow() - timedelta(seconds=unknown_settle_seconds)
        again = {s: sendlog.reopenable(campaign.id, [s], unknown_before) for s in reopen}
        if any(again.values()):
            notes.append("sending again: " + ", ".join(f"{n} {s}" for s, n in again.items()))
        counts = sendlog.counts(campaign.id)
        to_send = counts["pending"] + sum(again.values())
        others = [s.who for s in senders.of_campaign(store, campaign.id) if s.state == "running"]
        if others and to_send == 0:
            raise CampaignError(
                f"nothing left to claim: {len(others)} other sender(s) are sending the rest "
                f"of issue {number} to {list_name!r} ({', '.join(others)})",
                hint="see `newsletter log` for their progress",
            )
        if others:
            notes.append(f"joining the sender(s) at work on this campaign: {', '.join(others)}")
        if unknown_before is not None:
            _hold_back_recent_unknown(sendlog, campaign.id, unknown_before, to_send, notes)
        if to_send == 0:
            summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
            hints = [settled_note] if settled_now or (retry_unknown and settled) else []
            if counts["unknown"]:
                hints.append(f"--retry-unknown resends the {counts['unknown']} unknown")
            if counts["failed"]:
                hints.append(f"--retry-failed retries the {counts['failed']} failed")
            raise CampaignError(
                f"issue {number} was already sent to {list_name!r} ({summary}); nothing to send",
                hint="; ".join(hints) if hints else "see `newsletter log` for who got it",
            )
        notes.append(
            f"resuming the {campaign.status} campaign started {campaign.started_at:%Y-%m-%d %H:%M}"
            f" UTC: {counts['sent']} already sent, {to_send} to go"
        )
    warnings: list[str] = []
    if campaign is not None and campaign.subject != built.rendered.subject:
        warnings.append(
            f"the subject changed since the campaign started ({campaign.subject!r}); "
            "the rest of the list gets the issue as it is now"
        )
    try:
        quota = transport.quota()
    except SendFailure as failure:  # bad credentials, no route to SES, ...: before any send
        raise CampaignError(
            f"cannot read the SES account (GetAccount): {failure.reason}",
            hint="check the AWS credentials, AWS_REGION and AWS_ENDPOINT_URL_SESV2",
        ) from None
    effective_rate = rate or DEFAULT_RATE
    if quota is None:
        if not dry_run:
            notes.append(
                f"{transport.name} does not report the account quota (GetAccount); "
                + (
                    f"going on at --rate {rate:g}/s"
                    if rate
                    else f"going on at {effective_rate:g}/s, the rate of a new SES account "
                    "(--rate sets another)"
                )
            )
    else:
        if not quota.sending_enabled:
            raise CampaignError(
                "sending is disabled for this SES account",
                hint="check the account's status in the SES console, then try again",
            )
        if quota.max_send_rate > 0:
            effective_rate = min(rate or quota.max_send_rate, quota.max_send_rate)
        notes.append(
            f"SES quota: {quota.max_send_rate:g}/s, {quota.remaining_24h:,.0f} of "
            f"{quota.max_24_hour_send:,.0f} left in the last 24 hours"
        )
        if to_send > quota.remaining_24h:
            warnings.append(
                f"{to_send:,} messages exceed the {quota.remaining_24h:,.0f} left of the 24-hour "
                "quota: SES will refuse the rest and the campaign will pause; resume it later"
            )
    return Plan(
        rendered=built.rendered,
        mailing_list=mailing_list,
        dry_run=dry_run,
        campaign=campaign,
        to_send=to_send,
        rate=effective_rate,
        quota=quota,
        notes=notes,
        warnings=warnings,
        recovered=recovered,
        reopen=reopen,
        unknown_before=unknown_before,
        audience=audience,
        counted=counted,
    )


def _hold_back_recent_unknown(
    sendlog: SendLog, campaign_id: int, before: datetime, to_send: int, notes: list[str]
) -> None:
    """`unknown` rows too recent for --retry-unknown: SES's events may still settle them.
    Said in a note, or refused when nothing else is left to send."""
    waiting, latest = sendlog.unknown_waiting(campaign_id, before)
    if not waiting:
        return
    ready = latest + (utcnow() - before)
    why = (
        f"{waiting} 'unknown' message(s) are held back until {ready:%Y-%m-%d %H:%M:%S} UTC: "
        "SES's events may still show they were sent (the `unknown_settle_seconds` setting)"
    )
    if to_send == 0:
        raise CampaignError(why, hint="run the same command again after that time")
    notes.append(why)


def run(
    store: Store,
    settings: Settings,
    the_plan: Plan,
    transport: Transport,
    options: SendOptions,
    *,
    on_progress: Callable[[Progress], None] | None = None,
    on_start: Callable[[Campaign, int], None] | None = None,
    on_note: Callable[[str], None] | None = None,
    stop: threading.Event | None = None,
) -> Report:
    """Start, resume or join the campaign, send to pending rows, then settle its status.

    Other `send` processes may work on the same campaign at the same time (see
    `senders.py`): each holds a lease, claims its own rows and takes its share of the
    account's rate; the campaign is settled when the last of them is done. Setting `stop`
    stops it as Ctrl-C does: what is in flight is finished and recorded, then it pauses."""
    note = on_note or (lambda text: log.info("%s", text))
    sendlog = SendLog(store)
    issue = the_plan.rendered.issue
    campaign = the_plan.campaign
    if campaign is None:
        # The archive keeps the web version as it went out; a campaign joined or resumed
        # keeps the one stored when it first started.
        web = None if the_plan.dry_run else web_page(the_plan.rendered, settings)
        try:
            campaign, to_send = sendlog.start(
                issue.number,
                the_plan.mailing_list,
                the_plan.rendered.subject,
                dry_run=the_plan.dry_run,
                web=web,
                audience=the_plan.audience,
            )
        except sa.exc.IntegrityError:  # another sender started it a moment ago: join it
            key = the_plan.audience.key
            campaign = sendlog.find(issue.number, the_plan.mailing_list.id, audience=key)
            if campaign is None:
                raise
            to_send = sendlog.counts(campaign.id)["pending"]
    else:
        if the_plan.reopen:
            sendlog.reopen(campaign.id, the_plan.reopen, the_plan.unknown_before)
        sendlog.set_status(campaign.id, "running")
        to_send = sendlog.counts(campaign.id)["pending"]
    if on_start:
        on_start(campaign, to_send)
    lease = Lease(store, campaign.id, lease_seconds=options.lease_seconds)
    runner = CampaignRunner(
        sendlog,
        settings,
        the_plan.rendered,
        transport,
        campaign.id,
        the_plan.mailing_list.id,
        options,
        on_progress=on_progress,
        sender_id=lease.id,
        asked_to_stop=stop,
    )
    beating = threading.Event()

    def beat() -> int:
        sharing, joined, lost = lease.beat(sent=runner.progress.sent, rate=runner.pace.rate)
        runner.pace.set_limit(shared_rate(options.rate, sharing))
        for sender in joined:
            note(f"another sender joined this campaign: {sender.who}")
        for gone in lost:
            note(
                f"sender {gone.sender.who} stopped answering; the {len(gone.unknown)} message(s) "
                "it had in flight are now 'unknown' (--retry-unknown resends them)"
            )
        return sharing

    def heartbeat() -> None:
        while not beating.wait(HEARTBEAT_SECONDS):
            try:
                beat()
            except Exception:  # a missed beat is retried; the lease allows for several
                log.warning("sender heartbeat failed", exc_info=True)

    # Before the first send: take only this sender's share of the account's rate, and give
    # the others time to take theirs (their next heartbeat) and SES's one-second window
    # time to drain of what they sent at the old share: joining then costs no throttling.
    if beat() > 1:
        time.sleep(HEARTBEAT_SECONDS + 1.0)
    thread = threading.Thread(target=heartbeat, name="heartbeat", daemon=True)
    thread.start()
    try:
        result = runner.run(to_send)
        lease.finish(runner.progress.sent)
        if not (result.stopped_by_user or result.pause_reason):
            _wait_for_the_others(lease, note)
    finally:
        beating.set()
        thread.join(timeout=5)
        lease.finish(runner.progress.sent)
    reason = result.pause_reason or ("stopped by the user" if result.stopped_by_user else None)
    if lease.others_running() == 0:
        sendlog.settle(campaign.id, reason=reason)
    assert result.progress is not None
    return Report(
        campaign=sendlog.get(campaign.id),
        counts=sendlog.counts(campaign.id),
        progress=result.progress,
        stopped_by_user=result.stopped_by_user,
        pause_reason=result.pause_reason,
    )


def shared_rate(account_rate: float, senders: int) -> float:
    """One sender's pace when `senders` share the account. Each sender's slots are evenly
    spaced, but their clocks are not in step: in any one second each may send one message
    more than its rate, so half a message per second each is kept back, besides the
    headroom every pace has."""
    if senders <= 1:
        return account_rate * RATE_HEADROOM
    return max(account_rate * RATE_HEADROOM / senders - 0.5, account_rate * 0.5 / senders)


def _wait_for_the_others(lease: Lease, note: Callable[[str], None]) -> None:
    """Out of rows: stay until every other sender has finished or is found dead, so that
    the campaign is never settled with rows in `sending`."""
    said = False
    while (others := lease.others_running()) > 0:
        if not said:
            note(f"no rows left to claim; waiting for {others} other sender(s) to finish")
            said = True
        time.sleep(HEARTBEAT_SECONDS)
        with lease.store.begin() as tx:
            for gone in expire(tx.conn, lease.lease_seconds, campaign_id=lease.campaign_id):
                note(
                    f"sender {gone.sender.who} stopped answering; the {len(gone.unknown)} "
                    "message(s) it had in flight are now 'unknown'"
                )
