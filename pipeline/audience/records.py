"""The audience's records as the store hands them out: lists, people, memberships."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa


@dataclass(frozen=True)
class MailingList:
    id: int
    name: str
    created_at: datetime
    public: bool = False  # offered on the signup form
    description: str | None = None
    title: str | None = None  # what readers see; the name stays the identifier

    @property
    def shown(self) -> str:
        """The list as readers see it: its title, else its name."""
        return self.title or self.name


@dataclass(frozen=True)
class Subscriber:
    id: int
    email: str
    email_key: str
    name: str | None
    attributes: dict[str, Any]
    status: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Membership:
    list_id: int
    list_name: str
    status: str
    subscribed_at: datetime
    unsubscribed_at: datetime | None
    source: str | None


@dataclass(frozen=True)
class ListMember:
    """A member of a list who receives its campaigns (see `queries.receiving`)."""

    id: int
    email: str
    name: str | None
    attributes: dict[str, Any]
    list_id: int


def dump_attributes(attributes: dict[str, Any]) -> str:
    """Canonical JSON, so equal attributes are equal text. Strict JSON: NaN and Infinity
    are refused where attributes enter (`cleaning.py`), and would raise here."""
    return json.dumps(
        attributes, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
    )


def _not_a_number(_constant: str) -> None:
    return None


def load_attributes(text: str | None) -> dict[str, Any]:
    """Attributes as stored. Rows written before NaN and Infinity were refused may hold
    them: they read as null, so that no export or JSON listing is invalid JSON."""
    loaded: dict[str, Any] = json.loads(text or "{}", parse_constant=_not_a_number)
    return loaded


def subscriber_from_row(row: sa.Row[Any]) -> Subscriber:
    m = row._mapping
    return Subscriber(
        id=m["id"],
        email=m["email"],
        email_key=m["email_key"],
        name=m["name"],
        attributes=load_attributes(m["attributes"]),
        status=m["status"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )


def mailing_list_from_row(row: sa.Row[Any]) -> MailingList:
    m = row._mapping
    return MailingList(
        m["id"], m["name"], m["created_at"], bool(m["public"]), m["description"], m["title"]
    )
