// The dashboard's only stylesheet and script, served from /dashboard/assets/ so the
// Content-Security-Policy can forbid every inline script and style. No build step.

export const DASHBOARD_CSS = `
:root{--fg:#1d2330;--muted:#5d6678;--bg:#f6f7f9;--card:#fff;--line:#dfe3ea;--accent:#2450c5;
--ok:#1e7d3a;--ok-bg:#e3f4e8;--soon:#8a6100;--soon-bg:#fff3d1;--due:#a04a00;--due-bg:#ffe6cc;
--over:#b3161b;--over-bg:#fde1e1;--grace:#5b3fb0;--grace-bg:#ece6ff;--rot:#0b6a8a;--rot-bg:#dcf2fa;
--fail:#fff;--fail-bg:#b3161b;--unk:#5d6678;--unk-bg:#eceef2}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
a{color:var(--accent);text-decoration:none}a:hover{text-decoration:underline}
header.top{display:flex;align-items:center;gap:24px;padding:10px 24px;background:#172033;color:#fff}
header.top .brand{font-weight:700;font-size:16px;letter-spacing:.5px;color:#fff}
header.top nav a{color:#cfd8ea;margin-right:16px}header.top nav a.active{color:#fff;font-weight:600}
header.top .who{margin-left:auto;display:flex;gap:12px;align-items:center;color:#cfd8ea}
header.top .who button{background:transparent;border:1px solid #56627c;color:#fff;padding:3px 10px;border-radius:4px;cursor:pointer}
main{max-width:1200px;margin:0 auto;padding:20px 24px 48px}
h1{font-size:22px;margin:4px 0 14px}h1.mono{font-size:22px}h2{font-size:16px;margin:26px 0 10px}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:16px;margin-bottom:16px}
table{width:100%;border-collapse:collapse;background:var(--card);border:1px solid var(--line);border-radius:8px;overflow:hidden}
th,td{text-align:left;padding:7px 10px;border-bottom:1px solid var(--line);vertical-align:top}
th{background:#eef1f6;font-weight:600;font-size:12px;text-transform:uppercase;letter-spacing:.4px;color:var(--muted)}
tr:last-child td{border-bottom:0}
td.mono,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.muted{color:var(--muted)}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;white-space:nowrap}
.s-ok{color:var(--ok);background:var(--ok-bg)}.s-due-soon{color:var(--soon);background:var(--soon-bg)}
.s-due{color:var(--due);background:var(--due-bg)}.s-overdue{color:var(--over);background:var(--over-bg)}
.s-in-grace{color:var(--grace);background:var(--grace-bg)}.s-rotating{color:var(--rot);background:var(--rot-bg)}
.s-failed{color:var(--fail);background:var(--fail-bg)}.s-unknown{color:var(--unk);background:var(--unk-bg)}
.st-current{color:var(--ok);background:var(--ok-bg)}.st-previous{color:var(--grace);background:var(--grace-bg)}
.st-pending,.st-standby{color:var(--rot);background:var(--rot-bg)}.st-retired{color:var(--unk);background:var(--unk-bg)}
.st-failed{color:var(--fail);background:var(--fail-bg)}
.summary{display:flex;flex-wrap:wrap;gap:8px;margin-bottom:14px}
.summary a{display:flex;gap:6px;align-items:center;padding:6px 12px;border:1px solid var(--line);border-radius:6px;background:var(--card);color:var(--fg)}
.summary a.on{border-color:var(--accent);box-shadow:0 0 0 1px var(--accent)}
.summary b{font-size:16px}
#filter-q{min-width:280px}
form.filters{display:flex;gap:8px;flex-wrap:wrap;align-items:center;margin-bottom:12px}
input,select,textarea{font:inherit;padding:6px 8px;border:1px solid #c5ccd8;border-radius:5px;background:#fff}
textarea{width:100%;min-height:54px}
button,.button{font:inherit;padding:6px 14px;border-radius:5px;border:1px solid var(--accent);background:var(--accent);color:#fff;cursor:pointer}
button.secondary{background:#fff;color:var(--accent)}
button.danger{background:var(--over);border-color:var(--over)}
button:disabled{opacity:.45;cursor:not-allowed}
.actions{display:grid;grid-template-columns:1fr 1fr;gap:16px}
.actions label{display:block;margin:8px 0 4px;font-weight:600}
.notice{padding:10px 14px;border-radius:6px;margin-bottom:14px;border:1px solid}
.notice.ok{background:var(--ok-bg);border-color:#a9d8b6;color:#14532a}
.notice.err{background:var(--over-bg);border-color:#f0a9ab;color:#7d0f13}
.notice.warn{background:var(--soon-bg);border-color:#ecd38a;color:#5c4100}
.login{max-width:360px;margin:70px auto}
.login h1{text-align:center}.login label{display:block;margin:12px 0 4px;font-weight:600}
.login input{width:100%}.login button{width:100%;margin-top:18px;padding:9px}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0}
dl.facts dt{color:var(--muted)}dl.facts dd{margin:0;white-space:pre-wrap}
.week{margin-bottom:14px}.week h2{margin:0 0 6px;font-size:14px}
.hidden{display:none}
table.fixed{table-layout:fixed}
#inventory table{border-radius:0;border-top:0}#inventory table:first-child{border-top:1px solid var(--line);border-radius:8px 8px 0 0}
#inventory .chunk{content-visibility:auto;contain-intrinsic-size:auto 1700px}table.fixed tr>:nth-child(1){width:26%}table.fixed tr>:nth-child(2){width:11%}table.fixed tr>:nth-child(3){width:10%}
table.fixed tr>:nth-child(4){width:13%}table.fixed tr>:nth-child(5){width:13%}table.fixed tr>:nth-child(6){width:16%}table.fixed tr>:nth-child(7){width:11%}
table.fixed td{overflow:hidden;text-overflow:ellipsis}
tr.highlight td{background:#fffbe6}
footer{color:var(--muted);font-size:12px;text-align:center;padding:18px}
`;

