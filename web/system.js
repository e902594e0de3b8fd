// system.js - services, their instances and health, from
// GET /api/v1/services, refreshed every 5 seconds while the page is open.

import { api } from './api.js';
import { el, clear } from './dom.js';

const $ = (id) => document.getElementById(id);
let timer = null;

function duration(ms) {
  const s = Math.floor(Number(ms) / 1000);
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m ${s % 60}s`;
}

async function refresh() {
  try {
    const reply = await api('/services');
    $('system-error').textContent = '';
    $('system-summary').textContent =
      `安全 Security: ${reply.security} · 运行 Uptime: ${duration(reply.uptime_ms)} · ` +
      `处理中 Pending: ${reply.pending}/${reply.max_pending} · ` +
      `更新于 Updated ${new Date().toLocaleTimeString('zh-CN', { hour12: false })}`;
    const body = clear($('services'));
    for (const service of reply.services) {
      const live = service.instances.length;
      body.append(el('tr', { class: live ? null : 'down', 'data-service': service.name },
        el('td', {}, el('code', {}, service.name)),
        el('td', {}, service.description),
        el('td', {}, live ? service.instances.map((i) =>
          el('span', { class: `badge health-${i.health}`, title: `credit ${i.credit}, in flight ${i.in_flight}, served ${i.served}` },
            `${i.department}/${i.instance} ${i.health}`)) : el('span', { class: 'badge health-late' }, '无实例 none')),
        el('td', { class: 'num' }, service.waiting),
        el('td', { class: 'num' }, service.requests),
        el('td', { class: 'num' }, service.errors)));
    }
  } catch (e) {
    if (e.httpStatus === 401) window.dispatchEvent(new Event('onenet:unauthorized'));
    $('system-error').textContent = `${e.status}: ${e.message}`;
  }
}

export function enter() {
  refresh();
  timer = setInterval(refresh, 5000);
}

export function leave() {
  clearInterval(timer);
}
