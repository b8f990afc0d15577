"""Tags: short, case-insensitive names on a person (`vip`, `2024 conference`), kept in
their own table, one row per person and tag, indexed by tag for `tag:NAME` filters.

A tag is checked where it enters (the `tag` command, `import --tag`, a file's `tags`
column, Mailchimp's TAGS, Ghost's labels): one line of visible text, at most `MAX_TAG`
characters, without `,` or `;` (the separators of a tags cell in a CSV), stored
lowercased so that `VIP` and `vip` are one tag.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from pipeline.audience.cleaning import shown
from pipeline.audience.queries import receiving
from pipeline.db.bulk import is_postgresql
from pipeline.db.schema import memberships, subscribers, tags
from pipeline.errors import InputError

MAX_TAG = 64
TAG_SEPARATORS = (",", ";")
TAGS_COLUMN = "tags"  # a list file's column of tags, not an attribute


def clean_tag(raw: str) -> str:
    """The tag as it is stored (trimmed, lowercased); raises InputError naming the fix."""
    tag = " ".join(raw.split()).lower()
    if not tag:
        raise InputError("a tag is empty", hint="give a name, such as vip")
    if not tag.isprintable():
        raise InputError(f"the tag {shown(raw)} contains a control or invisible character")
    if any(sep in tag for sep in TAG_SEPARATORS):
        raise InputError(
            f"the tag {shown(raw)} contains ',' or ';', which separate tags in a list file",
            hint="give each tag on its own",
        )
    if len(tag) > MAX_TAG:
        raise InputError(f"the tag {shown(raw)} is {len(tag)} characters long (at most {MAX_TAG})")
    return tag


def tags_of_cell(value: Any) -> list[str]:
    """The tags a file's cell holds: a CSV cell `a, b; c`, or a JSON list of names;
    raises InputError for anything else or a bad tag."""
    if isinstance(value, str):
        items: list[Any] = value.replace(";", ",").split(",")
    elif isinstance(value, list):
        items = value
    else:
        raise InputError("tags must be text (separated by , or ;) or a list of names")
    found: dict[str, None] = {}
    for item in items:
        if not isinstance(item, str):
            raise InputError("tags must be names (text), not numbers or lists")
        if item.strip():
            found[clean_tag(item)] = None
    return list(found)


def _insert_ignoring_repeats(conn: Connection) -> Any:
    dialect = postgresql if is_postgresql(conn) else sqlite
    return dialect.insert(tags).on_conflict_do_nothing()


def add(conn: Connection, pairs: Iterable[tuple[int, str]]) -> None:
    """Tag people (subscriber id, clean tag); a tag they have already is left alone."""
    rows = [{"subscriber_id": sid, "tag": tag} for sid, tag in dict.fromkeys(pairs)]
    if rows:
        conn.execute(_insert_ignoring_repeats(conn), rows)


def remove(conn: Connection, subscriber_id: int, names: list[str]) -> int:
    """Take tags off one person; returns how many they had."""
    result = conn.execute(
        sa.delete(tags).where(tags.c.subscriber_id == subscriber_id, tags.c.tag.in_(names))
    )
    return int(result.rowcount or 0)


def of(conn: Connection, subscriber_ids: Iterable[int]) -> dict[int, list[str]]:
    """Each person's tags, sorted; people without tags are absent."""
    ids = sorted(set(subscriber_ids))
    found: dict[int, list[str]] = defaultdict(list)
    if not ids:
        return found
    query = (
        sa.select(tags.c.subscriber_id, tags.c.tag)
        .where(tags.c.subscriber_id.in_(ids))
        .order_by(tags.c.subscriber_id, tags.c.tag)
    )
    for sid, tag in conn.execute(query):
        found[sid].append(tag)
    return found


def any_member_tagged(conn: Connection, list_id: int) -> bool:
    """Whether anyone who receives the list has a tag (an export's `tags` column)."""
    query = sa.select(
        sa.exists()
        .where(tags.c.subscriber_id == subscribers.c.id)
        .where(memberships.c.subscriber_id == subscribers.c.id, receiving(list_id))
    )
    return bool(conn.execute(query).scalar())
