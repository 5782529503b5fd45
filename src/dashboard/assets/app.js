// localkube dashboard: plain JavaScript, no framework, no build step.
//
// One server-sent event stream (/api/stream) pushes each kind of object whenever its watch in the
// localkube process moves; the view on screen redraws what it shows of that kind. Every view has
// its own address in the fragment (#/pods?ns=default, #/object/Pod/default/web-1, ...), so reload,
// the back button and a link sent to someone open the same view. Writes (scale, delete, apply,
// edit, a Secret's value, exec) send the page's CSRF token; the session cookie does the rest.
'use strict';

const csrf = document.querySelector('meta[name="localkube-csrf"]').content;
const styleNonce = document.querySelector('meta[name="localkube-style-nonce"]').content;
const $ = (selector, root = document) => root.querySelector(selector);

// --- small helpers ------------------------------------------------------------------------------

// Builds an element. Text always goes in as text nodes, never as HTML.
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function age(timestamp) {
  if (!timestamp) return '';
  const seconds = Math.max(0, Math.floor((Date.now() - Date.parse(timestamp)) / 1000));
  if (seconds < 120) return seconds + 's';
  const minutes = Math.floor(seconds / 60);
  if (minutes < 120) return minutes + 'm';
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return hours + 'h';
  return Math.floor(hours / 24) + 'd';
}

function ageCell(timestamp) {
  return h('span', { class: 'age', dataset: { created: timestamp || '' } }, age(timestamp));
}

// A colour class for a status word.
function tone(status) {
  if (/^(Running|Ready|Active|Normal|Succeeded|Completed|Complete|Bound|Available)$/.test(status)) return 'ok';
  if (/^(Terminating|Deleted|Unknown|Released|Suspended)$/.test(status)) return 'muted';
  if (/(Err|BackOff|Fail|NotReady|Warning|OOM|Invalid|Evicted|Error|Lost)/.test(status)) return 'bad';
  return 'warn';
}

function badge(text, cls) {
  return h('span', { class: 'badge ' + (cls || tone(text)) }, text);
}

let toastTimer;
function toast(message, kind) {
  const el = $('#toast');
  el.textContent = message;
  el.className = 'toast ' + (kind || 'ok');
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => el.classList.add('hidden'), kind === 'bad' ? 10000 : 4000);
}

// A write to the dashboard's API. Answers {ok, status, data}; data.error holds the API server's
// message when it refused.
async function send(method, url, body) {
  let response;
  try {
    response = await fetch(url, {
      method,
      headers: { 'Content-Type': 'application/json', 'X-Localkube-Csrf': csrf },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    return { ok: false, status: 0, data: { error: 'the dashboard did not answer: ' + e.message } };
  }
  const text = await response.text();
  let data;
  try { data = JSON.parse(text); } catch { data = { error: text.trim() }; }
  if (!response.ok && !data.error) data.error = response.status + ' ' + response.statusText;
  return { ok: response.ok, status: response.status, data };
}

// Re-uses the element built for `key` while what it shows (`signature`) is unchanged, so a redraw
// does not replace the button under the user's pointer. `cache` is the Map of the last redraw;
// `next` collects this redraw's.
function keyed(cache, next, key, signature, build) {
  const hit = cache.get(key);
  const el = hit && hit.signature === signature ? hit.el : build();
  next.set(key, { signature, el });
  return el;
}

// CPU in millicores and memory in bytes, as `kubectl top` prints them.
const cpuText = (m) => (m >= 1000 ? (m / 1000).toFixed(2) : Math.round(m) + 'm');
const memText = (b) => (b >= 1 << 30 ? (b / (1 << 30)).toFixed(2) + ' GiB' : Math.round(b / (1 << 20)) + ' MiB');

// A small chart of the last minutes: one SVG line, no library.
function sparkline(points, index, label) {
  const svgNs = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(svgNs, 'svg');
  svg.setAttribute('viewBox', '0 0 120 28');
  svg.setAttribute('class', 'spark');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label);
  if (points.length > 1) {
    const values = points.map((p) => p[index]);
    const max = Math.max(...values) || 1;
    const t0 = points[0][0];
    const span = Math.max(1, points[points.length - 1][0] - t0);
    const line = document.createElementNS(svgNs, 'polyline');
    line.setAttribute('points', points.map((p) =>
      ((p[0] - t0) / span * 118 + 1).toFixed(1) + ',' + (27 - (p[index] / max) * 25).toFixed(1)).join(' '));
    svg.append(line);
  }
  const title = document.createElementNS(svgNs, 'title');
  title.textContent = label;
  svg.append(title);
  return svg;
}

// --- addresses ----------------------------------------------------------------------------------

// `#/VIEW?k=v&...` or `#/object/KIND/NAMESPACE/NAME` (`_` for no namespace).
function parseRoute() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, query] = raw.split('?');
  const params = new URLSearchParams(query || '');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 'object' && parts.length === 4) {
    return { view: 'object', kind: parts[1], namespace: parts[2] === '_' ? '' : parts[2], name: parts[3], params };
  }
  return { view: parts[0] || 'overview', params };
}

function objectHref(kind, namespace, name) {
  return '#/object/' + [kind, namespace || '_', name].map(encodeURIComponent).join('/');
}

function viewHref(view, params) {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) if (v) query.set(k, v);
  if (state.namespace !== 'all' && !query.has('ns')) query.set('ns', state.namespace);
  const q = query.toString();
  return '#/' + (view === 'overview' ? '' : view) + (q ? '?' + q : '');
}

function objLink(kind, namespace, name, text) {
  return h('a', { href: objectHref(kind, namespace, name), class: 'obj-link', dataset: { kind, name } },
    text || name);
}

// `Kind/name` of an owner, as a link within `namespace`.
function ownerLink(owner, namespace) {
  if (!owner) return null;
  const [kind, ...rest] = owner.split('/');
  return objLink(kind, namespace, rest.join('/'), owner);
}

// --- state --------------------------------------------------------------------------------------

const KIND_KEYS = ['cluster', 'health', 'namespaces', 'nodes', 'deployments', 'replicaSets',
  'replicationControllers', 'pods', 'services', 'ingresses', 'events', 'statefulSets', 'daemonSets',
  'jobs', 'cronJobs', 'configMaps', 'secrets', 'persistentVolumeClaims', 'persistentVolumes',
  'storageClasses', 'metrics'];

const state = { cluster: null, health: { connected: true }, metrics: { available: null, nodes: [], pods: [] } };
for (const k of KIND_KEYS) if (!(k in state)) state[k] = [];
state.namespace = 'all';

const SCALABLE = ['Deployment', 'ReplicaSet', 'ReplicationController', 'StatefulSet'];
const WARNINGS_FOR_MS = 10 * 60 * 1000; // the overview's warnings: the last 10 minutes
const NEW_FOR_MS = 30000; // how long a pod counts as new
const GONE_FOR_MS = 8000; // how long a deleted pod stays on screen, struck through
const podKey = (p) => p.namespace + '/' + p.name;
let previousPods = null; // key -> row, from the last update (null: none yet in this namespace)
const firstSeen = new Map(); // key -> when this page first saw the pod after its first list
const gone = new Map(); // key -> {row, at}
let confirmDelete = null; // key of the pod whose Delete button asks to confirm
let confirmTimer;

function podMetrics(p) {
  return (state.metrics.pods || []).find((m) => m.namespace === p.namespace && m.name === p.name);
}

function nodeMetrics(name) {
  return (state.metrics.nodes || []).find((m) => m.name === name);
}

// --- the header ---------------------------------------------------------------------------------

function renderCluster() {
  const c = state.cluster;
  if (!c) return;
  $('#profile').textContent = c.profile;
  $('#version').textContent = c.kubernetesVersion;
  $('#apiserver').textContent = c.apiServer;
  const addons = c.addons || [];
  $('#addons').textContent = addons.length
    ? 'addons: ' + addons.map((a) => a.address ? a.name + ' (' + a.address + ')' : a.name).join(', ')
    : 'no addons';
}

