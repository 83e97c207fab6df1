// The portal's pages in headless Chromium: what a caseworker sees and does.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer from 'puppeteer-core';
import { call, sharedPlan, GATEWAY, PLAN3, NEED } from './support.mjs';

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const SHOTS = process.env.SAMPLAN_SCREENSHOTS;
let browser;
let profile;

before(async () => {
  profile = mkdtempSync(join(tmpdir(), 'samplan-chromium-'));
  browser = await puppeteer.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      `--user-data-dir=${profile}`],
  });
});

after(async () => {
  await browser?.close();
  rmSync(profile, { recursive: true, force: true });
});

// A page in a browser context of its own, signed in as `agency` through the
// development sign-in.
async function signedIn(agency) {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  await page.setViewport({ width: 1200, height: 900 });
  await page.goto(`${GATEWAY}/signin`);
  await Promise.all([page.waitForNavigation(), page.click(`button[value="${agency}"]`)]);
  return page;
}

async function shot(page, name) {
  const path = join(SHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  console.log(`screenshot: ${path}`);
}

// axe-core on the page as it is: no serious or critical violation of WCAG 2.1 AA.
async function accessible(page, name) {
  // Evaluated by the DevTools protocol, which the pages' CSP does not govern.
  await page.evaluate(AXE);
  const result = await page.evaluate(() => window.axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
  }));
  const bad = result.violations.filter((v) => ['serious', 'critical'].includes(v.impact));
  assert.deepEqual(bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target).join(' ')})`), [],
    `${name} has accessibility violations`);
}

test('soc changes a sub-goal status and af sees it within a second', async () => {
  const plan = await sharedPlan();
  const soc = await signedIn('soc');
  const af = await signedIn('af');
  const url = `${GATEWAY}/plan.html?name=${encodeURIComponent(plan.name)}`;
  await soc.goto(url);
  await af.goto(url);
  const goal = plan.goals.find((g) => (g.subGoals || []).length > 0);
  const sub = goal.subGoals[0];
  const selector = `li[data-subgoal="${sub.id}"]`;
  await soc.waitForSelector(selector);
  await af.waitForSelector(selector);
  // Let af's event stream connect before the change.
  await new Promise((r) => setTimeout(r, 500));
  const current = await soc.$eval(`${selector} .status-chip`, (e) => e.dataset.status);
  const next = current === 'PROGRESS_STATUS_DONE' ? 'PROGRESS_STATUS_IN_PROGRESS' : 'PROGRESS_STATUS_DONE';
  await soc.select(`${selector} select`, next);
  const saved = soc.waitForResponse((r) => r.request().method() === 'PATCH');
  await soc.click(`${selector} button`);
  const response = await saved;
  assert.equal(response.status(), 200);
  const at = Date.now();
  await af.waitForFunction((sel, want) => document.querySelector(`${sel} .status-chip`)?.dataset.status === want,
    { timeout: 5000 }, selector, next);
  const took = Date.now() - at;
  assert.ok(took < 1000, `af saw the change after ${took} ms`);
  await soc.waitForFunction((sel, want) => document.querySelector(`${sel} .status-chip`)?.dataset.status === want,
    {}, selector, next);
  assert.match(await af.$eval('#notice', (e) => e.textContent), /ändrades av organizations\/lindesberg-soc/);
  await shot(soc, 'plan-soc');
  await shot(af, 'plan-af-live');
  await accessible(soc, 'plan.html');
  await soc.browserContext().close();
  await af.browserContext().close();
});

test('a stale etag shows what changed and the change can be redone', async () => {
  const plan = await sharedPlan();
  const soc = await signedIn('soc');
  // This page's event stream would reload the plan before the click: without
  // it, the page still holds the old etag when the user saves.
  await soc.setRequestInterception(true);
  soc.on('request', (r) => (r.url().includes('events:stream') ? r.abort() : r.continue()));
  await soc.goto(`${GATEWAY}/plan.html?name=${encodeURIComponent(plan.name)}`);
  const act = (await call('GET', `/v1/${plan.name}`, { as: 'soc' })).json.activities[0];
  const selector = `tr[data-activity="${act.id}"]`;
  await soc.waitForSelector(selector);
  const other = await call('PATCH', `/v1/${plan.name}`, { as: 'soc', body: { overallGoalDescription: `Annan ändring ${Date.now()}` } });
  assert.equal(other.status, 200);
  const next = act.status === 'PROGRESS_STATUS_DONE' ? 'PROGRESS_STATUS_PLANNED' : 'PROGRESS_STATUS_DONE';
  await soc.select(`${selector} select`, next);
  await soc.click(`${selector} button`);
  await soc.waitForSelector('#conflict', { timeout: 5000 });
  await shot(soc, 'plan-conflict');
  const text = await soc.$eval('#conflict', (e) => e.textContent);
  assert.match(text, /Någon annan ändrade planen/);
  await soc.click('#conflict button');
  await soc.waitForFunction((sel, want) => document.querySelector(`${sel} select`)?.value === want &&
    !document.getElementById('conflict'), { timeout: 5000 }, selector, next);
  const now = await call('GET', `/v1/${plan.name}`, { as: 'soc' });
  assert.equal(now.json.activities.find((a) => a.id === act.id).status, next);
  await soc.browserContext().close();
});

test('fk opening plan 3 is refused and sees nothing of it', async () => {
  const soc = (await call('GET', `/v1/${PLAN3}`, { as: 'soc' })).json;
  const fk = await signedIn('fk');
  const responses = [];
  fk.on('response', async (r) => { if (r.url().includes('/v1/')) responses.push(await r.text().catch(() => '')); });
  await fk.goto(`${GATEWAY}/plan.html?name=${encodeURIComponent(PLAN3)}`);
  await fk.waitForSelector('.error');
  const text = await fk.$eval('body', (e) => e.innerText);
  assert.match(text, /inte behörighet/);
  const secrets = [soc.person, ...(soc.goals || []).map((g) => g.description),
    ...(soc.notes || []).map((n) => n.text), soc.overallGoalDescription].filter(Boolean);
  for (const secret of secrets) {
    assert.ok(!text.includes(secret), 'the page shows part of plan 3');
    assert.ok(!responses.some((r) => r.includes(secret)), 'a response carried part of plan 3');
  }
  await shot(fk, 'plan3-fk-refused');
  await accessible(fk, 'plan.html refused');
  await fk.browserContext().close();
});

test('the call list and a matching with reasons render', async () => {
  const prakt = await signedIn('prakt');
  await prakt.goto(`${GATEWAY}/bank.html?need=${encodeURIComponent(NEED)}`);
  await prakt.waitForSelector('#call-list tbody tr');
  await prakt.waitForSelector('#matches ol > li');
  const rows = await prakt.$$eval('#call-list tbody tr', (r) => r.length);
  assert.ok(rows > 0);
  const reasons = await prakt.$$eval('#matches .reasons li', (l) => l.map((x) => x.textContent));
  assert.ok(reasons.length > 0 && reasons.every((r) => /\(\d/.test(r)), reasons.join('; '));
  await shot(prakt, 'bank');
  await accessible(prakt, 'bank.html');
  await prakt.browserContext().close();
});

test('the plan list, who has seen the data, and the sign-in are accessible', async () => {
  const plan = await sharedPlan();
  const soc = await signedIn('soc');
  await soc.waitForSelector('table tbody tr');
  await shot(soc, 'plans');
  await accessible(soc, 'index.html');
  await soc.goto(`${GATEWAY}/seen.html?person=${encodeURIComponent(plan.person)}`);
  await soc.waitForSelector('table tbody tr');
  await shot(soc, 'seen');
  await accessible(soc, 'seen.html');
  await soc.goto(`${GATEWAY}/signin`);
  await shot(soc, 'signin');
  await accessible(soc, 'signin');
  await soc.browserContext().close();
});

test('a page without sign-in shows no data, and cookie writes need the CSRF token', async () => {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  await page.goto(`${GATEWAY}/`);
  await page.waitForSelector('.error');
  assert.match(await page.$eval('body', (e) => e.innerText), /inte inloggad/);
  await context.close();
  const soc = await signedIn('soc');
  const plan = await sharedPlan();
  const status = await soc.evaluate(async (name) => (await fetch(`/v1/${name}`, {
    method: 'PATCH', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ overallGoalDescription: 'forged' }),
  })).status, plan.name);
  assert.equal(status, 403);
  await soc.browserContext().close();
});
