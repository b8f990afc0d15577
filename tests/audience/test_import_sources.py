"""The readers of other tools' exports, without a database: how each tool's dates are read
(strictly), which format a header is recognised as, and how Mailchimp's files are told
apart. The end-to-end imports are in tests/cli/test_import_formats.py."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.audience.sources import dates, detect
from pipeline.audience.sources.base import BadCell, quoted_list
from pipeline.audience.sources.mailchimp import kind_by_name
from pipeline.errors import InputError

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "imports"


@pytest.mark.parametrize(
    ("reader", "text", "expected"),
    [
        (dates.mailchimp, "2024-03-05 09:12:44", datetime(2024, 3, 5, 9, 12, 44, tzinfo=UTC)),
        (dates.iso, "2018-08-27T15:06:27.713Z", datetime(2018, 8, 27, 15, 6, 27, 713000, UTC)),
        (dates.iso, "2018-08-27T17:06:27+02:00", datetime(2018, 8, 27, 15, 6, 27, tzinfo=UTC)),
        (
            dates.listmonk,
            "2024-03-05 09:12:44.123456789 +0530 IST",  # Go writes nanoseconds
            datetime(2024, 3, 5, 3, 42, 44, 123456, UTC),
        ),
        (dates.listmonk, "2022-05-05 05:05:05 -0700 -0700", datetime(2022, 5, 5, 12, 5, 5, 0, UTC)),
        (
            dates.listmonk,
            "2024-03-05T09:12:44.5+05:30",  # listmonk's API
            datetime(2024, 3, 5, 3, 42, 44, 500000, UTC),
        ),
        (dates.mailchimp, "", None),
    ],
)
def test_each_tools_dates(reader, text: str, expected: datetime | None) -> None:  # type: ignore[no-untyped-def]
    assert reader(text, "column") == expected


@pytest.mark.parametrize(
    ("reader", "text"),
    [
        (dates.mailchimp, "2024-02-30 10:00:00"),  # no such day
        (dates.mailchimp, "2024-03-05T09:12:44Z"),  # another tool's form
        (dates.mailchimp, "03/05/2024 09:12"),
        (dates.mailchimp, " 2024-03-05 09:12:44x"),
        (dates.iso, "2018-08-27T15:06:27"),  # no zone: which time was it?
        (dates.iso, "2018-08-27"),
        (dates.iso, "2018-08-27T25:06:27Z"),
        (dates.iso, "2018-08-27T15:06:27+24:00"),
        (dates.listmonk, "2024-03-05 09:12:44"),  # no offset
        (dates.listmonk, "yesterday"),
    ],
)
def test_a_bad_date_is_a_bad_cell_naming_the_column(reader, text: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(BadCell, match=r"^OPTIN_TIME is .*, not a date like"):
        reader(text, "OPTIN_TIME")


def test_a_date_in_the_future_is_refused() -> None:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    with pytest.raises(BadCell, match="created_at is in the future"):
        dates.not_after(datetime(2030, 1, 1, tzinfo=UTC), now, "created_at")
    assert dates.not_after(None, now, "created_at") is None


def _header(name: str) -> list[str]:
    with (FIXTURES / name).open(encoding="utf-8", newline="") as handle:
        return next(csv.reader(handle))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("subscribed_members_export_3f9a1c2b7d.csv", "mailchimp"),
        ("unsubscribed_members_export_3f9a1c2b7d.csv", "mailchimp"),
        ("cleaned_members_export_3f9a1c2b7d.csv", "mailchimp"),
        ("substack_subscribers.csv", "substack"),
        ("ghost_members.csv", "ghost"),
        ("listmonk_subscribers.csv", "listmonk"),
    ],
)
def test_each_export_is_recognised_from_its_header(name: str, expected: str) -> None:
    assert detect(_header(name), name) == expected


def test_other_headers() -> None:
    assert detect(["email", "name", "city"], "x.csv") == "plain"
    # Substack's older export of paying readers has no created_at
    assert detect(
        ["email", "expiry", "email_disabled", "stripe_connected_customer_id", "type"], "x"
    ) == ("substack")
    assert detect(["Email", "subscribed_to_emails"], "x") == "ghost"  # any case
    with pytest.raises(InputError, match="no email column") as raised:
        detect(["E-mail", "Name"], "x.csv")
    assert "listmonk" in str(raised.value) and "--from" in str(raised.value)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("subscribed_members_export_3f9a1c2b7d.csv", "subscribed"),
        ("members_export_3f9a1c2b7d/unsubscribed_members_export_3f9a1c2b7d.csv", "unsubscribed"),
        ("Cleaned_members_export_x.csv", "cleaned"),
        ("nonsubscribed_members_export_x.csv", "nonsubscribed"),
        ("my audience.csv", None),
    ],
)
def test_mailchimp_file_names(name: str, kind: str | None) -> None:
    assert kind_by_name(name) == kind


def test_mailchimp_tags() -> None:
    assert quoted_list('"Editors","VIP"') == ["Editors", "VIP"]
    assert quoted_list('"Lorem Editors"') == ["Lorem Editors"]
    assert quoted_list("Editors") == ["Editors"]
    assert quoted_list("") == []
