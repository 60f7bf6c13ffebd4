/**
 * The console's stylesheet and its one script, served by us under /console/assets (no CDN, no build).
 * The script only enhances: it shows times in the viewer's time zone (the page carries UTC text).
 */

export const CONSOLE_CSS = `
:root { --fg:#1b1f24; --muted:#4d5661; --bg:#fff; --panel:#f5f7f9; --line:#c9d0d7; --accent:#0b57d0;
  --ok:#1a7f37; --ok-bg:#dafbe1; --bad:#b3261e; --bad-bg:#ffebe9; --wait:#7a5a00; --wait-bg:#fff4ce; --off:#4d5661; --off-bg:#eef1f4; }
* { box-sizing: border-box; }
body { margin:0; font:16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color:var(--fg); background:var(--bg); }
a { color:var(--accent); }
a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible, summary:focus-visible, [tabindex]:focus-visible
  { outline:3px solid #f9a825; outline-offset:2px; }
.skip { position:absolute; left:-999px; top:0; background:#fff; padding:.5rem; z-index:2; }
.skip:focus { left:.5rem; }
header.top { display:flex; flex-wrap:wrap; gap:.5rem 1.5rem; align-items:center; padding:.75rem 1rem; background:#0f2a4a; color:#fff; }
header.top a { color:#fff; }
header.top .brand { font-weight:700; text-decoration:none; }
header.top nav ul { display:flex; flex-wrap:wrap; gap:.25rem 1rem; list-style:none; margin:0; padding:0; }
header.top nav a[aria-current="page"] { font-weight:700; text-decoration-thickness:3px; }
header.top form { margin-left:auto; }
header.top .who { font-size:.875rem; color:#dce6f2; }
main { max-width:1200px; margin:0 auto; padding:1rem; }
h1 { font-size:1.6rem; margin:.5rem 0 1rem; }
h2 { font-size:1.2rem; margin:1.5rem 0 .5rem; }
.grid { display:grid; grid-template-columns:repeat(auto-fit, minmax(260px, 1fr)); gap:1rem; }
section.card { background:var(--panel); border:1px solid var(--line); border-radius:8px; padding:1rem; min-width:0; }
section.card h2 { margin-top:0; }
table { border-collapse:collapse; width:100%; }
caption { text-align:left; }
th, td { text-align:left; padding:.4rem .5rem; border-bottom:1px solid var(--line); vertical-align:top; }
th { font-weight:600; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; }
.table-wrap { overflow-x:auto; }
dl.details { display:grid; grid-template-columns:minmax(10rem, 16rem) 1fr; gap:.25rem 1rem; margin:0; }
dl.details dt { font-weight:600; }
dl.details dd { margin:0; overflow-wrap:anywhere; }
.badge { display:inline-block; padding:0 .5rem; border-radius:999px; font-size:.875rem; font-weight:600; border:1px solid currentColor; white-space:nowrap; }
.badge.ok { color:var(--ok); background:var(--ok-bg); }
.badge.bad { color:var(--bad); background:var(--bad-bg); }
.badge.wait { color:var(--wait); background:var(--wait-bg); }
.badge.off { color:var(--off); background:var(--off-bg); }
.bar-cell { width:35%; }
svg.bar { display:block; width:100%; height:.75rem; }
.visually-hidden { position:absolute; width:1px; height:1px; overflow:hidden; clip:rect(0 0 0 0); white-space:nowrap; }
form.filters { display:flex; flex-wrap:wrap; gap:.75rem; align-items:flex-end; margin-bottom:1rem; }
form.filters label { display:flex; flex-direction:column; font-size:.875rem; font-weight:600; }
input, select, button { font:inherit; }
input, select { padding:.35rem .5rem; border:1px solid #7b8794; border-radius:4px; background:#fff; color:var(--fg); min-height:2.25rem; }
button, .button { display:inline-block; padding:.4rem .9rem; border-radius:4px; border:1px solid var(--accent); background:var(--accent); color:#fff; cursor:pointer; text-decoration:none; min-height:2.25rem; }
button.secondary, .button.secondary { background:#fff; color:var(--accent); }
button.danger { background:var(--bad); border-color:var(--bad); }
.notice { border-left:4px solid var(--accent); background:#e8f0fe; padding:.75rem 1rem; margin:1rem 0; }
.notice.error { border-color:var(--bad); background:var(--bad-bg); }
.notice.warn { border-color:var(--wait); background:var(--wait-bg); }
.notice.ok { border-color:var(--ok); background:var(--ok-bg); }
.muted { color:var(--muted); }
progress { width:100%; height:1.25rem; }
.pager { display:flex; gap:1rem; margin-top:1rem; flex-wrap:wrap; }
.actions { display:flex; flex-wrap:wrap; gap:.75rem; align-items:center; }
code { overflow-wrap:anywhere; }
@media (max-width: 640px) {
  main { padding:.75rem; }
  dl.details { grid-template-columns:1fr; }
  dl.details dd { margin-bottom:.5rem; }
  table.responsive thead { position:absolute; left:-9999px; }
  table.responsive tr { display:block; border-bottom:2px solid var(--line); padding:.25rem 0; }
  table.responsive td { display:flex; gap:.5rem; justify-content:space-between; border:0; padding:.15rem 0; text-align:right; }
  table.responsive td::before { content:attr(data-label); font-weight:600; text-align:left; }
  header.top form { margin-left:0; }
}
`;

export const CONSOLE_JS = `
(function () {
  var fmt;
  try { fmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' }); } catch (e) { return; }
  document.querySelectorAll('time[datetime]').forEach(function (el) {
    var d = new Date(el.getAttribute('datetime'));
    if (!isNaN(d.getTime())) el.textContent = fmt.format(d);
  });
})();
`;
