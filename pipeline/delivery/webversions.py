"""The web version of each campaign, stored when it starts, so the archive shows what was
sent rather than what today's file would render.

`web_page` makes the row's content from a rendering (the schedule's stored one when it
has it); `insert_web_version` writes it in the transaction that starts the campaign; `WebVersions`
reads them back for the archive: the latest version of each issue number, newest first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from pipeline.audience.store import Store
from pipeline.db.schema import campaigns, web_versions
from pipeline.issue.i18n import format_period
from pipeline.issue.render import Rendered, render_web
from pipeline.settings import Settings


@dataclass(frozen=True)
class WebPage:
    """What is stored of a campaign's web version."""

    title: str
    subject: str
    preheader: str | None
    lang: str
    period: str | None  # as the issue shows it, in its language
    html: str


@dataclass(frozen=True)
class WebVersion:
    campaign_id: int
    issue_number: int
    page: WebPage
    stored_at: datetime
    started_at: datetime  # the campaign's start
    first_started_at: datetime  # the start of the issue's first campaign with a version


def web_page(rendered: Rendered, settings: Settings) -> WebPage:
    """The web version of `rendered`: the one rendered with it if there is one (a
    schedule's), else rendered now from the same issue."""
    issue = rendered.issue
    return WebPage(
        title=issue.title,
        subject=rendered.subject,
        preheader=rendered.preheader,
        lang=issue.lang,
        period=format_period(issue.period, issue.lang) if issue.period else None,
        html=rendered.web_html if rendered.web_html is not None else render_web(issue, settings),
    )


def insert_web_version(
    conn: sa.Connection, campaign_id: int, issue_number: int, page: WebPage, now: datetime
) -> None:
    conn.execute(
        sa.insert(web_versions).values(
            campaign_id=campaign_id,
            issue_number=issue_number,
            title=page.title,
            subject=page.subject,
            preheader=page.preheader,
            lang=page.lang,
            period=page.period,
            html=page.html,
            stored_at=now,
        )
    )


_REAL = sa.and_(campaigns.c.id == web_versions.c.campaign_id, campaigns.c.dry_run.is_(False))


class WebVersions:
    def __init__(self, store: Store) -> None:
        self.store = store

    def _chosen(self, issue_number: int | None) -> list[tuple[int, int, datetime, datetime]]:
        """(campaign id, issue number, its start, the issue's first start) of the latest
        version of each issue, newest first."""
        query = (
            sa.select(
                web_versions.c.campaign_id,
                web_versions.c.issue_number,
                campaigns.c.started_at,
                web_versions.c.stored_at,
            )
            .join(campaigns, _REAL)
            .order_by(web_versions.c.stored_at, web_versions.c.campaign_id)
        )
        if issue_number is not None:
            query = query.where(web_versions.c.issue_number == issue_number)
        with self.store.begin(write=False) as tx:
            rows = list(tx.conn.execute(query))
        latest: dict[int, tuple[int, datetime, datetime]] = {}
        for campaign_id, number, started_at, stored_at in rows:  # oldest first
            started = started_at or stored_at
            first = latest[number][2] if number in latest else started
            latest[number] = (campaign_id, started, first)
        chosen = [(c, n, s, f) for n, (c, s, f) in latest.items()]
        # Newest first by when each issue first went out: a later send of an old issue to
        # another list does not move it up.
        return sorted(chosen, key=lambda row: (row[3], row[1]), reverse=True)

    def _load(
        self, chosen: list[tuple[int, int, datetime, datetime]], *, with_html: bool
    ) -> list[WebVersion]:
        if not chosen:
            return []
        html = web_versions.c.html if with_html else sa.literal("")
        query = sa.select(
            web_versions.c.campaign_id,
            web_versions.c.title,
            web_versions.c.subject,
            web_versions.c.preheader,
            web_versions.c.lang,
            web_versions.c.period,
            html,
            web_versions.c.stored_at,
        ).where(web_versions.c.campaign_id.in_([row[0] for row in chosen]))
        with self.store.begin(write=False) as tx:
            found = {row[0]: row for row in tx.conn.execute(query)}
        return [
            WebVersion(
                campaign_id=campaign_id,
                issue_number=number,
                page=WebPage(*found[campaign_id][1:7]),
                stored_at=found[campaign_id][7],
                started_at=started,
                first_started_at=first,
            )
            for campaign_id, number, started, first in chosen
        ]

    def latest(self, *, with_html: bool = False) -> list[WebVersion]:
        """The latest version of every issue number, newest first (`with_html`: with the
        pages themselves, else only what a list of issues shows)."""
        return self._load(self._chosen(None), with_html=with_html)

    def of_issue(self, issue_number: int) -> WebVersion | None:
        """The latest version of one issue, with its page."""
        found = self._load(self._chosen(issue_number), with_html=True)
        return found[0] if found else None

    def sent_without_version(
        self, issue_number: int | None = None
    ) -> list[tuple[int, datetime, datetime]]:
        """Issues sent (not as a dry run) before web versions were stored: (number, first
        start, latest start) of each issue none of whose campaigns has a version."""
        has_version = sa.select(web_versions.c.issue_number).join(campaigns, _REAL)
        query = (
            sa.select(
                campaigns.c.issue_number,
                sa.func.min(campaigns.c.started_at),
                sa.func.max(campaigns.c.started_at),
            )
            .where(
                campaigns.c.dry_run.is_(False),
                campaigns.c.started_at.is_not(None),
                campaigns.c.issue_number.not_in(has_version),
            )
            .group_by(campaigns.c.issue_number)
        )
        if issue_number is not None:
            query = query.where(campaigns.c.issue_number == issue_number)
        with self.store.begin(write=False) as tx:
            return [(n, first, last) for n, first, last in tx.conn.execute(query)]