export const DASHBOARD_JS = `'use strict';
(function () {
  // Live filter on the inventory: hides rows whose data-search does not contain the text.
  var q = document.getElementById('filter-q');
  var table = document.getElementById('inventory');
  if (q && table) {
    var rows = null;
    var texts = null;
    var apply = function () {
      // The rows' text is read on first use, not at load, so a large inventory renders sooner.
      if (!rows) {
        rows = table.querySelectorAll('tbody tr');
        texts = [];
        for (var j = 0; j < rows.length; j++) texts.push(rows[j].textContent.toLowerCase());
      }
      var needle = q.value.trim().toLowerCase();
      var shown = 0;
      for (var i = 0; i < rows.length; i++) {
        var hit = !needle || texts[i].indexOf(needle) !== -1;
        rows[i].classList.toggle('hidden', !hit);
        if (hit) shown++;
      }
      var count = document.getElementById('shown-count');
      if (count) count.textContent = String(shown);
    };
    q.addEventListener('input', apply);
  }
  // Emergency rotation: the button stays disabled until the secret's name is typed exactly.
  var forms = document.querySelectorAll('form[data-confirm]');
  for (var f = 0; f < forms.length; f++) {
    (function (form) {
      var expected = form.getAttribute('data-confirm');
      var input = form.querySelector('input[name=confirm]');
      var button = form.querySelector('button[type=submit]');
      if (!input || !button) return;
      var sync = function () { button.disabled = input.value !== expected; };
      input.addEventListener('input', sync);
      sync();
    })(forms[f]);
  }
  // One submission per click: a second click while a rotation runs does nothing.
  var all = document.querySelectorAll('form[method=post]');
  for (var k = 0; k < all.length; k++) {
    all[k].addEventListener('submit', function (event) {
      var form = event.target;
      if (form.getAttribute('data-sent')) { event.preventDefault(); return; }
      form.setAttribute('data-sent', '1');
      var b = form.querySelector('button[type=submit]');
      if (b) b.textContent = b.getAttribute('data-busy') || b.textContent;
    });
  }
})();
`;