function renderHealth() {
  const banner = $('#banner');
  // Several control-plane members: each one's etcd state and the Lease holders, in one line.
  const members = state.health.controlPlane || [];
  $('#control-plane').textContent = members.length
    ? 'control plane: ' + members.filter((m) => m.role === 'etcd' || m.health === 'leader')
      .map((m) => m.container + ' ' + (m.role === 'etcd' ? m.health : 'holds the Lease'))
      .join(' · ')
    : '';
  if (source && source.readyState === EventSource.OPEN) {
    if (state.health.connected) setConn('live', '● live');
    else setConn('reconnecting', 'API server unreachable');
  }
  if (state.health.paused) {
    setConn('reconnecting', '⏸ paused');
    banner.textContent = 'Paused: the cluster\'s containers are frozen; showing the state from '
      + 'before the pause. `localkube unpause` resumes it.';
    banner.classList.remove('hidden');
  } else if (state.health.connected) {
    banner.classList.add('hidden');
  } else {
    banner.textContent = 'The API server does not answer; showing the last known state. '
      + (state.health.error || '') + ' (is the cluster stopped? `localkube status`)';
    banner.classList.remove('hidden');
  }
}

function renderNamespaces() {
  const select = $('#namespace');
  const names = state.namespaces.map((n) => n.name);
  if (state.namespace !== 'all' && !names.includes(state.namespace)) names.push(state.namespace);
  select.replaceChildren(
    h('option', { value: 'all' }, 'all namespaces'),
    ...names.map((n) => h('option', { value: n }, n)),
  );
  select.value = state.namespace;
}

// --- pieces the views share ---------------------------------------------------------------------

function section(id, title, hint, ...body) {
  return h('section', { id },
    h('h2', null, title, ' ', h('span', { class: 'count', id: id + '-count' })),
    hint ? h('p', { class: 'hint' }, hint) : null, ...body);
}

function setCount(id, n) {
  const el = document.getElementById(id + '-count');
  if (el) el.textContent = String(n);
}

// A table whose body `fill` redraws: columns are [header, row => cell content].
function table(id, columns) {
  return h('div', { class: 'table-wrap' },
    h('table', { id }, h('thead', null, h('tr', null, columns.map((c) => h('th', null, c[0])))), h('tbody')));
}

function fillTable(id, columns, rows, empty, rowAttrs) {
  const tbody = $('#' + id + ' tbody');
  if (!tbody) return;
  if (!rows.length) {
    tbody.replaceChildren(h('tr', null, h('td', { colspan: String(columns.length), class: 'empty' }, empty)));
    return;
  }
  tbody.replaceChildren(...rows.map((r) => h('tr', rowAttrs ? rowAttrs(r) : null,
    columns.map((c) => h('td', null, c[1](r))))));
}

const nsColumn = ['Namespace', (r) => r.namespace];
const ageColumn = ['Age', (r) => ageCell(r.created)];
const nameColumn = (kind) => ['Name', (r) => h('b', null, objLink(kind, r.namespace, r.name))];

// --- nodes --------------------------------------------------------------------------------------

function nodeCard(n) {
  const pods = state.pods.filter((p) => p.node === n.name && !p.terminating).length;
  const m = nodeMetrics(n.name);
  return h('article', { class: 'card node', dataset: { node: n.name } },
    h('div', { class: 'card-head' },
      h('span', { class: 'kind' }, 'Node'),
      h('b', { class: 'name' }, objLink('Node', '', n.name)),
      badge(n.status),
      ...n.problems.map((p) => badge(p, 'bad'))),
    h('dl', { class: 'facts' },
      fact('Kubelet', n.version), fact('Internal IP', n.internalIp),
      fact('CPU', n.cpu), fact('Memory', n.memory),
      fact('Pods', (state.namespace === 'all' ? pods + ' / ' : '') + n.maxPods + ' max'),
      fact('Pod CIDR', n.podCidr), fact('Roles', n.roles), fact('Age', age(n.created))),
    m ? h('div', { class: 'usage', dataset: { metricsNode: n.name } },
      h('div', null, h('span', { class: 'usage-label' }, 'CPU now'), h('b', { class: 'cpu' }, cpuText(m.cpu)),
        sparkline(m.history, 1, 'CPU of ' + n.name + ', last minutes')),
      h('div', null, h('span', { class: 'usage-label' }, 'memory now'), h('b', { class: 'memory' }, memText(m.memory)),
        sparkline(m.history, 2, 'memory of ' + n.name + ', last minutes'))) : null);
}

function fact(label, value) {
  return [h('dt', null, label), h('dd', null, value || '—')];
}

function metricsHint() {
  const m = state.metrics;
  if (m.available === false) {
    return h('p', { class: 'metrics-hint' }, 'No CPU or memory figures: ', h('code', null, 'localkube addons enable metrics-server'),
      ' turns them on (they appear here within a minute).');
  }
  return null;
}

function renderNodeCards() {
  setCount('nodes-section', state.nodes.length);
  const el = $('#nodes');
  if (!el) return;
  el.replaceChildren(...state.nodes.map(nodeCard));
  const hint = $('#metrics-hint');
  if (hint) hint.replaceChildren(metricsHint() || '');
}

// --- workloads: desired against current ---------------------------------------------------------

const LOOP_HINT = ['Each controller runs a loop: it compares ', h('b', null, 'desired'),
  ' (', h('code', null, 'spec.replicas'), ', what you asked for) with ', h('b', null, 'current'),
  ' (the pods that exist) and creates or deletes pods until they match. ', h('b', null, 'Ready'),
  ' counts the pods that pass their readiness checks; ', h('b', null, 'up to date'),
  ' those that run the newest template. Scale one and watch the loop catch up.'];

let workloadsPending = false;
let workloadCards = new Map();

// The workload cards of `kinds` (state keys) into #workloads.
function renderWorkloads(kinds) {
  const container = $('#workloads');
  if (!container) return;
  // Do not redraw under the user's typing; redraw when the field loses focus.
  if (container.contains(document.activeElement) && document.activeElement.tagName === 'INPUT') {
    workloadsPending = kinds;
    return;
  }
  workloadsPending = false;
  const cards = [];
  const next = new Map();
  const card = (w, owned) => keyed(workloadCards, next, w.kind + '/' + w.namespace + '/' + w.name,
    JSON.stringify([w, owned]), () => workloadCard(w, owned));
  for (const key of kinds) {
    for (const w of state[key]) {
      if (key === 'replicaSets' && kinds.includes('deployments') && w.owner && w.owner.startsWith('Deployment/')) continue;
      const owned = key === 'deployments'
        ? state.replicaSets.filter((rs) => rs.namespace === w.namespace && rs.owner === 'Deployment/' + w.name) : [];
      cards.push(card(w, owned));
    }
  }
  workloadCards = next;
  if (!cards.length) {
    cards.push(h('p', { class: 'empty' },
      'None here yet. Try ', h('code', null, 'localkube kubectl -- create deployment kubia --image=kubia:1.0'),
      ', or ', h('a', { href: viewHref('apply') }, 'apply a manifest'), '.'));
  }
  container.replaceChildren(...cards);
}

