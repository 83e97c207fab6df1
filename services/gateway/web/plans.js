// Mina planer: the plans the caller's organization leads or takes part in.
import { api, el, showError, PLAN_STATUS, time } from './api.js';

async function main() {
  const content = document.getElementById('content');
  try {
    const { json } = await api('GET', '/v1/plans?pageSize=100');
    const plans = json.plans || [];
    if (plans.length === 0) {
      content.replaceChildren(el('p', {}, 'Inga planer som din organisation får se.'));
      return;
    }
    const rows = plans.map((plan) =>
      el('tr', {},
        el('td', {}, el('a', { href: `/plan.html?name=${encodeURIComponent(plan.name)}` }, plan.name)),
        el('td', {}, PLAN_STATUS[plan.status] || plan.status),
        el('td', {}, plan.leadOrganization),
        el('td', {}, time(plan.updateTime))));
    content.replaceChildren(el('table', {},
      el('caption', {}, `${plans.length} planer`),
      el('thead', {}, el('tr', {},
        el('th', { scope: 'col' }, 'Plan'), el('th', { scope: 'col' }, 'Status'),
        el('th', { scope: 'col' }, 'Leds av'), el('th', { scope: 'col' }, 'Senast ändrad'))),
      el('tbody', {}, rows)));
  } catch (error) {
    showError(error);
  }
}

main();
