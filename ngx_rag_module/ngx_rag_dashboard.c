/*
 * rag_dashboard — an operator dashboard served by the module.
 *
 *   location /rag/dashboard/ { rag_dashboard; }      (a prefix location)
 *   rag_dashboard_token "...";                       (ngx_rag_module)
 *
 * <location>/               the page: HTML + CSS + a small vanilla JS that
 *                           draws the numbers and inline-SVG charts
 * <location>/api/summary    answer/solved rates, median time to first
 *                           answer, votes, queue depth, collections, daily
 * <location>/api/threads    recent threads with their answers, sources
 *                           and votes
 * <location>/api/gaps       the gap report (lib/rag_gaps.h, the same code
 *                           as `rag-admin gaps --json`)
 *
 * Query arguments: days=N (1..365, default 30; gaps: unsolved after N
 * days, default 7), limit=N (threads, 1..200, default 50), guild=ID.
 *
 * <location>/login          POST token=... (a form): a session cookie and
 *                           303 back to the page; the page without a
 *                           session is the sign-in form (401)
 * <location>/logout         POST: clears the cookie
 *
 * Auth: the dashboard token as a bearer token, or the "rag_dashboard"
 * session cookie (HttpOnly, SameSite=Strict, scoped to the location):
 * a signed, expiring value, never the token (see "sessions" below). The
 * token is never taken from the URL — nginx logs request lines — and a
 * "token" query argument is refused. Tokens compare in constant time. No
 * token configured: 403 for everything. All database work runs on the
 * thread pool; the pages themselves are static and sent from the event
 * loop.
 */

#include "ngx_rag_module.h"

#include "rag_gaps.h"
#include "rag_store_stats.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <ctype.h>
#include <stdlib.h>
#include <string.h>


#define NGX_RAG_DASH_COOKIE  "rag_dashboard"

enum {
    NGX_RAG_DASH_SUMMARY = 1,
    NGX_RAG_DASH_THREADS,
    NGX_RAG_DASH_GAPS
};

typedef struct {
    ngx_uint_t   api;
    int          days;
    int          limit;
    char         guild[64];   /* "" = all guilds */
} ngx_rag_dash_req_t;