function workloadCard(w, ownedReplicaSets) {
  const inSync = w.current === w.desired && w.ready === w.desired;
  const ownedBy = w.owner && w.owner.startsWith('Deployment/') ? w.owner : null;
  const scalable = SCALABLE.includes(w.kind);
  const dots = [];
  for (let i = 0; i < Math.min(60, Math.max(w.desired, w.current)); i++) {
    const cls = i < w.ready ? 'ready' : i < w.current ? 'current' : 'missing';
    dots.push(h('span', { class: 'dot ' + cls, title: cls }));
  }
  const input = h('input', {
    type: 'number', min: '0', max: '100', value: String(w.desired), class: 'replicas',
    'aria-label': 'replicas',
    onblur: () => { if (workloadsPending) setTimeout(() => renderWorkloads(workloadsPending), 0); },
    onkeydown: (e) => { if (e.key === 'Enter') scale(w, Number(input.value)); },
  });
  return h('article', {
    class: 'card workload ' + (inSync ? 'in-sync' : 'converging'),
    dataset: { kind: w.kind, name: w.name, namespace: w.namespace },
  },
  h('div', { class: 'card-head' },
    h('span', { class: 'kind' }, w.kind),
    h('b', { class: 'name' }, objLink(w.kind, w.namespace, w.name)),
    h('span', { class: 'ns' }, w.namespace),
    h('span', { class: 'sync ' + (inSync ? 'ok' : 'warn') }, inSync ? '✓ in sync' : '⟳ converging')),
  h('div', { class: 'counts' },
    count('desired', w.desired, w.kind === 'DaemonSet' ? 'one pod per node it matches' : 'spec.replicas: what was asked for'),
    count('current', w.current, 'pods that exist'),
    count('ready', w.ready, 'pods passing readiness checks'),
    w.updated !== null && w.updated !== undefined ? count('up to date', w.updated, 'pods of the newest template') : null),
  dots.length ? h('div', { class: 'dots', title: 'one dot per pod: green ready, amber created but not ready, hollow missing' }, dots) : null,
  scalable ? h('div', { class: 'scale' },
    h('button', { type: 'button', class: 'scale-down', title: 'one replica less',
      onclick: () => scale(w, w.desired - 1), disabled: w.desired <= 0 }, '−'),
    input,
    h('button', { type: 'button', class: 'scale-up', title: 'one replica more',
      onclick: () => scale(w, w.desired + 1) }, '+'),
    h('button', { type: 'button', class: 'scale-set', onclick: () => scale(w, Number(input.value)) }, 'Scale'))
    : h('p', { class: 'note' }, 'Desired follows the nodes: one pod on each node it matches (no replicas to scale).'),
  ownedBy ? h('p', { class: 'note' }, 'Owned by ', ownerLink(ownedBy, w.namespace),
    ': scale the Deployment instead; its controller sets this one back (try it).') : null,
  h('p', { class: 'meta' },
    w.images.length ? ['image ', h('code', null, w.images.join(', ')), ' · '] : null,
    'selector ', h('code', null, w.selector || '—'), ' · age ', ageCell(w.created)),
  ownedReplicaSets.length ? h('div', { class: 'owned' },
    h('span', { class: 'owned-title' }, 'ReplicaSets (one per template version):'),
    ...ownedReplicaSets.map((rs) => h('div', { class: 'owned-rs' + (rs.desired === 0 ? ' old' : '') },
      objLink('ReplicaSet', rs.namespace, rs.name), ' ',
      h('span', null, rs.desired + ' desired · ' + rs.current + ' current · ' + rs.ready + ' ready'),
      rs.desired === 0 ? h('span', { class: 'muted' }, ' (old template)') : null))) : null);
}

function count(label, value, title) {
  return h('div', { class: 'count-box ' + label.replace(/ /g, '-'), title },
    h('span', { class: 'value' }, String(value)), h('span', { class: 'label' }, label));
}

async function scale(w, replicas) {
  if (!Number.isInteger(replicas) || replicas < 0) {
    toast('Replicas must be a whole number, 0 or more.', 'bad');
    return;
  }
  const result = await send('POST', '/api/scale',
    { kind: w.kind, namespace: w.namespace, name: w.name, replicas });
  if (result.ok) {
    toast(w.kind + ' ' + w.name + ': desired ' + w.desired + ' → ' + result.data.replicas
      + '. Watch current and ready follow.');
  } else {
    toast('Scaling ' + w.name + ' failed: ' + result.data.error, 'bad');
  }
}

// --- pods ---------------------------------------------------------------------------------------

// Remember when each pod was first seen (after the first list) and which disappeared.
function trackPods() {
  const now = Date.now();
  const current = new Map(state.pods.map((p) => [podKey(p), p]));
  if (previousPods) {
    for (const key of current.keys()) if (!previousPods.has(key)) firstSeen.set(key, now);
    for (const [key, row] of previousPods) if (!current.has(key)) gone.set(key, { row, at: now });
  }
  for (const key of current.keys()) gone.delete(key);
  for (const [key, at] of firstSeen) if (now - at > NEW_FOR_MS) firstSeen.delete(key);
  previousPods = current;
}

// New: appeared while this page watched (after its first list), within the last 30 s.
function isNew(pod) {
  const seen = firstSeen.get(podKey(pod));
  return seen !== undefined && Date.now() - seen < NEW_FOR_MS;
}

let podRows = new Map();
function renderPods() {
  const tbody = $('#pods tbody');
  if (!tbody) return;
  const now = Date.now();
  for (const [key, g] of gone) if (now - g.at > GONE_FOR_MS) gone.delete(key);
  const rows = state.pods.map((p) => ({ pod: p, gone: false }))
    .concat([...gone.values()].map((g) => ({ pod: g.row, gone: true })))
    .sort((a, b) => podKey(a.pod).localeCompare(podKey(b.pod)));
  setCount('pods-section', state.pods.length);
  if (!rows.length) {
    tbody.replaceChildren(h('tr', null, h('td', { colspan: '12', class: 'empty' }, 'No pods here.')));
    return;
  }
  const next = new Map();
  // When the page first drew its pods, for measuring (tests/suite/dashboard.rs, first paint).
  if (!performance.getEntriesByName('localkube:pods-drawn').length) performance.mark('localkube:pods-drawn');
  tbody.replaceChildren(...rows.map(({ pod, gone: isGone }) => {
    const key = podKey(pod);
    const m = podMetrics(pod);
    const signature = JSON.stringify([pod, isGone, isNew(pod), confirmDelete === key, m && [m.cpu, m.memory]]);
    return keyed(podRows, next, key, signature, () => podRow(pod, isGone, m));
  }));
  podRows = next;
}

function podRow(p, isGone, m) {
  const key = podKey(p);
  const fresh = !isGone && !p.terminating && isNew(p);
  const status = isGone ? 'Deleted' : p.status;
  const allReady = p.ready === p.containers.length && p.containers.length > 0;
  const confirming = confirmDelete === key;
  return h('tr', {
    class: [fresh ? 'new' : '', isGone ? 'gone' : '', p.terminating ? 'terminating' : ''].join(' ').trim() || null,
    dataset: { pod: p.name, namespace: p.namespace, status, gone: isGone ? 'true' : 'false', new: fresh ? 'true' : 'false' },
  },
  h('td', { class: 'name' },
    isGone ? h('span', null, p.name) : objLink('Pod', p.namespace, p.name),
    fresh ? badge('new', 'new') : null),
  h('td', null, p.namespace),
  h('td', null, badge(status), status !== p.phase && !isGone ? h('span', { class: 'phase' }, p.phase) : null),
  h('td', { class: allReady ? 'ok-text' : 'warn-text' }, p.ready + '/' + p.containers.length),
  h('td', { class: p.restarts > 0 ? 'warn-text' : null }, String(p.restarts)),
  h('td', { class: 'mono cpu' }, m ? cpuText(m.cpu) : ''),
  h('td', { class: 'mono memory' }, m ? memText(m.memory) : ''),
  h('td', { class: 'mono' }, p.ip),
  h('td', null, p.node),
  h('td', null, ageCell(p.created)),
  h('td', { class: 'owner' }, p.owner ? ownerLink(p.owner, p.namespace) : h('span', { class: 'muted' }, 'none: nothing replaces it')),
  h('td', { class: 'actions' }, isGone || p.terminating ? null : h('button', {
    type: 'button',
    class: 'delete' + (confirming ? ' confirm' : ''),
    title: 'delete this pod',
    onclick: () => deletePod(p),
  }, confirming ? 'Really delete?' : 'Delete')));
}

async function deletePod(p) {
  const key = podKey(p);
  if (confirmDelete !== key) {
    confirmDelete = key;
    clearTimeout(confirmTimer);
    confirmTimer = setTimeout(() => { confirmDelete = null; renderPods(); }, 5000);
    renderPods();
    return;
  }
  confirmDelete = null;
  renderPods();
  const result = await send('DELETE',
    '/api/pods/' + encodeURIComponent(p.namespace) + '/' + encodeURIComponent(p.name));
  if (result.ok) {
    toast('Deleted ' + p.name + (p.owner ? '. ' + p.owner + ' will notice one is missing and create a new one.' : '. Nothing owns it, so nothing replaces it.'));
  } else {
    toast('Deleting ' + p.name + ' failed: ' + result.data.error, 'bad');
  }
}

// --- services and ingresses ---------------------------------------------------------------------

