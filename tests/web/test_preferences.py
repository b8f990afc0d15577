"""The preference page behind every message's link, over real HTTP on 127.0.0.1: the
reader's lists with their states, leaving one, another or all, rejoining, and every form
value checked (a list that is not the reader's, a forged token: 400, nothing changed).

The reader and their lists are tests/support/preference_site.py's; the database is read
directly to check what changed, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import base64
import html
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.audience.tokens import make_test_token, make_token
from pipeline.web.pages import mask
from tests.support.cli import TEST_SECRET
from tests.support.preference_site import (
    DESCRIPTIONS,
    OTHER,
    OTHER_STATES,
    READER,
    READER_STATES,
    PreferenceSite,
    forms_outside_table,
    preference_site,
    table,
)

ONE_CLICK = {"List-Unsubscribe": "One-Click"}
KO_STATES = {
    "subscribed": "구독 중",
    "unsubscribed": "수신 거부됨",
    "unconfirmed": "확인 대기 중",
}


@pytest.fixture
def site(project: Path, asgi_client) -> Iterator[PreferenceSite]:
    with preference_site(project, asgi_client) as running:
        yield running


def assert_security_headers(response) -> None:
    csp = response.headers.get("content-security-policy", "")
    assert "default-src 'none'" in csp and "form-action 'self'" in csp, csp
    assert "frame-ancestors 'none'" in csp, csp
    assert response.headers.get("referrer-policy") == "no-referrer"
    assert "no-store" in response.headers.get("cache-control", "")
    assert response.headers.get("x-content-type-options") == "nosniff"
    assert "set-cookie" not in response.headers


def shown_states(page: str) -> dict[str, str]:
    """List name -> the state's words, as the page's table shows them."""
    found = {}
    for name_cell, state_cell, _forms in table(page):
        name = name_cell.split(" ")[0]
        found[name] = next(s for s, words in KO_STATES.items() if state_cell.startswith(words))
    return found


def buttons(page: str) -> dict[str, list[tuple[str, str]]]:
    """List name -> the (action, list id) of each form in its row."""
    return {
        row[0].split(" ")[0]: [(action, list_id) for action, list_id, _l, _n in row[2]]
        for row in table(page)
    }


# --- what the page shows -------------------------------------------------------------------


def test_the_page_lists_every_membership_with_its_state(site: PreferenceSite) -> None:
    before = site.snapshot()
    for _ in range(3):  # a mail scanner may follow the link several times
        response = site.client.get(site.path())
        assert response.status_code == 200, response.text
        assert site.client.head(site.path()).status_code in (200, 405)
    assert site.snapshot() == before, "a GET must never change anything"
    page = response.text
    assert_security_headers(response)
    assert '<html lang="ko">' in page and page.count("<main>") == 1 and page.count("<h1>") == 1
    assert "<h1>수신 거부</h1>" in page
    assert mask(READER) in page and READER not in page  # only the masked address
    assert "독자" not in page  # nor their name
    assert "<script" not in page

    rows = table(page)
    assert rows[0][0].startswith("weekly") and "이 메일의 목록" in rows[0][0]  # the link's first
    assert shown_states(page) == READER_STATES  # every membership, and no other list
    assert "private" not in page  # OTHER's list
    assert html.escape(DESCRIPTIONS["announcements"]) in page
    # the state in words; the unconfirmed one says how it starts
    (events,) = [row for row in rows if row[0].startswith("events")]
    assert "확인 메일의 링크" in events[1]

    ids = site.list_ids
    assert buttons(page) == {
        "weekly": [("leave", str(ids["weekly"]))],
        "announcements": [("leave", str(ids["announcements"]))],
        "events": [("leave", str(ids["events"]))],  # an unconfirmed signup can be left
        "archive": [("rejoin", str(ids["archive"]))],
    }
    assert forms_outside_table(page) == ["leave-all"]
    # every button is a real one, named for its list; every form posts back to this URL
    assert page.count("<button") == page.count('<button type="submit"') == 5
    assert page.count("<form") == page.count('<form method="post">') == 5
    names = [name for row in rows for _a, _l, _label, name in row[2]]
    assert names == [
        "수신 거부: weekly",
        "수신 거부: announcements",
        "다시 구독하기: archive",
        "수신 거부: events",
    ]


def test_the_page_of_another_lists_link(site: PreferenceSite) -> None:
    """A link from an `archive` message, a list the reader left: that list comes first,
    the title says so, and the way back is its button."""
    page = site.client.get(site.path(list_name="archive")).text
    assert "<h1>이미 수신 거부됨</h1>" in page
    assert f"{mask(READER)} 주소는 archive 목록에서 수신 거부되어 있습니다." in page
    assert table(page)[0][0].startswith("archive")
    assert shown_states(page) == READER_STATES


# --- the changes ---------------------------------------------------------------------------


def test_leave_the_list_of_the_link(site: PreferenceSite) -> None:
    response = site.post(action="leave", list=site.list_ids["weekly"])
    assert response.status_code == 200, response.text
    assert "location" not in response.headers  # the answer is the page itself
    assert_security_headers(response)
    assert "<h1>수신 거부되었습니다</h1>" in response.text
    assert f"{mask(READER)} 주소로 더 이상 weekly 메일을 보내지 않습니다." in response.text
    assert site.states() == READER_STATES | {"weekly": "unsubscribed"}
    assert site.status() == "active"
    assert site.states(OTHER) == OTHER_STATES
    # the page shows the new state, and the way back
    assert shown_states(response.text) == site.states()
    assert buttons(response.text)["weekly"] == [("rejoin", str(site.list_ids["weekly"]))]


def test_leave_another_list(site: PreferenceSite) -> None:
    before = site.query(
        "SELECT * FROM memberships WHERE list_id <> ?", site.list_ids["announcements"]
    )
    response = site.post(action="leave", list=site.list_ids["announcements"])
    assert response.status_code == 200, response.text
    assert "더 이상 announcements 메일을" in response.text
    assert site.states() == READER_STATES | {"announcements": "unsubscribed"}
    # nothing else moved, not even a timestamp
    assert (
        site.query("SELECT * FROM memberships WHERE list_id <> ?", site.list_ids["announcements"])
        == before
    )
    (stamp,) = site.query(
        "SELECT unsubscribed_at FROM memberships WHERE subscriber_id = ? AND list_id = ?",
        site.subscriber_ids[READER],
        site.list_ids["announcements"],
    )
    assert stamp[0] is not None


def test_leave_a_signup_that_waits_for_confirmation(site: PreferenceSite) -> None:
    response = site.post(action="leave", list=site.list_ids["events"])
    assert response.status_code == 200, response.text
    assert site.states() == READER_STATES | {"events": "unsubscribed"}
    assert buttons(response.text)["events"] == [("rejoin", str(site.list_ids["events"]))]


def test_leave_all(site: PreferenceSite) -> None:
    response = site.post(action="leave-all")
    assert response.status_code == 200, response.text
    assert "<h1>모든 목록에서 수신 거부되었습니다</h1>" in response.text
    assert site.states() == dict.fromkeys(READER_STATES, "unsubscribed")
    assert site.status() == "unsubscribed"  # and no later import or add brings them back
    assert site.states(OTHER) == OTHER_STATES and site.status(OTHER) == "active"
    assert set(shown_states(response.text).values()) == {"unsubscribed"}
    assert forms_outside_table(response.text) == []  # nothing left to leave
    assert {a for row in buttons(response.text).values() for a, _ in row} == {"rejoin"}

    after = site.snapshot()
    again = site.post(action="leave-all")  # a double click, a reload
    assert again.status_code == 200 and site.snapshot() == after


def test_rejoin_a_list_they_left(site: PreferenceSite) -> None:
    response = site.client.post(
        site.path(),
        data={"action": "rejoin", "list": str(site.list_ids["archive"])},
        headers={"User-Agent": "Mozilla/5.0 (preference test)"},
    )
    assert response.status_code == 200, response.text
    assert "<h1>다시 구독되었습니다</h1>" in response.text
    assert f"{mask(READER)} 주소로 archive 메일을 다시 보내 드립니다." in response.text
    assert site.states() == READER_STATES | {"archive": "subscribed"}
    # the proof of consent: how, from where, when
    (consent,) = site.query(
        "SELECT subscriber_id, list_id, method, ip, user_agent, requested_at, confirmed_at "
        "FROM consents WHERE method = 'form'"
    )
    assert consent[:5] == (
        site.subscriber_ids[READER],
        site.list_ids["archive"],
        "form",
        "127.0.0.1",
        "Mozilla/5.0 (preference test)",
    )
    assert consent[5] is not None and consent[6] is not None

    after = site.snapshot()
    again = site.post(action="rejoin", list=site.list_ids["archive"])
    assert again.status_code == 200 and site.snapshot() == after  # already on it: no-op


def test_leave_all_then_rejoin_one(site: PreferenceSite) -> None:
    site.post(action="leave-all")
    response = site.post(action="rejoin", list=site.list_ids["announcements"])
    assert response.status_code == 200, response.text
    assert site.status() == "active"
    expected = dict.fromkeys(READER_STATES, "unsubscribed") | {"announcements": "subscribed"}
    assert site.states() == expected
    assert shown_states(response.text) == expected


def test_the_old_pages_buttons_still_mean_the_links_list(site: PreferenceSite) -> None:
    """A page opened before the upgrade posts `unsubscribe` / `resubscribe` with no list."""
    assert site.post(action="unsubscribe").status_code == 200
    assert site.states() == READER_STATES | {"weekly": "unsubscribed"}
    assert site.post(action="resubscribe").status_code == 200
    assert site.states() == READER_STATES


def test_an_unconfirmed_signup_cannot_be_joined_here(site: PreferenceSite) -> None:
    before = site.snapshot()
    response = site.post(action="rejoin", list=site.list_ids["events"])
    assert response.status_code == 409
    assert "확인 메일의 링크" in response.text and "<button" not in response.text
    assert_security_headers(response)
    assert site.snapshot() == before


@pytest.mark.parametrize("status", ["bounced", "complained"])
def test_a_bounced_or_complained_reader_cannot_rejoin(site: PreferenceSite, status: str) -> None:
    site.set_status(READER, status)
    page = site.client.get(site.path()).text
    assert ("반송되어" if status == "bounced" else "스팸으로 신고되어") in page
    assert "구독 중이지만 발송 중지됨" in page  # subscribed, yet nothing is sent
    assert all(action != "rejoin" for row in buttons(page).values() for action, _ in row)

    before = site.snapshot()
    refused = site.post(action="rejoin", list=site.list_ids["archive"])
    assert refused.status_code == 409
    assert "<h1>다시 구독할 수 없습니다</h1>" in refused.text
    assert "이메일에 답장해 주시면 도와드리겠습니다" in refused.text
    assert mask(READER) in refused.text and READER not in refused.text
    assert "--force" not in refused.text and "<button" not in refused.text
    assert_security_headers(refused)
    assert site.snapshot() == before

    # leaving still works, and the person's status says more than "unsubscribed"
    assert site.post(action="leave-all").status_code == 200
    assert site.states() == dict.fromkeys(READER_STATES, "unsubscribed")
    assert site.status() == status


def test_a_reader_removed_from_a_private_list_cannot_rejoin_it_with_an_old_link(
    site: PreferenceSite, cli
) -> None:
    path = site.path()  # the link of a message sent before the editor's correction
    assert cli("subscribers", "remove", READER, "--list", "weekly").code == 0
    page = site.client.get(path)
    assert page.status_code == 200
    assert "발행인이 이 주소를 목록에서 뺐습니다" in page.text
    assert ("rejoin", str(site.list_ids["weekly"])) not in buttons(page.text)["weekly"]

    before = site.snapshot()
    for action in ("rejoin", "resubscribe"):  # the page's button and the old page's
        refused = site.post(path, action=action, list=site.list_ids["weekly"])
        assert refused.status_code == 409, refused.text
        assert "<h1>다시 구독할 수 없습니다</h1>" in refused.text
        assert mask(READER) in refused.text and "<button" not in refused.text
        assert "subscribers add" not in refused.text  # the hint is the publisher's, for the log
        assert_security_headers(refused)
    assert site.snapshot() == before
    assert "weekly" not in site.states()
    # The reader's other lists are still theirs to change.
    assert site.post(path, action="leave", list=site.list_ids["announcements"]).status_code == 200


def test_a_reader_removed_from_a_public_list_may_rejoin_it(site: PreferenceSite, cli) -> None:
    """Anyone may sign up to a public list, so its own link may bring them back too."""
    path = site.path()
    assert cli("lists", "update", "weekly", "--public").code == 0
    assert cli("subscribers", "remove", READER, "--list", "weekly").code == 0
    assert ("rejoin", str(site.list_ids["weekly"])) in buttons(site.client.get(path).text)["weekly"]
    assert site.post(path, action="rejoin", list=site.list_ids["weekly"]).status_code == 200
    assert site.states()["weekly"] == "subscribed"


# --- every value checked -------------------------------------------------------------------


@pytest.mark.parametrize("action", ["leave", "rejoin"])
@pytest.mark.parametrize(
    "value",
    ["private", "missing", "0", "999999", "-1", "abc", "", "1.0", "²", "9" * 19, "1 OR 1=1"],
)
def test_a_list_that_is_not_theirs_is_refused(
    site: PreferenceSite, action: str, value: str
) -> None:
    before = site.snapshot()
    fields = {"action": action}
    if value == "private":  # a real list, but the other person's
        fields["list"] = str(site.list_ids["private"])
    elif value != "missing":
        fields["list"] = value
    response = site.client.post(site.path(), data=fields)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "아무것도 바꾸지 않았습니다" in response.text and "<button" not in response.text
    assert_security_headers(response)
    assert site.snapshot() == before


@pytest.mark.parametrize("body", ["", "action=delete", "action=LEAVE-ALL", "List-Unsubscribe=Yes"])
def test_an_unknown_action_changes_nothing(site: PreferenceSite, body: str) -> None:
    before = site.snapshot()
    response = site.client.post(
        site.path(), content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 400
    assert site.snapshot() == before


def _tampered(token: str) -> str:
    i = len(token) // 2
    return token[:i] + ("B" if token[i] != "B" else "C") + token[i + 1 :]


@pytest.mark.parametrize("kind", ["random", "tampered", "other-key", "other-key-for-other"])
def test_a_forged_token_changes_nothing(site: PreferenceSite, kind: str) -> None:
    reader, private = site.subscriber_ids[READER], site.list_ids["private"]
    token = {
        "random": lambda: base64.urlsafe_b64encode(secrets.token_bytes(33)).decode(),
        "tampered": lambda: _tampered(site.token()),
        "other-key": lambda: make_token(b"another installation's key", reader, private),
        "other-key-for-other": lambda: make_token(
            b"another installation's key", site.subscriber_ids[OTHER], private
        ),
    }[kind]()
    path = f"/unsubscribe/{token}"
    before = site.snapshot()
    for response in (
        site.client.get(path),
        site.post(path, action="leave", list=site.list_ids["weekly"]),
        site.post(path, action="leave-all"),
        site.post(path, action="rejoin", list=site.list_ids["archive"]),
        site.client.post(path, data=ONE_CLICK),
    ):
        assert response.status_code == 400, (response.request, response.text)
        # No list named (the site's own address, weekly.example.com, may be there).
        shown = response.text.replace("weekly.example.com", "")
        assert "<button" not in shown and "weekly" not in shown
        if response.headers["content-type"].startswith("text/html"):
            assert "잘못된 링크" in response.text
    assert site.snapshot() == before


def test_a_test_copys_link_unsubscribes_nobody(site: PreferenceSite) -> None:
    path = f"/unsubscribe/{make_test_token(TEST_SECRET.encode(), 25)}"
    before = site.snapshot()
    for fields in (
        {"action": "leave-all"},
        {"action": "leave", "list": str(site.list_ids["weekly"])},
    ):
        response = site.client.post(path, data=fields)
        assert response.status_code == 200 and "테스트 메일" in response.text
        assert "<form" not in response.text
    assert site.client.post(path, data=ONE_CLICK).text == "test copy: nobody was unsubscribed\n"
    assert site.snapshot() == before


def test_a_forgotten_reader_gets_the_bad_link_page(site: PreferenceSite, cli) -> None:
    path = site.path()
    assert cli("subscribers", "forget", READER).code == 0
    before = site.snapshot()
    for response in (site.client.get(path), site.post(path, action="leave-all")):
        assert response.status_code == 400 and "잘못된 링크" in response.text
    assert site.snapshot() == before


# --- one click (RFC 8058) ------------------------------------------------------------------


def test_one_click_leaves_only_the_list_of_the_link(site: PreferenceSite) -> None:
    response = site.client.post(site.path(list_name="announcements"), data=ONE_CLICK)
    assert response.status_code == 200 and response.text == "unsubscribed\n"
    assert response.headers["content-type"].startswith("text/plain")
    assert "location" not in response.headers
    assert site.states() == READER_STATES | {"announcements": "unsubscribed"}
    assert site.status() == "active" and site.states(OTHER) == OTHER_STATES
    after = site.snapshot()
    assert site.client.post(site.path(list_name="announcements"), data=ONE_CLICK).status_code == 200
    assert site.snapshot() == after  # idempotent

    # One-click wins over any other field: it never leaves more than the link's list.
    site.client.post(site.path(), data=ONE_CLICK | {"action": "leave-all"})
    assert site.states() == READER_STATES | {
        "announcements": "unsubscribed",
        "weekly": "unsubscribed",
    }
    assert site.status() == "active"


def test_english(project: Path, asgi_client) -> None:
    with preference_site(project, asgi_client, lang="en") as site:
        page = site.client.get(site.path()).text
        assert '<html lang="en">' in page and "<h1>Unsubscribe</h1>" in page
        assert "Waiting for confirmation" in page and "Unsubscribe from all lists" in page
        assert 'aria-label="Resubscribe: archive"' in page
        assert "구독" not in page
        refused = site.post(action="rejoin", list=site.list_ids["events"])
        assert refused.status_code == 409 and "confirmation email" in refused.text
        done = site.post(action="leave-all")
        assert "<h1>You are unsubscribed from all lists</h1>" in done.text
        back = site.post(action="rejoin", list=site.list_ids["weekly"])
        assert "<h1>You are subscribed again</h1>" in back.text
