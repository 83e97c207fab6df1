// Vem har sett uppgifterna: the access log of one person, for the owner's
// caseworker.
import { api, el, param, showError, time } from './api.js';

const DECISION = { permitted: 'Tillåten', denied: 'Nekad', PERMIT: 'Tillåten', DENY: 'Nekad' };

async function main() {
  const person = param('person');
  const content = document.getElementById('content');
  if (!person.startsWith('persons/')) {
    content.replaceChildren(el('p', {}, 'Öppna sidan från en plan: länken "Vem har sett uppgifterna".'));
    return;
  }
  try {
    const { json } = await api('GET', `/v1/${person}/accessLog?pageSize=100`);
    const entries = json.entries || [];
    const rows = entries.map((entry) => el('tr', {},
      el('td', {}, time(entry.time)),
      el('td', {}, entry.actorOrganization),
      el('td', {}, entry.actorUser),
      el('td', {}, entry.action),
      el('td', {}, entry.dataCategory),
      el('td', {}, entry.purpose),
      el('td', {}, DECISION[entry.decision] || entry.decision),
      el('td', {}, entry.reason)));
    content.replaceChildren(
      el('p', {}, 'Varje läsning och ändring av personens uppgifter, och varje nekat försök, nyast först.'),
      el('table', {},
        el('caption', {}, `${entries.length} händelser i loggen`),
        el('thead', {}, el('tr', {}, ['Tid', 'Organisation', 'Användare', 'Åtgärd', 'Kategori',
          'Syfte', 'Beslut', 'Skäl'].map((h) => el('th', { scope: 'col' }, h)))),
        el('tbody', {}, rows)));
  } catch (error) {
    showError(error);
  }
}

main();
