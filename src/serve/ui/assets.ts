/**
 * The UI's only style sheet and script, served as files from /ui/static/ so that the
 * Content-Security-Policy allows nothing inline. The script does one thing: the Copy buttons.
 */
export const STYLE_CSS = `
:root { color-scheme: light; --fg: #1d2330; --muted: #5b6475; --line: #d9dde5; --bg: #f6f7f9;
  --ok: #17663a; --ok-bg: #e3f4e8; --bad: #a11d1d; --bad-bg: #fbe7e7; --warn: #7a5600; --warn-bg: #fff3d6;
  --link: #1f4fbf; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  color: var(--fg); background: var(--bg); }
header.top { background: #1d2330; color: #fff; padding: 10px 24px; display: flex; gap: 24px; align-items: baseline; }
header.top a { color: #fff; text-decoration: none; }
header.top .brand { font-weight: 700; font-size: 16px; }
header.top .where { color: #aeb6c6; margin-left: auto; font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
main { max-width: 1180px; margin: 0 auto; padding: 20px 24px 48px; }
h1 { font-size: 22px; margin: 4px 0 12px; word-break: break-all; }
h2 { font-size: 16px; margin: 28px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
a { color: var(--link); }
nav.crumbs { color: var(--muted); margin-bottom: 4px; }
code, .mono { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, monospace; font-size: 12.5px; }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #eef0f4; font-weight: 600; font-size: 13px; }
td.num, th.num { text-align: right; white-space: nowrap; }
.muted { color: var(--muted); }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; white-space: nowrap; }
.badge.ok { color: var(--ok); background: var(--ok-bg); }
.badge.bad { color: var(--bad); background: var(--bad-bg); }
.badge.warn { color: var(--warn); background: var(--warn-bg); }
.badge.none { color: var(--muted); background: #eceef2; }
form.filter { display: flex; gap: 8px; margin: 8px 0 12px; }
form.filter input[type=search] { flex: 1; max-width: 420px; padding: 6px 8px; border: 1px solid var(--line); border-radius: 4px; }
button, .button { padding: 6px 12px; border: 1px solid #b7becc; border-radius: 4px; background: #fff; cursor: pointer; font: inherit; }
.pager { display: flex; justify-content: space-between; margin-top: 10px; color: var(--muted); }
.pinned { display: flex; gap: 8px; margin: 8px 0 16px; }
.pinned input { flex: 1; padding: 6px 8px; font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12.5px;
  border: 1px solid var(--line); border-radius: 4px; background: #fff; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0; background: #fff;
  border: 1px solid var(--line); padding: 10px 14px; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; word-break: break-all; }
ul.tree, ul.tree ul { list-style: none; margin: 0; padding-left: 22px; }
ul.tree { padding-left: 0; }
ul.tree li { margin: 6px 0; }
.node { background: #fff; border: 1px solid var(--line); border-left: 4px solid #b7becc; padding: 8px 12px; }
.node.sig { border-left-color: #3b6fd8; }
.node.sbom { border-left-color: #17663a; }
.node.att { border-left-color: #8a4fc7; }
.node .kind { font-weight: 600; margin-right: 8px; }
.node .check { margin-top: 4px; }
.licenses { margin: 4px 0 0; padding-left: 18px; }
.verdict { background: #fff; border: 1px solid var(--line); padding: 10px 14px; }
.verdict.bad { border-left: 4px solid var(--bad); }
.verdict.ok { border-left: 4px solid var(--ok); }
`

export const COPY_JS = `'use strict';
document.addEventListener('click', function (e) {
  var button = e.target.closest && e.target.closest('button[data-copy]');
  if (!button) return;
  var input = document.getElementById(button.getAttribute('data-copy'));
  if (!input) return;
  input.select();
  var done = function () { button.textContent = 'Copied'; };
  if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(input.value).then(done, function () {});
  else if (document.execCommand('copy')) done();
});
`

/** A ship's wheel would be nicer; a plain mark keeps browsers from asking /favicon.ico (outside the UI). */
export const FAVICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#1d2330"/><path d="M3 10h10l-2 3H5z" fill="#fff"/><path d="M8 3v6M8 3l3 4H8" stroke="#fff" fill="none"/></svg>`
