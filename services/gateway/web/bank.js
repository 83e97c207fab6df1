// Praktikbanken: employers gone cold (the coordinator's call list), and the
// matches of a placement need with the reasons for each.
import { api, el, param, showError } from './api.js';

async function callList() {
  const { json } = await api('GET', '/v1/employers:cold');
  const employers = json.employers || [];
  return el('section', { 'aria-labelledby': 'cold-title' },
    el('h2', { id: 'cold-title' }, 'Ringlista: arbetsgivare som kallnat'),
    el('p', {}, `Arbetsgivare utan kontakt på minst ${json.minDaysWithoutContact} dagar, längst först.`),
    el('table', { id: 'call-list' },
      el('caption', {}, `${employers.length} arbetsgivare att ringa`),
      el('thead', {}, el('tr', {}, ['Arbetsgivare', 'Bransch', 'Senaste kontakt']
        .map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, employers.map((cold) => el('tr', {},
        el('td', {}, cold.employer.displayName),
        el('td', {}, cold.employer.industry || '–'),
        el('td', {}, cold.neverContacted ? 'Aldrig kontaktad'
          : `${cold.daysWithoutContact} dagar sedan`))))));
}

function matchForm(need) {
  const input = el('input', { id: 'need', name: 'need', type: 'text', value: need, size: 50,
    required: true, autocomplete: 'off' });
  return el('form', { method: 'get', action: '/bank.html' },
    el('label', { for: 'need' }, 'Behov (placementNeeds/…) '), input, ' ',
    el('button', { type: 'submit' }, 'Visa matchningar'));
}

async function matches(need) {
  const { json } = await api('GET', `/v1/${need}:matchPlacements`);
  const list = json.matches || [];
  return el('section', { 'aria-labelledby': 'match-title', id: 'matches' },
    el('h2', { id: 'match-title' }, 'Matchningar'),
    el('p', {}, `${list.length} bästa av ${json.considered} prövade platser.`),
    el('ol', {}, list.map((match) => el('li', {},
      el('strong', {}, match.title), ` – ${match.employer}, `,
      `${Math.round(match.score)} poäng`,
      el('ul', { class: 'reasons' }, (match.parts || []).map((part) =>
        el('li', {}, `${part.reason} (${part.points} av ${part.maxPoints})`)))))),
    (json.excluded || []).length === 0 ? null : el('details', {},
      el('summary', {}, `${json.excluded.length} uteslutna platser`),
      el('ul', {}, json.excluded.map((x) => el('li', {}, `${x.placement}: ${x.reason}`)))));
}

async function main() {
  const content = document.getElementById('content');
  const need = param('need');
  try {
    const parts = [await callList(), el('section', { 'aria-labelledby': 'need-title' },
      el('h2', { id: 'need-title' }, 'Matcha ett behov'), matchForm(need))];
    if (need.startsWith('placementNeeds/')) parts.push(await matches(need));
    content.replaceChildren(...parts);
  } catch (error) {
    showError(error);
  }
}

main();
