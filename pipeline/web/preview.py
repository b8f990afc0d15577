"""The local preview server: the same build as render and send, shown as readers will see it.

The page polls /api/state; a change to the issue file or a template bumps the version and
the page reloads itself. A broken edit shows its problems in the page; the server goes on.
"""

from __future__ import annotations

import html
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from pipeline.errors import NewsletterError
from pipeline.issue.build import Build, build, sample_recipient
from pipeline.issue.message import Message, personalise
from pipeline.issue.render import render_web, templates_dir
from pipeline.settings import Settings

log = logging.getLogger(__name__)
PHONE_WIDTH = 375
DESKTOP_WIDTH = 800


@dataclass
class PreviewState:
    """The latest build of one issue, rebuilt when its inputs change."""

    path: Path
    settings: Settings
    version: int = 0
    signature: tuple[tuple[str, int], ...] = ()
    result: Build | None = None
    message: Message | None = None
    web: str | None = None
    error: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _inputs(self) -> tuple[tuple[str, int], ...]:
        files = [self.path, *sorted(templates_dir().glob("*"))]
        stamps: list[tuple[str, int]] = []
        for file in files:
            try:
                stat = file.stat()
                stamps.append((str(file), stat.st_mtime_ns + stat.st_size))
            except OSError:
                stamps.append((str(file), -1))
        return tuple(stamps)

    def refresh(self) -> None:
        with self.lock:
            signature = self._inputs()
            if signature == self.signature and self.version:
                return
            self.signature = signature
            self.version += 1
            self.error, self.message, self.web = None, None, None
            try:
                self.result = build(self.path, self.settings)
                if self.result.rendered is not None and self.result.issue is not None:
                    recipient = sample_recipient(self.settings)
                    self.message = personalise(self.result.rendered, recipient, self.settings)
                    self.web = render_web(self.result.issue, self.settings)
            except NewsletterError as exc:
                self.error = str(exc)
            except Exception as exc:  # the preview must survive any broken edit
                log.exception("preview build failed")
                self.error = f"{type(exc).__name__}: {exc}"

    def as_json(self) -> dict[str, object]:
        result = self.result
        rendered = result.rendered if result else None
        return {
            "version": self.version,
            "ok": bool(self.message) and not (result and result.errors) and not self.error,
            "error": self.error,
            "subject": rendered.subject if rendered else None,
            "preheader": rendered.preheader if rendered else None,
            "from": self.settings.from_address,
            "html_bytes": rendered.html_bytes if rendered else None,
            "problems": [p.as_dict() for p in result.problems] if result else [],
        }


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Preview: {title}</title>
<style>
 body {{ font-family: system-ui, sans-serif; margin: 0; background: #e9ebef; color: #1f2328; }}
 header {{ padding: 12px 20px; background: #fff; border-bottom: 1px solid #d0d7de; }}
 .inbox {{ font-size: 14px; }} .inbox b {{ font-size: 15px; }} .muted {{ color: #57606a; }}
 main {{ display: flex; gap: 20px; padding: 20px; align-items: flex-start; flex-wrap: wrap; }}
 figure {{ margin: 0; }} figcaption {{ font-size: 12px; color: #57606a; margin-bottom: 6px; }}
 iframe {{ border: 1px solid #c4c9d0; background: #fff; height: 760px; }}
 #phone {{ width: {phone}px; border-radius: 18px; }} #desktop {{ width: {desktop}px; }}
 pre {{ white-space: pre-wrap; background: #fff; padding: 12px; border: 1px solid #d0d7de;
        max-width: 760px; max-height: 760px; overflow: auto; font-size: 13px; }}
 #problems li.error {{ color: #b42318; }} #problems li.warning {{ color: #9a6700; }}
 #error {{ background: #fde7e9; color: #b42318; padding: 10px 20px; white-space: pre-wrap; }}
</style></head>
<body>
<header>
 <div class="inbox" id="inbox"><b id="from"></b> · <span id="subject"></span>
  <span class="muted" id="preheader"></span></div>
 <div class="muted" id="size"></div>
 <ul id="problems"></ul>
</header>
<div id="error" hidden></div>
<main>
 <figure><figcaption>Phone ({phone} px)</figcaption>
  <iframe id="phone" title="Phone width" src="/email.html?v={version}"></iframe></figure>
 <figure><figcaption>Desktop ({desktop} px)</figcaption>
  <iframe id="desktop" title="Desktop width" src="/email.html?v={version}"></iframe></figure>
 <figure><figcaption>Text part</figcaption><pre id="text"></pre></figure>
</main>
<script>
let version = {version};
function show(state) {{
  document.getElementById('from').textContent = state.from || '';
  document.getElementById('subject').textContent = state.subject || '';
  document.getElementById('preheader').textContent = state.preheader ? '— ' + state.preheader : '';
  document.getElementById('size').textContent = state.html_bytes === null ? '' :
    'HTML size: ' + (state.html_bytes / 1024).toFixed(1) + ' KB (Gmail clips at 102 KB)';
  const list = document.getElementById('problems'); list.replaceChildren();
  for (const p of state.problems) {{
    const li = document.createElement('li'); li.className = p.severity;
    li.textContent = p.path + ':' + p.line + ':' + p.col + ': ' + p.severity + ': ' + p.message;
    list.appendChild(li);
  }}
  const error = document.getElementById('error');
  error.hidden = !state.error; error.textContent = state.error || '';
}}
async function poll() {{
  try {{
    const state = await (await fetch('/api/state', {{cache: 'no-store'}})).json();
    if (state.version !== version) {{ location.reload(); return; }}
    show(state);
  }} catch (e) {{ /* server restarting: try again */ }}
  setTimeout(poll, 500);
}}
fetch('/email.txt').then(r => r.text()).then(t => document.getElementById('text').textContent = t);
poll();
</script>
</body></html>
"""


def _problem_page(state: PreviewState) -> str:
    items = "".join(
        f"<li>{html.escape(str(p))}</li>" for p in (state.result.problems if state.result else [])
    )
    error = f"<pre>{html.escape(state.error)}</pre>" if state.error else ""
    return (
        '<!DOCTYPE html><html lang="en"><meta charset="utf-8"><body style="font-family:'
        f'sans-serif;color:#b42318;padding:12px"><p>This issue does not build.</p>{error}'
        f"<ul>{items}</ul></body></html>"
    )


def create_app(path: Path, settings: Settings) -> Starlette:
    state = PreviewState(path=path, settings=settings)

    def page(request: Request) -> Response:
        state.refresh()
        title = html.escape(str(path))
        body = _PAGE.format(
            title=title, version=state.version, phone=PHONE_WIDTH, desktop=DESKTOP_WIDTH
        )
        return HTMLResponse(body, headers={"Cache-Control": "no-store"})

    def email_html(request: Request) -> Response:
        state.refresh()
        if state.message is None:
            return HTMLResponse(_problem_page(state))
        return HTMLResponse(state.message.html, headers={"Cache-Control": "no-store"})

    def web_html(request: Request) -> Response:
        state.refresh()
        return HTMLResponse(state.web or _problem_page(state))

    def email_text(request: Request) -> Response:
        state.refresh()
        text = (
            state.message.text if state.message else (state.error or "This issue does not build.")
        )
        return PlainTextResponse(text, headers={"Cache-Control": "no-store"})

    def api_state(request: Request) -> Response:
        state.refresh()
        return JSONResponse(state.as_json(), headers={"Cache-Control": "no-store"})

    return Starlette(
        routes=[
            Route("/", page),
            Route("/email.html", email_html),
            Route("/web.html", web_html),
            Route("/email.txt", email_text),
            Route("/api/state", api_state),
        ]
    )
