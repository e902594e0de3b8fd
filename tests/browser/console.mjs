// console.mjs - drives the OneNet web console in headless Chromium
// (playwright-core, /usr/bin/chromium) against a real gateway, broker and
// department adapters started by run.sh. The gateway is started here so it
// can be stopped and restarted under the alerts board.
//
// Checks: sign-in (bad token refused, token kept in sessionStorage), the
// resident ID refused in the browser before any request, a person view
// with one coloured card per department, the alerts board live over SSE
// (an alert published elsewhere appears, Acknowledge moves it down), the
// reconnecting banner while the gateway is down and the stream resuming
// after, the system page, and no horizontal scrolling at 1366x768.
// Screenshots go to $ARTIFACTS.

import { spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { chromium } from 'playwright-core';

const url = process.env.GATEWAY_URL;
const artifacts = process.env.ARTIFACTS;
const person = process.env.PERSON_ID;
const CLERK = 'demo-clerk-token';
const COORDINATOR = 'demo-coordinator-token';

let gateway = null;
let serial = 0;

function check(condition, what) {
  if (!condition) throw new Error(`check failed: ${what}`);
  console.log(`ok - ${what}`);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(fn, what, timeoutMs = 15000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await fn()) return;
    } catch (e) { /* not yet */ }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

function startGateway() {
  const log = openSync(process.env.GATEWAY_LOG, 'a');
  gateway = spawn(process.env.GATEWAY_BIN, ['-c', process.env.GATEWAY_CONFIG],
    { stdio: ['ignore', log, log] });
}

async function stopGateway() {
  const child = gateway;
  gateway = null;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

async function servicesReady() {
  const r = await fetch(`${url}/api/v1/services`, { headers: { Authorization: `Bearer ${CLERK}` } });
  if (!r.ok) return false;
  const { services } = await r.json();
  const live = new Set(services.filter((s) => s.instances.length).map((s) => s.name));
  return ['ps.view.person', 'ss.view.person', 'em.view.person', 'ca.view.person'].every((n) => live.has(n));
}

async function publish(severity) {
  serial += 1;
  const identifier = `browser.test.${process.pid}.${serial}`;
  const xml = `<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>${identifier}</identifier><sender>duty@em.example.gov.cn</sender>
  <sent>2026-07-12T03:20:00+08:00</sent><status>Exercise</status><msgType>Alert</msgType><scope>Public</scope>
  <info><category>Met</category><event>演练暴雨 drill rain</event><urgency>Immediate</urgency>
    <severity>${severity}</severity><certainty>Likely</certainty>
    <headline>演练预警 Drill alert ${serial}</headline>
    <description>合成测试数据 Synthetic test data.</description>
    <instruction>请勿转发 Do not forward.</instruction>
    <area><areaDesc>锦江区 Jinjiang</areaDesc><geocode><valueName>GB/T 2260</valueName><value>510104</value></geocode></area>
  </info>
</alert>`;
  const r = await fetch(`${url}/api/v1/alerts`, {
    method: 'POST', body: xml,
    headers: { Authorization: `Bearer ${COORDINATOR}`, 'Content-Type': 'application/cap+xml' },
  });
  if (!r.ok) throw new Error(`publish: ${r.status} ${await r.text()}`);
  return identifier;
}

async function signIn(page, token) {
  await page.fill('#token', token);
  await page.click('#login-form button[type=submit]');
}

async function noHorizontalScroll(page, what) {
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  check(width <= 1366, `${what}: fits 1366 px wide (scrollWidth ${width})`);
}

async function main() {
  startGateway();
  await waitFor(servicesReady, 'the departments to register', 30000);

  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const viewRequests = [];
  page.on('request', (r) => { if (r.url().includes('/api/v1/persons/')) viewRequests.push(r.url()); });

  try {
    // --- sign in ---
    await page.goto(url);
    await page.waitForSelector('#login:not([hidden])');
    await signIn(page, 'wrong-token');
    await page.waitForFunction(() => document.querySelector('#login-error').textContent.length > 0);
    check(await page.isVisible('#login'), 'a bad token is refused');
    await signIn(page, CLERK);
    await page.waitForSelector('#page-person:not([hidden])');
    check(await page.evaluate(() => sessionStorage.getItem('onenet.token')) === CLERK,
      'the token is kept in sessionStorage');
    check(!(await page.isVisible('#nav a[data-page=alerts]')), 'a clerk sees no alerts page');

    // --- person view ---
    const bad = person.slice(0, 17) + (person[17] === '0' ? '1' : '0');
    await page.fill('#resident-id', bad);
    await page.fill('#purpose', '窗口办理测试 window test');
    await page.click('#person-form button[type=submit]');
    await page.waitForFunction(() => document.querySelector('#person-error').textContent.length > 0);
    const why = await page.textContent('#person-error');
    check(/check digit/.test(why) && viewRequests.length === 0,
      `a wrong check digit is refused in the browser, nothing sent (${why})`);
    await page.fill('#resident-id', person.toLowerCase());
    await page.click('#person-form button[type=submit]');
    await page.waitForSelector('#sections .card >> nth=3');
    const cards = await page.$$eval('#sections .card', (nodes) =>
      nodes.map((n) => ({ department: n.dataset.department, cls: n.className })));
    check(cards.length === 4, `one card per department (${cards.map((c) => c.department).join(', ')})`);
    check(cards.find((c) => c.department === 'public_security').cls.includes('status-ok'),
      'public security card is coloured OK');
    check((await page.textContent('#conflicts')).includes('name'), 'the name conflict is listed');
    check((await page.$$('[data-department=civil_affairs] tr.conflict')).length > 0,
      'conflicting fields are highlighted in the cards');
    await noHorizontalScroll(page, 'person view');
    await page.screenshot({ path: `${artifacts}/console-person.png`, fullPage: true });

    // --- system page ---
    await page.click('#nav a[data-page=system]');
    await page.waitForSelector('#services tr[data-service="ps.view.person"]');
    check(await page.isVisible('#services .badge.health-ok'), 'system page lists instances and health');
    await noHorizontalScroll(page, 'system page');
    await page.screenshot({ path: `${artifacts}/console-system.png`, fullPage: true });

    // --- alerts board (coordinator) ---
    await page.click('#logout');
    await page.waitForSelector('#login:not([hidden])');
    await signIn(page, COORDINATOR);
    await page.waitForSelector('#page-alerts:not([hidden])');
    await page.waitForFunction(() => /Live/.test(document.querySelector('#stream-state').textContent));
    const first = await publish('Extreme');
    await page.waitForSelector(`li[data-identifier="${first}"]`, { timeout: 10000 });
    check(true, 'an alert published elsewhere appears live (SSE)');
    check(await page.$eval(`li[data-identifier="${first}"]`, (n) => n.classList.contains('sev-extreme')),
      'severity colour');
    const second = await publish('Minor');
    await page.waitForSelector(`li[data-identifier="${second}"]`, { timeout: 10000 });
    await page.click(`li[data-identifier="${first}"]`);
    await page.waitForSelector('#alert-detail #ack-button');
    check((await page.textContent('#alert-detail')).includes('Do not forward'), 'details show the instruction');
    await page.screenshot({ path: `${artifacts}/console-alerts.png`, fullPage: true });
    await page.click('#ack-button');
    await page.waitForSelector(`li.acked[data-identifier="${first}"]`);
    const order = await page.$$eval('#alert-list li', (nodes) => nodes.map((n) => n.dataset.identifier));
    check(order.indexOf(second) < order.indexOf(first), 'acknowledged alert moves below the open ones');
    await noHorizontalScroll(page, 'alerts board');

    // --- the gateway goes away and comes back ---
    await stopGateway();
    await page.waitForSelector('#reconnecting:not([hidden])', { timeout: 10000 });
    check(true, 'reconnecting banner while the gateway is down');
    await page.screenshot({ path: `${artifacts}/console-reconnecting.png`, fullPage: true });
    startGateway();
    await waitFor(servicesReady, 'the gateway to come back');
    await page.waitForSelector('#reconnecting', { state: 'hidden', timeout: 15000 });
    const third = await publish('Severe');
    await page.waitForSelector(`li[data-identifier="${third}"]`, { timeout: 10000 });
    check(true, 'the stream resumes after the gateway restarts');

    check(errors.length === 0, `no script errors (${errors.join('; ')})`);
  } catch (e) {
    await page.screenshot({ path: `${artifacts}/console-failure.png`, fullPage: true }).catch(() => {});
    throw e;
  } finally {
    await browser.close();
    if (gateway) await stopGateway();
  }
}

main().then(() => process.exit(0), (e) => {
  console.error(`not ok - ${e.message}`);
  if (gateway) gateway.kill('SIGKILL');
  process.exit(1);
});
