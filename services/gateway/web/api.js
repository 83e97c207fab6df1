// Calls to the gateway's HTTP/JSON API, and small helpers the pages share.
// Text reaches the page only through textContent: nothing from the API is
// parsed as HTML.

function cookie(name) {
  for (const part of document.cookie.split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return rest.join('=');
  }
  return '';
}

// An answer other than 2xx: `status` is the HTTP status, `body` the
// google.rpc.Status the gateway sent.
export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

// Calls the API; returns { json, etag }. Writes carry the CSRF token that the
// sign-in set, as the gateway asks of cookie-authenticated writes.
export async function api(method, path, { body, ifMatch } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET') headers['X-CSRF-Token'] = cookie('samplan_csrf');
  if (ifMatch) headers['If-Match'] = ifMatch;
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
  const text = await response.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = null; }
  if (!response.ok) throw new ApiError(response.status, json);
  return { json, etag: response.headers.get('ETag') };
}

// Builds an element: el('p', { class: 'x' }, 'text', child, ...).
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function param(name) {
  return new URLSearchParams(window.location.search).get(name) || '';
}

export function notice(text) {
  document.getElementById('notice').textContent = text;
}

// Replaces the page's content with what went wrong, in words a caseworker
// understands; nothing of the data is shown.
export function showError(error) {
  const content = document.getElementById('content');
  let text = 'Något gick fel. Försök igen om en stund.';
  let link = null;
  if (error instanceof ApiError) {
    if (error.status === 401) {
      text = 'Du är inte inloggad.';
      link = el('a', { href: '/signin' }, 'Logga in');
    } else if (error.status === 403) {
      text = 'Du har inte behörighet att se det här. Personen har inte gett samtycke till att din organisation ser uppgifterna, eller så finns de inte.';
    } else if (error.status === 400) {
      text = `Uppgifterna kunde inte användas: ${error.message}`;
    } else if (error.status === 404) {
      text = 'Det finns inget här.';
    }
  }
  content.replaceChildren(el('div', { class: 'error', role: 'alert' }, el('p', {}, text), link));
}

export const PROGRESS = {
  PROGRESS_STATUS_PLANNED: 'Planerad',
  PROGRESS_STATUS_IN_PROGRESS: 'Pågår',
  PROGRESS_STATUS_DONE: 'Klar',
  PROGRESS_STATUS_CANCELLED: 'Avbruten',
};

export const PLAN_STATUS = {
  PLAN_STATUS_UNSPECIFIED: 'Okänd',
  PLAN_STATUS_DRAFT: 'Utkast',
  PLAN_STATUS_ACTIVE: 'Aktiv',
  PLAN_STATUS_ON_HOLD: 'Vilande',
  PLAN_STATUS_COMPLETED: 'Avslutad',
  PLAN_STATUS_CANCELLED: 'Avbruten',
};

export function date(value) {
  if (!value || !value.year) return '–';
  const pad = (n) => String(n).padStart(2, '0');
  return `${value.year}-${pad(value.month)}-${pad(value.day)}`;
}

export function time(value) {
  if (!value) return '–';
  return new Date(value).toLocaleString('sv-SE');
}

// Follows the event stream; calls `onEvent(event)` for each event. The browser
// reconnects by itself with the last id as the cursor.
export function follow(onEvent) {
  const source = new EventSource('/v1/events:stream');
  source.onmessage = (message) => {
    let data;
    try { data = JSON.parse(message.data); } catch { return; }
    for (const delivered of data.events || []) {
      if (delivered.event) onEvent(delivered.event);
    }
  };
  return source;
}
