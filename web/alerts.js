// alerts.js - the alerts board: the latest alerts and the unacknowledged
// ones from GET /api/v1/alerts, then live ones over Server-Sent Events
// (EventSource on /api/v1/alerts/stream, started after the newest alert
// already shown, so none is missed; EventSource resumes by itself with
// Last-Event-ID after a drop). Unacknowledged alerts stay on top.

import { api, streamUrl } from './api.js';
import { el, clear, formatMs } from './dom.js';

const $ = (id) => document.getElementById(id);
const SEVERITY_RANK = { Extreme: 4, Severe: 3, Moderate: 2, Minor: 1, Unknown: 0 };
const SEVERITY_LABEL = {
  Extreme: '特别严重 Extreme', Severe: '严重 Severe', Moderate: '较重 Moderate',
  Minor: '一般 Minor', Unknown: '未知 Unknown',
};

const alerts = new Map();   // CAP identifier -> { envelope, acked }
let selected = null;
let source = null;
let lastId = '';
let refreshTimer = null;
let reopenTimer = null;
let bound = false;
let active = false;

function filters() {
  const params = {};
  const severity = $('f-severity').value;
  const area = $('f-area').value.trim();
  const category = $('f-category').value;
  if (severity) params.severity = severity;
  if (area) params.area = area;
  if (category) params.category = category;
  return params;
}

function severityOf(alert) {
  const info = (alert.info || []).find((i) => i.severity);
  return info ? info.severity : 'Unknown';
}

function headlineOf(alert) {
  const info = (alert.info || [])[0] || {};
  return info.headline || info.event || alert.identifier;
}

function compareIds(a, b) {
  const [am, as] = (a || '0-0').split('-').map(Number);
  const [bm, bs] = (b || '0-0').split('-').map(Number);
  return am - bm || as - bs;
}

function add(envelope, acked) {
  const key = envelope.alert.identifier;
  const known = alerts.get(key);
  alerts.set(key, { envelope, acked: known ? known.acked && acked : acked });
  if (envelope.stream_id && compareIds(envelope.stream_id, lastId) > 0) lastId = envelope.stream_id;
}

function render() {
  const list = clear($('alert-list'));
  const items = [...alerts.values()].sort((a, b) =>
    (a.acked - b.acked) || compareIds(b.envelope.stream_id, a.envelope.stream_id));
  if (!items.length) list.append(el('li', { class: 'muted empty' }, '暂无预警 No alerts'));
  for (const item of items) {
    const { alert } = item.envelope;
    const severity = severityOf(alert);
    list.append(el('li', {
      class: `alert sev-${severity.toLowerCase()}${item.acked ? ' acked' : ''}${selected === alert.identifier ? ' selected' : ''}`,
      tabindex: '0',
      'data-identifier': alert.identifier,
      onclick: () => select(alert.identifier),
      onkeydown: (e) => { if (e.key === 'Enter') select(alert.identifier); },
    },
    el('span', { class: `badge sev-${severity.toLowerCase()}` }, SEVERITY_LABEL[severity] || severity),
    alert.msg_type !== 'Alert' ? el('span', { class: 'badge' }, alert.msg_type) : null,
    el('span', { class: 'headline' }, headlineOf(alert)),
    el('span', { class: 'muted when' }, formatMs(item.envelope.received_at_ms)),
    item.acked ? el('span', { class: 'badge ok' }, '已确认 Acked') : el('span', { class: 'badge warn' }, '待确认 Open')));
  }
  renderDetail();
}

function select(identifier) {
  selected = identifier;
  render();
}

