// The HTTP/JSON API through the real gateway in front of the real services:
// paths, query parameters, bodies, the PATCH mask, etags, the error mapping,
// bad input, and the event stream with resume.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { call, sharedPlan, token, GATEWAY, PLAN3, NEED } from './support.mjs';

function detail(json, type) {
  return (json.details || []).find((d) => d['@type'] === `type.googleapis.com/google.rpc.${type}`);
}

test('health answers without a token', async () => {
  const r = await call('GET', '/healthz');
  assert.equal(r.status, 200);
});

test('no token, or a bad one, gets 401 and no data', async () => {
  const none = await call('GET', '/v1/plans');
  assert.equal(none.status, 401);
  assert.equal(none.json.code, 16);
  assert.equal(none.json.plans, undefined);
  const bad = await call('GET', '/v1/plans', { headers: { Authorization: 'Bearer not.a.token' } });
  assert.equal(bad.status, 401);
  assert.equal(bad.json.code, 16);
  assert.ok(!bad.text.includes('plans/'));
});

test('an unknown path is 404 and a wrong method 405, both as google.rpc.Status', async () => {
  const missing = await call('GET', '/v1/nothing/here', { as: 'soc' });
  assert.equal(missing.status, 404);
  assert.equal(missing.json.code, 5);
  const plan = await sharedPlan();
  const put = await call('PUT', `/v1/${plan.name}`, { as: 'soc', body: {} });
  assert.equal(put.status, 405);
  assert.equal(put.headers.get('allow'), 'GET, PATCH');
  assert.equal(typeof put.json.message, 'string');
});

test('caseplan: list with query parameters, get with an ETag', async () => {
  const page = await call('GET', '/v1/plans?pageSize=1', { as: 'soc' });
  assert.equal(page.status, 200);
  assert.equal(page.json.plans.length, 1);
  assert.ok(page.json.nextPageToken);
  const next = await call('GET', `/v1/plans?pageSize=1&pageToken=${encodeURIComponent(page.json.nextPageToken)}`, { as: 'soc' });
  assert.equal(next.status, 200);
  assert.notEqual(next.json.plans[0].name, page.json.plans[0].name);
  const plan = await sharedPlan();
  const got = await call('GET', `/v1/${plan.name}`, { as: 'soc' });
  assert.equal(got.status, 200);
  assert.equal(got.json.name, plan.name);
  assert.equal(got.headers.get('etag'), `"${got.json.etag}"`);
});

test('caseplan: PATCH fills the mask from the body, If-Match guards it, a stale etag is 409', async () => {
  const plan = await sharedPlan();
  const before = await call('GET', `/v1/${plan.name}`, { as: 'soc' });
  const text = `Egen försörjning (http test ${Date.now()})`;
  const patched = await call('PATCH', `/v1/${plan.name}`, {
    as: 'soc', body: { overallGoalDescription: text }, headers: { 'If-Match': before.headers.get('etag') },
  });
  assert.equal(patched.status, 200, patched.text);
  assert.equal(patched.json.overallGoalDescription, text);
  assert.equal(Number(patched.json.version), Number(before.json.version) + 1);
  // Only the field in the body changed: the goals are as they were.
  assert.deepEqual(patched.json.goals, before.json.goals);
  const stale = await call('PATCH', `/v1/${plan.name}`, {
    as: 'soc', body: { overallGoalDescription: 'stale' }, headers: { 'If-Match': before.headers.get('etag') },
  });
  assert.equal(stale.status, 409);
  assert.equal(stale.json.code, 10);
  assert.ok(detail(stale.json, 'PreconditionFailure'), stale.text);
  const after = await call('GET', `/v1/${plan.name}`, { as: 'soc' });
  assert.equal(after.json.overallGoalDescription, text);
});

