// person.js - the one network view of a person: resident ID (checked in
// the browser, check digit included) and purpose, then one card per
// department coloured by its status, fields as the broker sent them
// (masked where the policy masks them), conflicting fields highlighted.

// "Public security, Social security: A ≠ Civil affairs: B": departments
// holding the same value are grouped, so ≠ stands only between values
// that differ.
function conflictText (conflict) {
  const byValue = new Map();
  for (const v of conflict.values) {
    const name = DEPARTMENTS[v.department] || v.department;
    byValue.set(v.value, [...(byValue.get(v.value) || []), name]);
  }
  return [...byValue].map(([value, names]) => `${names.join(', ')}: ${value}`).join(' ≠ ');
}

import { api } from './api.js';
import { el, clear, formatMs } from './dom.js';
import { residentIdProblem } from './resident_id.js';

const $ = (id) => document.getElementById(id);

const STATUS = {
  SECTION_OK: ['ok', '正常 OK'],
  SECTION_NOT_FOUND: ['none', '无记录 Not found'],
  SECTION_UNAVAILABLE: ['down', '不可用 Unavailable'],
  SECTION_TIMEOUT: ['down', '超时 Timed out'],
  SECTION_DENIED: ['denied', '无权查看 Withheld by policy'],
  SECTION_STALE: ['stale', '缓存数据 Cached copy'],
};

const DEPARTMENTS = {
  public_security: '公安 Public security',
  social_security: '人社 Social security',
  emergency: '应急 Emergency management',
  civil_affairs: '民政 Civil affairs',
};

let bound = false;

export function enter() {
  if (bound) return;
  bound = true;
  $('person-form').addEventListener('submit', lookUp);
  $('resident-id').addEventListener('input', () => {
    const input = $('resident-id');
    input.value = input.value.toUpperCase();
    input.setCustomValidity('');
  });
}

export function leave() {}

async function lookUp(event) {
  event.preventDefault();
  const id = $('resident-id').value.trim().toUpperCase();
  const purpose = $('purpose').value.trim();
  const problem = residentIdProblem(id);
  $('person-error').textContent = '';
  if (problem) {
    $('person-error').textContent = problem;
    $('resident-id').setCustomValidity(problem);
    return;
  }
  if (!purpose) {
    $('person-error').textContent = '请填写查询事由 · A purpose is required';
    return;
  }
  const query = new URLSearchParams({ purpose });
  if ($('fresh').checked) query.set('fresh', 'true');
  clear($('sections'));
  clear($('conflicts'));
  $('person-summary').textContent = '查询中… Loading…';
  try {
    render(await api(`/persons/${id}/view?${query}`));
  } catch (e) {
    $('person-summary').textContent = '';
    if (e.httpStatus === 401) window.dispatchEvent(new Event('onenet:unauthorized'));
    $('person-error').textContent = `${e.status}: ${e.message}`;
  }
}

function render(view) {
  const conflicted = new Set(view.conflicts.map((c) => c.field));
  const summary = $('person-summary');
  clear(summary).append(
    el('strong', {}, view.resident_id),
    ` · 生成于 generated ${formatMs(view.generated_at_ms)}`,
    view.from_cache ? ' · 来自缓存 from cache' : '',
  );
  if (view.partial)
    summary.append(el('span', { class: 'badge warn' }, '部分部门未响应 Partial: some departments did not answer'));

  const conflicts = $('conflicts');
  if (view.conflicts.length) {
    conflicts.append(el('div', { class: 'banner conflict' },
      el('strong', {}, '数据不一致 Conflicting data: '),
      view.conflicts.map((c) => el('span', { class: 'conflict-item' },
        `${c.field}: `, conflictText(c)))));
  }

  const cards = $('sections');
  for (const section of view.sections) {
    const [cls, label] = STATUS[section.status] || ['down', section.status];
    const rows = section.fields.map((f) =>
      el('tr', { class: conflicted.has(f.name) ? 'conflict' : null },
        el('th', { title: f.name }, f.label || f.name),
        el('td', {}, f.value, conflicted.has(f.name) ? el('span', { class: 'badge conflict' }, '冲突 conflict') : null)));
    cards.append(el('article', { class: `card status-${cls}`, 'data-department': section.department },
      el('header', {},
        el('h2', {}, DEPARTMENTS[section.department] || section.department),
        el('span', { class: `badge status-${cls}` }, label)),
      section.message ? el('p', { class: 'muted' }, section.message) : null,
      section.status === 'SECTION_STALE' ? el('p', { class: 'muted' }, `缓存时长 age ${Math.round(Number(section.age_ms) / 1000)} s`) : null,
      rows.length ? el('table', { class: 'fields' }, el('tbody', {}, rows)) : null,
      section.served_by ? el('footer', { class: 'muted' }, `来源 served by ${section.served_by}`) : null));
  }
}
