// localkube dashboard: plain JavaScript, no framework, no build step.
//
// One server-sent event stream (/api/stream) pushes each kind of object whenever its watch in the
// localkube process moves; the page re-draws that section. Writes (scale, delete, apply) send the
// page's CSRF token in the X-Localkube-Csrf header; the session cookie does the rest.
'use strict';

const csrf = document.querySelector('meta[name="localkube-csrf"]').content;
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
  for (const child of children.flat()) {
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

// A colour class for a status word.
function tone(status) {
  if (/^(Running|Ready|Active|Normal|Succeeded|Completed)$/.test(status)) return 'ok';
  if (/^(Terminating|Deleted|Unknown)$/.test(status)) return 'muted';
  if (/(Err|BackOff|Fail|NotReady|Warning|OOM|Invalid|Evicted|Error)/.test(status)) return 'bad';
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

// --- state --------------------------------------------------------------------------------------

const state = {
  cluster: null,
  health: { connected: true },
  namespaces: [],
  nodes: [],
  deployments: [],
  replicaSets: [],
  replicationControllers: [],
  pods: [],
  services: [],
  ingresses: [],
  events: [],
  namespace: localStorage.getItem('localkube.namespace') || 'all',
};

const NEW_FOR_MS = 30000; // how long a pod counts as new
const GONE_FOR_MS = 8000; // how long a deleted pod stays on screen, struck through
const podKey = (p) => p.namespace + '/' + p.name;
let previousPods = null; // key -> row, from the last update (null: none yet in this namespace)
const firstSeen = new Map(); // key -> when this page first saw the pod after its first list
const gone = new Map(); // key -> {row, at}
let confirmDelete = null; // key of the pod whose Delete button asks to confirm
let confirmTimer;

// --- rendering ----------------------------------------------------------------------------------

const renderers = {
  cluster: renderCluster,
  health: renderHealth,
  namespaces: renderNamespaces,
  nodes: renderNodes,
  deployments: renderWorkloads,
  replicaSets: renderWorkloads,
  replicationControllers: renderWorkloads,
  pods: () => { trackPods(); renderPods(); renderNodes(); },
  services: renderServices,
  ingresses: renderIngresses,
  events: renderEvents,
};

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
  document.title = c.profile + ' · localkube dashboard';
}

function renderHealth() {
  const banner = $('#banner');
  // Several control-plane members: each one's etcd state and the Lease holders, in one line.
  const members = state.health.controlPlane || [];
  const line = $('#control-plane');
  line.textContent = members.length
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

function renderNodes() {
  $('#node-count').textContent = state.nodes.length;
  $('#nodes').replaceChildren(...state.nodes.map((n) => {
    const pods = state.pods.filter((p) => p.node === n.name && !p.terminating).length;
    return h('article', { class: 'card node', dataset: { node: n.name } },
      h('div', { class: 'card-head' },
        h('span', { class: 'kind' }, 'Node'),
        h('b', { class: 'name' }, n.name),
        badge(n.status),
        ...n.problems.map((p) => badge(p, 'bad'))),
      h('dl', { class: 'facts' },
        fact('Kubelet', n.version), fact('Roles', n.roles), fact('Internal IP', n.internalIp),
        fact('CPU', n.cpu), fact('Memory', n.memory),
        fact('Pods', (state.namespace === 'all' ? pods + ' / ' : '') + n.maxPods + ' max'),
        fact('Pod CIDR', n.podCidr), fact('Runtime', n.containerRuntime),
        fact('OS', n.osImage), fact('Age', age(n.created))));
  }));
}

function fact(label, value) {
  return [h('dt', null, label), h('dd', null, value || '—')];
}

// Workloads: Deployments with the ReplicaSets they own, then the other ReplicaSets and the
// ReplicationControllers. The counts are the point: desired, current, ready.
let workloadsPending = false;
let workloadCards = new Map();
function renderWorkloads() {
  const container = $('#workloads');
  // Do not redraw under the user's typing; redraw when the field loses focus.
  if (container.contains(document.activeElement) && document.activeElement.tagName === 'INPUT') {
    workloadsPending = true;
    return;
  }
  workloadsPending = false;
  const cards = [];
  const next = new Map();
  const card = (w, owned) => keyed(workloadCards, next, w.kind + '/' + w.namespace + '/' + w.name,
    JSON.stringify([w, owned]), () => workloadCard(w, owned));
  for (const d of state.deployments) {
    const owned = state.replicaSets.filter((rs) => rs.namespace === d.namespace
      && rs.owner === 'Deployment/' + d.name);
    cards.push(card(d, owned));
  }
  for (const rs of state.replicaSets) {
    if (!rs.owner || !rs.owner.startsWith('Deployment/')) cards.push(card(rs, []));
  }
  for (const rc of state.replicationControllers) cards.push(card(rc, []));
  workloadCards = next;
  if (!cards.length) {
    cards.push(h('p', { class: 'empty' },
      'No Deployments, ReplicaSets or ReplicationControllers here yet. Try ',
      h('code', null, 'localkube kubectl -- create deployment kubia --image=kubia:1.0'),
      ', or apply a manifest below.'));
  }
  container.replaceChildren(...cards);
}

function workloadCard(w, ownedReplicaSets) {
  const inSync = w.current === w.desired && w.ready === w.desired;
  const ownedBy = w.owner && w.owner.startsWith('Deployment/') ? w.owner : null;
  const dots = [];
  for (let i = 0; i < Math.max(w.desired, w.current); i++) {
    const cls = i < w.ready ? 'ready' : i < w.current ? 'current' : 'missing';
    dots.push(h('span', { class: 'dot ' + cls, title: cls }));
  }
  const input = h('input', {
    type: 'number', min: '0', max: '100', value: String(w.desired), class: 'replicas',
    'aria-label': 'replicas',
    onblur: () => { if (workloadsPending) setTimeout(renderWorkloads, 0); },
    onkeydown: (e) => { if (e.key === 'Enter') scale(w, Number(input.value)); },
  });
  return h('article', {
    class: 'card workload ' + (inSync ? 'in-sync' : 'converging'),
    dataset: { kind: w.kind, name: w.name, namespace: w.namespace },
  },
  h('div', { class: 'card-head' },
    h('span', { class: 'kind' }, w.kind),
    h('b', { class: 'name' }, w.name),
    h('span', { class: 'ns' }, w.namespace),
    h('span', { class: 'sync ' + (inSync ? 'ok' : 'warn') }, inSync ? '✓ in sync' : '⟳ converging')),
  h('div', { class: 'counts' },
    count('desired', w.desired, 'spec.replicas: what was asked for'),
    count('current', w.current, 'status.replicas: pods that exist'),
    count('ready', w.ready, 'status.readyReplicas: pods passing readiness checks')),
  h('div', { class: 'dots', title: 'one dot per pod: green ready, amber created but not ready, hollow missing' }, dots),
  h('div', { class: 'scale' },
    h('button', { type: 'button', class: 'scale-down', title: 'one replica less',
      onclick: () => scale(w, w.desired - 1), disabled: w.desired <= 0 }, '−'),
    input,
    h('button', { type: 'button', class: 'scale-up', title: 'one replica more',
      onclick: () => scale(w, w.desired + 1) }, '+'),
    h('button', { type: 'button', class: 'scale-set', onclick: () => scale(w, Number(input.value)) }, 'Scale')),
  ownedBy ? h('p', { class: 'note' }, 'Owned by ' + ownedBy
    + ': scale the Deployment instead; its controller sets this one back (try it).') : null,
  h('p', { class: 'meta' },
    w.images.length ? ['image ', h('code', null, w.images.join(', ')), ' · '] : null,
    'selector ', h('code', null, w.selector || '—'), ' · age ',
    h('span', { class: 'age', dataset: { created: w.created || '' } }, age(w.created)),
    w.updated !== null && w.updated !== undefined ? ' · up to date ' + w.updated : null),
  ownedReplicaSets.length ? h('div', { class: 'owned' },
    h('span', { class: 'owned-title' }, 'ReplicaSets (one per template version):'),
    ...ownedReplicaSets.map((rs) => h('div', { class: 'owned-rs' + (rs.desired === 0 ? ' old' : '') },
      h('code', null, rs.name), ' ',
      h('span', null, rs.desired + ' desired · ' + rs.current + ' current · ' + rs.ready + ' ready'),
      rs.desired === 0 ? h('span', { class: 'muted' }, ' (old template)') : null))) : null);
}

function count(label, value, title) {
  return h('div', { class: 'count-box ' + label, title },
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

// Pods: remember when each was first seen (after the first list) and which disappeared.
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

function renderPods() {
  const now = Date.now();
  for (const [key, g] of gone) if (now - g.at > GONE_FOR_MS) gone.delete(key);
  const rows = state.pods.map((p) => ({ pod: p, gone: false }))
    .concat([...gone.values()].map((g) => ({ pod: g.row, gone: true })))
    .sort((a, b) => podKey(a.pod).localeCompare(podKey(b.pod)));
  $('#pod-count').textContent = state.pods.length;
  const tbody = $('#pods tbody');
  if (!rows.length) {
    tbody.replaceChildren(h('tr', null, h('td', { colspan: '10', class: 'empty' }, 'No pods here.')));
    return;
  }
  const next = new Map();
  tbody.replaceChildren(...rows.map(({ pod, gone: isGone }) => {
    const key = podKey(pod);
    const signature = JSON.stringify([pod, isGone, isNew(pod), confirmDelete === key]);
    return keyed(podRows, next, key, signature, () => podRow(pod, isGone));
  }));
  podRows = next;
}
let podRows = new Map();

function podRow(p, isGone) {
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
    isGone ? h('span', null, p.name)
      : h('button', { type: 'button', class: 'link logs-link', title: 'show its logs', onclick: () => openLogs(p) }, p.name),
    fresh ? badge('new', 'new') : null),
  h('td', null, p.namespace),
  h('td', null, badge(status), status !== p.phase && !isGone ? h('span', { class: 'phase' }, p.phase) : null),
  h('td', { class: allReady ? 'ok-text' : 'warn-text' }, p.ready + '/' + p.containers.length),
  h('td', { class: p.restarts > 0 ? 'warn-text' : null }, String(p.restarts)),
  h('td', { class: 'mono' }, p.ip),
  h('td', null, p.node),
  h('td', { class: 'age', dataset: { created: p.created || '' } }, age(p.created)),
  h('td', { class: 'owner' }, p.owner || h('span', { class: 'muted' }, 'none: nothing replaces it')),
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

function renderServices() {
  $('#service-count').textContent = state.services.length;
  const tbody = $('#services tbody');
  if (!state.services.length) {
    tbody.replaceChildren(h('tr', null, h('td', { colspan: '8', class: 'empty' },
      'No services here. Try ', h('code', null, 'localkube kubectl -- expose deployment kubia --type=NodePort --port=8080'))));
    return;
  }
  tbody.replaceChildren(...state.services.map((s) => h('tr', { dataset: { service: s.name, namespace: s.namespace } },
    h('td', { class: 'name' }, h('b', null, s.name)),
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

// Ingresses sit under the Services: the address is the ingress addon's, the same for all; a host
// name does not resolve here, so each route shows the curl that names it.
function renderIngresses() {
  $('#ingress-count').textContent = state.ingresses.length;
  const tbody = $('#ingresses tbody');
  if (!state.ingresses.length) {
    tbody.replaceChildren(h('tr', null, h('td', { colspan: '6', class: 'empty' },
      'No ingresses here. With ', h('code', null, 'localkube addons enable ingress'),
      ', an Ingress answers on the address shown here.')));
    return;
  }
  tbody.replaceChildren(...state.ingresses.map((i) => h('tr', { dataset: { ingress: i.name, namespace: i.namespace } },
    h('td', { class: 'name' }, h('b', null, i.name)),
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

function renderEvents() {
  const tbody = $('#events tbody');
  if (!state.events.length) {
    tbody.replaceChildren(h('tr', null, h('td', { colspan: '7', class: 'empty' }, 'No recent events.')));
    return;
  }
  tbody.replaceChildren(...state.events.map((e) => h('tr', { class: e.type === 'Warning' ? 'warning' : null },
    h('td', { class: 'age', dataset: { created: e.lastSeen || '' } }, age(e.lastSeen)),
    h('td', null, badge(e.type)),
    h('td', null, h('b', null, e.reason)),
    h('td', { class: 'mono' }, (state.namespace === 'all' && e.namespace ? e.namespace + '/' : '') + e.object),
    h('td', { class: 'message' }, e.message),
    h('td', null, e.count > 1 ? '×' + e.count : ''),
    h('td', { class: 'muted' }, e.source))));
}

// Ages move on even when nothing changes; "new" marks fade.
setInterval(() => {
  for (const el of document.querySelectorAll('.age[data-created]')) el.textContent = age(el.dataset.created);
  if (gone.size || state.pods.some((p) => isNew(p)) || document.querySelector('#pods tr.new')) renderPods();
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
  for (const kind of Object.keys(renderers)) {
    source.addEventListener(kind, (e) => {
      state[kind] = JSON.parse(e.data);
      renderers[kind]();
    });
  }
}

$('#namespace').addEventListener('change', (e) => {
  state.namespace = e.target.value;
  localStorage.setItem('localkube.namespace', state.namespace);
  connect();
});

// --- logs ---------------------------------------------------------------------------------------

let logSource;
let logPod;
const MAX_LOG_LINES = 5000;

function openLogs(pod) {
  logPod = pod;
  const select = $('#logs-container');
  select.replaceChildren(...pod.containers.map((c) => h('option', { value: c }, c)));
  select.classList.toggle('hidden', pod.containers.length < 2);
  $('#logs-previous').checked = false;
  $('#logs-title').textContent = 'Logs of ' + pod.namespace + '/' + pod.name;
  $('#logs').classList.remove('hidden');
  document.body.classList.add('with-logs');
  loadLogs();
}

function closeLogs() {
  if (logSource) logSource.close();
  logSource = null;
  $('#logs').classList.add('hidden');
  document.body.classList.remove('with-logs');
}

function appendLog(line, cls) {
  const body = $('#logs-body');
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
  const container = $('#logs-container').value;
  const query = 'namespace=' + encodeURIComponent(logPod.namespace) + '&pod=' + encodeURIComponent(logPod.name)
    + '&container=' + encodeURIComponent(container);
  const stateEl = $('#logs-state');
  if ($('#logs-previous').checked) {
    stateEl.textContent = 'the container that ran before the last restart';
    const response = await fetch('/api/logs?previous=true&' + query);
    const text = await response.text();
    if (response.ok) text.split('\n').forEach((l) => appendLog(l));
    else appendLog(JSON.parse(text).error || text, 'log-error');
    return;
  }
  stateEl.textContent = 'following';
  logSource = new EventSource('/api/logs/stream?' + query);
  logSource.addEventListener('line', (e) => appendLog(JSON.parse(e.data)));
  logSource.addEventListener('end', () => {
    appendLog('— the log ended: the container stopped —', 'log-note');
    stateEl.textContent = 'ended';
    logSource.close();
  });
  logSource.addEventListener('failure', (e) => {
    appendLog(JSON.parse(e.data).error, 'log-error');
    stateEl.textContent = '';
    logSource.close();
  });
}

$('#logs-close').addEventListener('click', closeLogs);
$('#logs-container').addEventListener('change', loadLogs);
$('#logs-previous').addEventListener('change', loadLogs);
document.addEventListener('keydown', (e) => { if (e.key === 'Escape') closeLogs(); });

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

$('#example-button').addEventListener('click', () => { $('#manifest').value = EXAMPLE; });

$('#apply-form').addEventListener('submit', async (e) => {
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
    r.error ? h('pre', { class: 'api-error' }, r.error) : null));
  const parts = [];
  if (items.length) parts.push(h('ul', { class: 'apply-list' }, items));
  if (!result.ok && !items.some((i) => i.classList.contains('bad'))) {
    parts.push(h('pre', { class: 'api-error' }, result.data.error));
  }
  out.dataset.ok = result.ok ? 'true' : 'false';
  out.replaceChildren(...parts);
});

connect();
