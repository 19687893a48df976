// JWK Engine console. Plain JavaScript, no build step and no third-party code: jwkd serves
// this file as it is. It calls the /apiops routes with the token the user signed in with,
// kept in this tab's session storage and sent as a bearer header only. Page text is always
// set as text (never parsed as HTML), so nothing a key or a name holds can run here.
'use strict';

const TOKEN_KEY = 'jwkd.token';
const main = document.getElementById('main');
const nav = document.getElementById('nav');

const SOURCES = [
  ['COPY_PASTE', 'Paste a JWK or JWK Set'],
  ['URL', 'URL (JWK or JWK Set)'],
  ['CERTIFICATE', 'Certificate'],
  ['PUBLIC_KEY', 'Public key'],
  ['PRIVATE_KEY', 'Private key'],
  ['KEYSTORE', 'Keystore (PKCS#12)'],
  ['GENERATE', 'Generate a new key'],
];
const SECRET_SOURCES = {
  CERTIFICATE: { list: 'CERTIFICATE', route: 'certificates', label: 'certificate', field: 'certificateName' },
  PUBLIC_KEY: { list: 'PUBLIC_KEY', route: 'keys', label: 'public key', field: 'keyName' },
  PRIVATE_KEY: { list: 'PRIVATE_KEY', route: 'keys', label: 'private key', field: 'keyName' },
  KEYSTORE: { list: 'KEYSTORE', route: 'keystores', label: 'keystore', field: 'keyStoreName' },
};
const ALGORITHMS = [
  'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'ES256K',
  'EdDSA', 'HS256', 'HS384', 'HS512', 'RSA-OAEP-256', 'RSA-OAEP-384', 'RSA-OAEP-512',
  'ECDH-ES', 'ECDH-ES+A128KW', 'ECDH-ES+A192KW', 'ECDH-ES+A256KW', 'A128KW', 'A192KW',
  'A256KW', 'A128GCMKW', 'A192GCMKW', 'A256GCMKW', 'dir',
];

// ---------------------------------------------------------------------------------------
// DOM helpers

/** An element: attributes (on* are listeners), then children (strings become text). */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    else if (key === 'value') el.value = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

const enc = encodeURIComponent;
const projectHash = (p) => '#/p/' + enc(p);
const jwkHash = (p, n) => projectHash(p) + '/jwk/' + enc(n);

function badge(text, kind) {
  return h('span', { class: 'badge ' + (kind || '') }, text);
}

function notice(text, kind, id) {
  return h('div', { class: 'notice ' + (kind || ''), role: kind === 'bad' ? 'alert' : 'status', id }, text);
}

function unixDate(seconds) {
  if (seconds === undefined || seconds === null) return '';
  return new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
}

// ---------------------------------------------------------------------------------------
// The API

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error_description) || 'The server answered HTTP ' + status + '.');
    this.status = status;
    this.code = body && (body.code || body.error);
  }
}
class SignedOut extends Error {}

/** Calls /apiops{path}; the parsed body, or an ApiError. A 401 signs out. */
async function api(method, path, body, { signingIn = false } = {}) {
  const headers = { Authorization: 'Bearer ' + (sessionStorage.getItem(TOKEN_KEY) || '') };
  const init = { method, headers, cache: 'no-store', credentials: 'omit', redirect: 'error' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch('/apiops' + path, init);
  } catch (e) {
    throw new ApiError(0, { error_description: 'jwkd did not answer: ' + e.message });
  }
  let data = null;
  try {
    data = await res.json();
  } catch (e) {
    data = null;
  }
  if (res.status === 401 && !signingIn) {
    signOut('Your session ended (' + ((data && data.error_description) || 'invalid token') + '): sign in again.');
    throw new SignedOut();
  }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

// What the caller may do: its projects' permissions and whether it is the admin user.
let session = null;

async function loadSession() {
  const [me, projects] = await Promise.all([api('GET', '/me'), api('GET', '/projects')]);
  session = {
    username: me.resultItem.username,
    admin: me.resultItem.admin,
    projects: new Map(projects.resultList.map((p) => [p.name, new Set(p.permissions)])),
  };
  return session;
}

/** Whether the caller holds `permission` ("SECRETS+MANAGE", …) in `project`; MANAGE implies VIEW. */
function can(project, permission) {
  const perms = session && session.projects.get(project);
  if (!perms) return false;
  if (perms.has(permission)) return true;
  const [area, level] = permission.split('+');
  return level === 'VIEW' && perms.has(area + '+MANAGE');
}

// A message carried to the next page (what a change did).
let flash = null;

function deploymentNotice(prefix, result) {
  const d = result && result.deploymentResult;
  if (!d) return notice(prefix, 'ok', 'flash');
  const rows = (d.environmentResults || []).map((e) =>
    h('tr', {},
      h('td', {}, e.environmentName),
      h('td', {}, e.success ? badge('deployed', 'ok') : badge('failed', 'bad')),
      h('td', {}, e.message || '')));
  return h('div', { class: 'notice ' + (d.success ? 'ok' : 'bad'), role: 'status', id: 'flash' },
    h('p', {}, prefix + ' ' + (d.message || '')),
    rows.length ? h('table', { id: 'deployment' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Environment'), h('th', {}, 'Result'), h('th', {}, 'Message'))),
      h('tbody', {}, rows)) : null);
}

// ---------------------------------------------------------------------------------------
// Sign-in, sign-out, navigation

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  session = null;
  flash = null;
  if (location.hash !== '' && location.hash !== '#/') history.replaceState(null, '', '#/');
  signInPage(message);
}

function signInPage(message) {
  nav.replaceChildren();
  const input = h('input', {
    type: 'password', id: 'token', name: 'token', autocomplete: 'off', spellcheck: 'false',
    required: true, 'aria-describedby': 'token-error',
  });
  const error = h('p', { class: 'field-error', id: 'token-error', role: 'alert' });
  const button = h('button', { type: 'submit', id: 'sign-in' }, 'Sign in');
  const form = h('form', { class: 'panel sign-in', id: 'sign-in-form', novalidate: true },
    h('h1', {}, 'Sign in'),
    message ? notice(message, '', 'signed-out') : null,
    h('div', { class: 'field' },
      h('label', { for: 'token' }, 'API token'),
      input,
      h('p', { class: 'hint' }, 'jwkd bootstrap printed the admin token; the admin creates users and their tokens. It stays in this tab only.'),
      error),
    button);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    const token = input.value.trim();
    if (!token) {
      error.textContent = 'Give your API token.';
      return;
    }
    button.disabled = true;
    sessionStorage.setItem(TOKEN_KEY, token);
    try {
      await api('GET', '/me', undefined, { signingIn: true });
      await loadSession();
      // A link opened while signed out leads where it pointed.
      if (location.hash.length > 1) render();
      else location.hash = '#/'; // renders on hashchange
    } catch (e) {
      sessionStorage.removeItem(TOKEN_KEY);
      error.textContent = e.message;
      button.disabled = false;
      input.focus();
    }
  });
  main.replaceChildren(form);
  input.focus();
}

