#include "api/approvals_page.h"

#include <httplib.h>

namespace custos::api {
namespace {

constexpr const char* kCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

constexpr const char* kCss = R"css(
body { font-family: system-ui, sans-serif; margin: 0; background: #f5f6f8; color: #1d2330; }
header { background: #1d2330; color: #fff; padding: .6rem 1rem; display: flex; gap: 1rem;
         align-items: center; }
header h1 { font-size: 1.1rem; margin: 0; flex: 1; }
header a { color: #fff; }
main { max-width: 60rem; margin: 1rem auto; padding: 0 1rem; }
#login-box { background: #fff; padding: 1rem; border-radius: 6px; max-width: 28rem; }
#login-box input { width: 100%; box-sizing: border-box; padding: .4rem; margin: .5rem 0; }
.toolbar { display: flex; gap: .5rem; align-items: center; margin-bottom: .8rem; }
article.approval { background: #fff; border-radius: 6px; padding: .8rem 1rem; margin-bottom: .8rem;
                   border-left: 6px solid #c9a227; }
article.approval[data-status="approved"] { border-left-color: #2e8b57; }
article.approval[data-status="denied"] { border-left-color: #c0392b; }
article.approval[data-status="expired"], article.approval[data-status="withdrawn"] {
  border-left-color: #999; }
pre.statement { background: #f0f1f4; padding: .5rem; white-space: pre-wrap; word-break: break-all;
                max-height: 20rem; overflow: auto; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem .8rem; margin: .4rem 0; }
dt { color: #667; }
dd { margin: 0; }
.decide { display: flex; gap: .4rem; flex-wrap: wrap; align-items: center; margin-top: .4rem; }
.decide input.reason { flex: 1; min-width: 12rem; padding: .3rem; }
button { padding: .35rem .9rem; cursor: pointer; }
button.approve { background: #2e8b57; color: #fff; border: 0; border-radius: 4px; }
button.deny { background: #c0392b; color: #fff; border: 0; border-radius: 4px; }
button:disabled { opacity: .4; cursor: default; }
.status { font-weight: 600; text-transform: uppercase; font-size: .8rem; }
.error { color: #c0392b; }
.note { color: #667; font-size: .9rem; }
)css";

constexpr const char* kJs = R"js('use strict';
// Approvals page. Every value from the API is placed with textContent: never as HTML.
(function () {
  const KEY = 'custos-approver-token';
  const root = document.getElementById('app');
  const detailId = document.body.dataset.approvalId || '';
  let refreshTimer = null;

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') e.className = v;
      else if (k.startsWith('data-')) e.setAttribute(k, v);
      else e[k] = v;
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function token() { return sessionStorage.getItem(KEY) || ''; }

  async function api(method, path, body) {
    const opts = { method, headers: { 'Authorization': 'Bearer ' + token() } };
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    const res = await fetch(path, opts);
    let data = null;
    try { data = await res.json(); } catch (e) { data = { error: 'HTTP ' + res.status }; }
    if (res.status === 401) { logout('Your token was not accepted.'); }
    return { status: res.status, data };
  }

  function logout(message) {
    sessionStorage.removeItem(KEY);
    showLogin(message);
  }

  function showLogin(message) {
    if (refreshTimer) { clearInterval(refreshTimer); refreshTimer = null; }
    document.getElementById('who').textContent = '';
    document.getElementById('logout').hidden = true;
    const input = el('input', { id: 'token', type: 'password', autocomplete: 'off',
                                placeholder: 'approver token' });
    const button = el('button', { id: 'login', type: 'button' }, 'Sign in');
    const msg = el('p', { class: 'error', id: 'login-error' }, message || '');
    async function submit() {
      sessionStorage.setItem(KEY, input.value.trim());
      const r = await api('GET', '/api/whoami');
      if (r.status === 200) { start(r.data); } else if (r.status !== 401) {
        msg.textContent = r.data.error || ('HTTP ' + r.status);
      }
    }
    button.addEventListener('click', submit);
    input.addEventListener('keydown', (e) => { if (e.key === 'Enter') submit(); });
    root.replaceChildren(el('section', { id: 'login-box' },
      el('h2', {}, 'Approver sign-in'),
      el('p', { class: 'note' },
         'Paste your approver token. It is kept in this tab only (sessionStorage).'),
      input, button, msg));
    input.focus();
  }

  function fmtList(v) { return (v && v.length) ? v.join(', ') : '—'; }

  function card(a) {
    const reason = el('input', { class: 'reason', type: 'text', maxLength: 1000,
                                 placeholder: 'reason (optional)' });
    const grant = el('select', { class: 'grant-for', title: 'also allow this statement shape for' },
      el('option', { value: '' }, 'no grant'),
      el('option', { value: '15m' }, 'grant 15m'),
      el('option', { value: '30m' }, 'grant 30m'),
      el('option', { value: '1h' }, 'grant 1h'),
      el('option', { value: '4h' }, 'grant 4h'));
    const approve = el('button', { class: 'approve', type: 'button' }, 'Approve');
    const deny = el('button', { class: 'deny', type: 'button' }, 'Deny');
    const msg = el('span', { class: 'result' });
    const article = el('article', { class: 'approval', 'data-approval-id': a.id,
                                    'data-status': a.status });
    async function decide(action) {
      approve.disabled = deny.disabled = true;
      const body = { reason: reason.value };
      if (action === 'approve' && grant.value) body.grant_for = grant.value;
      const r = await api('POST', '/api/approvals/' + encodeURIComponent(a.id) + '/' + action,
                          body);
      if (r.status === 200) {
        article.replaceWith(card(r.data));
      } else {
        msg.textContent = r.data.error || ('HTTP ' + r.status);
        msg.className = 'result error';
        approve.disabled = deny.disabled = !a.can_decide;
      }
    }
    approve.addEventListener('click', () => decide('approve'));
    deny.addEventListener('click', () => decide('deny'));
    approve.disabled = deny.disabled = !a.can_decide;

    const decisions = el('ul', { class: 'decisions' });
    for (const d of a.decisions || []) {
      decisions.append(el('li', {}, d.approver + ' ' + d.decision + 'd at ' + d.at +
                                    (d.reason ? ': ' + d.reason : '')));
    }
    article.append(
      el('div', {},
         el('span', { class: 'status' }, a.status), ' ',
         el('a', { href: '/approvals/' + encodeURIComponent(a.id) }, a.id)),
      el('pre', { class: 'statement' }, a.statement),
      el('dl', {},
         el('dt', {}, 'identity'), el('dd', { class: 'identity' }, a.identity),
         el('dt', {}, 'connection'), el('dd', {}, a.connection),
         el('dt', {}, 'kinds'), el('dd', {}, fmtList(a.kinds)),
         el('dt', {}, 'tables'), el('dd', {}, fmtList(a.tables)),
         el('dt', {}, 'policy'), el('dd', {}, a.policy + ' rule ' + a.rule),
         el('dt', {}, 'approvers'), el('dd', {}, fmtList(a.approvers) + ' (' + a.min_approvals +
                                                  ' needed)'),
         el('dt', {}, 'requested'), el('dd', {}, a.requested_at),
         el('dt', {}, 'expires'), el('dd', {}, a.expires_at),
         a.message ? el('dt', {}, 'rule message') : null,
         a.message ? el('dd', {}, a.message) : null,
         a.preview ? el('dt', {}, 'preview') : null,
         a.preview ? el('dd', { class: 'preview' }, a.preview) : null,
         a.reason ? el('dt', {}, 'outcome') : null,
         a.reason ? el('dd', { class: 'reason-text' }, a.reason) : null,
         a.grant_id ? el('dt', {}, 'grant') : null,
         a.grant_id ? el('dd', {}, a.grant_id) : null),
      decisions);
    if (a.status === 'pending') {
      article.append(el('div', { class: 'decide' }, reason, grant, approve, deny, msg));
      if (!a.can_decide) {
        article.append(el('p', { class: 'note' },
                          'You are not an approver for this request (or it is your own).'));
      }
    }
    return article;
  }

  function busy() {
    // Do not re-render under someone typing a reason.
    const active = document.activeElement;
    if (active && (active.tagName === 'INPUT' || active.tagName === 'SELECT')) return true;
    return [...document.querySelectorAll('input.reason')].some((i) => i.value);
  }

  async function render() {
    const list = document.getElementById('list');
    const err = document.getElementById('list-error');
    if (!list) return;
    if (detailId) {
      const r = await api('GET', '/api/approvals/' + encodeURIComponent(detailId));
      if (r.status === 200) { list.replaceChildren(card(r.data)); err.textContent = ''; }
      else if (r.status !== 401) { err.textContent = r.data.error || ('HTTP ' + r.status); }
      return;
    }
    const status = document.getElementById('status-filter').value;
    const r = await api('GET', '/api/approvals' + (status ? '?status=' + status : ''));
    if (r.status !== 200) {
      if (r.status !== 401) err.textContent = r.data.error || ('HTTP ' + r.status);
      return;
    }
    err.textContent = '';
    const items = r.data.approvals || [];
    list.replaceChildren(...items.map(card));
    if (!items.length) list.append(el('p', { class: 'note' }, 'Nothing here.'));
  }

  function start(who) {
    document.getElementById('who').textContent = 'signed in as ' + who.name;
    document.getElementById('logout').hidden = false;
    const filter = el('select', { id: 'status-filter' },
      ...['pending', 'approved', 'denied', 'expired', 'withdrawn', ''].map((s) =>
        el('option', { value: s }, s || 'all')));
    const refresh = el('button', { id: 'refresh', type: 'button' }, 'Refresh');
    filter.addEventListener('change', render);
    refresh.addEventListener('click', render);
    root.replaceChildren(
      detailId ? el('p', {}, el('a', { href: '/approvals' }, '← all requests'))
               : el('div', { class: 'toolbar' }, 'Show ', filter, refresh),
      el('p', { class: 'error', id: 'list-error' }),
      el('div', { id: 'list' }));
    render();
    refreshTimer = setInterval(() => { if (!busy()) render(); }, 5000);
  }

  document.getElementById('logout').addEventListener('click', () => logout(''));
  if (!token()) { showLogin(''); return; }
  api('GET', '/api/whoami').then((r) => { if (r.status === 200) start(r.data); });
})();
)js";

void set_page_headers(httplib::Response& res) {
  res.set_header("Content-Security-Policy", kCsp);
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_header("X-Frame-Options", "DENY");
  res.set_header("Cache-Control", "no-store");
}

}  // namespace

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string approvals_page_html(std::string_view approval_id) {
  std::string title = approval_id.empty() ? "custos approvals"
                                          : "custos approval " + html_escape(approval_id);
  return "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
         "<title>" + title + "</title>"
         "<link rel=\"stylesheet\" href=\"/approvals/app.css\"></head>"
         "<body data-approval-id=\"" + html_escape(approval_id) + "\">"
         "<header><h1>" + title + "</h1><span id=\"who\"></span>"
         "<button id=\"logout\" type=\"button\" hidden>Sign out</button></header>"
         "<main id=\"app\"><noscript>This page needs JavaScript; or use "
         "<code>custos approvals list</code>.</noscript></main>"
         "<script src=\"/approvals/app.js\"></script></body></html>\n";
}

void register_approvals_page(httplib::Server& server) {
  server.Get("/approvals/app.js", [](const httplib::Request&, httplib::Response& res) {
    set_page_headers(res);
    res.set_content(kJs, "text/javascript; charset=utf-8");
  });
  server.Get("/approvals/app.css", [](const httplib::Request&, httplib::Response& res) {
    set_page_headers(res);
    res.set_content(kCss, "text/css; charset=utf-8");
  });
  server.Get("/approvals", [](const httplib::Request&, httplib::Response& res) {
    set_page_headers(res);
    res.set_content(approvals_page_html(""), "text/html; charset=utf-8");
  });
  server.Get("/approvals/([a-z2-7]{10})", [](const httplib::Request& req,
                                              httplib::Response& res) {
    set_page_headers(res);
    res.set_content(approvals_page_html(req.matches[1].str()), "text/html; charset=utf-8");
  });
}

}  // namespace custos::api