function renderDetail() {
  const panel = clear($('alert-detail'));
  const item = selected && alerts.get(selected);
  if (!item) {
    panel.append(el('p', { class: 'muted' }, '选择一条预警查看详情。Select an alert to see its details.'));
    return;
  }
  const { envelope } = item;
  const { alert } = envelope;
  panel.append(
    el('h2', {}, headlineOf(alert)),
    el('dl', { class: 'meta' },
      el('dt', {}, '编号 Identifier'), el('dd', {}, alert.identifier),
      el('dt', {}, '发布方 Sender'), el('dd', {}, `${alert.sender} (${envelope.published_by_department})`),
      el('dt', {}, '发布时间 Sent'), el('dd', {}, alert.sent),
      el('dt', {}, '状态 Status'), el('dd', {}, `${alert.status} · ${alert.msg_type} · ${alert.scope}`),
      el('dt', {}, '流编号 Stream id'), el('dd', {}, envelope.stream_id || '(spooled)')),
    ...(alert.info || []).map((info) => el('section', { class: 'info' },
      el('h3', {}, `${info.event} ${info.language ? `(${info.language})` : ''}`),
      el('p', {}, el('span', { class: `badge sev-${(info.severity || 'unknown').toLowerCase()}` }, info.severity),
        ` ${info.urgency} · ${info.certainty} · ${(info.category || []).join(', ')}`),
      info.description ? el('p', {}, info.description) : null,
      info.instruction ? el('p', { class: 'instruction' }, el('strong', {}, '应对 Instruction: '), info.instruction) : null,
      (info.area || []).map((area) => el('p', { class: 'muted' }, '区域 Area: ', area.area_desc,
        (area.geocode || []).length ? ` [${area.geocode.map((g) => g.value).join(', ')}]` : '')))),
    item.acked
      ? el('p', { class: 'badge ok' }, '已确认 Acknowledged')
      : el('button', { type: 'button', id: 'ack-button', onclick: () => acknowledge(alert.identifier) }, '确认 Acknowledge'),
  );
}

async function acknowledge(identifier) {
  try {
    await api(`/alerts/${encodeURIComponent(identifier)}/ack`, { method: 'POST' });
    alerts.get(identifier).acked = true;
    render();
  } catch (e) {
    showError(e);
  }
}

function showError(e) {
  if (e.httpStatus === 401) window.dispatchEvent(new Event('onenet:unauthorized'));
  $('alerts-error').textContent = e.status ? `${e.status}: ${e.message}` : String(e);
}

async function refreshUnacked() {
  const query = new URLSearchParams({ ...filters(), unacked: 'true' });
  const open = await api(`/alerts?${query}`);
  const openIds = new Set(open.alerts.map((e) => e.alert.identifier));
  for (const envelope of open.alerts) if (!alerts.has(envelope.alert.identifier)) add(envelope, false);
  for (const [key, item] of alerts) item.acked = !openIds.has(key);
  render();
}

function openStream() {
  closeStream();
  const params = { ...filters() };
  if (lastId) params.after = lastId;
  source = new EventSource(streamUrl(params));
  $('stream-state').textContent = '连接中 Connecting…';
  source.addEventListener('open', () => {
    $('reconnecting').hidden = true;
    $('stream-state').textContent = '● 实时 Live';
  });
  source.addEventListener('alert', (event) => {
    add(JSON.parse(event.data), false);
    render();
  });
  source.addEventListener('error', () => {
    $('reconnecting').hidden = false;
    $('stream-state').textContent = '重连中 Reconnecting…';
    // EventSource gives up on an HTTP error (e.g. the gateway restarted):
    // open it again, after the last alert seen.
    if (source.readyState === EventSource.CLOSED) reopenTimer = setTimeout(openStream, 3000);
  });
}

function closeStream() {
  clearTimeout(reopenTimer);
  if (source) source.close();
  source = null;
}

async function load() {
  $('alerts-error').textContent = '';
  alerts.clear();
  lastId = '';
  try {
    const query = new URLSearchParams({ ...filters(), last: '100' });
    const batch = await api(`/alerts?${query}`);
    for (const envelope of batch.alerts) add(envelope, true);
    lastId = batch.latest || lastId;
    await refreshUnacked();
  } catch (e) {
    showError(e);
    return;
  }
  if (active) openStream();
}

export function enter() {
  active = true;
  if (!bound) {
    bound = true;
    $('alert-filters').addEventListener('submit', (event) => {
      event.preventDefault();
      load();
    });
  }
  load();
  refreshTimer = setInterval(() => refreshUnacked().catch(showError), 20000);
}

export function leave() {
  active = false;
  clearInterval(refreshTimer);
  closeStream();
  $('reconnecting').hidden = true;
}
