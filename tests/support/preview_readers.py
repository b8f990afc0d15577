"""Subscribers for the preview's "as a subscriber" tests, put in the store by the library."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.audience.queries import AudienceTx
from pipeline.audience.subscribers import add, create_list, unsubscribe
from pipeline.db import Store

ONE_LIST = "jimin@example.org"  # on "weekly" only
ONE_LIST_NAME = "김지민"
TWO_LISTS = "both@example.org"  # on "weekly" and "monthly"
GONE = "gone@example.org"  # unsubscribed from "weekly"


@dataclass(frozen=True)
class Seeded:
    ids: dict[str, int]  # email -> subscriber id
    lists: dict[str, int]  # list name -> id


def seed_readers(database_url: str) -> Seeded:
    with Store.open(database_url) as store:
        create_list(store, "weekly")
        create_list(store, "monthly")
        add(store, ONE_LIST, "weekly", name=ONE_LIST_NAME)
        add(store, TWO_LISTS, "weekly", name="Both Lists")
        add(store, TWO_LISTS, "monthly", name="Both Lists")
        add(store, GONE, "weekly", name="Gone Reader")
        unsubscribe(store, GONE, "weekly")
        with store.begin(AudienceTx, write=False) as tx:
            ids = {}
            for email in (ONE_LIST, TWO_LISTS, GONE):
                person = tx.subscriber_by_key(email)
                assert person is not None
                ids[email] = person.id
            lists = {}
            for name in ("weekly", "monthly"):
                found = tx.list_by_name(name)
                assert found is not None
                lists[name] = found.id
    return Seeded(ids, lists)
