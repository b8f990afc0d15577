"""The confirmation email as rendered: in the newsletter's language, both parts, the link
in each, hostile values escaped, and nothing of a campaign's unsubscribe machinery."""

from __future__ import annotations

from email import message_from_bytes
from email.policy import default

from lxml import html as lxml_html

from pipeline.issue.message import to_mime
from pipeline.issue.transactional import confirmation
from pipeline.settings import Settings

LINK = "https://weekly.example.com/confirm/" + "A" * 48


def _settings(lang: str) -> Settings:
    return Settings(lang=lang, public_url="https://weekly.example.com")


def test_korean_confirmation_has_both_parts_and_no_unsubscribe_headers() -> None:
    message = confirmation(
        _settings("ko"), email="reader@example.com", name="독자", lists=["weekly"], confirm_url=LINK
    )
    assert message.subject == "Article Weekly 구독을 확인해 주세요"
    assert message.headers == {}
    assert LINK in message.text and "구독 신청을 확인해 주세요" in message.text
    document = lxml_html.fromstring(message.html)
    assert document.get("lang") == "ko"
    assert LINK in [a.get("href") for a in document.iter("a")]
    assert "weekly" in document.text_content() and "구독 확인하기" in document.text_content()
    mime = message_from_bytes(to_mime(message).as_bytes(), policy=default)
    assert mime["List-Unsubscribe"] is None and mime["List-Id"] is None
    assert "unsubscribe" not in message.html.lower()


def test_english_elsewhere() -> None:
    message = confirmation(
        _settings("en"), email="reader@example.com", name=None, lists=[], confirm_url=LINK
    )
    assert message.subject == "Please confirm your subscription to Article Weekly"
    assert "Confirm my subscription" in message.html and LINK in message.text


def test_hostile_values_are_escaped() -> None:
    message = confirmation(
        _settings("en"),
        email='"<b>x</b>"@example.com',
        name="Mallory\r\nBcc: evil@example.com",
        lists=["<script>alert(1)</script>"],
        confirm_url=LINK,
    )
    assert "<script>alert(1)</script>" not in message.html
    assert "&lt;script&gt;" in message.html and "<b>x</b>" not in message.html
    assert "\n" not in message.to and "\r" not in message.to


def test_each_reader_gets_their_own_address_and_link_from_one_render() -> None:
    """The template is rendered once for a set of lists and filled per reader: nothing of
    one reader's copy shows in another's."""
    settings = _settings("en")
    first = confirmation(
        settings, email="one@example.com", name=None, lists=["alpha-list"], confirm_url=LINK
    )
    other_link = LINK[:-1] + "B"
    second = confirmation(
        settings, email="two@example.com", name=None, lists=["alpha-list"], confirm_url=other_link
    )
    assert "one@example.com" in first.html and "two@example.com" not in first.html
    assert "two@example.com" in second.html and "one@example.com" not in second.html
    links = [a.get("href") for a in lxml_html.fromstring(second.html).iter("a")]
    assert other_link in links and LINK not in links
    assert "nlconfirm" not in first.html + second.html  # no stand-in left behind
    beta = confirmation(
        settings, email="one@example.com", name=None, lists=["beta-list"], confirm_url=LINK
    )
    assert "beta-list" in beta.html and "alpha-list" not in beta.html


def test_a_welcome_is_built_again_when_its_file_changes(tmp_path) -> None:
    from pipeline.issue.message import Addressee
    from pipeline.issue.transactional import welcome

    path = tmp_path / "welcome.md"
    body = '---\ntitle: "{title}"\nnumber: 1\n---\n## [Start here](https://example.com/a)\n- hi\n'
    path.write_text(body.format(title="Welcome aboard"), encoding="utf-8")
    reader = Addressee("one@example.com", "One", "https://weekly.example.com/unsubscribe/t")
    settings = _settings("en")
    assert welcome(settings, path, reader).subject == "Welcome aboard"
    assert welcome(settings, path, reader).subject == "Welcome aboard"
    path.write_text(body.format(title="Welcome, new reader"), encoding="utf-8")
    assert welcome(settings, path, reader).subject == "Welcome, new reader"