function renderNav() {
  const link = (href, text) => h('a', { href }, text);
  nav.replaceChildren(
    link('#/', 'Projects'),
    link('#/environments', 'Environments'),
    h('span', { class: 'who', id: 'who' }, 'Signed in as ' + session.username),
    h('button', { type: 'button', id: 'sign-out', onclick: () => signOut('You are signed out.') }, 'Sign out'));
}

// ---------------------------------------------------------------------------------------
// Router

const routes = [
  [/^#\/?$/, projectsPage],
  [/^#\/environments$/, environmentsPage],
  [/^#\/p\/([^/]+)$/, jwksPage],
  [/^#\/p\/([^/]+)\/new$/, createPage],
  [/^#\/p\/([^/]+)\/credentials$/, credentialsPage],
  [/^#\/p\/([^/]+)\/jwk\/([^/]+)$/, jwkPage],
  [/^#\/p\/([^/]+)\/jwk\/([^/]+)\/edit$/, editPage],
];
let renderCount = 0;

async function render() {
  if (!sessionStorage.getItem(TOKEN_KEY)) {
    signInPage();
    return;
  }
  const mine = ++renderCount;
  try {
    if (!session) await loadSession();
    renderNav();
    const hash = location.hash || '#/';
    let page = null;
    for (const [pattern, build] of routes) {
      const m = hash.match(pattern);
      if (m) {
        page = await build(...m.slice(1).map(decodeURIComponent));
        break;
      }
    }
    if (!page) page = [h('h1', {}, 'Not found'), h('p', {}, 'No such page in the console.')];
    if (mine !== renderCount) return; // a later navigation won
    const shown = flash;
    flash = null;
    main.replaceChildren(...[shown, page].flat(Infinity).filter(Boolean));
    main.focus({ preventScroll: true });
  } catch (e) {
    if (e instanceof SignedOut || mine !== renderCount) return;
    main.replaceChildren(h('h1', {}, 'Something went wrong'), notice(e.message, 'bad', 'page-error'));
  }
}

function go(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

// ---------------------------------------------------------------------------------------
// Tables: sortable by a click on a heading, filtered by a search box

/**
 * A table of `rows` (objects) with `columns` [{key, label, cell?(row) -> Node|string,
 * sort?(row) -> value}], sorted by `initial` and filtered by every column's text.
 */
function dataTable(id, columns, rows, { initial, descending = false, filterLabel, empty }) {
  let sortKey = initial;
  let ascending = !descending;
  const text = (row, col) => (col.text ? col.text(row) : String(row[col.key] ?? ''));
  const filter = h('input', { type: 'search', id: id + '-filter', placeholder: filterLabel, 'aria-label': filterLabel });
  const heads = columns.map((col) => {
    const th = h('th', { scope: 'col', 'data-key': col.key },
      h('button', { type: 'button', onclick: () => {
        ascending = sortKey === col.key ? !ascending : true;
        sortKey = col.key;
        draw();
      } }, col.label));
    return th;
  });
  const body = h('tbody', {});
  const count = h('span', { class: 'count', id: id + '-count' });
  function draw() {
    const needle = filter.value.trim().toLowerCase();
    const col = columns.find((c) => c.key === sortKey) || columns[0];
    const value = (row) => (col.sort ? col.sort(row) : text(row, col).toLowerCase());
    const shown = rows
      .filter((row) => !needle || columns.some((c) => text(row, c).toLowerCase().includes(needle)))
      .sort((a, b) => {
        const x = value(a);
        const y = value(b);
        const order = x < y ? -1 : x > y ? 1 : 0;
        return ascending ? order : -order;
      });
    for (const th of heads) {
      if (th.dataset.key === col.key) th.setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
      else th.removeAttribute('aria-sort');
    }
    body.replaceChildren(...(shown.length ? shown.map((row) =>
      h('tr', {}, columns.map((c) => h('td', { class: c.mono ? 'mono' : null }, c.cell ? c.cell(row) : text(row, c)))))
      : [h('tr', {}, h('td', { colspan: columns.length, class: 'empty' }, rows.length ? 'Nothing matches the filter.' : empty))]));
    count.textContent = shown.length === rows.length ? rows.length + ' in all' : shown.length + ' of ' + rows.length;
  }
  filter.addEventListener('input', draw);
  draw();
  return {
    filter,
    count,
    table: h('table', { id }, h('thead', {}, h('tr', {}, heads)), body),
  };
}

// ---------------------------------------------------------------------------------------
// Pages

async function projectsPage() {
  await loadSession();
  const rows = [...session.projects].map(([name, perms]) => ({ name, permissions: [...perms].join(', ') }));
  const t = dataTable('projects', [
    { key: 'name', label: 'Project', cell: (r) => h('a', { href: projectHash(r.name) + (can(r.name, 'SECRETS+VIEW') ? '' : '/credentials') }, r.name) },
    { key: 'permissions', label: 'Your permissions' },
  ], rows, { initial: 'name', filterLabel: 'Filter projects', empty: 'You are not a member of any project yet: ask the admin.' });
  return [h('h1', {}, 'Projects'), h('div', { class: 'toolbar' }, t.filter, t.count), t.table];
}

/** The trail of links above a page's title: Projects, then each [href, text] given. */
function crumbs(...links) {
  return h('div', { class: 'crumbs' }, [['#/', 'Projects'], ...links].map(([href, text]) => [h('a', { href }, text), ' / ']));
}

function projectHeader(project, current) {
  const tab = (href, text, key) => h('a', { href, class: key === current ? 'current' : null }, text);
  return [
    crumbs(),
    h('h1', {}, project),
    h('nav', { class: 'tabs', 'aria-label': 'Project' },
      can(project, 'SECRETS+VIEW') ? tab(projectHash(project), 'JWKs', 'jwks') : null,
      can(project, 'IDENTITY+VIEW') ? tab(projectHash(project) + '/credentials', 'Credentials', 'credentials') : null),
  ];
}

/** kty with its curve or size: "EC P-256", "RSA 2048", "oct". */
function keyKind(jwk) {
  if (jwk.crv) return jwk.kty + ' ' + jwk.crv;
  if (jwk.kty === 'RSA' && jwk.n) return 'RSA ' + Math.floor((jwk.n.length * 6) / 8) * 8;
  return jwk.kty || '';
}

function jwkRow(view) {
  const jwk = view.jwk || {};
  return {
    name: view.name,
    kid: jwk.kid || '',
    key: keyKind(jwk),
    use: view.useType || jwk.use || '',
    alg: view.algorithm || jwk.alg || '',
    source: view.sourceType || (view.detached ? 'detached' : ''),
    thumbprint: view.thumbprint || '',
    exp: view.exp,
    state: view.state + (view.validity && view.validity !== 'valid' ? ' (' + view.validity.replace(/_/g, ' ') + ')' : ''),
    deployed: view.deployed,
    view,
  };
}

/** The first 16 characters of a long value, the whole of it in the tooltip. */
function short(text) {
  return h('span', { title: text }, text.length > 16 ? text.slice(0, 16) + '…' : text);
}

function deployedBadge(deployed) {
  return deployed ? badge('deployed', 'ok') : badge('pending', 'warn');
}

function stateBadge(state) {
  const kind = state.startsWith('active') ? 'ok' : state.startsWith('disabled') || state.includes('expired') ? 'bad' : 'warn';
  return badge(state, kind);
}

async function jwksPage(project) {
  // A user who sees credentials and not JWKs lands on the credentials.
  if (!can(project, 'SECRETS+VIEW') && can(project, 'IDENTITY+VIEW')) return credentialsPage(project);
  const list = await api('GET', '/projects/' + enc(project) + '/jwks');
  const rows = list.resultList.map(jwkRow);
  const t = dataTable('jwk-table', [
    { key: 'name', label: 'Name', cell: (r) => h('a', { href: jwkHash(project, r.name) }, r.name) },
    { key: 'kid', label: 'kid', mono: true, cell: (r) => short(r.kid) },
    { key: 'key', label: 'Key' },
    { key: 'use', label: 'Use' },
    { key: 'alg', label: 'Alg' },
    { key: 'source', label: 'Source' },
    { key: 'thumbprint', label: 'Thumbprint', mono: true, cell: (r) => short(r.thumbprint) },
    { key: 'exp', label: 'Expires', text: (r) => unixDate(r.exp), sort: (r) => (r.exp === undefined ? Infinity : r.exp),
      cell: (r) => h('span', { title: unixDate(r.exp) }, unixDate(r.exp).slice(0, 10)) },
    { key: 'state', label: 'State', cell: (r) => stateBadge(r.state) },
    { key: 'deployed', label: 'Deployed', text: (r) => (r.deployed ? 'deployed' : 'pending'), cell: (r) => deployedBadge(r.deployed) },
  ], rows, { initial: 'name', filterLabel: 'Filter JWKs', empty: 'No JWK in this project yet.' });
  const pending = rows.filter((r) => !r.deployed);
  return [
    projectHeader(project, 'jwks'),
    h('div', { class: 'toolbar' }, t.filter, t.count, h('span', { class: 'spacer' }),
      can(project, 'SECRETS+MANAGE') ? h('a', { class: 'button', href: projectHash(project) + '/new', id: 'new-jwk' }, 'New JWK') : null),
    t.table,
    pending.length ? [
      h('h2', {}, 'Pending deployments'),
      h('p', {}, 'Saved by a user without SECRETS+DEPLOY_UNDEPLOY: the environments still serve the earlier version.'),
      h('ul', { id: 'pending' }, pending.map((r) => h('li', {},
        h('a', { href: jwkHash(project, r.name) }, r.name), ' ',
        can(project, 'SECRETS+DEPLOY_UNDEPLOY') ? deployButton(project, 'jwks', r.name) : null))),
    ] : null,
  ];
}

/** A button that approves and deploys what is saved (a JWK or a credential). */
/**
 * Runs a change a button asks for: the button is disabled while `call()` runs; the answer's
 * deployment result, with `message`, is shown on the page `next()` renders (this one again by
 * default); a refusal goes to `error`, and the button may be clicked again.
 */
async function runChange(button, error, call, message, next = render) {
  button.disabled = true;
  error.textContent = '';
  try {
    const result = await call();
    flash = deploymentNotice(message, result);
    next();
  } catch (e) {
    if (e instanceof SignedOut) return;
    button.disabled = false;
    error.textContent = e.message;
  }
}

/** The place a button's refusal is shown. */
function errorSpan(id) {
  return h('span', { class: 'field-error', role: 'alert', id });
}

function deployButton(project, kind, name) {
  const error = errorSpan();
  const button = h('button', { type: 'button', class: 'secondary', 'data-deploy': name, onclick: () => runChange(button, error,
    () => api('POST', '/projects/' + enc(project) + '/' + kind + '/' + enc(name) + '/deploy'),
    (kind === 'jwks' ? 'JWK ' : 'Credential ') + name + ' deployed.') }, 'Deploy');
  return h('span', {}, button, error);
}

async function jwkPage(project, name) {
  const base = '/projects/' + enc(project) + '/jwks/' + enc(name);
  const [item, history, usage] = await Promise.all([
    api('GET', base), api('GET', base + '/history?limit=50'), api('GET', base + '/credentials'),
  ]);
  const v = item.resultItem;
  const jwk = v.jwk || {};
  const json = JSON.stringify(jwk, null, 2);
  const copied = h('span', { id: 'copied', role: 'status' });
  const copy = h('button', { type: 'button', class: 'secondary', id: 'copy-jwk', onclick: async () => {
    try {
      await navigator.clipboard.writeText(json);
      copied.textContent = 'Copied.';
    } catch (e) {
      // Without clipboard access: select the text for the user to copy.
      const range = document.createRange();
      range.selectNodeContents(pre);
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      copied.textContent = 'Selected: press Ctrl+C to copy.';
    }
  } }, 'Copy JSON');
  const pre = h('pre', { class: 'json', id: 'jwk-json' }, json);
  const src = v.source || {};
  const fact = (label, value) => (value === undefined || value === null || value === '' ? null : [h('dt', {}, label), h('dd', {}, value)]);
  const sourceText = v.source
    ? [src.type, src.url, src.name && 'name ' + src.name, src.environmentName && 'environment ' + src.environmentName,
      src.aliasName && 'alias ' + src.aliasName, src.kid && 'kid ' + src.kid].filter(Boolean).join(' · ')
    : v.detached ? 'detached' + (v.detachedAt ? ' since ' + v.detachedAt : '') : 'none';
  const sync = src.lastSync ? src.lastSync.at + ': ' + src.lastSync.result : null;
  const actions = [];
  if (can(project, 'SECRETS+MANAGE')) {
    actions.push(h('a', { class: 'button secondary', href: jwkHash(project, name) + '/edit', id: 'edit-jwk' }, 'Update'));
  }
  if (!v.deployed && can(project, 'SECRETS+DEPLOY_UNDEPLOY')) actions.push(deployButton(project, 'jwks', name));
  if (can(project, 'SECRETS+MANAGE')) actions.push(stateControl(project, name, v.state), deleteButton(project, name));
  const credentials = usage.resultItem.credentials;
  return [
    crumbs([projectHash(project), project]),
    h('h1', {}, name),
    h('div', { class: 'actions' }, actions),
    h('div', { class: 'grid2' },
      h('section', { class: 'panel' },
        h('dl', { class: 'facts', id: 'jwk-facts' },
          fact('Description', v.description),
          fact('Thumbprint (SHA-256)', v.thumbprint ? h('span', { class: 'mono', id: 'thumbprint' }, v.thumbprint) : null),
          fact('kid', jwk.kid),
          fact('Key', keyKind(jwk)),
          fact('Use', v.useType || jwk.use),
          fact('Algorithm', v.algorithm || jwk.alg),
          fact('State', h('span', { id: 'jwk-state' }, stateBadge(jwkRow(v).state))),
          fact('Not before', unixDate(v.nbf)),
          fact('Expires', unixDate(v.exp)),
          fact('Deployed', deployedBadge(v.deployed)),
          fact('Source', h('span', { id: 'source' }, sourceText)),
          fact('Last fetch', sync))),
      h('section', {},
        h('div', { class: 'toolbar' }, h('strong', {}, 'Public JWK'), h('span', { class: 'spacer' }), copied, copy),
        pre)),
    h('h2', {}, 'Credentials that use it'),
    credentials.length
      ? h('ul', { id: 'usage' }, credentials.map((c) => h('li', {},
        c.project + ' / ' + c.username + ': ' + c.slots.join(', '))))
      : h('p', { class: 'empty', id: 'usage' }, 'No credential you can see uses it.'),
    usage.resultItem.hidden ? h('p', {}, usage.resultItem.hidden + ' more in projects whose credentials you cannot see.') : null,
    h('h2', {}, 'History'),
    dataTable('history', [
      { key: 'at', label: 'When', text: (e) => e.at.replace(/\.\d+Z$/, 'Z'), sort: (e) => e.at },
      { key: 'actor', label: 'Who' },
      { key: 'action', label: 'What' },
      { key: 'name', label: 'Name' },
    ], history.resultItem.entries, { initial: 'at', descending: true, filterLabel: 'Filter history', empty: 'No change recorded yet (histories start with this version of jwkd).' }).table,
    history.resultItem.more ? h('p', { class: 'hint' }, 'Older entries are in the audit log.') : null,
  ];
}

/** Sets the JWK's state: pending, active, retired (verifies, signs nothing new) or disabled. */
function stateControl(project, name, current) {
  const states = ['pending', 'active', 'retired', 'disabled'];
  const choice = h('select', { id: 'state', 'aria-label': 'State' }, states.map((s) => h('option', { value: s }, s)));
  choice.value = current;
  const error = errorSpan('state-error');
  const button = h('button', { type: 'button', class: 'secondary', id: 'set-state', onclick: () => runChange(button, error,
    () => api('PUT', '/projects/' + enc(project) + '/jwks/' + enc(name) + '/state', { state: choice.value }),
    'JWK ' + name + ' is ' + choice.value + '.') }, 'Set state');
  return h('span', { class: 'toolbar' }, choice, button, error);
}

function deleteButton(project, name) {
  const button = h('button', { type: 'button', class: 'danger', id: 'delete-jwk' }, 'Delete');
  const error = errorSpan();
  let armed = false;
  button.addEventListener('click', () => {
    if (!armed) {
      armed = true;
      button.textContent = 'Click again to delete ' + name;
      return;
    }
    runChange(button, error, () => api('DELETE', '/projects/' + enc(project) + '/jwks/' + enc(name)),
      'JWK ' + name + ' deleted.', () => go(projectHash(project)));
  });
  return h('span', {}, button, error);
}

// ---------------------------------------------------------------------------------------
// Forms: fields with their error next to them

/** A labelled field; `input` gets `id`. */
function field(id, label, input, hint) {
  input.id = id;
  if (!input.name) input.name = id;
  input.setAttribute('aria-describedby', id + '-error');
  return h('div', { class: 'field', 'data-field': id },
    h('label', { for: id }, label), input,
    hint ? h('p', { class: 'hint' }, hint) : null,
    h('p', { class: 'field-error', id: id + '-error', role: 'alert' }));
}

function clearErrors(form) {
  for (const el of form.querySelectorAll('.field-error')) el.textContent = '';
  for (const el of form.querySelectorAll('.field.invalid')) el.classList.remove('invalid');
}

function visible(el) {
  for (let e = el; e; e = e.parentElement) if (e.hidden) return false;
  return true;
}

/**
 * Shows `error` next to the first visible field among those `rules` name for it
 * ([regexp on the message or code, field ids…]), else at the form's foot.
 */
function showError(form, error, rules) {
  const message = error.message;
  for (const [pattern, ...ids] of rules) {
    if (!pattern.test(message) && !(error.code && pattern.test(error.code))) continue;
    for (const id of ids) {
      const box = form.querySelector('[data-field="' + id + '"]');
      if (box && visible(box)) {
        box.classList.add('invalid');
        box.querySelector('.field-error').textContent = message;
        const input = box.querySelector('input, select, textarea');
        if (input) input.focus();
        return;
      }
    }
  }
  form.querySelector('.form-error').textContent = message;
}

// Which field an API message of Create / Update JWK concerns (the product's words).
const JWK_FIELD_RULES = [
  [/^JWK name|^JWK \(name: .*\) is already exist|JWK \(name: .*\) has a rotation/, 'name'],
  [/^jwks\.kid/, 'kid', 'urlKid'],
  [/^JWK string|^(json|jwks?|pem|der)\./, 'jwkStr', 'url'],
  [/^URL|^fetch\.|url/i, 'url'],
  [/^Use type|use type|useType|"use"/i, 'useType'],
  [/^Algorithm|algorithm/i, 'algorithm'],
  [/^Alias|alias/i, 'aliasName'],
  [/^Environment name|^(Certificate|Key|Keystore) \(name|^(Certificate|Key|Keystore) name/, 'secret'],
  [/^Key type|^Curve|bits|key size/i, 'keyType', 'keySize', 'curve'],
  [/kid/i, 'kid', 'urlKid'],
  [/password|^pkcs12\./i, 'secretPassword'],
];

function textInput(attrs) {
  return h('input', Object.assign({ type: 'text', autocomplete: 'off', spellcheck: 'false' }, attrs));
}

function select(options, attrs) {
  return h('select', attrs || {}, options.map(([value, label]) => h('option', { value }, label)));
}

async function createPage(project) {
  const [secretsList, envs] = await Promise.all([
    api('GET', '/projects/' + enc(project) + '/secrets'),
    api('GET', '/environments'),
  ]);
  let secrets = secretsList.resultList;
  const environments = envs.resultList.map((e) => e.name);

  const name = textInput({ required: true });
  const description = textInput({});
  const sourceType = select(SOURCES);
  const useType = select([['', 'From the key (its "use")'], ['SIGNATURE', 'SIGNATURE'], ['ENCRYPTION', 'ENCRYPTION']]);
  const algorithm = textInput({ list: 'algorithms', placeholder: 'e.g. RS256' });
  const jwkStr = h('textarea', { spellcheck: 'false', placeholder: '{"kty":"RSA", …} or {"keys":[…]}' });
  const kid = textInput({});
  const url = textInput({ type: 'url', placeholder: 'https://issuer.example/.well-known/jwks.json' });
  const follow = h('input', { type: 'checkbox', id: 'follow', name: 'follow' });
  const secret = h('select', {});
  const aliasName = h('select', {});
  const keyType = select([['RSA', 'RSA'], ['EC', 'EC'], ['OKP', 'OKP'], ['OCT', 'oct (symmetric)']]);
  const keySize = h('input', { type: 'number', min: '1', step: '1', placeholder: 'RSA 2048, oct 256' });
  const curve = select([['', 'Default (P-256 / Ed25519)'], ['P-256', 'P-256'], ['P-384', 'P-384'], ['P-521', 'P-521'],
    ['secp256k1', 'secp256k1'], ['Ed25519', 'Ed25519'], ['Ed448', 'Ed448'], ['X25519', 'X25519'], ['X448', 'X448']]);

  // Storing a new certificate, key or keystore in the secrets store.
  const secretName = textInput({});
  const secretEnv = select(environments.map((e) => [e, e]));
  const pem = h('textarea', { spellcheck: 'false', placeholder: '-----BEGIN …-----' });
  const pemFile = h('input', { type: 'file', accept: '.pem,.crt,.cer,.key,.der,.txt' });
  const keystoreFile = h('input', { type: 'file', accept: '.p12,.pfx' });
  const secretPassword = h('input', { type: 'password', autocomplete: 'off' });
  const uploadButton = h('button', { type: 'button', class: 'secondary', id: 'upload-secret' }, 'Store it');
  const uploadError = h('p', { class: 'field-error', role: 'alert', id: 'upload-error' });
  pemFile.addEventListener('change', async () => {
    if (pemFile.files[0]) pem.value = await pemFile.files[0].text();
  });

  const groups = {
    COPY_PASTE: h('div', {}, field('jwkStr', 'JWK or JWK Set (JSON)', jwkStr), field('kid', 'kid (to choose a key of a set)', kid)),
    URL: h('div', {}, field('url', 'URL', url), field('urlKid', 'kid (to choose a key of a set)', textInput({})),
      h('div', { class: 'field' }, h('label', {}, follow, ' Follow it (refetch before its cache time runs out)'))),
    SECRET: h('div', {},
      field('secret', 'Stored secret', secret, 'The secrets store keeps one per name and environment.'),
      h('fieldset', { id: 'new-secret' }, h('legend', {}, 'Or store a new one'),
        field('secretName', 'Name', secretName),
        field('secretEnvironment', 'Environment', secretEnv),
        h('div', { 'data-group': 'pem' }, field('pem', 'PEM', pem), field('pemFile', 'or a file', pemFile)),
        h('div', { 'data-group': 'keystore' }, field('keystoreFile', 'Keystore file (.p12)', keystoreFile)),
        h('div', { 'data-group': 'password' }, field('secretPassword', 'Password', secretPassword)),
        uploadButton, uploadError),
      h('div', { 'data-group': 'alias' }, field('aliasName', 'Alias', aliasName, 'The keystore entry to take the key from.'))),
    GENERATE: h('div', {}, field('keyType', 'Key type', keyType), field('keySize', 'Size (bits)', keySize), field('curve', 'Curve', curve)),
  };

  function fillSecrets(keep) {
    const kind = SECRET_SOURCES[sourceType.value];
    if (!kind) return;
    const mine = secrets.filter((s) => s.type === kind.list);
    secret.replaceChildren(
      h('option', { value: '' }, mine.length ? 'Choose a ' + kind.label : 'No ' + kind.label + ' stored yet: store one below'),
      ...mine.map((s) => h('option', { value: JSON.stringify([s.name, s.environmentName]) }, s.name + ' (' + s.environmentName + ')')));
    if (keep) secret.value = keep;
    fillAliases();
  }

  function fillAliases() {
    const chosen = secret.value ? JSON.parse(secret.value) : null;
    const ks = chosen && secrets.find((s) => s.type === 'KEYSTORE' && s.name === chosen[0] && s.environmentName === chosen[1]);
    const entries = (ks && ks.entries) || [];
    aliasName.replaceChildren(
      h('option', { value: '' }, entries.length ? 'Choose an alias' : 'Choose a keystore first'),
      ...entries.filter((e) => e.alias !== null && e.alias !== undefined).map((e) =>
        h('option', { value: e.alias }, e.alias + ' — ' + e.entryType.toLowerCase().replace('_', ' ') + ', ' + e.keyType)));
  }

  function showGroups() {
    const type = sourceType.value;
    groups.COPY_PASTE.hidden = type !== 'COPY_PASTE';
    groups.URL.hidden = type !== 'URL';
    groups.SECRET.hidden = !SECRET_SOURCES[type];
    groups.GENERATE.hidden = type !== 'GENERATE';
    const part = (g) => groups.SECRET.querySelector('[data-group="' + g + '"]');
    part('pem').hidden = type === 'KEYSTORE';
    part('keystore').hidden = type !== 'KEYSTORE';
    part('password').hidden = type !== 'KEYSTORE' && type !== 'PRIVATE_KEY';
    part('alias').hidden = type !== 'KEYSTORE';
    fillSecrets();
  }
  sourceType.addEventListener('change', () => {
    clearErrors(form);
    showGroups();
  });
  secret.addEventListener('change', fillAliases);

  uploadButton.addEventListener('click', async () => {
    clearErrors(form);
    uploadError.textContent = '';
    const kind = SECRET_SOURCES[sourceType.value];
    const body = { name: secretName.value.trim(), environmentName: secretEnv.value };
    try {
      if (sourceType.value === 'KEYSTORE') {
        const file = keystoreFile.files[0];
        if (!file) throw new ApiError(400, { error_description: 'Choose the keystore file.' });
        body.contentBase64 = await fileBase64(file);
        body.password = secretPassword.value;
      } else {
        body.pem = pem.value;
        if (sourceType.value !== 'CERTIFICATE') body.keyType = sourceType.value === 'PUBLIC_KEY' ? 'PUBLIC' : 'PRIVATE';
        if (sourceType.value === 'PRIVATE_KEY' && secretPassword.value) body.password = secretPassword.value;
      }
      uploadButton.disabled = true;
      await api('POST', '/projects/' + enc(project) + '/' + kind.route, body);
      secrets = (await api('GET', '/projects/' + enc(project) + '/secrets')).resultList;
      fillSecrets(JSON.stringify([body.name, body.environmentName]));
      uploadError.textContent = '';
      const stored = h('p', { class: 'notice ok', id: 'secret-stored', role: 'status' },
        'Stored ' + kind.label + ' ' + body.name + ' (' + body.environmentName + ').');
      form.querySelector('#secret-stored')?.remove();
      uploadButton.after(stored);
    } catch (e) {
      if (e instanceof SignedOut) return;
      showError(form, e, [
        [/password/i, 'secretPassword'],
        [/keystore file|contentBase64|^pkcs12\.|^jks\./i, 'keystoreFile'],
        [/^Environment|environment/i, 'secretEnvironment'],
        [/^(Certificate|Key|Keystore) name|name/i, 'secretName'],
        [/PEM|pem|certificate|key/i, 'pem'],
      ]);
    } finally {
      uploadButton.disabled = false;
    }
  });

  const submit = h('button', { type: 'submit', id: 'create-jwk' }, 'Create JWK');
  const form = h('form', { class: 'form', id: 'create-form', novalidate: true },
    field('name', 'Name', name, 'Unique in the project; names are case-sensitive.'),
    field('description', 'Description', description),
    field('sourceType', 'Source', sourceType),
    groups.COPY_PASTE, groups.URL, groups.SECRET, groups.GENERATE,
    field('useType', 'Use', useType),
    field('algorithm', 'Algorithm', algorithm, 'Bound to the key type (and curve); required for keys from certificates, keys and keystores.'),
    h('datalist', { id: 'algorithms' }, ALGORITHMS.map((a) => h('option', { value: a }))),
    h('p', { class: 'field-error form-error', role: 'alert', id: 'form-error' }),
    h('div', { class: 'actions' }, submit, h('a', { class: 'button secondary', href: projectHash(project) }, 'Cancel')));

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    const type = sourceType.value;
    const body = { name: name.value.trim() };
    const optional = (key, value) => {
      if (value !== '') body[key] = value;
    };
    optional('description', description.value);
    optional('useType', useType.value);
    optional('algorithm', algorithm.value.trim());
    let path = '/projects/' + enc(project) + '/jwks';
    if (type === 'GENERATE') {
      path += '/generate';
      body.keyType = keyType.value;
      if (keySize.value) body.keySize = Number(keySize.value);
      optional('curve', curve.value);
    } else {
      body.sourceType = type;
      if (type === 'COPY_PASTE') {
        body.jwkStr = jwkStr.value;
        optional('kid', kid.value.trim());
      } else if (type === 'URL') {
        body.url = url.value.trim();
        optional('kid', form.querySelector('#urlKid').value.trim());
        if (follow.checked) body.follow = true;
      } else {
        const kind = SECRET_SOURCES[type];
        const chosen = secret.value ? JSON.parse(secret.value) : ['', ''];
        body[kind.field] = chosen[0];
        optional('environmentName', chosen[1]);
        if (type === 'KEYSTORE') body.aliasName = aliasName.value;
      }
    }
    submit.disabled = true;
    try {
      const result = await api('POST', path, body);
      flash = deploymentNotice('JWK ' + body.name + ' created.', result);
      go(projectHash(project));
    } catch (e) {
      if (e instanceof SignedOut) return;
      showError(form, e, JWK_FIELD_RULES);
    } finally {
      submit.disabled = false;
    }
  });
  showGroups();
  return [
    crumbs([projectHash(project), project]),
    h('h1', {}, 'New JWK'),
    form,
  ];
}

/** A file's content as standard base64. */
async function fileBase64(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

async function editPage(project, jwkName) {
  const item = await api('GET', '/projects/' + enc(project) + '/jwks/' + enc(jwkName));
  const v = item.resultItem;
  const name = textInput({ value: v.name });
  const description = textInput({ value: v.description });
  const submit = h('button', { type: 'submit', id: 'update-jwk' }, 'Save');
  const form = h('form', { class: 'form', id: 'update-form', novalidate: true },
    v.source ? notice('Saving detaches this JWK from its source (' + v.source.type + '): it keeps its key and is no longer refreshed from it.', 'warn', 'detach-warning') : null,
    field('name', 'Name', name, 'A rename keeps the credentials that use it.'),
    field('description', 'Description', description),
    h('p', { class: 'field-error form-error', role: 'alert', id: 'form-error' }),
    h('div', { class: 'actions' }, submit, h('a', { class: 'button secondary', href: jwkHash(project, jwkName) }, 'Cancel')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    submit.disabled = true;
    try {
      const newName = name.value.trim();
      const result = await api('PUT', '/projects/' + enc(project) + '/jwks/' + enc(jwkName), { name: newName, description: description.value });
      flash = deploymentNotice('JWK ' + (newName || jwkName) + ' updated.', result);
      go(jwkHash(project, newName || jwkName));
    } catch (e) {
      if (e instanceof SignedOut) return;
      showError(form, e, JWK_FIELD_RULES);
    } finally {
      submit.disabled = false;
    }
  });
  return [
    crumbs([projectHash(project), project], [jwkHash(project, jwkName), jwkName]),
    h('h1', {}, 'Update ' + jwkName),
    form,
  ];
}

async function credentialsPage(project) {
  const base = '/projects/' + enc(project);
  const none = Promise.resolve({ resultList: [] });
  const [list, jwks, shared] = await Promise.all([
    api('GET', base + '/credentials'),
    can(project, 'SECRETS+VIEW') ? api('GET', base + '/jwks') : none,
    // The admin project's JWKs serve every project's slots.
    project !== 'admin' && can('admin', 'SECRETS+VIEW') ? api('GET', '/projects/admin/jwks') : none,
  ]);
  const manage = can(project, 'IDENTITY+MANAGE');
  const names = [...new Set([...jwks.resultList, ...shared.resultList].map((j) => j.name))];
  const datalist = h('datalist', { id: 'jwk-names' }, names.map((n) => h('option', { value: n })));

  function slotCell(cred, slot) {
    const current = cred[slot];
    const shown = current
      ? (current.project === project ? h('a', { href: jwkHash(project, current.name) }, current.name) : current.project + ' / ' + current.name)
      : h('span', { class: 'empty' }, 'empty');
    if (!manage) return shown;
    const id = 'slot-' + cred.username + '-' + slot;
    const input = textInput({ list: 'jwk-names', placeholder: 'JWK name', 'aria-label': slot + ' JWK of ' + cred.username, 'data-slot-input': id });
    const error = h('p', { class: 'field-error', role: 'alert', id: id + '-error' });
    const path = base + '/credentials/' + enc(cred.username) + '/jwk/' + slot;
    const change = (ev, method, target) => runChange(ev.currentTarget, error,
      () => api(method, path + (target ? '/' + enc(target) : '')),
      'Credential ' + cred.username + ': ' + slot + ' slot ' + (target ? 'set to ' + target : 'emptied') + '.');
    return h('div', { class: 'field' }, shown,
      h('div', { class: 'toolbar' }, input,
        h('button', { type: 'button', class: 'secondary', 'data-set': id, onclick: (ev) => change(ev, 'PUT', input.value.trim()) }, 'Set'),
        current ? h('button', { type: 'button', class: 'secondary', 'data-remove': id, onclick: (ev) => change(ev, 'DELETE') }, 'Remove') : null),
      error);
  }

  const rows = list.resultList.map((c) => Object.assign({}, c, { deployedText: c.deployed ? 'deployed' : 'pending' }));
  const t = dataTable('credential-table', [
    { key: 'username', label: 'Username' },
    { key: 'validation', label: 'Validation (signing)', text: (c) => (c.validation ? c.validation.name : ''), cell: (c) => slotCell(c, 'validation') },
    { key: 'encryption', label: 'Encryption', text: (c) => (c.encryption ? c.encryption.name : ''), cell: (c) => slotCell(c, 'encryption') },
    { key: 'deployedText', label: 'Deployed', cell: (c) => [deployedBadge(c.deployed), ' ',
      !c.deployed && can(project, 'IDENTITY+DEPLOY_UNDEPLOY') ? deployButton(project, 'credentials', c.username) : null] },
  ], rows, { initial: 'username', filterLabel: 'Filter credentials', empty: 'No credential in this project yet.' });

  let create = null;
  if (manage) {
    const username = textInput({});
    const button = h('button', { type: 'submit', id: 'create-credential' }, 'Create credential');
    create = h('form', { class: 'form', id: 'credential-form', novalidate: true },
      h('h2', {}, 'New credential'),
      field('username', 'Username', username),
      h('p', { class: 'field-error form-error', role: 'alert' }),
      button);
    create.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearErrors(create);
      try {
        const result = await api('POST', base + '/credentials', { username: username.value.trim() });
        flash = deploymentNotice('Credential ' + username.value.trim() + ' created.', result);
        render();
      } catch (e) {
        if (!(e instanceof SignedOut)) showError(create, e, [[/./, 'username']]);
      }
    });
  }
  return [projectHeader(project, 'credentials'), datalist, h('div', { class: 'toolbar' }, t.filter, t.count), t.table, create];
}

async function environmentsPage() {
  await loadSession();
  const list = await api('GET', '/environments');
  const rows = list.resultList.map((e) => ({
    name: e.name,
    target: e.target.type + (e.target.path ? ': ' + e.target.path : '') + (e.target.url ? ': ' + e.target.url : ''),
    revision: e.deployment ? e.deployment.revision : null,
    status: !e.deployment ? 'never deployed' : e.deployment.pending ? 'retrying: ' + (e.deployment.error || 'failed') : 'up to date',
    keys: e.deployment ? e.deployment.keys : 0,
  }));
  const t = dataTable('environment-table', [
    { key: 'name', label: 'Environment' },
    { key: 'target', label: 'Target' },
    { key: 'revision', label: 'Revision', text: (r) => (r.revision === null ? '' : String(r.revision)), sort: (r) => r.revision ?? -1 },
    { key: 'status', label: 'Status', cell: (r) => badge(r.status, r.status === 'up to date' ? 'ok' : 'bad') },
    { key: 'keys', label: 'Public keys served', text: (r) => String(r.keys), sort: (r) => r.keys },
  ], rows, { initial: 'name', filterLabel: 'Filter environments', empty: 'No environment yet: the admin adds them.' });

  // Saved changes not deployed yet, in every project the caller can see.
  const pending = [];
  await Promise.all([...session.projects.keys()].map(async (project) => {
    const base = '/projects/' + enc(project);
    if (can(project, 'SECRETS+VIEW')) {
      for (const j of (await api('GET', base + '/jwks')).resultList) {
        if (!j.deployed) pending.push({ project, kind: 'jwks', label: 'JWK', name: j.name });
      }
    }
    if (can(project, 'IDENTITY+VIEW')) {
      for (const c of (await api('GET', base + '/credentials')).resultList) {
        if (!c.deployed) pending.push({ project, kind: 'credentials', label: 'Credential', name: c.username });
      }
    }
  }));
  pending.sort((a, b) => (a.project + a.label + a.name).localeCompare(b.project + b.label + b.name));
  const mayDeploy = (p) => can(p.project, (p.kind === 'jwks' ? 'SECRETS' : 'IDENTITY') + '+DEPLOY_UNDEPLOY');

  const redeployError = errorSpan();
  const redeploy = session.admin ? h('button', { type: 'button', id: 'redeploy', onclick: () => runChange(redeploy, redeployError,
    () => api('POST', '/reconcile'), 'Redeployed the approved versions to every environment.') }, 'Redeploy all') : null;

  return [
    h('h1', {}, 'Environments'),
    h('div', { class: 'toolbar' }, t.filter, t.count, h('span', { class: 'spacer' }), redeploy, redeployError),
    t.table,
    h('h2', {}, 'Pending deployments'),
    pending.length
      ? h('ul', { id: 'pending' }, pending.map((p) => h('li', {}, p.project + ' / ' + p.label + ' ' + p.name + ' ',
        mayDeploy(p) ? deployButton(p.project, p.kind, p.name) : h('span', { class: 'empty' }, '(a user with ' + (p.kind === 'jwks' ? 'SECRETS' : 'IDENTITY') + '+DEPLOY_UNDEPLOY deploys it)'))))
      : h('p', { class: 'empty', id: 'pending' }, 'Nothing is waiting to be deployed.'),
  ];
}

window.addEventListener('hashchange', render);
render();