function renderServices() {
  setCount('services-section', state.services.length);
  const tbody = $('#services tbody');
  if (!tbody) return;
  if (!state.services.length) {
    tbody.replaceChildren(h('tr', null, h('td', { colspan: '8', class: 'empty' },
      'No services here. Try ', h('code', null, 'localkube kubectl -- expose deployment kubia --type=NodePort --port=8080'))));
    return;
  }
  tbody.replaceChildren(...state.services.map((s) => h('tr', { dataset: { service: s.name, name: s.name, namespace: s.namespace } },
    h('td', { class: 'name' }, h('b', null, objLink('Service', s.namespace, s.name))),
    h('td', null, s.namespace),
    h('td', null, badge(s.type, 'type')),
    h('td', { class: 'mono' }, s.clusterIp),
    h('td', { class: 'mono' }, s.external),
    h('td', { class: 'mono' }, s.ports),
    h('td', { class: 'urls' }, s.urls.length
      ? s.urls.map((u) => h('div', null, /^https?:\/\//.test(u.url)
        ? h('a', { href: u.url, target: '_blank', rel: 'noopener noreferrer', class: 'service-url' }, u.url)
        : u.url,
        u.localhost ? h('span', null, ' and ', h('a', { href: u.localhost, target: '_blank', rel: 'noopener noreferrer', class: 'service-url' }, u.localhost)) : null,
        h('span', { class: 'muted' }, ' → ' + u.targetPort))).concat(
        (s.localhostHeld || []).map((m) => h('div', { class: 'muted' }, m)))
      : h('span', { class: 'muted' }, s.noUrl || '')),
    h('td', { class: 'mono' }, s.selector || '—'))));
}

// Ingresses: the address is the ingress addon's, the same for all; a host name does not resolve
// here, so each route shows the curl that names it.
function renderIngresses() {
  setCount('ingresses-section', state.ingresses.length);
  const tbody = $('#ingresses tbody');
  if (!tbody) return;
  if (!state.ingresses.length) {
    tbody.replaceChildren(h('tr', null, h('td', { colspan: '6', class: 'empty' },
      'No ingresses here. With ', h('code', null, 'localkube addons enable ingress'),
      ', an Ingress answers on the address shown here.')));
    return;
  }
  tbody.replaceChildren(...state.ingresses.map((i) => h('tr', { dataset: { ingress: i.name, name: i.name, namespace: i.namespace } },
    h('td', { class: 'name' }, h('b', null, objLink('Ingress', i.namespace, i.name))),
    h('td', null, i.namespace),
    h('td', null, badge(i.class, 'type')),
    h('td', { class: 'mono ingress-address' }, i.address || '—'),
    h('td', { class: 'mono' }, i.ports),
    h('td', { class: 'urls' }, i.noUrl ? h('div', { class: 'muted' }, i.noUrl) : null,
      ...i.routes.map((r) => h('div', null,
        r.link
          ? h('a', { href: r.link, target: '_blank', rel: 'noopener noreferrer', class: 'service-url' }, r.url)
          : h('span', { class: 'mono' }, r.url),
        h('span', { class: 'muted' }, ' → ' + r.backend),
        r.curl ? h('div', null, h('code', { class: 'ingress-curl' }, r.curl)) : null))))));
}

// --- events -------------------------------------------------------------------------------------

function eventRows(events, withNamespace) {
  return events.map((e) => h('tr', { class: e.type === 'Warning' ? 'warning' : null },
    h('td', null, ageCell(e.lastSeen)),
    h('td', null, badge(e.type)),
    h('td', null, h('b', null, e.reason)),
    h('td', { class: 'mono' }, withNamespace && e.namespace ? e.namespace + '/' : '',
      e.objectKind && e.objectName ? objLink(e.objectKind, e.namespace, e.objectName, e.object) : e.object),
    h('td', { class: 'message' }, e.message),
    h('td', null, e.count > 1 ? '×' + e.count : ''),
    h('td', { class: 'muted' }, e.source)));
}

const EVENT_HEAD = ['Last seen', 'Type', 'Reason', 'Object', 'Message', 'Count', 'From'];

function eventTable(id) {
  return h('div', { class: 'table-wrap' }, h('table', { id, class: 'events' },
    h('thead', null, h('tr', null, EVENT_HEAD.map((t) => h('th', null, t)))), h('tbody')));
}

function fillEvents(id, events, empty) {
  const tbody = $('#' + id + ' tbody');
  if (!tbody) return;
  tbody.replaceChildren(...(events.length ? eventRows(events, state.namespace === 'all')
    : [h('tr', null, h('td', { colspan: '7', class: 'empty' }, empty))]));
}

function recentWarnings() {
  const since = Date.now() - WARNINGS_FOR_MS;
  return state.events.filter((e) => e.type === 'Warning' && Date.parse(e.lastSeen) >= since);
}

// --- the views ----------------------------------------------------------------------------------

// Each view: its title, the kinds it shows (state keys: it redraws when one of them changes),
// `build()` its elements once, and `update()` what changes.
const WORKLOAD_VIEW = (title, key, hint) => ({
  title, kinds: [key, 'pods'].concat(key === 'deployments' ? ['replicaSets'] : []),
  build: () => [section('workloads-section', title, [hint, ' ', LOOP_HINT]), h('div', { id: 'workloads', class: 'cards' })],
  update: () => { renderWorkloads([key]); setCount('workloads-section', state[key].length); },
});

const TABLE_VIEW = (title, key, id, hint, columns, empty) => ({
  title, kinds: [key],
  build: () => [section(id + '-section', title, hint, table(id, columns))],
  update: () => {
    setCount(id + '-section', state[key].length);
    fillTable(id, columns, state[key], empty, (r) => ({ dataset: { name: r.name, namespace: r.namespace || '' } }));
  },
});

const keysCell = (kind) => (r) => r.keys.length
  ? h('span', { class: 'keys' }, r.keys.map((k) => h('code', { class: 'key' }, k)))
  : h('span', { class: 'muted' }, 'no keys');

