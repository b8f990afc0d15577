"""What readers get: safe markup, every link kept, personal fields filled, nothing else."""

from __future__ import annotations

import re
from email import message_from_bytes
from email.policy import default
from pathlib import Path

from pipeline.issue.build import build
from pipeline.issue.message import Addressee, personalise, to_mime
from pipeline.issue.render import inline_css, render_web
from pipeline.settings import load_settings
from tests.support.cli import SAMPLE_ISSUE

HEAD = '---\ntitle: "Weekly, Issue 3"\nnumber: 3\nperiod: {start: 2024-06-16, end: 2024-06-22}\n'


def rendered_from(tmp: Path, body: str, head: str = HEAD + "---\n"):
    path = tmp / "issue.md"
    path.write_text(head + body, encoding="utf-8")
    result = build(path, load_settings())
    assert result.rendered is not None, result.problems
    return result


def test_script_in_an_issue_shows_as_text_and_never_runs(project: Path) -> None:
    body = (
        "<script>alert('x')</script>\n\n## [A](https://example.com/a)\n"
        "- <img src=x onerror=alert(1)> and <b>bold</b>\n- [click](javascript:alert(1))\n"
    )
    result = rendered_from(project, body)
    html = result.rendered.html.source
    # No script element and no element carrying an event handler: only escaped text.
    assert re.search(r"<script[\s>]", html.split("</head>", 1)[1], re.IGNORECASE) is None
    assert re.search(r"<[a-z][^<>]*\son[a-z]+\s*=", html, re.IGNORECASE) is None
    assert "&lt;script&gt;alert('x')&lt;/script&gt;" in html.replace("&#39;", "'")
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html
    assert 'href="javascript' not in html
    assert any("javascript:" in p.message for p in result.errors)


def test_nested_lists_code_and_quotes_render(project: Path) -> None:
    body = (
        "## [A](https://example.com/a)\n- top\n  - nested `code`\n    - deeper\n\n"
        "> a quote\n\n```\nfenced <code>\n```\n"
    )
    html = rendered_from(project, body).rendered.html.source
    assert re.search(r"<ul[^>]*>\s*<li[^>]*>top\s*<ul[^>]*>\s*<li[^>]*>nested <code", html)
    assert "deeper" in html
    assert re.search(r"<blockquote[^>]*>", html)
    assert "fenced &lt;code&gt;" in html


def test_css_is_inlined_and_media_queries_survive() -> None:
    settings = load_settings()
    result = build(SAMPLE_ISSUE, settings)
    html = result.rendered.html.source
    assert html.startswith("<!DOCTYPE html>")
    assert '<html lang="ko"' in html
    assert 'name="color-scheme" content="light dark"' in html
    assert "@media only screen and (min-width:480px)" in html
    assert "!important" in html  # premailer must not strip it from the mobile rules
    assert "<!--[if mso" in html  # Outlook conditional comments kept
    assert re.search(r"<code style=['\"][^>]*background-color", html)  # inlined from <mj-style>


def test_header_shows_the_name_once_then_number_and_period_in_korean() -> None:
    html = build(SAMPLE_ISSUE, load_settings()).rendered.html.source
    # The sample's title holds the name already: the line above it does not repeat it.
    assert ">제25호 · 2024년 6월 16일 ~ 22일<" in html
    assert "Article Weekly · 제25호" not in html


def test_period_in_english_issue(project: Path) -> None:
    result = rendered_from(
        project, "## [A](https://example.com/a)\n- x\n", HEAD + "lang: en\n---\n"
    )
    assert "Issue 3 · June 16 – 22, 2024" in result.rendered.html.source
    assert "Unsubscribe" in result.rendered.text.source


def test_text_part_keeps_every_link_url(project: Path) -> None:
    body = (
        "Intro with [a link](https://example.com/intro).\n\n## [A](https://example.com/a)\n"
        "- see [docs](https://docs.example.com/x?y=1)\n  - mail [us](mailto:hi@example.com)\n"
    )
    text = rendered_from(project, body).rendered.text.source
    for url in (
        "https://example.com/intro",
        "https://example.com/a",
        "https://docs.example.com/x?y=1",
        "mailto:hi@example.com",
        "https://weekly.example.com/issues/3",
    ):
        assert url in text
    assert (
        "- see docs (https://docs.example.com/x?y=1)\n  - mail us (mailto:hi@example.com)" in text
    )


