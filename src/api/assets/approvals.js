'use strict';
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
