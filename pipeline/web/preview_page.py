"""The preview's page: both frames, the text part, the inbox line, the problems, and the
controls (dark mode, the copy of one subscriber, the link check). Its script asks the
preview server for everything; nothing here is fetched from elsewhere."""

from __future__ import annotations

import html
import json

PHONE_WIDTH = 375
DESKTOP_WIDTH = 800

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Preview: {title}</title>
<style>
 [hidden] {{ display: none !important; }}
 body {{ font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 0;
         background: #eceef1; color: #1f2328; font-size: 14px; }}
 header {{ padding: 10px 20px; background: #fff; border-bottom: 1px solid #d0d7de;
           position: sticky; top: 0; z-index: 2; }}
 .bar {{ display: flex; gap: 16px; align-items: center; flex-wrap: wrap; }}
 .inbox {{ font-size: 14px; flex: 1 1 30em; }} .inbox b {{ font-size: 15px; }}
 .muted {{ color: #57606a; }}
 .status {{ font-weight: 600; padding: 2px 10px; border-radius: 999px; background: #dafbe1;
            color: #116329; }}
 .status.broken {{ background: #ffebe9; color: #a40e26; }}
 .controls {{ display: flex; gap: 18px; align-items: center; flex-wrap: wrap; margin: 8px 0; }}
 .controls input[type=text] {{ width: 16em; }}
 button {{ font: inherit; padding: 3px 10px; }}
 main {{ display: flex; gap: 20px; padding: 20px; align-items: flex-start; flex-wrap: wrap; }}
 figure {{ margin: 0; }} figcaption {{ font-size: 12px; color: #57606a; margin-bottom: 6px; }}
 iframe {{ border: 1px solid #c4c9d0; background: #fff; height: 760px; }}
 body.dark iframe {{ background: #15171a; }}
 #phone {{ width: {phone}px; border-radius: 18px; }} #desktop {{ width: {desktop}px; }}
 pre {{ white-space: pre-wrap; background: #fff; padding: 12px; border: 1px solid #d0d7de;
        max-width: 760px; max-height: 760px; overflow: auto; font-size: 13px; }}
 #problems li.error, #links li.error {{ color: #a40e26; }}
 #problems li.warning, #links li.warning {{ color: #7a4d00; }}
 #reader-error {{ background: #ffebe9; color: #a40e26; padding: 10px 20px; white-space: pre-wrap; }}
 #reader {{ font-size: 13px; }}
 /* Many warnings must not push the frames off the screen: the lists scroll (and take
    the keyboard's focus, to be scrolled without a mouse). */
 #problems, #links, #notes ul {{ max-height: 12em; overflow: auto; margin: 6px 0;
                                font-size: 13px; }}
 #notes summary {{ cursor: pointer; color: #57606a; }}
 /* A save that does not build: the error in place of the frames, as a dev server shows it. */
 #overlay {{ margin: 20px; padding: 20px 24px; background: #1f2328; color: #f6f8fa;
             border-left: 6px solid #ff8182; border-radius: 6px; max-width: 1200px; }}
 #overlay h2 {{ margin: 0 0 12px; font-size: 18px; color: #ffaba8; }}
 #overlay ol {{ margin: 0; padding-left: 1.2em; font-family: ui-monospace, SFMono-Regular,
                Menlo, Consolas, monospace; font-size: 14px; line-height: 1.6; }}
 #overlay .where {{ color: #79c0ff; }}
 #overlay pre {{ background: transparent; color: inherit; border: 0; padding: 0;
                 margin: 12px 0 0; }}
</style></head>
<body>
<header>
 <div class="bar">
  <span class="status" id="status" role="status">Builds</span>
  <div class="inbox" id="inbox"><b id="from"></b> · <span id="subject"></span>
   <span class="muted" id="preheader"></span></div>
  <div class="muted" id="size"></div>
 </div>
 <ul id="problems" tabindex="0" aria-label="Problems"></ul>
 <details id="notes" hidden><summary id="notes-count"></summary>
  <ul id="notes-list" tabindex="0" aria-label="Email-client notes"></ul></details>
 <div class="controls">
  <label><input type="checkbox" id="dark"> Dark mode (as Apple Mail, iOS Mail and Outlook
   for Mac show it: the email's own dark styles)</label>
  <form id="reader-form">
   <label>As subscriber <input type="text" id="as" name="as" autocomplete="off"
     placeholder="email from the store"></label>
   <label>list <input type="text" id="list" name="list" autocomplete="off"
     placeholder="(their only list)"></label>
   <button type="submit">Show their copy</button>
   <button type="button" id="sample">Sample reader</button>
  </form>
  <button type="button" id="check-links">Check links</button>
 </div>
 <div id="reader" class="muted"></div>
 <div id="reader-error" role="alert" hidden></div>
 <p class="muted" style="font-size:12px;margin:4px 0">This page can show subscribers' names,
  addresses and unsubscribe links from the store: it is served on this machine only
  (127.0.0.1).</p>
 <div id="links-status" class="muted" role="status"></div>
 <ul id="links" tabindex="0" aria-label="Link problems"></ul>
</header>
<section id="overlay" role="alert" hidden>
 <h2>This save does not build</h2>
 <ol id="overlay-list"></ol>
 <pre id="error" hidden></pre>
 <p class="muted" style="color:#c9d1d9">Fix it and save: the preview comes back by itself.</p>
</section>
<main id="frames">
 <figure><figcaption>Phone ({phone} px)</figcaption>
  <iframe id="phone" title="Phone width"></iframe></figure>
 <figure><figcaption>Desktop ({desktop} px)</figcaption>
  <iframe id="desktop" title="Desktop width"></iframe></figure>
 <figure><figcaption>Text part</figcaption><pre id="text" tabindex="0"></pre></figure>
</main>
<script>
let version = {version};
const DEFAULT = {default_view};
const KEY = 'preview-view:' + DEFAULT.as + ':' + DEFAULT.list;
let view = Object.assign({{}}, DEFAULT, JSON.parse(sessionStorage.getItem(KEY) || '{{}}'));
const $ = (id) => document.getElementById(id);

function query() {{
  const q = new URLSearchParams({{v: version, as: view.as, list: view.list}});
  if (view.dark) q.set('scheme', 'dark');
  return q.toString();
}}
function place(p) {{
  return p.path + ':' + p.line + ':' + p.col + ': ' + p.severity + ': ' + p.message;
}}
function fill(list, problems) {{
  list.replaceChildren();
  for (const p of problems) {{
    const li = document.createElement('li'); li.className = p.severity;
    li.textContent = place(p); list.appendChild(li);
  }}
}}
function showReader(answer) {{
  $('reader-error').hidden = !answer.error;
  $('reader-error').textContent = answer.error || '';
  if (answer.error) return false;
  let line = answer.sample
    ? 'Showing the sample reader (' + answer.name + ' <' + answer.email + '>)'
    : 'Showing the copy for ' + (answer.name || '(no name)') + ' <' + answer.email +
      '> on the list \u201c' + answer.list + '\u201d';
  line += ' · unsubscribe link: ' + answer.unsubscribe_url;
  if (answer.note) line += ' · ' + answer.note;
  $('reader').textContent = line;
  return true;
}}
async function askReader() {{
  const q = new URLSearchParams({{as: view.as, list: view.list}});
  return await (await fetch('/api/reader?' + q, {{cache: 'no-store'}})).json();
}}
function load() {{
  sessionStorage.setItem(KEY, JSON.stringify(view));
  $('dark').checked = view.dark;
  document.body.classList.toggle('dark', view.dark);
  $('as').value = view.as; $('list').value = view.list;
  for (const id of ['phone', 'desktop']) $(id).src = '/email.html?' + query();
  fetch('/email.txt?' + query()).then(r => r.text()).then(t => $('text').textContent = t);
  askReader().then(showReader);
}}
function overlay(errors, error) {{
  const list = $('overlay-list'); list.replaceChildren();
  for (const p of errors) {{
    const li = document.createElement('li');
    const where = document.createElement('span'); where.className = 'where';
    where.textContent = p.path + ':' + p.line + ':' + p.col;
    li.append(where, ' ' + p.message); list.appendChild(li);
  }}
  $('error').hidden = !error; $('error').textContent = error || '';
}}
function show(state) {{
  $('from').textContent = state.from || '';
  $('subject').textContent = state.subject || '';
  $('preheader').textContent = state.preheader ? '— ' + state.preheader : '';
  $('size').textContent = state.html_bytes === null ? '' :
    'HTML size: ' + (state.html_bytes / 1024).toFixed(1) + ' KB (Gmail clips at 102 KB)';
  fill($('problems'), state.problems);
  const notes = state.notes || [];
  $('notes').hidden = !notes.length;
  $('notes-count').textContent = notes.length + ' email-client note(s): features that ' +
    'only look plainer in some clients';
  fill($('notes-list'), notes);
  // A broken save: its errors replace the frames until a save builds again.
  const errors = state.problems.filter(p => p.severity === 'error');
  const broken = Boolean(state.error) || errors.length > 0;
  overlay(errors, state.error);
  $('overlay').hidden = !broken; $('frames').hidden = broken;
  $('status').textContent = broken ? 'Does not build' : 'Builds';
  $('status').classList.toggle('broken', broken);
}}
async function poll() {{
  try {{
    const state = await (await fetch('/api/state', {{cache: 'no-store'}})).json();
    if (state.version !== version) {{ location.reload(); return; }}
    show(state);
  }} catch (e) {{ /* server restarting: try again */ }}
  setTimeout(poll, 500);
}}
$('dark').addEventListener('change', () => {{ view.dark = $('dark').checked; load(); }});
$('reader-form').addEventListener('submit', async (event) => {{
  event.preventDefault();
  const wanted = {{as: $('as').value.trim(), list: $('list').value.trim()}};
  const q = new URLSearchParams(wanted);
  const answer = await (await fetch('/api/reader?' + q, {{cache: 'no-store'}})).json();
  if (showReader(answer)) {{ Object.assign(view, wanted); load(); }}
}});
$('sample').addEventListener('click', () => {{ view.as = ''; view.list = ''; load(); }});
$('check-links').addEventListener('click', async () => {{
  const button = $('check-links'); button.disabled = true;
  $('links-status').textContent = 'Checking every link (this uses the network)…';
  try {{
    const answer = await (await fetch('/api/links', {{method: 'POST'}})).json();
    if (answer.error) {{ $('links-status').textContent = answer.error; return; }}
    const errors = answer.problems.filter(p => p.severity === 'error').length;
    const warnings = answer.problems.length - errors;
    $('links-status').textContent = 'Links: ' + answer.links + ' checked (' + answer.urls +
      ' addresses): ' + (answer.problems.length ? errors + ' error(s), ' + warnings +
      ' warning(s)' : 'every one answers');
    fill($('links'), answer.problems);
  }} finally {{ button.disabled = false; }}
}});
load();
poll();
</script>
</body></html>
"""


def _script_value(value: object) -> str:
    # JSON inside <script>: `<` escaped, so no value can close the element.
    return json.dumps(value).replace("<", "\\u003c")


def preview_page(title: str, version: int, default_as: str, default_list: str) -> str:
    return _PAGE.format(
        title=html.escape(title),
        version=version,
        phone=PHONE_WIDTH,
        desktop=DESKTOP_WIDTH,
        default_view=_script_value({"as": default_as, "list": default_list, "dark": False}),
    )
