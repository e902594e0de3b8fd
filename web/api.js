// api.js - the gateway's API with the user's bearer token, kept in
// sessionStorage (this tab only). Errors are thrown as ApiError with the
// gateway's typed status and message.

const TOKEN_KEY = 'onenet.token';

export class ApiError extends Error {
  constructor(httpStatus, status, message) {
    super(message);
    this.httpStatus = httpStatus;
    this.status = status;
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export async function api(path, { method = 'GET', body, contentType } = {}) {
  const headers = { Authorization: `Bearer ${token() || ''}` };
  if (body !== undefined) headers['Content-Type'] = contentType || 'application/json';
  let response;
  try {
    response = await fetch(`/api/v1${path}`, { method, headers, body });
  } catch (e) {
    throw new ApiError(0, 'UNAVAILABLE', `网关无法连接 Gateway unreachable: ${e.message}`);
  }
  let json = null;
  try {
    json = await response.json();
  } catch (e) {
    throw new ApiError(response.status, 'INTERNAL', `响应不是 JSON Response is not JSON (${response.status})`);
  }
  if (!response.ok) throw new ApiError(response.status, json.status, json.message);
  return json;
}

// The alert stream's URL: EventSource cannot send headers, so the token
// goes as access_token (the only endpoint that takes it so).
export function streamUrl(params) {
  const query = new URLSearchParams(params);
  query.set('access_token', token() || '');
  return `/api/v1/alerts/stream?${query}`;
}
