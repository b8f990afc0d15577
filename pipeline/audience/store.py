"""The old home of the store handle, kept for one commit while imports move to `pipeline.db`
(the store) and `pipeline.audience.queries` (the audience's queries)."""

from pipeline.audience.queries import AudienceTx, receiving
from pipeline.audience.records import ListMember, MailingList, Membership, Subscriber
from pipeline.db.store import Store

__all__ = [
    "AudienceTx",
    "ListMember",
    "MailingList",
    "Membership",
    "Store",
    "Subscriber",
    "receiving",
]