def test_sample_text_part_has_every_article_url_in_order() -> None:
    rendered = build(SAMPLE_ISSUE, load_settings()).rendered
    urls = [a.url for a in rendered.issue.articles]
    positions = [rendered.text.source.index(url) for url in urls]
    assert len(urls) == 8 and positions == sorted(positions)


def test_personalisation_fills_fields_and_escapes_them() -> None:
    settings = load_settings()
    rendered = build(SAMPLE_ISSUE, settings).rendered
    reader = Addressee(
        "o'brien+x@example.com", "김<독자>", "https://w.example/unsubscribe/t0k?a=1&b=2"
    )
    message = personalise(rendered, reader, settings)
    assert "%%NL:" not in message.html and "%%NL:" not in message.text
    assert 'href="https://w.example/unsubscribe/t0k?a=1&amp;b=2"' in message.html
    assert "o&#x27;brien+x@example.com" in message.html
    assert "https://w.example/unsubscribe/t0k?a=1&b=2" in message.text
    assert message.headers["List-Unsubscribe"] == "<https://w.example/unsubscribe/t0k?a=1&b=2>"
    assert message.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    other = personalise(rendered, Addressee("b@example.com", "", "https://u/2"), settings)
    # Only the personal fields differ between two readers' copies.
    assert (
        message.html.replace("o&#x27;brien+x@example.com", "b@example.com").replace(
            "https://w.example/unsubscribe/t0k?a=1&amp;b=2", "https://u/2"
        )
        == other.html
    )


def test_web_version_has_no_personal_fields() -> None:
    settings = load_settings()
    result = build(SAMPLE_ISSUE, settings)
    web = render_web(result.issue, settings)
    assert "%%NL:" not in web
    assert "/unsubscribe/" not in web
    assert "nl-preheader" not in web
    assert "Maintaining large-scale AI capacity at Meta" in web


def test_mime_message_has_complete_headers_and_korean_survives() -> None:
    settings = load_settings()
    rendered = build(SAMPLE_ISSUE, settings).rendered
    message = personalise(rendered, Addressee("r@example.com", "김독자", "https://u/1"), settings)
    parsed = message_from_bytes(to_mime(message).as_bytes(), policy=default)
    for header in ("From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "List-Id"):
        assert parsed[header], header
    assert parsed["Subject"] == rendered.subject
    assert parsed["To"].addresses[0].display_name == "김독자"
    assert parsed["List-Id"] == "Article Weekly <weekly.example.com>"
    assert parsed["Message-ID"].endswith("@example.com>")
    text = parsed.get_body(("plain",)).get_content()
    html = parsed.get_body(("html",)).get_content()
    assert "Meta는 대규모 언어 모델(LLM)" in text and "Meta는 대규모 언어 모델(LLM)" in html


def test_images_never_wider_than_the_column(project: Path) -> None:
    body = "## [A](https://example.com/a)\n\n![a chart](https://example.com/c.png)\n"
    html = rendered_from(project, body).rendered.html.source
    images = re.findall(r"<img[^>]*src=\"https://example.com/c.png\"[^>]*>", html)
    # Outlook on Windows ignores max-width on images: its own copy has the column's width.
    outlook, flexible = images
    assert 'alt="a chart"' in outlook and 'width="592"' in outlook
    at = html.index(outlook)
    assert html.rindex("<!--[if mso]>", 0, at) < at < html.index("<![endif]-->", at)
    assert 'alt="a chart"' in flexible and "max-width:100%" in flexible.replace(" ", "")


def test_inline_css_keeps_lowercase_doctype_documents_whole() -> None:
    out = inline_css(
        "<!doctype html><html><head><style>p{color:red}</style></head><body><p>x</p></body></html>"
    )
    assert out.startswith("<!DOCTYPE html>") and '<p style="color:red">x</p>' in out


def test_no_third_party_resources_are_loaded() -> None:
    html = build(SAMPLE_ISSUE, load_settings()).rendered.html.source
    assert "<link" not in html and "@import" not in html