test('bad input is 400 naming the field, and changes nothing', async () => {
  const plan = await sharedPlan();
  const before = await call('GET', `/v1/${plan.name}`, { as: 'soc' });
  const cases = [
    ['{"overallGoalDescription": ', 'plan'],                 // malformed JSON
    ['{"status": "PLAN_STATUS_SOMEDAY"}', 'plan'],           // unknown enum name
    ['{"colour": "red"}', 'plan'],                           // unknown field
    ['{"goals": "many"}', 'plan'],                           // wrong type
  ];
  for (const [raw, field] of cases) {
    const r = await call('PATCH', `/v1/${plan.name}`, { as: 'soc', raw });
    assert.equal(r.status, 400, raw);
    assert.equal(r.json.code, 3);
    assert.equal(detail(r.json, 'BadRequest').fieldViolations[0].field, field, raw);
  }
  const unknownParameter = await call('GET', '/v1/plans?colour=red', { as: 'soc' });
  assert.equal(unknownParameter.status, 400);
  assert.equal(detail(unknownParameter.json, 'BadRequest').fieldViolations[0].field, 'colour');
  const badEnum = await call('GET', '/v1/plans?status=SOMEDAY', { as: 'soc' });
  assert.equal(badEnum.status, 400);
  // The service's own validation comes through with its field.
  const serviceSays = await call('PATCH', `/v1/${plan.name}`, { as: 'soc', body: { status: 'PLAN_STATUS_UNSPECIFIED' } });
  assert.equal(serviceSays.status, 400, serviceSays.text);
  const after = await call('GET', `/v1/${plan.name}`, { as: 'soc' });
  assert.equal(after.json.version, before.json.version);
});

test('a 20 MB body is refused with 413 and the gateway goes on serving', async () => {
  const plan = await sharedPlan();
  const huge = JSON.stringify({ overallGoalDescription: 'x'.repeat(20 * 1024 * 1024) });
  const r = await call('PATCH', `/v1/${plan.name}`, { as: 'soc', raw: huge });
  assert.equal(r.status, 413);
  assert.equal(r.json.code, 8);
  const still = await call('GET', `/v1/${plan.name}`, { as: 'soc' });
  assert.equal(still.status, 200);
});

test('403 for a plan without consent, whether or not it exists', async () => {
  const refused = await call('GET', `/v1/${PLAN3}`, { as: 'fk' });
  assert.equal(refused.status, 403);
  assert.equal(refused.json.code, 7);
  assert.ok(!refused.text.includes('goals'));
  const missing = await call('GET', '/v1/plans/00000000-0000-4000-8000-000000000000', { as: 'fk' });
  assert.equal(missing.status, 403);
});

test('x-request-id passes through and grpc-timeout becomes the deadline', async () => {
  const r = await call('GET', '/v1/plans?pageSize=1', { as: 'soc', headers: { 'x-request-id': 'gateway-test-42' } });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('x-request-id'), 'gateway-test-42');
  const late = await call('GET', '/v1/plans?pageSize=1', { as: 'soc', headers: { 'grpc-timeout': '1n' } });
  assert.equal(late.status, 504);
  assert.equal(late.json.code, 4);
});

test('identity: path variables, query parameters and a body', async () => {
  const plan = await sharedPlan();
  const log = await call('GET', `/v1/${plan.person}/accessLog?pageSize=5`, { as: 'soc' });
  assert.equal(log.status, 200, log.text);
  assert.ok(log.json.entries.length > 0);
  assert.ok(log.json.entries.length <= 5);
  const municipality = await call('GET', '/v1/municipalities/1885', { as: 'admin' });
  assert.equal(municipality.status, 200, municipality.text);
  assert.equal(municipality.json.name, 'municipalities/1885');
  const lookup = await call('POST', '/v1/persons:lookup', { as: 'soc', body: { identityNumber: '19000101-0000', purpose: 'coordination' } });
  assert.ok([400, 403, 404].includes(lookup.status), lookup.text);
  const access = await call('GET', `/v1/access:check?organization=organizations/lindesberg-soc&person=${plan.person}&dataCategory=plan&purpose=coordination`, { as: 'soc' });
  assert.equal(access.status, 200, access.text);
});

