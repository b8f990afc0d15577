"""The preview "as a subscriber": the copy one real person from the store would get.

The same parts as the send loop: their stored address and name, and the signed unsubscribe
token of their membership of one list (`audience.tokens`), filled in by `personalise`.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.audience.addresses import normalise_email
from pipeline.audience.queries import AudienceTx
from pipeline.audience.tokens import make_token, unsubscribe_url
from pipeline.db import Store
from pipeline.errors import InputError, NotFoundError
from pipeline.issue.message import Addressee
from pipeline.settings import Settings


@dataclass(frozen=True)
class Reader:
    """A subscriber as one list's campaign would address them."""

    addressee: Addressee
    list_name: str
    note: str | None  # why they would not get this issue, if they would not

    def as_json(self) -> dict[str, object]:
        return {
            "email": self.addressee.email,
            "name": self.addressee.name,
            "list": self.list_name,
            "unsubscribe_url": self.addressee.unsubscribe_url,
            "note": self.note,
        }


def find_reader(store: Store, settings: Settings, email: str, list_name: str | None) -> Reader:
    """The subscriber with this address, on `list_name` or else on the one list they are
    on. NotFoundError or InputError (naming their lists) when that is not one person on
    one list."""
    secret = settings.require_secret_key()
    address = normalise_email(email)
    with store.begin(AudienceTx, write=False) as tx:
        person = tx.subscriber_by_key(address.key)
        if person is None:
            raise NotFoundError(
                f"no subscriber with the address {address.email}",
                hint="addresses are matched ignoring case; `newsletter subscribers export "
                "--list NAME` shows who is on a list",
            )
        memberships = tx.memberships_of(person.id)
    names = ", ".join(repr(m.list_name) for m in memberships)
    if list_name is not None:
        chosen = [m for m in memberships if m.list_name == list_name]
        if not chosen:
            raise NotFoundError(
                f"{person.email} is not on the list {list_name!r}",
                hint=f"their lists: {names}" if memberships else "they are on no list",
            )
    else:
        chosen = memberships
        if not chosen:
            raise NotFoundError(
                f"{person.email} is on no list, so no campaign would reach them",
                hint=f"`newsletter subscribers add {person.email} --list NAME`",
            )
        if len(chosen) > 1:
            raise InputError(
                f"{person.email} is on {len(chosen)} lists: {names}",
                hint="name the list whose copy to show (--list NAME, or the list field)",
            )
    membership = chosen[0]
    note = None
    if person.status != "active":
        note = f"they would not get this issue: the address is {person.status}"
    elif membership.status != "subscribed":
        note = f"they would not get this issue: {membership.status} on {membership.list_name!r}"
    token = make_token(secret, person.id, membership.list_id)
    return Reader(
        Addressee(
            email=person.email,
            name=person.name or "",
            unsubscribe_url=unsubscribe_url(settings.public_url, token),
        ),
        membership.list_name,
        note,
    )
