"""The senders of a campaign: a lease per `send` process, kept in the database.

Any number of `send` processes, on any number of machines, may work on one campaign: each
holds a lease (host, process, since when, last heartbeat) and renews it every second. The
database is the only thing they share: no lock file, no shared disk.

- A sender whose heartbeat is older than `lease_seconds` is dead (kill -9, a lost machine):
  the next heartbeat of any other sender, or the next `send`, marks it `lost` and turns the
  rows it held in `sending` into `unknown` (never resent without --retry-unknown). A sender
  on this host whose process is gone is noticed at once, without waiting for the lease.
- The account's rate is shared: each running sender of a real (not dry-run) campaign, on
  any campaign, paces itself at the account's rate divided by their number.
- A sender that runs out of rows waits for the others to finish or be lost before the
  campaign is settled, so that a campaign never ends with rows in `sending`.

The clocks of the machines must agree to well within `lease_seconds` (NTP does this).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipeline.clock import utcnow
from pipeline.db import Store
from pipeline.db.schema import campaigns, deliveries, senders

LEASE_SECONDS = 10.0
HEARTBEAT_SECONDS = 1.0
# The pause reason of a campaign whose every sender died mid-send (kill -9, a lost machine).
SENDER_LOST = "its sender stopped without finishing (killed, or its machine lost)"
LOST_ERROR = "its sender stopped while sending ({who}): it may or may not have been sent"


@dataclass(frozen=True)
class Sender:
    id: int
    campaign_id: int
    host: str
    pid: int
    state: str
    rate: float
    sent: int
    started_at: datetime
    heartbeat_at: datetime

    @property
    def who(self) -> str:
        return f"{self.host} pid {self.pid}"


@dataclass(frozen=True)
class Lost:
    sender: Sender
    unknown: list[str]  # the addresses of the rows it held in `sending`


def _process_gone(host: str, pid: int) -> bool:
    """True when `pid` on this machine no longer runs (a crash we can see at once)."""
    if host != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _sender(row: Any) -> Sender:
    m = row._mapping
    return Sender(
        m["id"],
        m["campaign_id"],
        m["host"],
        m["pid"],
        m["state"],
        float(m["rate"]),
        int(m["sent"]),
        m["started_at"],
        m["heartbeat_at"],
    )


def expire(conn: Connection, lease_seconds: float, *, campaign_id: int | None = None) -> list[Lost]:
    """Mark senders whose lease ran out (or whose process is gone) `lost`, and turn the rows
    they held in `sending` into `unknown`. Also catches `sending` rows that no live sender
    holds (left by a version without leases). Returns what was lost."""
    now = utcnow()
    query = sa.select(senders).where(senders.c.state == "running")
    if campaign_id is not None:
        query = query.where(senders.c.campaign_id == campaign_id)
    lost: list[Lost] = []
    for row in conn.execute(query).all():
        sender = _sender(row)
        expired = sender.heartbeat_at < now - timedelta(seconds=lease_seconds)
        if not (expired or _process_gone(sender.host, sender.pid)):
            continue
        conn.execute(
            sa.update(senders)
            .where(senders.c.id == sender.id)
            .values(state="lost", finished_at=now)
        )
        held = (deliveries.c.sender_id == sender.id) & (deliveries.c.status == "sending")
        emails = list(conn.scalars(sa.select(deliveries.c.email).where(held)))
        conn.execute(
            sa.update(deliveries)
            .where(held)
            .values(status="unknown", error=LOST_ERROR.format(who=sender.who), updated_at=now)
        )
        lost.append(Lost(sender, [e or "(forgotten)" for e in emails]))
    return lost


def alive(conn: Connection, campaign_id: int, lease_seconds: float) -> bool:
    """Whether a live sender holds the campaign (read only: `expire` is what records a
    dead one)."""
    since = utcnow() - timedelta(seconds=lease_seconds)
    query = sa.select(senders).where(
        senders.c.campaign_id == campaign_id,
        senders.c.state == "running",
        senders.c.heartbeat_at >= since,
    )
    found = [_sender(row) for row in conn.execute(query)]
    return any(not _process_gone(s.host, s.pid) for s in found)


def take_over_lost(conn: Connection, campaign_id: int, lease_seconds: float) -> bool:
    """A `running` campaign that no live sender holds any more (all killed or lost, their
    rows in flight now `unknown`) becomes `paused` with SENDER_LOST, which the scheduler
    resumes as it does a campaign paused by a shutdown. True when it did."""
    expire(conn, lease_seconds, campaign_id=campaign_id)
    if alive(conn, campaign_id, lease_seconds):
        return False
    # A sender of this run was lost; or the campaign is older than a lease and nobody
    # holds it. Not one just starting: its first lease comes a moment after it.
    lost_in_this_run = (
        sa.select(senders.c.id)
        .where(
            senders.c.campaign_id == campaign_id,
            senders.c.state == "lost",
            senders.c.finished_at >= campaigns.c.updated_at,
        )
        .exists()
    )
    started_before = utcnow() - timedelta(seconds=lease_seconds)
    changed = conn.execute(
        sa.update(campaigns)
        .where(
            campaigns.c.id == campaign_id,
            campaigns.c.status == "running",
            lost_in_this_run | (campaigns.c.updated_at < started_before),
        )
        .values(status="paused", pause_reason=SENDER_LOST, updated_at=utcnow())
    ).rowcount
    return bool(changed == 1)


class Lease:
    """This process's lease on one campaign. `beat()` once a second; `finish()` at the end."""

    def __init__(
        self, store: Store, campaign_id: int, *, lease_seconds: float = LEASE_SECONDS
    ) -> None:
        self.store = store
        self.campaign_id = campaign_id
        self.lease_seconds = lease_seconds
        now = utcnow()
        with store.begin() as tx:
            self.id = int(
                tx.conn.execute(
                    sa.insert(senders)
                    .values(
                        campaign_id=campaign_id,
                        host=socket.gethostname(),
                        pid=os.getpid(),
                        state="running",
                        rate=0.0,
                        sent=0,
                        started_at=now,
                        heartbeat_at=now,
                    )
                    .returning(senders.c.id)
                ).scalar_one()
            )
        self._known: set[int] = {self.id}

    def beat(self, *, sent: int, rate: float) -> tuple[int, list[Sender], list[Lost]]:
        """Renew the lease, record this sender's progress, and look at the others.

        Returns (running senders of real campaigns on the account, senders of this campaign
        that joined since the last beat, senders of any campaign found lost)."""
        now = utcnow()
        with self.store.begin() as tx:
            tx.conn.execute(
                sa.update(senders)
                .where(senders.c.id == self.id, senders.c.state == "running")
                .values(heartbeat_at=now, sent=sent, rate=rate)
            )
            lost = expire(tx.conn, self.lease_seconds)
            live = (
                sa.select(senders, campaigns.c.dry_run)
                .join(campaigns, campaigns.c.id == senders.c.campaign_id)
                .where(senders.c.state == "running")
            )
            rows = tx.conn.execute(live).all()
        running = [_sender(r) for r in rows]
        joined = [
            s for s in running if s.campaign_id == self.campaign_id and s.id not in self._known
        ]
        self._known.update(s.id for s in joined)
        sharing = sum(1 for r in rows if not r.dry_run)  # a dry run takes nothing from SES
        return max(1, sharing), joined, lost

    def others_running(self) -> int:
        """Other senders of this campaign whose lease is still open."""
        with self.store.begin(write=False) as tx:
            query = sa.select(sa.func.count()).where(
                senders.c.campaign_id == self.campaign_id,
                senders.c.state == "running",
                senders.c.id != self.id,
            )
            return int(tx.conn.execute(query).scalar_one())

    def finish(self, sent: int) -> None:
        """Leave: this sender has nothing in flight any more (`sent`: its final count)."""
        with self.store.begin() as tx:
            tx.conn.execute(
                sa.update(senders)
                .where(senders.c.id == self.id, senders.c.state == "running")
                .values(state="finished", finished_at=utcnow(), sent=sent)
            )


def of_campaign(store: Store, campaign_id: int) -> list[Sender]:
    """The senders of a campaign, the running ones first (for `newsletter log`)."""
    with store.begin(write=False) as tx:
        rows = tx.conn.execute(
            sa.select(senders)
            .where(senders.c.campaign_id == campaign_id)
            .order_by(senders.c.state != "running", senders.c.id)
        ).all()
    return [_sender(r) for r in rows]
