// What the tests share: the gateway's address, the demo's tokens, one HTTP call.
import { readFileSync } from 'node:fs';

export const GATEWAY = process.env.GATEWAY;
export const PLAN3 = process.env.PLAN3;
export const NEED = process.env.NEED;

export function token(agency) {
  return readFileSync(`${process.env.TOKENS}/${agency}.jwt`, 'utf8').trim();
}

// One request; returns { status, headers, json, text }.
export async function call(method, path, { as, body, headers = {}, raw } = {}) {
  const h = { ...headers };
  if (as) h.Authorization = `Bearer ${token(as)}`;
  let payload;
  if (raw !== undefined) payload = raw;
  else if (body !== undefined) payload = JSON.stringify(body);
  if (payload !== undefined) h['Content-Type'] = 'application/json';
  const response = await fetch(`${GATEWAY}${path}`, { method, headers: h, body: payload });
  const text = await response.text();
  let json = null;
  try { json = JSON.parse(text); } catch { json = null; }
  return { status: response.status, headers: response.headers, json, text };
}

// A plan soc leads and af may see (af takes part, with the person's consent).
export async function sharedPlan() {
  const soc = await call('GET', '/v1/plans?pageSize=100', { as: 'soc' });
  const af = await call('GET', '/v1/plans?pageSize=100', { as: 'af' });
  const seen = new Set((af.json.plans || []).map((p) => p.name));
  const plan = soc.json.plans.find((p) => seen.has(p.name) && p.name !== PLAN3 &&
    (p.goals || []).some((g) => (g.subGoals || []).length > 0));
  if (!plan) throw new Error('the demo has no plan that soc leads and af sees, with a sub-goal');
  return plan;
}
