"""The email-client compatibility lint: caniemail's data, read from hand-written emails."""

from __future__ import annotations

from pipeline.issue.compat import BREAKS, PLAINER, Finding, lint
from pipeline.issue.compat_data import CLIENTS, load_features
from pipeline.issue.compat_scan import property_slugs
from pipeline.issue.compat_tables import (
    ATTRIBUTES,
    CONTENT_FEATURES,
    ELEMENTS,
    FUNCTIONS,
    PAIRS,
)

OUTLOOK = "outlook.windows"


def email(body: str, head: str = "") -> str:
    return f"<!DOCTYPE html><html><head>{head}</head><body>{body}</body></html>"


def finding(findings: list[Finding], title: str) -> Finding:
    matches = [f for f in findings if title in (f.title, *f.also)]
    assert len(matches) == 1, [f.message() for f in findings]
    return matches[0]


def titles(findings: list[Finding]) -> set[str]:
    return {t for f in findings for t in (f.title, *f.also)}


def test_the_vendored_data_loads_with_every_client() -> None:
    features = load_features()
    assert len(features) > 250
    flex = features["css-display-flex"]
    assert flex.title == "display:flex" and set(flex.support) == set(CLIENTS)
    assert flex.support[OUTLOOK].level == "n"
    assert features["css-border-radius"].support[OUTLOOK].notes  # caniemail's note on VML


def test_every_feature_the_lint_can_name_is_in_the_data() -> None:
    features = load_features()
    named = (
        set(ELEMENTS.values())
        | set(ATTRIBUTES.values())
        | set(PAIRS.values())
        | set(FUNCTIONS.values())
        | CONTENT_FEATURES
    )
    assert named - set(features) == set()
    known = property_slugs(tuple(sorted(features)))
    assert known["max-width"] == "css-max-width" and known["left"] == "css-left-right-top-bottom"


def test_flex_layout_breaks_in_outlook() -> None:
    findings = lint(email('<div style="display:flex"><p>one</p><p>two</p></div>'))
    flex = finding(findings, "display:flex")
    assert flex.kind == BREAKS and flex.levels[OUTLOOK] == "n"
    message = flex.message()
    assert message.startswith("rendered email, may break the layout or hide content")
    assert "display:flex is not supported in Outlook (Windows)" in message
    # partial support names the client and caniemail's note
    assert "partly supported in Gmail (iOS, Android)" in message
    assert "non Google accounts" in message
    assert findings[0] is flex  # the breaking class comes first


def test_border_radius_only_looks_plainer() -> None:
    findings = lint(email('<table><tr><td style="border-radius:6px">x</td></tr></table>'))
    radius = finding(findings, "border-radius")
    assert radius.kind == PLAINER and radius.levels == {OUTLOOK: "n"}
    assert radius.message().startswith("rendered email, looks plainer: border-radius")
    assert "Outlook (Windows)" in radius.message()


def test_layout_inside_a_media_query_only_looks_plainer() -> None:
    head = "<style>@media (max-width:480px) { .row { display:flex } }</style>"
    findings = lint(email('<div class="row">x</div>', head))
    assert finding(findings, "display:flex").kind == PLAINER
    assert finding(findings, "@media").kind == PLAINER
    assert all(f.kind == PLAINER for f in findings)


def test_a_feature_used_40_times_is_one_problem() -> None:
    cells = "".join(f'<td style="border-radius:{n}px; padding:4px">{n}</td>' for n in range(40))
    findings = lint(email(f"<table><tr>{cells}</tr></table>"))
    assert [f.slug for f in findings].count("css-border-radius") == 1


def test_max_width_needs_the_outlook_fallback_table() -> None:
    bare = lint(email('<div style="max-width:600px">text</div>'))
    assert finding(bare, "max-width").kind == BREAKS
    assert "Only works on `<table>` elements" in finding(bare, "max-width").message()
    ghost = (
        '<!--[if mso]><table width="600"><tr><td><![endif]-->'
        '<div style="max-width:600px">text</div><!--[if mso]></td></tr></table><![endif]-->'
    )
    assert "max-width" not in titles(lint(email(ghost)))


def test_a_hidden_preheader_is_not_checked_inside() -> None:
    preheader = (
        '<div style="display:none; max-height:0px; overflow:hidden; mso-hide:all">'
        "Inbox preview</div>"
    )
    found = titles(lint(email(preheader)))
    assert not found & {"max-height property", "overflow", "display:none"}
    # without mso-hide:all, Outlook shows it: display:none is only partly supported there
    shown = lint(email('<div style="display:none; max-height:0px">Inbox preview</div>'))
    assert finding(shown, "display:none").levels == {OUTLOOK: "a"}


def test_text_on_a_background_image_breaks_unless_a_colour_backs_it() -> None:
    image = "background-image:url(https://img.example/hero.jpg)"
    bare = lint(email(f'<div style="{image}"><p>Read me</p></div>'))
    assert finding(bare, "background-image").kind == BREAKS
    backed = lint(email(f'<div style="{image}; background-color:#123">Read me</div>'))
    assert finding(backed, "background-image").kind == PLAINER


def test_content_elements_break() -> None:
    findings = lint(email('<svg width="10" height="10"></svg><video src="a.mp4"></video>'))
    assert finding(findings, "Embedded <svg> image").kind == BREAKS
    assert finding(findings, "<video> element").kind == BREAKS


def test_a_web_font_breaks_only_without_a_fallback() -> None:
    face = "<style>@font-face { font-family: Brand; src: url(https://f.example/b.woff2) }</style>"
    alone = lint(email('<p style="font-family: Brand">x</p>', face))
    assert finding(alone, "@font-face").kind == BREAKS
    fallback = lint(email('<p style="font-family: Brand, Arial, sans-serif">x</p>', face))
    assert finding(fallback, "@font-face").kind == PLAINER


def test_selectors_break_only_where_the_layout_depends_on_the_style_block() -> None:
    head = "<style>.col { float:left; width:50% }</style>"
    loose = lint(email('<div class="col">a</div><div class="col">b</div>', head))
    assert finding(loose, "Class selector").kind == BREAKS
    assert finding(loose, "<style> element").kind == BREAKS
    assert finding(loose, "float").kind == BREAKS
    # the same rule, inlined as our renderer does: a client without <style> loses nothing
    cell = 'style="float:left; width:50%"'
    inlined = lint(email(f'<div class="col" {cell}>a</div><div class="col" {cell}>b</div>', head))
    assert finding(inlined, "Class selector").kind == PLAINER


def test_notes_that_name_other_values_or_elements_do_not_count() -> None:
    # Outlook: "max-width only works on <table> elements"; Yahoo: "rem values" for font-size
    findings = lint(email('<table style="max-width:600px"><tr><td style="font-size:16px">x'))
    assert "max-width" not in titles(findings)
    assert "font-size" not in titles(findings)
    rem = lint(email('<p style="font-size:1rem">x</p>'))
    assert "font-size" in titles(rem)


def test_an_empty_or_broken_document_has_no_findings_and_no_crash() -> None:
    assert lint("") == []
    assert lint("   ") == []
    assert lint("<!-- only a comment -->") == []
    for broken in ("<style>{{{", '<div style="::;;:">', "<style>.a,,, {display:flex}</style>"):
        assert all(f.title for f in lint(broken))