const VIEWS = {
  overview: {
    title: 'Overview',
    kinds: ['nodes', 'pods', 'deployments', 'replicaSets', 'replicationControllers', 'statefulSets',
      'daemonSets', 'events', 'metrics', 'services', 'jobs', 'configMaps', 'secrets', 'persistentVolumeClaims'],
    build: () => [
      section('nodes-section', 'Nodes', 'The machines pods run on. Here each node is a Docker container running containerd, the kubelet and kube-proxy.',
        h('div', { id: 'metrics-hint' }), h('div', { id: 'nodes', class: 'cards' })),
      section('workloads-section', 'Desired vs. current state', LOOP_HINT, h('div', { id: 'workloads', class: 'cards' })),
      section('warnings-section', 'Warnings of the last 10 minutes', ['Only warnings; every event is in ',
        h('a', { href: viewHref('events') }, 'Events'), '.'], eventTable('warnings'), h('p', { id: 'warnings-more', class: 'muted' })),
      section('summary-section', 'Everything else', null, h('div', { id: 'summary', class: 'summary' })),
    ],
    update: () => {
      renderNodeCards();
      renderWorkloads(['deployments', 'statefulSets', 'daemonSets', 'replicaSets', 'replicationControllers']);
      const warnings = recentWarnings();
      setCount('warnings-section', warnings.length);
      fillEvents('warnings', warnings.slice(0, 5), 'No warnings in the last 10 minutes.');
      $('#warnings-more').replaceChildren(warnings.length > 5
        ? h('a', { href: viewHref('events', { type: 'Warning' }) }, (warnings.length - 5) + ' more warnings in Events →') : '');
      $('#summary').replaceChildren(...[
        ['pods', 'Pods', state.pods.length], ['services', 'Services', state.services.length],
        ['jobs', 'Jobs', state.jobs.length], ['configmaps', 'ConfigMaps', state.configMaps.length],
        ['secrets', 'Secrets', state.secrets.length], ['persistentvolumeclaims', 'Claims', state.persistentVolumeClaims.length],
        ['events', 'Events', state.events.length],
      ].map(([view, label, n]) => h('a', { href: viewHref(view), class: 'summary-box' }, h('b', null, String(n)), ' ', label)));
    },
  },
  pods: {
    title: 'Pods',
    kinds: ['pods', 'metrics'],
    build: () => [section('pods-section', 'Pods', ['A pod\'s name opens its page: its logs, a shell, its YAML. Delete a pod that a controller owns, and a new one takes its place: the new one is marked ',
      h('span', { class: 'badge new' }, 'new'), '.'], h('div', { id: 'metrics-hint' }),
    h('div', { class: 'table-wrap' }, h('table', { id: 'pods' }, h('thead', null, h('tr', null,
      ['Name', 'Namespace', 'Status', 'Ready', 'Restarts', 'CPU', 'Memory', 'IP', 'Node', 'Age', 'Controlled by', ''].map((t) => h('th', null, t)))), h('tbody'))))],
    update: () => { trackPods(); renderPods(); const hint = $('#metrics-hint'); if (hint) hint.replaceChildren(metricsHint() || ''); },
  },
  deployments: WORKLOAD_VIEW('Deployments', 'deployments', 'A Deployment keeps one ReplicaSet per version of its pod template and moves pods from the old to the new one in a rollout.'),
  statefulsets: WORKLOAD_VIEW('StatefulSets', 'statefulSets', 'A StatefulSet\'s pods have stable names (web-0, web-1, ...) and each its own PersistentVolumeClaim; they start and stop in order.'),
  daemonsets: WORKLOAD_VIEW('DaemonSets', 'daemonSets', 'A DaemonSet runs one pod on every node its selector matches: add a node and a pod follows.'),
  replicasets: WORKLOAD_VIEW('ReplicaSets', 'replicaSets', 'A ReplicaSet keeps a number of pods matching its selector running; Deployments make and own them.'),
  replicationcontrollers: WORKLOAD_VIEW('ReplicationControllers', 'replicationControllers', 'The ReplicaSet\'s predecessor, which the books still start with.'),
  jobs: TABLE_VIEW('Jobs', 'jobs', 'jobs', 'A Job runs pods until enough of them succeed (its completions), then stops.', [
    nameColumn('Job'), nsColumn, ['Status', (r) => badge(r.status)],
    ['Completions', (r) => r.succeeded + '/' + r.completions], ['Active', (r) => String(r.active)],
    ['Failed', (r) => String(r.failed)], ['Parallelism', (r) => String(r.parallelism)],
    ['Owner', (r) => ownerLink(r.owner, r.namespace)], ['Image', (r) => h('code', null, r.images.join(', '))], ageColumn,
  ], 'No Jobs here.'),
  cronjobs: TABLE_VIEW('CronJobs', 'cronJobs', 'cronjobs', 'A CronJob creates a Job on a schedule (cron syntax, in the controller-manager\'s time zone unless it names one).', [
    nameColumn('CronJob'), nsColumn, ['Schedule', (r) => h('code', null, r.schedule)],
    ['Suspended', (r) => (r.suspended ? badge('Suspended') : 'no')], ['Active', (r) => String(r.active)],
    ['Last schedule', (r) => ageCell(r.lastSchedule)], ['Last success', (r) => ageCell(r.lastSuccess)], ageColumn,
  ], 'No CronJobs here.'),
  services: {
    title: 'Services',
    kinds: ['services', 'nodes'],
    build: () => [section('services-section', 'Services', ['A Service gives a set of pods one stable address. NodePort and LoadBalancer services answer from this machine at the URLs below, the ones ', h('code', null, 'localkube service'), ' prints.'],
      table('services', [['Name'], ['Namespace'], ['Type'], ['Cluster IP'], ['External'], ['Ports'], ['URLs'], ['Selector']]))],
    update: renderServices,
  },
  ingresses: {
    title: 'Ingresses',
    kinds: ['ingresses'],
    build: () => [section('ingresses-section', 'Ingresses', 'An Ingress routes HTTP by host name and path to Services. With the ingress addon on, every Ingress answers on the one address below (ports 80 and 443).',
      table('ingresses', [['Name'], ['Namespace'], ['Class'], ['Address'], ['Ports'], ['Routes']]))],
    update: renderIngresses,
  },
  configmaps: TABLE_VIEW('ConfigMaps', 'configMaps', 'configmaps', 'Settings kept apart from the image, handed to pods as environment variables or files.', [
    nameColumn('ConfigMap'), nsColumn, ['Keys', keysCell('ConfigMap')], ['Immutable', (r) => (r.immutable ? 'yes' : '')], ageColumn,
  ], 'No ConfigMaps here.'),
  secrets: TABLE_VIEW('Secrets', 'secrets', 'secrets', 'Like ConfigMaps, for credentials: only the keys are listed; a value is shown on the Secret\'s page, one key at a time, when you ask.', [
    nameColumn('Secret'), nsColumn, ['Type', (r) => h('code', null, r.type)], ['Keys', keysCell('Secret')], ageColumn,
  ], 'No Secrets here.'),
  persistentvolumeclaims: TABLE_VIEW('PersistentVolumeClaims', 'persistentVolumeClaims', 'claims', 'A pod\'s request for storage; the provisioner (the storage-provisioner addon) makes a PersistentVolume to bind it to.', [
    nameColumn('PersistentVolumeClaim'), nsColumn, ['Status', (r) => badge(r.status)],
    ['Volume', (r) => (r.volume ? objLink('PersistentVolume', '', r.volume) : '')], ['Capacity', (r) => r.capacity],
    ['Access', (r) => r.accessModes], ['Class', (r) => r.storageClass], ageColumn,
  ], 'No PersistentVolumeClaims here.'),
  persistentvolumes: TABLE_VIEW('PersistentVolumes', 'persistentVolumes', 'volumes', 'Storage in the cluster, not in any namespace; a claim binds one.', [
    nameColumn('PersistentVolume'), ['Status', (r) => badge(r.status)], ['Capacity', (r) => r.capacity],
    ['Access', (r) => r.accessModes], ['Reclaim', (r) => r.reclaimPolicy],
    ['Claim', (r) => { const [ns, n] = r.claim.split('/'); return n ? objLink('PersistentVolumeClaim', ns, n, r.claim) : ''; }],
    ['Class', (r) => r.storageClass], ['Source', (r) => h('code', null, r.source)], ageColumn,
  ], 'No PersistentVolumes.'),
  storageclasses: TABLE_VIEW('StorageClasses', 'storageClasses', 'classes', 'Kinds of storage a claim can ask for; the default one serves claims that name none.', [
    nameColumn('StorageClass'), ['Provisioner', (r) => h('code', null, r.provisioner)], ['Reclaim', (r) => r.reclaimPolicy],
    ['Binding', (r) => r.bindingMode], ['Default', (r) => (r.default ? badge('default', 'ok') : '')], ageColumn,
  ], 'No StorageClasses.'),
  nodes: {
    title: 'Nodes',
    kinds: ['nodes', 'pods', 'metrics'],
    build: () => [section('nodes-section', 'Nodes', 'The machines pods run on. Here each node is a Docker container running containerd, the kubelet and kube-proxy.',
      h('div', { id: 'metrics-hint' }), h('div', { id: 'nodes', class: 'cards' }))],
    update: renderNodeCards,
  },
  namespaces: TABLE_VIEW('Namespaces', 'namespaces', 'namespaces', 'Names are unique within a namespace; the selector at the top shows one namespace or all.', [
    nameColumn('Namespace'), ['Status', (r) => badge(r.phase)],
    ['Pods', (r) => String(state.pods.filter((p) => p.namespace === r.name).length)],
  ], 'No namespaces.'),
  events: { title: 'Events', kinds: ['events'], build: buildEvents, update: updateEvents },
  apply: { title: 'Apply', kinds: [], build: buildApply, update: () => {} },
};
VIEWS.namespaces.kinds.push('pods');

// The events view: filtered by namespace (the selector above), kind, type and object, each kept
// in the address.
function buildEvents() {
  const p = route.params;
  const select = (id, label, options, value) => h('label', null, label + ' ',
    h('select', { id, onchange: eventFilterChanged }, options.map(([v, t]) => h('option', { value: v, selected: v === value }, t))));
  return [section('events-section', 'Events', 'What the controllers, the scheduler and the kubelet report as they work, newest first.',
    h('form', { class: 'filters', onsubmit: (e) => { e.preventDefault(); eventFilterChanged(); } },
      select('event-kind', 'Kind', [['', 'every kind']], p.get('kind') || ''),
      select('event-type', 'Type', [['', 'Normal and Warning'], ['Normal', 'Normal'], ['Warning', 'Warning']], p.get('type') || ''),
      h('label', null, 'Object ', h('input', { id: 'event-object', type: 'search', placeholder: 'name contains…', value: p.get('object') || '', onchange: eventFilterChanged }))),
    eventTable('events'))];
}

function eventFilterChanged() {
  const params = { kind: $('#event-kind').value, type: $('#event-type').value, object: $('#event-object').value.trim() };
  history.replaceState(null, '', viewHref('events', params));
  route = parseRoute();
  updateEvents();
}