test('placement: the call list, a custom method with reasons, a field body', async () => {
  const cold = await call('GET', '/v1/employers:cold', { as: 'prakt' });
  assert.equal(cold.status, 200, cold.text);
  assert.ok(cold.json.employers.length > 0);
  const matches = await call('GET', `/v1/${NEED}:matchPlacements?pageSize=3`, { as: 'prakt' });
  assert.equal(matches.status, 200, matches.text);
  assert.ok(matches.json.matches.length > 0 && matches.json.matches.length <= 3);
  assert.ok(matches.json.matches[0].parts.every((p) => p.reason));
  const employer = cold.json.employers[0].employer.name;
  const contact = await call('POST', `/v1/${employer}/contacts`, {
    as: 'prakt', body: { channel: 'CONTACT_CHANNEL_PHONE', summary: 'Ringde om höstens platser' },
  });
  assert.ok([200, 400].includes(contact.status), contact.text);
  const wrongVerb = await call('POST', `/v1/${NEED}:matchPlacements`, { as: 'prakt', body: {} });
  assert.equal(wrongVerb.status, 405);
});

test('events: pages, and the stream resumes from Last-Event-ID', async () => {
  const page = await call('GET', '/v1/events?pageSize=5', { as: 'af' });
  assert.equal(page.status, 200, page.text);
  assert.ok(page.json.nextPageToken);

  // Connect, take the id of where the stream stands, disconnect.
  const first = await openStream('af');
  const start = await first.nextId();
  first.close();
  // Change the plan while af is away.
  const plan = await sharedPlan();
  const text = `Ändrad medan af var borta ${Date.now()}`;
  const patched = await call('PATCH', `/v1/${plan.name}`, { as: 'soc', body: { overallGoalDescription: text } });
  assert.equal(patched.status, 200, patched.text);
  // Resume: the change arrives, with an id to resume from after it.
  const resumed = await openStream('af', start);
  const event = await resumed.nextEvent((e) => e.event && e.event.aggregate === plan.name &&
    Number(e.event.aggregateVersion) === Number(patched.json.version));
  resumed.close();
  assert.ok(event.cursor);
  const unauthenticated = await fetch(`${GATEWAY}/v1/events:stream`);
  assert.equal(unauthenticated.status, 401);
});

// Reads Server-Sent Events frames of GET /v1/events:stream.
async function openStream(agency, lastEventId) {
  const controller = new AbortController();
  const headers = { Authorization: `Bearer ${token(agency)}`, Accept: 'text/event-stream' };
  if (lastEventId) headers['Last-Event-ID'] = lastEventId;
  const response = await fetch(`${GATEWAY}/v1/events:stream`, { headers, signal: controller.signal });
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type'), /text\/event-stream/);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  async function frame() {
    const deadline = Date.now() + 20000;
    while (!buffer.includes('\n\n')) {
      if (Date.now() > deadline) throw new Error('no frame within 20 s');
      const { value, done } = await reader.read();
      if (done) throw new Error('stream ended');
      buffer += decoder.decode(value, { stream: true });
    }
    const at = buffer.indexOf('\n\n');
    const text = buffer.slice(0, at);
    buffer = buffer.slice(at + 2);
    const out = { id: null, data: null };
    for (const line of text.split('\n')) {
      if (line.startsWith('id: ')) out.id = line.slice(4);
      if (line.startsWith('data: ')) out.data = JSON.parse(line.slice(6));
    }
    return out;
  }
  return {
    async nextId() {
      for (;;) { const f = await frame(); if (f.id) return f.id; }
    },
    async nextEvent(match) {
      for (;;) {
        const f = await frame();
        for (const e of (f.data && f.data.events) || []) if (match(e)) return e;
      }
    },
    close() { controller.abort(); },
  };
}
