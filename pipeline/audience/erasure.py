"""Forgetting a person: every table that can hold their address or name is cleared of it.

Only the one-way hash in `suppressions` stays. Where a person can be, table by table:

- `subscribers`: deleted by the caller (their `memberships` go with it, ON DELETE CASCADE);
- `deliveries`: address and name blanked, so the campaign counts stay; the `error` SES gave
  may quote the address ("... failed the check in region US-EAST-1: kim@example.com");
- `test_sends`: a test copy is logged by address alone (a tester need not be a subscriber),
  so those rows are deleted;
- `events`: the detail of a bounce (the diagnostic code) or a reject may quote the address;
- `campaigns.pause_reason`: "50 messages in a row failed; last: <that error>".

`tests/cli/test_subscribers.py` scans every table of the database after a forget, so a
table added later that holds an address fails that test until it is handled here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email

from pipeline.audience.addresses import Address
from pipeline.audience.queries import AudienceTx
from pipeline.db.schema import campaigns, deliveries, events, signup_requests, test_sends

FORGOTTEN = "[forgotten address]"


def _spellings(address: Address) -> list[str]:
    """The ways the address may be written in a message: as stored, and with its domain
    in ASCII (Punycode), the form SES quotes back."""
    found = {address.key}
    try:
        ascii_email = validate_email(address.email, check_deliverability=False).ascii_email
    except EmailNotValidError:
        ascii_email = None
    if ascii_email:
        found.add(ascii_email.lower())
    return sorted(found, key=len, reverse=True)


def _scrubber(address: Address) -> re.Pattern[str]:
    return re.compile("|".join(map(re.escape, _spellings(address))), re.IGNORECASE)


def erase(tx: AudienceTx, address: Address, subscriber_id: int | None) -> int:
    """Clear the address (and the person's name) from the send log, the test sends, the
    events and the campaigns; return how many test-send records were deleted. The caller
    deletes the subscriber row itself."""
    pattern = _scrubber(address)
    conn = tx.conn
    # Their rows, and rows of theirs that an earlier forget (before errors were scrubbed)
    # left with the address in the error: a full scan, which a rare privacy request affords.
    error = sa.func.lower(deliveries.c.error)
    quoted = sa.and_(
        deliveries.c.subscriber_id.is_(None),
        sa.or_(*(error.contains(s, autoescape=True) for s in _spellings(address))),
    )
    mine = deliveries.c.subscriber_id == subscriber_id if subscriber_id is not None else sa.false()
    own = conn.execute(
        sa.select(deliveries.c.id, deliveries.c.message_id, deliveries.c.error).where(
            sa.or_(mine, quoted)
        )
    ).all()
    for delivery_id, _message_id, error in own:
        conn.execute(
            sa.update(deliveries)
            .where(deliveries.c.id == delivery_id)
            .values(email=None, name=None, error=_scrub(pattern, error))
        )
    tests = conn.execute(
        sa.select(test_sends.c.id, test_sends.c.message_id).where(
            sa.func.lower(sa.func.trim(test_sends.c.email)) == address.key
        )
    ).all()
    message_ids = [m for _, m, _ in own if m] + [m for _, m in tests if m]
    _scrub_events(tx, pattern, subscriber_id, [d for d, _, _ in own], message_ids)
    if tests:
        conn.execute(sa.delete(test_sends).where(test_sends.c.id.in_([i for i, _ in tests])))
    # What the signup form received for the address (with its IP and user agent); the
    # consent records and the outbox go with the subscriber row.
    conn.execute(
        sa.delete(signup_requests).where(
            sa.func.lower(sa.func.trim(signup_requests.c.email)) == address.key
        )
    )
    paused = conn.execute(
        sa.select(campaigns.c.id, campaigns.c.pause_reason).where(
            sa.func.lower(campaigns.c.pause_reason).contains(address.key, autoescape=True)
        )
    ).all()
    for campaign_id, reason in paused:
        conn.execute(
            sa.update(campaigns)
            .where(campaigns.c.id == campaign_id)
            .values(pause_reason=_scrub(pattern, reason))
        )
    return len(tests)


def _scrub_events(
    tx: AudienceTx,
    pattern: re.Pattern[str],
    subscriber_id: int | None,
    delivery_ids: Iterable[int],
    message_ids: Iterable[str],
) -> None:
    """Take the address out of the details of the events about this person's messages."""
    ids, messages = list(delivery_ids), list(message_ids)
    about = sa.or_(
        events.c.subscriber_id == subscriber_id if subscriber_id is not None else sa.false(),
        events.c.delivery_id.in_(ids) if ids else sa.false(),
        events.c.message_id.in_(messages) if messages else sa.false(),
    )
    found = tx.conn.execute(
        sa.select(events.c.id, events.c.detail).where(about, events.c.detail.is_not(None))
    ).all()
    for event_id, detail in found:
        scrubbed = _scrub(pattern, detail)
        if scrubbed != detail:
            tx.conn.execute(
                sa.update(events).where(events.c.id == event_id).values(detail=scrubbed)
            )


def _scrub(pattern: re.Pattern[str], text: str | None) -> str | None:
    return pattern.sub(FORGOTTEN, text) if text else text