function updateEvents() {
  const kind = route.params.get('kind') || '';
  const type = route.params.get('type') || '';
  const object = (route.params.get('object') || '').toLowerCase();
  const kinds = [...new Set(state.events.map((e) => e.objectKind).filter(Boolean))].sort();
  if (kind && !kinds.includes(kind)) kinds.push(kind);
  const select = $('#event-kind');
  if (select && select.options.length !== kinds.length + 1) {
    select.replaceChildren(h('option', { value: '' }, 'every kind'), ...kinds.map((k) => h('option', { value: k }, k)));
    select.value = kind;
  }
  const shown = state.events.filter((e) => (!kind || e.objectKind === kind) && (!type || e.type === type)
    && (!object || e.objectName.toLowerCase().includes(object)));
  setCount('events-section', shown.length);
  fillEvents('events', shown, 'No events match.');
}

// --- an object's own page -----------------------------------------------------------------------

const EVENTS_UNFOLDED = 5;
let objectPage = null; // the page's data from /api/object
let yamlDirty = false;
let objectTimer = null;

function buildObject() {
  const { kind, namespace, name } = route;
  objectPage = null;
  yamlDirty = false;
  return [h('section', { id: 'object-section', dataset: { kind, namespace, name } },
    h('p', { class: 'crumbs' }, h('a', { href: viewHref(LIST_OF[kind] || 'overview') }, '← ' + (LIST_OF[kind] || 'overview'))),
    h('h2', null, h('span', { class: 'kind' }, kind), ' ', h('b', { id: 'object-name' }, name),
      namespace ? h('span', { class: 'ns' }, ' in ' + namespace) : null,
      ' ', h('a', { href: location.hash, target: '_blank', rel: 'noopener', class: 'new-tab', title: 'this page\'s address: open it in a new tab, or send it' }, 'open in a new tab ↗')),
    h('div', { id: 'object-error' }),
    h('div', { id: 'object-relations' }),
    h('div', { id: 'object-live' }),
    kind === 'Pod' ? buildPodTools() : null,
    kind === 'Secret' ? h('div', { id: 'secret-values' }) : null,
    h('h3', null, 'Events ', h('span', { class: 'count', id: 'object-events-count' })),
    h('div', { id: 'object-events' }),
    h('h3', null, 'YAML'),
    h('p', { class: 'hint', id: 'yaml-hint' }),
    // The buttons and what the API server answered sit above the YAML, in sight of the edit.
    h('div', { class: 'form-actions' },
      h('button', { type: 'button', id: 'yaml-edit', onclick: startEdit }, 'Edit'),
      h('button', { type: 'button', id: 'yaml-apply', class: 'primary hidden', onclick: () => applyEdit(false) }, 'Apply the edit'),
      h('button', { type: 'button', id: 'yaml-force', class: 'hidden', onclick: () => applyEdit(true) }, 'Apply anyway, taking the fields over'),
      h('button', { type: 'button', id: 'yaml-cancel', class: 'hidden', onclick: cancelEdit }, 'Cancel')),
    h('div', { id: 'yaml-result' }),
    h('textarea', { id: 'yaml', spellcheck: 'false', rows: '24', readonly: true, oninput: () => { yamlDirty = true; } }))];
}

// Which list view each kind belongs to.
const LIST_OF = {
  Pod: 'pods', Deployment: 'deployments', StatefulSet: 'statefulsets', DaemonSet: 'daemonsets',
  ReplicaSet: 'replicasets', ReplicationController: 'replicationcontrollers', Job: 'jobs', CronJob: 'cronjobs',
  Service: 'services', Ingress: 'ingresses', ConfigMap: 'configmaps', Secret: 'secrets',
  PersistentVolumeClaim: 'persistentvolumeclaims', PersistentVolume: 'persistentvolumes',
  StorageClass: 'storageclasses', Node: 'nodes', Namespace: 'namespaces',
};
// Which stream kind moves when an object of this kind changes.
const STREAM_OF = {
  Pod: 'pods', Deployment: 'deployments', StatefulSet: 'statefulSets', DaemonSet: 'daemonSets',
  ReplicaSet: 'replicaSets', ReplicationController: 'replicationControllers', Job: 'jobs', CronJob: 'cronJobs',
  Service: 'services', Ingress: 'ingresses', ConfigMap: 'configMaps', Secret: 'secrets',
  PersistentVolumeClaim: 'persistentVolumeClaims', PersistentVolume: 'persistentVolumes',
  StorageClass: 'storageClasses', Node: 'nodes', Namespace: 'namespaces',
};

// Re-read the object when its kind or the events move, at most every second.
function refreshObjectSoon() {
  if (objectTimer) return;
  objectTimer = setTimeout(() => { objectTimer = null; loadObject(); }, 1000);
}

async function loadObject() {
  const r = route;
  const query = new URLSearchParams({ kind: r.kind, namespace: r.namespace, name: r.name });
  let response;
  try { response = await fetch('/api/object?' + query); } catch { return; }
  if (route !== r) return;
  const data = await response.json().catch(() => ({ error: 'the dashboard did not answer' }));
  if (!response.ok) {
    $('#object-error').replaceChildren(h('p', { class: 'api-error' }, data.error));
    return;
  }
  $('#object-error').replaceChildren();
  objectPage = data;
  renderObject();
}

function linkList(title, links) {
  if (!links.length) return null;
  return h('div', { class: 'relation' }, h('span', { class: 'owned-title' }, title + ' '),
    links.map((l, i) => [i ? ' · ' : '', objLink(l.kind, l.namespace, l.name, l.kind + '/' + l.name)]));
}

function renderObject() {
  const o = objectPage;
  if (!o) return;
  $('#object-relations').replaceChildren(
    linkList('Owned by', o.owners) || '', linkList('Owns', o.owned) || '',
    o.managers.length ? h('div', { class: 'relation muted' }, 'Fields managed by: ' + o.managers.join(', ')) : '');
  renderObjectLive();
  // Events: newest first, the first few shown, the rest folded.
  $('#object-events-count').textContent = String(o.events.length);
  const rows = (events) => h('div', { class: 'table-wrap' }, h('table', { class: 'events object-events' },
    h('thead', null, h('tr', null, EVENT_HEAD.map((t) => h('th', null, t)))), h('tbody', null, eventRows(events, false))));
  $('#object-events').replaceChildren(o.events.length
    ? rows(o.events.slice(0, EVENTS_UNFOLDED)) : h('p', { class: 'muted' }, 'No events about it (events are kept an hour).'),
  o.events.length > EVENTS_UNFOLDED ? h('details', { class: 'older-events' },
    h('summary', null, (o.events.length - EVENTS_UNFOLDED) + ' older events'), rows(o.events.slice(EVENTS_UNFOLDED))) : '');
  if (!yamlDirty) $('#yaml').value = o.yaml;
  $('#yaml-hint').textContent = o.editable
    ? 'As kubectl get -o yaml shows it (without managedFields). Edit it and apply: the change goes in with server-side apply, '
      + 'so a field another manager set to a different value is a conflict, shown as the API server words it.'
    : 'A Secret\'s values are not in this page; reveal them above, one key at a time.';
  $('#yaml-edit').classList.toggle('hidden', !o.editable || !$('#yaml').readOnly);
  if (o.kind === 'Secret') renderSecretKeys();
}