static char *ngx_rag_dashboard_set(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_rag_dashboard_handler(ngx_http_request_t *r);
static ngx_int_t ngx_rag_dash_add_header(ngx_http_request_t *r,
    const char *key, u_char *value, size_t len);


static ngx_command_t  ngx_rag_dashboard_commands[] = {

    { ngx_string("rag_dashboard"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_rag_dashboard_set,
      0,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_rag_dashboard_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */
    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */
    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */
    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_rag_dashboard_module = {
    NGX_MODULE_V1,
    &ngx_rag_dashboard_module_ctx,         /* module context */
    ngx_rag_dashboard_commands,            /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/* The page: static, no external resources (CSP forbids them). Data is
 * inserted with textContent / createElement only, never as HTML. */
static const char  ngx_rag_dash_html[] =
    "<!doctype html>\n"
    "<html lang=\"en\">\n"
    "<head>\n"
    "<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>ngx_rag dashboard</title>\n"
    "<style>\n"
    ":root{--bg:#f6f7f9;--card:#fff;--ink:#1d2330;--mute:#667085;--line:#e4e7ec;\n"
    "--acc:#3b5bdb;--ok:#2f9e44;--bad:#e03131;--warn:#f08c00}\n"
    "*{box-sizing:border-box}\n"
    "body{margin:0;font:14px/1.45 system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif;\n"
    "background:var(--bg);color:var(--ink)}\n"
    "header{display:flex;align-items:baseline;gap:16px;padding:14px 24px;\n"
    "background:#1d2330;color:#fff}\n"
    "header h1{font-size:18px;margin:0}\n"
    "header span{color:#aab2c5;font-size:13px}\n"
    "header form{margin-left:auto}\n"
    "header button{font:inherit;font-size:13px;background:none;color:#aab2c5;\n"
    "border:1px solid #4a5468;border-radius:6px;padding:2px 10px;cursor:pointer}\n"
    "main{padding:18px 24px;display:grid;gap:16px;grid-template-columns:repeat(12,1fr)}\n"
    "section{background:var(--card);border:1px solid var(--line);border-radius:8px;\n"
    "padding:14px 16px;min-width:0}\n"
    "h2{font-size:13px;text-transform:uppercase;letter-spacing:.04em;color:var(--mute);\n"
    "margin:0 0 10px}\n"
    ".kpis{grid-column:1/-1;display:grid;grid-template-columns:repeat(6,1fr);gap:16px;\n"
    "background:none;border:0;padding:0}\n"
    ".kpi{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px 14px}\n"
    ".kpi b{display:block;font-size:26px;font-weight:650}\n"
    ".kpi small{color:var(--mute)}\n"
    ".w8{grid-column:span 8}.w4{grid-column:span 4}.w6{grid-column:span 6}.w12{grid-column:1/-1}\n"
    "table{width:100%;border-collapse:collapse}\n"
    "td,th{text-align:left;padding:5px 6px;border-bottom:1px solid var(--line);vertical-align:top}\n"
    "th{font-weight:600;color:var(--mute);font-size:12px}\n"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}\n"
    ".badge{display:inline-block;padding:0 7px;border-radius:9px;font-size:12px;\n"
    "background:#eef1f6;color:var(--mute);margin-right:4px}\n"
    ".badge.ok{background:#e6f6ea;color:var(--ok)}.badge.bad{background:#fdecec;color:var(--bad)}\n"
    ".badge.warn{background:#fff3e0;color:var(--warn)}\n"
    ".thread{border-top:1px solid var(--line);padding:10px 0}\n"
    ".thread:first-of-type{border-top:0}\n"
    ".thread .q{color:var(--mute);margin:2px 0 6px;white-space:pre-wrap}\n"
    ".answer{background:#f8f9fb;border-left:3px solid var(--acc);padding:6px 10px;\n"
    "margin:4px 0;white-space:pre-wrap;max-height:9em;overflow:auto}\n"
    ".answer.abst{border-color:var(--warn)}\n"
    ".src a{color:var(--acc);text-decoration:none;margin-right:10px;font-size:12px}\n"
    ".cluster{border-top:1px solid var(--line);padding:8px 0}\n"
    ".cluster ul{margin:4px 0;padding-left:18px}\n"
    ".legend{font-size:12px;color:var(--mute)}.legend i{display:inline-block;width:10px;\n"
    "height:10px;margin:0 4px 0 10px;border-radius:2px}\n"
    "#err{grid-column:1/-1;display:none;background:#fdecec;color:var(--bad)}\n"
    "svg text{font-size:10px;fill:var(--mute)}\n"
    "</style>\n"
    "</head>\n"
    "<body>\n"
    "<header><h1>ngx_rag</h1><span id=\"window\">dashboard</span>\n"
    "<span id=\"updated\"></span>\n"
    "<form method=\"post\" action=\"logout\"><button>Sign out</button></form>"
    "</header>\n"
    "<main>\n"
    "<section id=\"err\"></section>\n"
    "<section class=\"kpis\">\n"
    "<div class=\"kpi\"><small>Questions</small><b id=\"k-threads\">–</b><small id=\"k-threads-sub\"></small></div>\n"
    "<div class=\"kpi\"><small>Answer rate</small><b id=\"k-answer-rate\">–</b><small id=\"k-answered\"></small></div>\n"
    "<div class=\"kpi\"><small>Solved rate</small><b id=\"k-solved-rate\">–</b><small id=\"k-solved\"></small></div>\n"
    "<div class=\"kpi\"><small>Median time to first answer</small><b id=\"k-median\">–</b><small>question → bot reply</small></div>\n"
    "<div class=\"kpi\"><small>Votes</small><b id=\"k-votes\">–</b><small id=\"k-votes-sub\"></small></div>\n"
    "<div class=\"kpi\"><small>Queue</small><b id=\"k-queue\">–</b><small id=\"k-queue-sub\"></small></div>\n"
    "</section>\n"
    "<section class=\"w8\"><h2>Questions and answers per day</h2>\n"
    "<div class=\"legend\"><i style=\"background:#c5cee0\"></i>questions<i style=\"background:#3b5bdb\"></i>answers<i style=\"background:#2f9e44\"></i>solved</div>\n"
    "<div id=\"chart-daily\"></div></section>\n"
    "<section class=\"w4\"><h2>Outcome of questions</h2><div id=\"chart-outcome\"></div>\n"
    "<div id=\"outcome-legend\" class=\"legend\"></div></section>\n"
    "<section class=\"w6\"><h2>Collections</h2><table id=\"collections\"><thead><tr>\n"
    "<th>Collection</th><th class=\"n\">Generation</th><th class=\"n\">Documents</th>\n"
    "<th class=\"n\">Chunks</th><th class=\"n\">Embedded</th><th>Indexed</th></tr></thead>\n"
    "<tbody></tbody></table></section>\n"
    "<section class=\"w6\"><h2>Job queue</h2><table id=\"queue\"><thead><tr><th>State</th>\n"
    "<th class=\"n\">Jobs</th></tr></thead><tbody></tbody></table></section>\n"
    "<section class=\"w12\"><h2>Knowledge gaps</h2><div id=\"gaps-sub\" class=\"legend\"></div>\n"
    "<div id=\"gaps\"></div></section>\n"
    "<section class=\"w12\"><h2>Recent threads</h2><div id=\"threads\"></div></section>\n"
    "</main>\n"
    "<script>\n"
    "\"use strict\";\n"
    "(function () {\n"
    "  var qs = new URLSearchParams(location.search);\n"
    "  var days = qs.get(\"days\") || \"30\";\n"
    "  var NS = \"http://www.w3.org/2000/svg\";\n"
    "\n"
    "  function $(id) { return document.getElementById(id); }\n"
    "  function el(tag, cls, text) {\n"
    "    var e = document.createElement(tag);\n"
    "    if (cls) e.className = cls;\n"
    "    if (text !== undefined && text !== null) e.textContent = String(text);\n"
    "    return e;\n"
    "  }\n"
    "  function svg(tag, attrs, text) {\n"
    "    var e = document.createElementNS(NS, tag);\n"
    "    for (var k in attrs) e.setAttribute(k, attrs[k]);\n"
    "    if (text !== undefined) e.textContent = text;\n"
    "    return e;\n"
    "  }\n"
    "  function pct(x) { return x === null || x === undefined ? \"–\" : (x * 100).toFixed(1) + \"%\"; }\n"
    "  function dur(s) {\n"
    "    if (s === null || s === undefined) return \"–\";\n"
    "    s = Math.round(s);\n"
    "    if (s < 60) return s + \"s\";\n"
    "    if (s < 3600) return Math.floor(s / 60) + \"m \" + (s % 60) + \"s\";\n"
    "    return Math.floor(s / 3600) + \"h \" + Math.floor((s % 3600) / 60) + \"m\";\n"
    "  }\n"
    "  function when(t) { return t ? new Date(t).toISOString().replace(\"T\", \" \").slice(0, 16) : \"never\"; }\n"
    "  function safeUrl(u) { return /^https?:\\/\\//i.test(u || \"\") ? u : null; }\n"
    "  function link(u, text) {\n"
    "    var s = safeUrl(u), a;\n"
    "    if (!s) return el(\"span\", null, text || u);\n"
    "    a = el(\"a\", null, text || u); a.href = s; a.target = \"_blank\"; a.rel = \"noopener noreferrer\";\n"
    "    return a;\n"
    "  }\n"
    "  function api(path, q) {  /* the session cookie authenticates */\n"
    "    return fetch(\"api/\" + path + \"?\" + q, { credentials: \"same-origin\" })\n"
    "      .then(function (r) {\n"
    "        if (!r.ok) throw new Error(path + \": HTTP \" + r.status);\n"
    "        return r.json();\n"
    "      });\n"
    "  }\n"
    "  function fail(e) { var b = $(\"err\"); b.style.display = \"block\"; b.textContent = String(e); }\n"
    "\n"
    "  function barChart(box, rows) {\n"
    "    var W = 760, H = 220, L = 30, B = 28, n = rows.length || 1;\n"
    "    var max = 1, step, i, s = svg(\"svg\", { viewBox: \"0 0 \" + W + \" \" + H, width: \"100%\", role: \"img\",\n"
    "      \"aria-label\": \"questions and answers per day\" });\n"
    "    rows.forEach(function (r) { max = Math.max(max, r.questions, r.answers, r.solved); });\n"
    "    step = Math.max(1, Math.ceil(max / 4)); max = step * 4;  /* integer ticks */\n"
    "    var bw = (W - L - 8) / n, ih = H - B - 8;\n"
    "    for (i = 0; i <= 4; i++) {\n"
    "      var y = 8 + ih - ih * i / 4;\n"
    "      s.appendChild(svg(\"line\", { x1: L, x2: W, y1: y, y2: y, stroke: \"#e4e7ec\" }));\n"
    "      s.appendChild(svg(\"text\", { x: L - 4, y: y + 3, \"text-anchor\": \"end\" }, String(step * i)));\n"
    "    }\n"
    "    rows.forEach(function (r, j) {\n"
    "      var x = L + 4 + j * bw, w = Math.max(1, bw / 3 - 1);\n"
    "      [[\"questions\", \"#c5cee0\"], [\"answers\", \"#3b5bdb\"], [\"solved\", \"#2f9e44\"]].forEach(function (k, m) {\n"
    "        var h = ih * r[k[0]] / max, rect = svg(\"rect\", { x: x + m * (w + 1), y: 8 + ih - h, width: w, height: h, fill: k[1] });\n"
    "        rect.appendChild(svg(\"title\", {}, r.day + \": \" + r[k[0]] + \" \" + k[0]));\n"
    "        s.appendChild(rect);\n"
    "      });\n"
    "      if (n <= 16 || j % Math.ceil(n / 10) === 0)\n"
    "        s.appendChild(svg(\"text\", { x: x + bw / 2, y: H - 10, \"text-anchor\": \"middle\" }, String(r.day).slice(5)));\n"
    "    });\n"
    "    box.replaceChildren(s);\n"
    "  }\n"
    "\n"
    "  function donut(box, legend, parts) {\n"
    "    var total = parts.reduce(function (a, p) { return a + p[1]; }, 0);\n"
    "    var s = svg(\"svg\", { viewBox: \"0 0 200 200\", width: \"200\", height: \"200\", role: \"img\", \"aria-label\": \"question outcomes\" });\n"
    "    var R = 80, C = 2 * Math.PI * R, off = 0;\n"
    "    s.appendChild(svg(\"circle\", { cx: 100, cy: 100, r: R, fill: \"none\", stroke: \"#eef1f6\", \"stroke-width\": 28 }));\n"
    "    parts.forEach(function (p) {\n"
    "      if (!total || !p[1]) return;\n"
    "      var len = C * p[1] / total;\n"
    "      s.appendChild(svg(\"circle\", { cx: 100, cy: 100, r: R, fill: \"none\", stroke: p[2], \"stroke-width\": 28,\n"
    "        \"stroke-dasharray\": len + \" \" + (C - len), \"stroke-dashoffset\": -off, transform: \"rotate(-90 100 100)\" }));\n"
    "      off += len;\n"
    "    });\n"
    "    s.appendChild(svg(\"text\", { x: 100, y: 106, \"text-anchor\": \"middle\", style: \"font-size:22px;fill:#1d2330\" }, String(total)));\n"
    "    box.replaceChildren(s);\n"
    "    legend.replaceChildren();\n"
    "    parts.forEach(function (p) {\n"
    "      var i = el(\"i\"); i.style.background = p[2];\n"
    "      legend.appendChild(i); legend.appendChild(document.createTextNode(p[0] + \" \" + p[1]));\n"
    "    });\n"
    "  }\n"
    "\n"
    "  function summary(d) {\n"
    "    $(\"window\").textContent = \"last \" + d.window_days + \" days\";\n"
    "    $(\"k-threads\").textContent = d.threads;\n"
    "    $(\"k-threads-sub\").textContent = d.open + \" open\";\n"
    "    $(\"k-answer-rate\").textContent = pct(d.answer_rate);\n"
    "    $(\"k-answered\").textContent = d.answered + \" answered, \" + d.abstained + \" abstained\";\n"
    "    $(\"k-solved-rate\").textContent = pct(d.solved_rate);\n"
    "    $(\"k-solved\").textContent = d.solved + \" solved\";\n"
    "    $(\"k-median\").textContent = dur(d.median_first_answer_s);\n"
    "    $(\"k-votes\").textContent = d.reactions.solved + \" / \" + d.reactions.failed;\n"
    "    $(\"k-votes-sub\").textContent = \"solved / failed reactions; feedback +\" +\n"
    "      d.feedback.up + \" −\" + d.feedback.down;\n"
    "    var q = d.queue, depth = q.queued + q.retry + q.running;\n"
    "    $(\"k-queue\").textContent = depth;\n"
    "    $(\"k-queue-sub\").textContent = q.dead + \" dead, \" + d.outbox_pending + \" replies pending, \"\n"
    "      + Object.values(d.delivery_failures || {}).reduce(function (a, b) { return a + b; }, 0)\n"
    "      + \" deliveries failed\";\n"
    "    barChart($(\"chart-daily\"), d.daily || []);\n"
    "    var unans = d.threads - d.answered - d.abstained;\n"
    "    donut($(\"chart-outcome\"), $(\"outcome-legend\"), [\n"
    "      [\"solved\", d.solved, \"#2f9e44\"], [\"answered\", Math.max(0, d.answered - d.solved), \"#3b5bdb\"],\n"
    "      [\"abstained\", d.abstained, \"#f08c00\"], [\"no reply\", Math.max(0, unans), \"#c5cee0\"]]);\n"
    "    var tb = $(\"collections\").tBodies[0]; tb.replaceChildren();\n"
    "    d.collections.forEach(function (c) {\n"
    "      var tr = el(\"tr\");\n"
    "      tr.appendChild(el(\"td\", null, c.name));\n"
    "      [c.generation, c.documents, c.chunks, c.embedded].forEach(function (v) { tr.appendChild(el(\"td\", \"n\", v)); });\n"
    "      tr.appendChild(el(\"td\", null, when(c.indexed_at)));\n"
    "      tb.appendChild(tr);\n"
    "    });\n"
    "    tb = $(\"queue\").tBodies[0]; tb.replaceChildren();\n"
    "    Object.keys(q).forEach(function (k) {\n"
    "      var tr = el(\"tr\"); tr.appendChild(el(\"td\", null, k)); tr.appendChild(el(\"td\", \"n\", q[k])); tb.appendChild(tr);\n"
    "    });\n"
    "  }\n"
    "\n"
    "  function threads(d) {\n"
    "    var box = $(\"threads\"); box.replaceChildren();\n"
    "    if (!d.threads.length) box.appendChild(el(\"p\", \"legend\", \"No threads yet.\"));\n"
    "    d.threads.forEach(function (t) {\n"
    "      var div = el(\"div\", \"thread\"), h = el(\"div\");\n"
    "      h.appendChild(el(\"b\", null, t.title || t.thread_id)); h.appendChild(document.createTextNode(\" \"));\n"
    "      h.appendChild(el(\"span\", \"badge \" + (t.solved ? \"ok\" : t.open ? \"\" : \"bad\"), t.solved ? \"solved\" : t.open ? \"open\" : \"closed\"));\n"
    "      h.appendChild(el(\"span\", \"badge\", \"solved votes \" + t.solved_votes + \" · failed \" + t.failed_votes));\n"
    "      if (t.up || t.down) h.appendChild(el(\"span\", \"badge\", \"feedback +\" + t.up + \" −\" + t.down));\n"
    "      h.appendChild(el(\"span\", \"legend\", when(t.created_at) + (t.collection ? \" · \" + t.collection : \"\")));\n"
    "      div.appendChild(h);\n"
    "      if (t.question) div.appendChild(el(\"div\", \"q\", t.question));\n"
    "      if (!t.answers.length) div.appendChild(el(\"span\", \"badge warn\", \"no answer yet\"));\n"
    "      t.answers.forEach(function (a) {\n"
    "        var ad = el(\"div\", \"answer\" + (a.abstained ? \" abst\" : \"\"), a.content);\n"
    "        div.appendChild(ad);\n"
    "        if (a.sources && a.sources.length) {\n"
    "          var s = el(\"div\", \"src\");\n"
    "          a.sources.forEach(function (src, i) {\n"
    "            s.appendChild(link(src.url, \"[\" + (src.n || i + 1) + \"] \" + (src.title || src.url)));\n"
    "          });\n"
    "          div.appendChild(s);\n"
    "        }\n"
    "      });\n"
    "      box.appendChild(div);\n"
    "    });\n"
    "  }\n"
    "\n"
    "  function gaps(d) {\n"
    "    var box = $(\"gaps\"); box.replaceChildren();\n"
    "    $(\"gaps-sub\").textContent = d.questions + \" questions in \" + d.clusters.length +\n"
    "      \" clusters (abstained, voted down, or unsolved after \" + d.days + \" days)\";\n"
    "    if (!d.clusters.length) box.appendChild(el(\"p\", \"legend\", \"No gaps: every question got an answer.\"));\n"
    "    d.clusters.forEach(function (c) {\n"
    "      var div = el(\"div\", \"cluster\"), h = el(\"div\"), ul = el(\"ul\");\n"
    "      h.appendChild(el(\"b\", null, c.count + \" × \")); h.appendChild(document.createTextNode(c.examples[0] ? c.examples[0].question.split(\"\\n\")[0] : \"\"));\n"
    "      Object.keys(c.reasons).forEach(function (r) {\n"
    "        h.appendChild(document.createTextNode(\" \"));\n"
    "        h.appendChild(el(\"span\", \"badge \" + (r === \"abstain\" ? \"warn\" : \"bad\"), r + \" \" + c.reasons[r]));\n"
    "      });\n"
    "      div.appendChild(h);\n"
    "      c.examples.slice(1).forEach(function (e) { ul.appendChild(el(\"li\", null, e.question.split(\"\\n\")[0])); });\n"
    "      if (ul.children.length) div.appendChild(ul);\n"
    "      if (c.pages.length) {\n"
    "        var s = el(\"div\", \"src\"); s.appendChild(el(\"span\", \"legend\", \"closest pages: \"));\n"
    "        c.pages.forEach(function (p) { s.appendChild(link(p.url, p.title || p.url)); });\n"
    "        div.appendChild(s);\n"
    "      }\n"
    "      box.appendChild(div);\n"
    "    });\n"
    "  }\n"
    "\n"
    "  Promise.all([\n"
    "    api(\"summary\", \"days=\" + encodeURIComponent(days)).then(summary),\n"
    "    api(\"threads\", \"limit=30\").then(threads),\n"
    "    api(\"gaps\", \"\").then(gaps)\n"
    "  ]).then(function () {\n"
    "    $(\"updated\").textContent = \"updated \" + new Date().toISOString().slice(11, 19) + \" UTC\";\n"
    "    document.body.setAttribute(\"data-ready\", \"1\");\n"
    "  }, fail);\n"
    "})();\n"
    "</script>\n"
    "</body>\n"
    "</html>\n"
    "\n";


/* The sign-in page: the token goes in a POST body (never a URL, so never
 * an access log line). The message is one of the static strings below. */
static const char  ngx_rag_dash_login_head[] =
    "<!doctype html>\n"
    "<html lang=\"en\">\n"
    "<head>\n"
    "<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>ngx_rag dashboard: sign in</title>\n"
    "<style>\n"
    "body{margin:0;font:14px/1.45 system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif;\n"
    "background:#f6f7f9;color:#1d2330;display:grid;place-items:center;min-height:100vh}\n"
    "form{background:#fff;border:1px solid #e4e7ec;border-radius:8px;padding:22px 24px;\n"
    "display:grid;gap:12px;min-width:300px}\n"
    "h1{font-size:18px;margin:0}\n"
    "input{font:inherit;padding:6px 8px;border:1px solid #c5cee0;border-radius:6px}\n"
    "button{font:inherit;padding:6px 8px;border:0;border-radius:6px;background:#3b5bdb;\n"
    "color:#fff;cursor:pointer}\n"
    "p{margin:0;color:#e03131;max-width:300px}\n"
    "</style>\n"
    "</head>\n"
    "<body>\n"
    "<form method=\"post\" action=\"login\">\n"
    "<h1>ngx_rag dashboard</h1>\n";

static const char  ngx_rag_dash_login_tail[] =
    "<label>Dashboard token<br>\n"
    "<input type=\"password\" name=\"token\" autocomplete=\"current-password\" "
    "required autofocus></label>\n"
    "<button>Sign in</button>\n"
    "</form>\n"
    "</body>\n"
    "</html>\n";

#define NGX_RAG_DASH_MSG_WRONG  "Wrong token."
#define NGX_RAG_DASH_MSG_URL                                                  \
    "The token is not accepted in the address: it would be written to "     \
    "access logs. Sign in here instead."


/* ---- thread side -------------------------------------------------------- */

typedef struct {
    ngx_rag_dash_req_t  *q;
    rag_buf             *body;
    PGresult            *res;
} ngx_rag_dash_call_t;


/* The gap report (lib/rag_gaps.c): several statements, all reads. */
static ngx_int_t
ngx_rag_dash_gaps(PGconn *db, void *arg)
{
    char                  err[512];
    rag_gaps_opts         go;
    ngx_rag_dash_call_t  *c = arg;

    ngx_memzero(&go, sizeof(go));
    go.days = c->q->days;
    go.guild = c->q->guild[0] ? c->q->guild : NULL;

    rag_buf_reset(c->body);

    return rag_gaps_report_json(db, &go, c->body, err, sizeof(err)) == 0
           ? NGX_OK : NGX_ERROR;
}


/* The summary or the thread list: JSON built by Postgres, one round
 * trip (lib/rag_store_stats.c). */
static ngx_int_t
ngx_rag_dash_stats(PGconn *db, void *arg)
{
    const char           *guild;
    ngx_rag_dash_call_t  *c = arg;

    guild = c->q->guild[0] ? c->q->guild : NULL;

    c->res = c->q->api == NGX_RAG_DASH_SUMMARY
             ? rag_store_stats_summary(db, c->q->days, guild)
             : rag_store_stats_threads(db, c->q->limit, guild);

    return c->res ? NGX_OK : NGX_ERROR;
}


static void
ngx_rag_dash_run(ngx_rag_task_t *t)
{
    ngx_rag_dash_call_t   c;

    c.q = t->data;
    c.body = &t->body;
    c.res = NULL;

    /* read-only */
    if (ngx_rag_task_call(t, c.q->api == NGX_RAG_DASH_GAPS
                             ? ngx_rag_dash_gaps : ngx_rag_dash_stats,
                          &c, NGX_RAG_PG_IDEMPOTENT,
                          c.q->api == NGX_RAG_DASH_GAPS
                          ? "gap report failed" : "dashboard query failed")
        != NGX_OK)
    {
        return;
    }

    if (c.q->api == NGX_RAG_DASH_GAPS) {
        t->status = NGX_HTTP_OK;
        return;
    }

    if (PQntuples(c.res) != 1
        || rag_buf_append(&t->body, PQgetvalue(c.res, 0, 0),
                          (size_t) PQgetlength(c.res, 0, 0)) != 0)
    {
        PQclear(c.res);
        ngx_rag_task_error(t, NGX_HTTP_INTERNAL_SERVER_ERROR,
                           "response too large");
        return;
    }

    PQclear(c.res);
    t->status = NGX_HTTP_OK;
}


/* ---- sessions ----------------------------------------------------------- */

/*
 * The session cookie is "1.<expiry>.<mac>": mac = hex HMAC-SHA256 over
 * "1.<expiry>|<location>" with a key derived from the dashboard token,
 * HMAC-SHA256(token, "ngx_rag dashboard session v1"). Deriving the key
 * from the token (instead of a random secret made at start) keeps one key
 * in every worker and across reloads and restarts with no shared state,
 * and changing the token ends every session. The cookie is not the
 * token and cannot give it back; it expires after rag_dashboard_session.
 */

#define NGX_RAG_DASH_KEY_LABEL  "ngx_rag dashboard session v1"
#define NGX_RAG_DASH_MAC_HEX    (2 * SHA256_DIGEST_LENGTH)


static ngx_int_t
ngx_rag_dash_mac(ngx_str_t *token, time_t expiry, ngx_str_t *path,
    u_char *hex)
{
    u_char        key[SHA256_DIGEST_LENGTH], mac[SHA256_DIGEST_LENGTH];
    u_char        msg[NGX_TIME_T_LEN + 4 + 512], *p;
    unsigned int  len;

    if (path->len > 512) {
        return NGX_ERROR;
    }

    len = sizeof(key);
    if (HMAC(EVP_sha256(), token->data, (int) token->len,
             (u_char *) NGX_RAG_DASH_KEY_LABEL,
             sizeof(NGX_RAG_DASH_KEY_LABEL) - 1, key, &len) == NULL)
    {
        return NGX_ERROR;
    }

    p = ngx_sprintf(msg, "1.%T|%V", expiry, path);

    len = sizeof(mac);
    if (HMAC(EVP_sha256(), key, sizeof(key), msg, p - msg, mac, &len)
        == NULL)
    {
        return NGX_ERROR;
    }

    ngx_hex_dump(hex, mac, sizeof(mac));
    OPENSSL_cleanse(key, sizeof(key));

    return NGX_OK;
}


/* 1 when value is a session this dashboard issued and it is still valid. */
static ngx_int_t
ngx_rag_dash_session_ok(ngx_str_t *value, ngx_rag_loc_conf_t *rlcf,
    ngx_str_t *path)
{
    u_char  *p, *dot, *last, want[NGX_RAG_DASH_MAC_HEX];
    time_t   expiry, now;

    p = value->data;
    last = p + value->len;

    if (value->len < 2 + 1 + 1 + NGX_RAG_DASH_MAC_HEX
        || p[0] != '1' || p[1] != '.')
    {
        return 0;
    }

    p += 2;
    dot = ngx_strlchr(p, last, '.');
    if (dot == NULL || last - (dot + 1) != NGX_RAG_DASH_MAC_HEX) {
        return 0;
    }

    expiry = ngx_atotm(p, dot - p);
    now = ngx_time();

    /* expired, or longer than this configuration would have issued */
    if (expiry == NGX_ERROR || expiry <= now
        || expiry > now + rlcf->dashboard_session + 60)
    {
        return 0;
    }

    if (ngx_rag_dash_mac(&rlcf->dashboard_token, expiry, path, want)
        != NGX_OK)
    {
        return 0;
    }

    return CRYPTO_memcmp(want, dot + 1, NGX_RAG_DASH_MAC_HEX) == 0;
}


/* Set-Cookie for a new session, or (clear) one that deletes it. */
static ngx_int_t
ngx_rag_dash_set_cookie(ngx_http_request_t *r, ngx_rag_loc_conf_t *rlcf,
    ngx_str_t *path, ngx_uint_t clear)
{
    u_char  *cookie, *p, mac[NGX_RAG_DASH_MAC_HEX];
    size_t   len;
    time_t   expiry, max_age;

    expiry = ngx_time() + rlcf->dashboard_session;
    max_age = clear ? 0 : rlcf->dashboard_session;

    if (!clear
        && ngx_rag_dash_mac(&rlcf->dashboard_token, expiry, path, mac)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    len = sizeof(NGX_RAG_DASH_COOKIE "=1..; Path=; Max-Age=; HttpOnly; "
                 "SameSite=Strict; Secure") + 2 * NGX_TIME_T_LEN
          + NGX_RAG_DASH_MAC_HEX + path->len;

    cookie = ngx_pnalloc(r->pool, len);
    if (cookie == NULL) {
        return NGX_ERROR;
    }

    if (clear) {
        p = ngx_sprintf(cookie, NGX_RAG_DASH_COOKIE "=; Path=%V; Max-Age=0; "
                        "HttpOnly; SameSite=Strict", path);
    } else {
        p = ngx_sprintf(cookie, NGX_RAG_DASH_COOKIE "=1.%T.%*s; Path=%V; "
                        "Max-Age=%T; HttpOnly; SameSite=Strict", expiry,
                        (size_t) NGX_RAG_DASH_MAC_HEX, mac, path, max_age);
    }

#if (NGX_HTTP_SSL)
    if (r->connection->ssl) {
        p = ngx_cpymem(p, "; Secure", 8);
    }
#endif

    return ngx_rag_dash_add_header(r, "Set-Cookie", cookie, p - cookie);
}


/* The value of the session cookie, or an empty string. */
static ngx_str_t
ngx_rag_dash_cookie(ngx_http_request_t *r)
{
    u_char           *p, *last;
    size_t            n;
    ngx_str_t         v;
    ngx_table_elt_t  *h;

    ngx_str_null(&v);

    h = ngx_rag_header(r, "Cookie");
    if (h == NULL) {
        return v;
    }

    /* "a=b; rag_dashboard=VALUE; c=d" */
    n = sizeof(NGX_RAG_DASH_COOKIE) - 1;
    p = h->value.data;
    last = p + h->value.len;

    while (p < last) {
        while (p < last && (*p == ' ' || *p == ';')) {
            p++;
        }
        if ((size_t) (last - p) > n
            && ngx_strncmp(p, NGX_RAG_DASH_COOKIE, n) == 0 && p[n] == '=')
        {
            p += n + 1;
            v.data = p;
            while (p < last && *p != ';') {
                p++;
            }
            v.len = p - v.data;
            return v;
        }
        while (p < last && *p != ';') {
            p++;
        }
    }

    return v;
}


/* ---- event loop side ---------------------------------------------------- */

static ngx_int_t
ngx_rag_dash_add_header(ngx_http_request_t *r, const char *key,
    u_char *value, size_t len)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.len = ngx_strlen(key);
    h->key.data = (u_char *) key;
    h->value.len = len;
    h->value.data = value;

    return NGX_OK;
}


static int
ngx_rag_dash_int_arg(ngx_http_request_t *r, const char *name, int def,
    int min, int max)
{
    ngx_int_t  n;
    ngx_str_t  v;

    if (ngx_http_arg(r, (u_char *) name, ngx_strlen(name), &v) != NGX_OK
        || v.len == 0)
    {
        return def;
    }

    n = ngx_atoi(v.data, v.len);
    if (n == NGX_ERROR) {
        return def;
    }

    return n < min ? min : (n > max ? max : (int) n);
}


/* Security headers of both HTML pages. */
static ngx_int_t
ngx_rag_dash_html_headers(ngx_http_request_t *r, const char *csp)
{
    if (ngx_rag_dash_add_header(r, "Content-Security-Policy", (u_char *) csp,
                                ngx_strlen(csp)) != NGX_OK
        || ngx_rag_dash_add_header(r, "X-Content-Type-Options",
                                   (u_char *) "nosniff", 7) != NGX_OK
        || ngx_rag_dash_add_header(r, "Referrer-Policy",
                                   (u_char *) "no-referrer", 11) != NGX_OK
        || ngx_rag_dash_add_header(r, "Cache-Control",
                                   (u_char *) "no-store", 8) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_rag_dash_page(ngx_http_request_t *r)
{
    static const char  csp[] =
        "default-src 'none'; script-src 'unsafe-inline'; "
        "style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    if (ngx_rag_dash_html_headers(r, csp) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_rag_metrics_observe(r, NGX_RAG_EP_DASHBOARD, NGX_HTTP_OK);

    return ngx_rag_send(r, NGX_HTTP_OK, "text/html; charset=utf-8",
                        (u_char *) ngx_rag_dash_html,
                        sizeof(ngx_rag_dash_html) - 1, 0);
}


/* The sign-in page, 401; msg is NULL or a static string. */
static ngx_int_t
ngx_rag_dash_login_page(ngx_http_request_t *r, const char *msg)
{
    u_char  *page, *p;
    size_t   len, mlen;

    static const char  csp[] =
        "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'";
    static const char  auth[] = "Bearer realm=\"ngx_rag dashboard\"";

    if (ngx_rag_dash_html_headers(r, csp) != NGX_OK
        || ngx_rag_dash_add_header(r, "WWW-Authenticate", (u_char *) auth,
                                   sizeof(auth) - 1) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    mlen = msg ? ngx_strlen(msg) : 0;
    len = sizeof(ngx_rag_dash_login_head) - 1 + sizeof("<p></p>\n") - 1
          + mlen + sizeof(ngx_rag_dash_login_tail) - 1;

    page = ngx_pnalloc(r->pool, len);
    if (page == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(page, ngx_rag_dash_login_head,
                   sizeof(ngx_rag_dash_login_head) - 1);
    if (msg) {
        p = ngx_sprintf(p, "<p>%s</p>\n", msg);
    }
    p = ngx_cpymem(p, ngx_rag_dash_login_tail,
                   sizeof(ngx_rag_dash_login_tail) - 1);

    ngx_rag_metrics_observe(r, NGX_RAG_EP_DASHBOARD, NGX_HTTP_UNAUTHORIZED);

    return ngx_rag_send(r, NGX_HTTP_UNAUTHORIZED, "text/html; charset=utf-8",
                        page, p - page, 0);
}


static ngx_int_t
ngx_rag_dash_see_other(ngx_http_request_t *r, ngx_str_t *path)
{
    if (ngx_rag_dash_add_header(r, "Location", path->data, path->len)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_rag_metrics_observe(r, NGX_RAG_EP_DASHBOARD, NGX_HTTP_SEE_OTHER);

    return ngx_rag_send(r, NGX_HTTP_SEE_OTHER, "text/plain", NULL, 0, 0);
}


/* POST <location>/login, body read: token=... → session + 303, or the
 * sign-in page again. */
static void
ngx_rag_dash_login_body(ngx_http_request_t *r)
{
    ngx_int_t                  rc;
    ngx_str_t                  body, tok;
    ngx_rag_loc_conf_t        *rlcf;
    ngx_http_core_loc_conf_t  *clcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_rag_module);
    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (ngx_rag_body_bounded(r, NGX_RAG_EP_DASHBOARD, &body) != NGX_OK) {
        return;
    }

    rc = ngx_rag_form_arg(r->pool, &body, "token", &tok);
    if (rc == NGX_ERROR) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (rc != NGX_OK
        || !ngx_rag_secret_eq(tok.data, tok.len, rlcf->dashboard_token.data,
                              rlcf->dashboard_token.len))
    {
        /* one line per failed sign-in, for fail2ban and the like */
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "rag_dashboard: sign-in with a wrong token");
        ngx_http_finalize_request(r, ngx_rag_dash_login_page(r,
                                  NGX_RAG_DASH_MSG_WRONG));
        return;
    }

    if (ngx_rag_dash_set_cookie(r, rlcf, &clcf->name, 0) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_finalize_request(r, ngx_rag_dash_see_other(r, &clcf->name));
}


static ngx_int_t
ngx_rag_dash_login(ngx_http_request_t *r, ngx_rag_loc_conf_t *rlcf)
{
    ngx_int_t   rc;
    ngx_str_t  *ct;

    static const char  form[] = "application/x-www-form-urlencoded";

    ct = r->headers_in.content_type ? &r->headers_in.content_type->value
                                    : NULL;

    if (ct == NULL || ct->len < sizeof(form) - 1
        || ngx_strncasecmp(ct->data, (u_char *) form, sizeof(form) - 1) != 0)
    {
        return ngx_rag_refuse(r, NGX_RAG_EP_DASHBOARD,
                              NGX_HTTP_UNSUPPORTED_MEDIA_TYPE);
    }

    if (r->headers_in.content_length_n > (off_t) rlcf->max_body) {
        return ngx_rag_refuse(r, NGX_RAG_EP_DASHBOARD,
                              NGX_HTTP_REQUEST_ENTITY_TOO_LARGE);
    }

    rc = ngx_http_read_client_request_body(r, ngx_rag_dash_login_body);
    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static ngx_int_t
ngx_rag_dashboard_handler(ngx_http_request_t *r)
{
    u_char                    *loc;
    size_t                     i;
    ngx_int_t                  rc;
    ngx_str_t                  tok, rest, v;
    ngx_uint_t                 api, post_only, authed;
    ngx_rag_task_t            *t;
    ngx_rag_loc_conf_t        *rlcf;
    ngx_rag_dash_req_t        *q;
    ngx_http_core_loc_conf_t  *clcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_rag_module);
    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    /* the part of the URI after the location prefix */
    rest = r->uri;
    if (rest.len >= clcf->name.len
        && ngx_strncmp(rest.data, clcf->name.data, clcf->name.len) == 0)
    {
        rest.data += clcf->name.len;
        rest.len -= clcf->name.len;
    }
    while (rest.len && rest.data[0] == '/') {
        rest.data++;
        rest.len--;
    }

    post_only = (rest.len == 5 && ngx_strncmp(rest.data, "login", 5) == 0)
                || (rest.len == 6 && ngx_strncmp(rest.data, "logout", 6) == 0);

    if (post_only ? r->method != NGX_HTTP_POST
                  : r->method != NGX_HTTP_GET && r->method != NGX_HTTP_HEAD)
    {
        return ngx_rag_not_allowed(r, NGX_RAG_EP_DASHBOARD,
                                   post_only ? "POST" : "GET, HEAD");
    }

    if (rlcf->dashboard_token.len == 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "rag_dashboard without rag_dashboard_token");
        return ngx_rag_refuse(r, NGX_RAG_EP_DASHBOARD, NGX_HTTP_FORBIDDEN);
    }

    if (rest.len == 0 && (r->uri.len == 0 || r->uri.data[r->uri.len - 1] != '/')
        && r->uri.len == clcf->name.len && !clcf->exact_match)
    {
        /* relative "api/..." and "login" links need the trailing slash */
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }
        loc = ngx_pnalloc(r->pool, r->uri.len + 1);
        if (loc == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        ngx_memcpy(loc, r->uri.data, r->uri.len);
        loc[r->uri.len] = '/';
        if (ngx_rag_dash_add_header(r, "Location", loc, r->uri.len + 1)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        return ngx_rag_send(r, NGX_HTTP_MOVED_PERMANENTLY, "text/plain",
                            NULL, 0, 0);
    }

    /*
     * The token is never taken from the URL: nginx has written the
     * request line to the access log before any handler runs. Refuse it
     * so the link gets fixed, and tell the operator the token leaked.
     */
    if (ngx_http_arg(r, (u_char *) "token", 5, &v) == NGX_OK) {
        if (ngx_rag_form_decode(r->pool, &v, &tok) == NGX_OK
            && ngx_rag_secret_eq(tok.data, tok.len,
                                 rlcf->dashboard_token.data,
                                 rlcf->dashboard_token.len))
        {
            /* not on the request's log: its lines repeat the URL */
            ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                          "rag_dashboard: the dashboard token was sent in a "
                          "URL by %V, so it is in the access log now: "
                          "change rag_dashboard_token",
                          &r->connection->addr_text);
        }

        if (rest.len >= 4 && ngx_strncmp(rest.data, "api/", 4) == 0) {
            return ngx_rag_refuse(r, NGX_RAG_EP_DASHBOARD,
                                  NGX_HTTP_UNAUTHORIZED);
        }

        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }
        return ngx_rag_dash_login_page(r, NGX_RAG_DASH_MSG_URL);
    }

    if (post_only && rest.len == 5) {
        return ngx_rag_dash_login(r, rlcf);
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (post_only) {
        /* logout */
        if (ngx_rag_dash_set_cookie(r, rlcf, &clcf->name, 1) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        return ngx_rag_dash_see_other(r, &clcf->name);
    }

    tok = ngx_rag_bearer(r);
    if (tok.len) {
        authed = ngx_rag_secret_eq(tok.data, tok.len,
                                   rlcf->dashboard_token.data,
                                   rlcf->dashboard_token.len);
    } else {
        tok = ngx_rag_dash_cookie(r);
        authed = tok.len && ngx_rag_dash_session_ok(&tok, rlcf, &clcf->name);
    }

    if (rest.len == 0 || (rest.len == 10
                          && ngx_strncmp(rest.data, "index.html", 10) == 0))
    {
        return authed ? ngx_rag_dash_page(r) : ngx_rag_dash_login_page(r, NULL);
    }

    if (!authed) {
        return ngx_rag_refuse(r, NGX_RAG_EP_DASHBOARD, NGX_HTTP_UNAUTHORIZED);
    }

    if (rest.len == 11 && ngx_strncmp(rest.data, "api/summary", 11) == 0) {
        api = NGX_RAG_DASH_SUMMARY;
    } else if (rest.len == 11
               && ngx_strncmp(rest.data, "api/threads", 11) == 0)
    {
        api = NGX_RAG_DASH_THREADS;
    } else if (rest.len == 8 && ngx_strncmp(rest.data, "api/gaps", 8) == 0) {
        api = NGX_RAG_DASH_GAPS;
    } else {
        ngx_rag_metrics_observe(r, NGX_RAG_EP_DASHBOARD, NGX_HTTP_NOT_FOUND);
        return ngx_rag_send_error(r, NGX_HTTP_NOT_FOUND, "not found");
    }

    t = ngx_rag_task_create(r, NGX_RAG_EP_DASHBOARD, ngx_rag_dash_run,
                            sizeof(ngx_rag_dash_req_t));
    if (t == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    q = t->data;
    q->api = api;
    q->days = ngx_rag_dash_int_arg(r, "days",
                                   api == NGX_RAG_DASH_GAPS
                                   ? RAG_GAPS_DEFAULT_DAYS : 30, 1, 365);
    q->limit = ngx_rag_dash_int_arg(r, "limit", 50, 1, 200);

    if (ngx_http_arg(r, (u_char *) "guild", 5, &v) == NGX_OK && v.len) {
        if (v.len >= sizeof(q->guild)) {
            return ngx_rag_send_error(r, NGX_HTTP_BAD_REQUEST, "bad guild");
        }
        for (i = 0; i < v.len; i++) {
            if (!(isalnum(v.data[i]) || v.data[i] == '_'
                  || v.data[i] == '-'))
            {
                return ngx_rag_send_error(r, NGX_HTTP_BAD_REQUEST,
                                          "bad guild");
            }
        }
        ngx_memcpy(q->guild, v.data, v.len);
        q->guild[v.len] = '\0';
    }

    return ngx_rag_task_start(r, t);
}


static char *
ngx_rag_dashboard_set(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler != NULL) {
        return "is duplicate: the location already has a content handler";
    }

    clcf->handler = ngx_rag_dashboard_handler;

    return NGX_CONF_OK;
}
