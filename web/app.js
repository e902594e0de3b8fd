// app.js - the console's shell: sign-in with a token (checked with
// GET /api/v1/me), the pages the user's role may open, a hash router
// (#/person, #/alerts, #/system). Each page module exports enter() and
// leave() so a page stops its stream or timer when left.

import { api, setToken, token } from './api.js';
import * as person from './person.js';
import * as alerts from './alerts.js';
import * as system from './system.js';

const pages = { person, alerts, system };
const $ = (id) => document.getElementById(id);
let me = null;
let current = null;

function allowedPages() {
  return [...document.querySelectorAll('#nav a')]
    .filter((a) => a.dataset.roles.split(' ').includes(me.role))
    .map((a) => a.dataset.page);
}

function route() {
  if (!me) return;
  const allowed = allowedPages();
  let name = location.hash.replace(/^#\//, '');
  if (!allowed.includes(name)) name = allowed[0];
  if (!name) {
    showLogin(`角色 ${me.role} 没有可用页面 · Role ${me.role} has no console page`);
    return;
  }
  if (current && current !== name) pages[current].leave();
  for (const key of Object.keys(pages)) $(`page-${key}`).hidden = key !== name;
  for (const a of document.querySelectorAll('#nav a'))
    a.classList.toggle('active', a.dataset.page === name);
  if (current !== name) {
    current = name;
    pages[name].enter(me);
  }
}

function showLogin(message = '') {
  if (current) pages[current].leave();
  current = null;
  me = null;
  $('login').hidden = false;
  $('nav').hidden = true;
  $('whoami').hidden = true;
  for (const key of Object.keys(pages)) $(`page-${key}`).hidden = true;
  $('login-error').textContent = message;
  $('token').focus();
}

async function signIn() {
  try {
    me = await api('/me');
  } catch (e) {
    setToken(null);
    showLogin(e.httpStatus === 401 ? '令牌无效 · Invalid token' : e.message);
    return;
  }
  $('login').hidden = true;
  $('nav').hidden = false;
  $('whoami').hidden = false;
  $('user-label').textContent = `${me.user} · ${me.department} · ${me.role}`;
  for (const a of document.querySelectorAll('#nav a'))
    a.hidden = !a.dataset.roles.split(' ').includes(me.role);
  route();
}

// Any page that meets a 401 (token revoked, gateway restarted with other
// users) sends the user back to sign in.
window.addEventListener('onenet:unauthorized', () => {
  setToken(null);
  showLogin('会话已失效，请重新登录 · Session expired, sign in again');
});

$('login-form').addEventListener('submit', (event) => {
  event.preventDefault();
  setToken($('token').value.trim());
  $('token').value = '';
  signIn();
});
$('logout').addEventListener('click', () => {
  setToken(null);
  showLogin();
  history.replaceState(null, '', location.pathname);   // the next user starts on their own page
});
window.addEventListener('hashchange', route);

if (token()) signIn();
else showLogin();