// What the watches say of this object now: a pod's status and metrics, a workload's counts.
function renderObjectLive() {
  const el = $('#object-live');
  if (!el) return;
  const { kind, namespace, name } = route;
  const key = STREAM_OF[kind];
  const row = key && Array.isArray(state[key]) && state[key].find((x) => x.name === name && (x.namespace || '') === namespace);
  if (!row) { el.replaceChildren(); return; }
  if (['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'ReplicationController'].includes(kind)) {
    const cardEl = workloadCard(row, []);
    el.replaceChildren(h('div', { id: 'workloads', class: 'cards one' }, cardEl));
    return;
  }
  if (kind === 'Pod') {
    const m = podMetrics(row);
    el.replaceChildren(h('dl', { class: 'facts wide' },
      fact('Status', row.status), fact('Ready', row.ready + '/' + row.containers.length),
      fact('Restarts', String(row.restarts)), fact('Node', row.node), fact('IP', row.ip), fact('Age', age(row.created))),
    m ? h('div', { class: 'usage', id: 'pod-usage' },
      h('div', null, h('span', { class: 'usage-label' }, 'CPU now'), h('b', { class: 'cpu' }, cpuText(m.cpu)),
        sparkline(m.history, 1, 'CPU, last minutes')),
      h('div', null, h('span', { class: 'usage-label' }, 'memory now'), h('b', { class: 'memory' }, memText(m.memory)),
        sparkline(m.history, 2, 'memory, last minutes'))) : metricsHint());
    return;
  }
  el.replaceChildren();
}

function startEdit() {
  const t = $('#yaml');
  t.readOnly = false;
  t.focus();
  $('#yaml-edit').classList.add('hidden');
  $('#yaml-apply').classList.remove('hidden');
  $('#yaml-cancel').classList.remove('hidden');
}

function cancelEdit() {
  yamlDirty = false;
  $('#yaml').readOnly = true;
  for (const id of ['#yaml-apply', '#yaml-force', '#yaml-cancel']) $(id).classList.add('hidden');
  $('#yaml-result').replaceChildren();
  renderObject();
}

async function applyEdit(force) {
  const out = $('#yaml-result');
  out.replaceChildren(h('p', { class: 'muted' }, 'Applying…'));
  const { kind, namespace, name } = route;
  const result = await send('POST', '/api/object/apply', { kind, namespace, name, yaml: $('#yaml').value, force });
  out.dataset.ok = result.ok ? 'true' : 'false';
  if (result.ok) {
    out.replaceChildren(h('p', { class: 'ok-text' }, '✓ ' + kind + ' ' + name + ' configured'));
    cancelEdit();
    out.replaceChildren(h('p', { class: 'ok-text', id: 'yaml-applied' }, '✓ ' + kind + ' ' + name + ' configured'));
    loadObject();
    return;
  }
  const conflict = result.status === 409;
  out.replaceChildren(
    conflict ? h('p', { class: 'warn-text' }, 'Refused: another manager set these fields to other values. '
      + 'Change them back, or take them over (the other manager may set them again).') : null,
    h('pre', { class: 'api-error', dataset: { status: String(result.status) } }, result.data.error));
  $('#yaml-force').classList.toggle('hidden', !conflict);
}

// A Secret's keys, each value shown only when asked for.
function renderSecretKeys() {
  const el = $('#secret-values');
  if (!el || el.dataset.built === objectPage.uid) return;
  el.dataset.built = objectPage.uid;
  const row = state.secrets.find((s) => s.name === route.name && s.namespace === route.namespace);
  const keys = row ? row.keys : [];
  el.replaceChildren(h('h3', null, 'Keys'), h('p', { class: 'hint' }, 'Values stay on the server until you ask for one.'),
    h('dl', { class: 'secret-keys' }, keys.map((k) => [h('dt', null, h('code', null, k)),
      h('dd', { dataset: { key: k } }, h('button', { type: 'button', class: 'reveal', onclick: (e) => reveal(k, e.target.parentNode) }, 'Reveal'))])));
}

async function reveal(key, cell) {
  const result = await send('POST', '/api/secret', { namespace: route.namespace, name: route.name, key });
  cell.replaceChildren(result.ok
    ? h('code', { class: 'secret-value' }, result.data.text !== undefined ? result.data.text : 'base64: ' + result.data.base64)
    : h('span', { class: 'bad' }, result.data.error));
}

// --- a pod: logs that follow, and a shell -------------------------------------------------------

let logSource = null;
let terminal = null;
let socket = null;
const MAX_LOG_LINES = 5000;

function buildPodTools() {
  return h('div', { class: 'pod-tools' },
    h('div', { class: 'tool-head' },
      h('label', null, 'Container ', h('select', { id: 'container', onchange: () => { loadLogs(); } })),
      h('label', null, h('input', { type: 'checkbox', id: 'logs-previous', onchange: loadLogs }), ' previous container'),
      h('span', { id: 'logs-state', class: 'logs-state' }),
      h('button', { type: 'button', id: 'exec-open', onclick: openShell }, 'Open a shell')),
    h('pre', { id: 'logs-body', class: 'logs-body' }),
    h('div', { id: 'exec', class: 'exec hidden' },
      h('div', { class: 'tool-head' }, h('b', null, 'Shell'), h('span', { id: 'exec-state', class: 'logs-state' }),
        h('button', { type: 'button', id: 'exec-close', onclick: closeShell }, 'Close the shell')),
      h('div', { id: 'terminal' })));
}

function fillContainers() {
  const select = $('#container');
  if (!select || !objectPage || select.options.length) return;
  const names = objectPage.containers.concat(objectPage.initContainers);
  select.replaceChildren(...names.map((c) => h('option', { value: c }, c)));
  loadLogs();
}

function stopPodTools() {
  if (logSource) logSource.close();
  logSource = null;
  closeShell();
}

function appendLog(line, cls) {
  const body = $('#logs-body');
  if (!body) return;
  const atBottom = body.scrollTop + body.clientHeight >= body.scrollHeight - 30;
  body.append(cls ? h('span', { class: cls }, line + '\n') : line + '\n');
  while (body.childNodes.length > MAX_LOG_LINES) body.firstChild.remove();
  if (atBottom) body.scrollTop = body.scrollHeight;
}

async function loadLogs() {
  if (logSource) logSource.close();
  logSource = null;
  const body = $('#logs-body');
  body.replaceChildren();
  const query = 'namespace=' + encodeURIComponent(route.namespace) + '&pod=' + encodeURIComponent(route.name)
    + '&container=' + encodeURIComponent($('#container').value);
  const stateEl = $('#logs-state');
  if ($('#logs-previous').checked) {
    stateEl.textContent = 'the container that ran before the last restart';
    const response = await fetch('/api/logs?previous=true&' + query);
    const text = await response.text();
    if (response.ok) text.split('\n').forEach((l) => appendLog(l));
    else appendLog((() => { try { return JSON.parse(text).error; } catch { return text; } })(), 'log-error');
    return;
  }
  stateEl.textContent = 'following (-f)';
  stateEl.dataset.state = 'following';
  logSource = new EventSource('/api/logs/stream?' + query);
  logSource.addEventListener('line', (e) => appendLog(JSON.parse(e.data)));
  logSource.addEventListener('end', () => {
    appendLog('— the log ended: the container stopped —', 'log-note');
    stateEl.textContent = 'ended';
    stateEl.dataset.state = 'ended';
    logSource.close();
  });
  logSource.addEventListener('failure', (e) => {
    appendLog(JSON.parse(e.data).error, 'log-error');
    stateEl.textContent = '';
    logSource.close();
  });
}

// xterm.js adds <style> elements of its own; the page's policy lets in only those carrying this
// launch's nonce, so every <style> this page makes gets it.
const createElement = Document.prototype.createElement;
Document.prototype.createElement = function (tag, options) {
  const el = createElement.call(this, tag, options);
  if (String(tag).toLowerCase() === 'style') el.nonce = styleNonce;
  return el;
};

let xtermLoading = null;
function loadXterm() {
  if (window.Terminal) return Promise.resolve();
  xtermLoading = xtermLoading || new Promise((resolve, reject) => {
    document.head.append(h('link', { rel: 'stylesheet', href: '/assets/xterm.css' }));
    const s = h('script', { src: '/assets/xterm.js' });
    s.onload = resolve;
    s.onerror = () => reject(new Error('could not load the terminal'));
    document.head.append(s);
  });
  return xtermLoading;
}

async function openShell() {
  closeShell();
  const stateEl = $('#exec-state');
  $('#exec').classList.remove('hidden');
  stateEl.textContent = 'connecting…';
  await loadXterm();
  terminal = new window.Terminal({ cols: 120, rows: 24, fontSize: 13, convertEol: false, cursorBlink: true });
  terminal.open($('#terminal'));
  const query = new URLSearchParams({ namespace: route.namespace, pod: route.name, container: $('#container').value });
  socket = new WebSocket('ws://' + location.host + '/api/exec?' + query, ['localkube-csrf.' + csrf]);
  socket.binaryType = 'arraybuffer';
  const encoder = new TextEncoder();
  socket.onopen = () => {
    stateEl.textContent = 'connected';
    stateEl.dataset.state = 'connected';
    socket.send(JSON.stringify({ cols: terminal.cols, rows: terminal.rows }));
    terminal.focus();
  };
  socket.onmessage = (e) => {
    if (typeof e.data === 'string') {
      const msg = JSON.parse(e.data);
      stateEl.textContent = msg.error || msg.exit;
      stateEl.dataset.state = 'ended';
      if (msg.error) terminal.write('\r\n' + msg.error + '\r\n');
    } else {
      terminal.write(new Uint8Array(e.data));
    }
  };
  socket.onclose = () => { if (stateEl.dataset.state === 'connected') { stateEl.textContent = 'closed'; stateEl.dataset.state = 'ended'; } };
  terminal.onData((data) => { if (socket && socket.readyState === WebSocket.OPEN) socket.send(encoder.encode(data)); });
}

function closeShell() {
  if (socket) socket.close();
  socket = null;
  if (terminal) terminal.dispose();
  terminal = null;
  const el = $('#exec');
  if (el) el.classList.add('hidden');
}

// --- apply --------------------------------------------------------------------------------------

const EXAMPLE = `# The book's ReplicationController (chapter 4) and a NodePort service in front of it.
# Load the image first: localkube image load kubia:1.0
apiVersion: v1
kind: ReplicationController
metadata:
  name: kubia
spec:
  replicas: 3
  selector:
    app: kubia
  template:
    metadata:
      labels:
        app: kubia
    spec:
      containers:
        - name: kubia
          image: kubia:1.0
          imagePullPolicy: Never
          ports:
            - containerPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: kubia-nodeport
spec:
  type: NodePort
  selector:
    app: kubia
  ports:
    - port: 80
      targetPort: 8080
`;

function buildApply() {
  return [section('apply-section', 'Apply a manifest', ['Paste YAML (several documents separated by ', h('code', null, '---'),
    '). It is applied server-side, like ', h('code', null, 'kubectl apply --server-side'),
    '; objects without a namespace go to the selected one (or ', h('code', null, 'default'), '). When the API server refuses, its message is shown as it is.'],
  h('form', { id: 'apply-form', onsubmit: submitApply },
    h('textarea', { id: 'manifest', spellcheck: 'false', rows: '14', placeholder: 'apiVersion: v1\nkind: ReplicationController\n…' }),
    h('div', { class: 'form-actions' },
      h('button', { type: 'submit', class: 'primary', id: 'apply-button' }, 'Apply'),
      h('button', { type: 'button', id: 'example-button', onclick: () => { $('#manifest').value = EXAMPLE; } }, 'Insert an example'))),
  h('div', { id: 'apply-result' }))];
}

async function submitApply(e) {
  e.preventDefault();
  const button = $('#apply-button');
  const out = $('#apply-result');
  button.disabled = true;
  out.replaceChildren(h('p', { class: 'muted' }, 'Applying…'));
  const result = await send('POST', '/api/apply', { manifest: $('#manifest').value, namespace: state.namespace });
  button.disabled = false;
  const items = (result.data.results || []).map((r) => h('li', { class: r.error ? 'bad' : 'ok' },
    r.error ? '✗ ' : '✓ ',
    h('b', null, r.kind + ' ' + (r.namespace ? r.namespace + '/' : '') + r.name),
    r.action ? ' ' + r.action : null,
    r.action && LIST_OF[r.kind] ? [' · ', objLink(r.kind, r.namespace || '', r.name, 'its page')] : null,
    r.error ? h('pre', { class: 'api-error' }, r.error) : null));
  const parts = [];
  if (items.length) parts.push(h('ul', { class: 'apply-list' }, items));
  if (!result.ok && !items.some((i) => i.classList.contains('bad'))) {
    parts.push(h('pre', { class: 'api-error' }, result.data.error));
  }
  out.dataset.ok = result.ok ? 'true' : 'false';
  out.replaceChildren(...parts);
}

// --- the router ---------------------------------------------------------------------------------

let route = parseRoute();
let view = null;

function showRoute() {
  stopPodTools();
  route = parseRoute();
  const ns = route.params.get('ns') || (route.view === 'object' ? state.namespace : 'all');
  if (ns !== state.namespace) {
    state.namespace = ns;
    renderNamespaces();
    connect();
  }
  view = route.view === 'object'
    ? { title: route.kind + ' ' + route.name, kinds: [], build: buildObject, update: renderObjectLive }
    : VIEWS[route.view];
  if (!view) {
    view = { title: 'Not found', kinds: [], build: () => [h('p', { class: 'empty' }, 'No such view: ', h('a', { href: '#/' }, 'the overview'), '.')], update: () => {} };
  }
  for (const a of document.querySelectorAll('#nav a')) {
    const current = a.dataset.view === route.view || (route.view === 'object' && a.dataset.view === LIST_OF[route.kind]);
    a.classList.toggle('current', current);
    a.setAttribute('href', viewHref(a.dataset.view));
  }
  workloadCards = new Map();
  podRows = new Map();
  $('#view').replaceChildren(...view.build());
  view.update();
  if (route.view === 'object') loadObject().then(fillContainers);
  document.title = view.title + ' · ' + (state.cluster ? state.cluster.profile : $('#profile').textContent) + ' · localkube';
  window.scrollTo(0, 0);
}

window.addEventListener('hashchange', showRoute);

// A kind moved: redraw the view if it shows that kind.
function onKind(kind) {
  if (kind === 'cluster') { renderCluster(); return; }
  if (kind === 'health') { renderHealth(); return; }
  if (kind === 'namespaces') renderNamespaces();
  if (kind === 'pods') trackPodsIfHidden();
  if (!view) return;
  if (route.view === 'object') {
    if (kind === STREAM_OF[route.kind] || kind === 'events' || kind === 'pods') refreshObjectSoon();
    if (kind === STREAM_OF[route.kind] || kind === 'metrics') renderObjectLive();
    return;
  }
  if (view.kinds.includes(kind)) {
    if (route.view === 'pods' && kind === 'pods') { view.update(); return; }
    if (route.view === 'pods' && kind === 'metrics') { renderPods(); return; }
    view.update();
  }
}

// The pods view tracks new and deleted pods itself; elsewhere they are tracked here.
function trackPodsIfHidden() {
  if (route.view !== 'pods') trackPods();
}

$('#namespace').addEventListener('change', (e) => {
  const ns = e.target.value;
  localStorage.setItem('localkube.namespace', ns);
  if (route.view === 'object') {
    state.namespace = ns;
    connect();
    location.hash = viewHref('overview');
    return;
  }
  const params = Object.fromEntries(route.params);
  params.ns = ns === 'all' ? '' : ns;
  state.namespace = ns;
  location.hash = viewHref(route.view, params);
});

// Ages move on even when nothing changes; "new" marks fade.
setInterval(() => {
  for (const el of document.querySelectorAll('.age[data-created]')) el.textContent = age(el.dataset.created);
  if (route.view === 'pods' && (gone.size || state.pods.some((p) => isNew(p)) || document.querySelector('#pods tr.new'))) renderPods();
}, 2000);

// --- the event stream ---------------------------------------------------------------------------

let source;
function setConn(what, text) {
  const el = $('#conn');
  el.dataset.state = what;
  el.textContent = text;
}

function connect() {
  if (source) source.close();
  previousPods = null;
  gone.clear();
  source = new EventSource('/api/stream?namespace=' + encodeURIComponent(state.namespace));
  source.onopen = () => renderHealth();
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) {
      setConn('closed', 'disconnected: restart `localkube dashboard` and open its new URL');
    } else {
      setConn('reconnecting', 'reconnecting…');
    }
  };
  for (const kind of KIND_KEYS) {
    source.addEventListener(kind, (e) => {
      state[kind] = JSON.parse(e.data);
      onKind(kind);
    });
  }
}

// A page left for another keeps no stream open: the browser allows six connections to one host,
// and a page kept in the back-forward cache would otherwise hold its stream (and a log or shell)
// until it is evicted, starving the next pages. Coming back opens them again.
window.addEventListener('pagehide', () => {
  if (source) source.close();
  stopPodTools();
});
window.addEventListener('pageshow', (e) => {
  if (e.persisted) {
    connect();
    showRoute();
  }
});

// The namespace comes from the address; without one in it, the last one chosen here.
if (!route.params.get('ns') && route.view !== 'object') {
  const remembered = localStorage.getItem('localkube.namespace');
  if (remembered && remembered !== 'all') {
    history.replaceState(null, '', viewHref(route.view === 'overview' ? 'overview' : route.view, Object.assign(Object.fromEntries(route.params), { ns: remembered })));
    route = parseRoute();
  }
}
state.namespace = route.params.get('ns') || 'all';
renderNamespaces();
connect();
showRoute();
