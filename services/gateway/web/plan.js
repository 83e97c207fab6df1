// One plan: goals and sub-goals, activities and who does what, the journal and
// the revisions. A sub-goal's or an activity's status is changed with the plan's
// etag; when someone else changed the plan first, the page shows what changed
// and offers to redo the change. Changes by others arrive over the event stream.
import { api, ApiError, el, param, notice, showError, follow, PROGRESS, PLAN_STATUS, date, time }
  from './api.js';

const name = param('name');
let plan = null;   // as last read
let etag = '';

function statusSelect(id, label, value) {
  return [
    el('label', { for: id, class: 'sr-only' }, label),
    el('select', { id, name: id },
      Object.entries(PROGRESS).map(([key, text]) =>
        el('option', { value: key, selected: key === value }, text))),
  ];
}

// What differs between two versions of the plan, in words.
function differences(before, after) {
  const out = [];
  const goals = new Map((before.goals || []).map((g) => [g.id, g]));
  for (const goal of after.goals || []) {
    const old = goals.get(goal.id);
    if (!old) { out.push(`Nytt mål: ${goal.description}`); continue; }
    if (old.status !== goal.status) {
      out.push(`Målet "${goal.description}": ${PROGRESS[old.status]} → ${PROGRESS[goal.status]}`);
    }
    const subs = new Map((old.subGoals || []).map((s) => [s.id, s]));
    for (const sub of goal.subGoals || []) {
      const was = subs.get(sub.id);
      if (!was) out.push(`Nytt delmål: ${sub.description}`);
      else if (was.status !== sub.status) {
        out.push(`Delmålet "${sub.description}": ${PROGRESS[was.status]} → ${PROGRESS[sub.status]}`);
      } else if (was.description !== sub.description) {
        out.push(`Delmålet "${was.description}" heter nu "${sub.description}"`);
      }
    }
  }
  const acts = new Map((before.activities || []).map((a) => [a.id, a]));
  for (const act of after.activities || []) {
    const was = acts.get(act.id);
    if (!was) out.push(`Ny insats: ${act.description}`);
    else if (was.status !== act.status) {
      out.push(`Insatsen "${act.description}": ${PROGRESS[was.status]} → ${PROGRESS[act.status]}`);
    }
  }
  if (before.overallGoalDescription !== after.overallGoalDescription) {
    out.push(`Övergripande mål: "${before.overallGoalDescription}" → "${after.overallGoalDescription}"`);
  }
  if (before.status !== after.status) {
    out.push(`Planens status: ${PLAN_STATUS[before.status]} → ${PLAN_STATUS[after.status]}`);
  }
  if ((after.notes || []).length > (before.notes || []).length) {
    out.push(`${after.notes.length - before.notes.length} nya anteckningar i journalen`);
  }
  return out.length ? out : ['Andra uppgifter i planen ändrades.'];
}

// Sends one change: `apply(plan)` returns the fields to PATCH. On a stale etag,
// shows what changed meanwhile and lets the user redo the change.
async function save(apply, what) {
  const base = plan;
  try {
    const { json, etag: fresh } = await api('PATCH', `/v1/${name}`,
      { body: apply(structuredClone(base)), ifMatch: etag });
    plan = json;
    etag = fresh;
    await render();
    notice(`Sparat: ${what}.`);
  } catch (error) {
    if (error instanceof ApiError && error.status === 409) {
      const { json: current, etag: currentEtag } = await api('GET', `/v1/${name}`);
      const changes = differences(base, current);
      plan = current;
      etag = currentEtag;
      await render();
      const box = el('div', { class: 'conflict', role: 'alert', id: 'conflict' },
        el('h2', {}, 'Någon annan ändrade planen samtidigt'),
        el('p', {}, `Din ändring (${what}) sparades inte. Detta ändrades:`),
        el('ul', {}, changes.map((c) => el('li', {}, c))),
        el('button', { type: 'button', onclick: () => { box.remove(); save(apply, what); } },
          'Gör om min ändring'),
        ' ',
        el('button', { type: 'button', class: 'secondary', onclick: () => box.remove() },
          'Behåll deras'));
      document.getElementById('content').prepend(box);
      box.querySelector('button').focus();
      return;
    }
    notice('');
    showError(error);
  }
}

function goalSection() {
  return el('section', { 'aria-labelledby': 'goals-title' },
    el('h2', { id: 'goals-title' }, 'Mål och delmål'),
    (plan.goals || []).length === 0 ? el('p', {}, 'Inga mål ännu.') : null,
    (plan.goals || []).map((goal, g) => el('div', { class: 'goal' },
      el('h3', {}, goal.description),
      el('p', {}, 'Status: ', el('span', { class: 'status-chip' }, PROGRESS[goal.status]),
        ` · Måldatum ${date(goal.targetDate)}`),
      el('ul', { class: 'subgoals' }, (goal.subGoals || []).map((sub, s) => {
        const id = `subgoal-${goal.id}-${sub.id}`;
        return el('li', { 'data-subgoal': sub.id },
          el('span', { class: 'text' }, sub.description, ' ',
            el('span', { class: 'muted' }, `(${date(sub.targetDate)})`)),
          el('span', { class: 'status-chip', 'data-status': sub.status }, PROGRESS[sub.status]),
          statusSelect(id, `Ny status för delmålet ${sub.description}`, sub.status),
          el('button', {
            type: 'button',
            onclick: () => {
              const value = document.getElementById(id).value;
              save((p) => {
                const target = p.goals.find((x) => x.id === goal.id)
                  .subGoals.find((x) => x.id === sub.id);
                target.status = value;
                return { goals: p.goals };
              }, `delmålet "${sub.description}" är ${PROGRESS[value].toLowerCase()}`);
            },
          }, 'Spara', el('span', { class: 'sr-only' }, ` status för ${sub.description}`)));
      })))));
}

function activitySection() {
  const acts = plan.activities || [];
  return el('section', { 'aria-labelledby': 'acts-title' },
    el('h2', { id: 'acts-title' }, 'Insatser – vem gör vad'),
    el('table', {},
      el('caption', {}, `${acts.length} insatser`),
      el('thead', {}, el('tr', {}, ['Insats', 'Ansvarig', 'Period', 'Status', 'Ändra status']
        .map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, acts.map((act) => {
        const id = `activity-${act.id}`;
        return el('tr', { 'data-activity': act.id },
          el('td', {}, act.description || act.kind),
          el('td', {}, act.responsibleOrganization, act.responsibleUser ? ` (${act.responsibleUser})` : ''),
          el('td', {}, `${date(act.startDate)} – ${date(act.endDate)}`),
          el('td', {}, el('span', { class: 'status-chip' }, PROGRESS[act.status])),
          el('td', {}, statusSelect(id, `Ny status för insatsen ${act.description}`, act.status),
            ' ',
            el('button', {
              type: 'button',
              onclick: () => {
                const value = document.getElementById(id).value;
                save((p) => {
                  p.activities.find((x) => x.id === act.id).status = value;
                  return { activities: p.activities };
                }, `insatsen "${act.description}" är ${PROGRESS[value].toLowerCase()}`);
              },
            }, 'Spara', el('span', { class: 'sr-only' }, ` status för ${act.description}`))));
      }))),
    el('h3', {}, 'Deltagande organisationer'),
    el('ul', {}, (plan.participants || []).map((p) =>
      el('li', {}, p.organization, p.roleDescription ? `: ${p.roleDescription}` : ''))));
}

function journalSection() {
  const notes = plan.notes || [];
  return el('section', { 'aria-labelledby': 'journal-title' },
    el('h2', { id: 'journal-title' }, 'Journal'),
    notes.length === 0 ? el('p', {}, 'Inga anteckningar.') : el('ol', {}, notes.map((n) =>
      el('li', {}, el('p', {}, n.text),
        el('p', { class: 'muted' }, `${n.authorOrganization} · ${time(n.createTime)}`)))));
}

async function revisionSection() {
  const section = el('section', { 'aria-labelledby': 'rev-title' },
    el('h2', { id: 'rev-title' }, 'Versioner'));
  try {
    const { json } = await api('GET', `/v1/${name}/revisions?pageSize=20`);
    section.append(el('ol', {}, (json.revisions || []).map((r) => el('li', {},
      `${time(r.createTime)}: ${r.actorOrganization} ändrade `,
      (r.changedFields || []).join(', ') || 'planen'))));
  } catch {
    section.append(el('p', {}, 'Versionerna kunde inte hämtas.'));
  }
  return section;
}

async function render() {
  document.getElementById('title').textContent = `Handlingsplan ${plan.name}`;
  const content = document.getElementById('content');
  const conflict = document.getElementById('conflict');
  const summary = el('section', { 'aria-labelledby': 'summary-title' },
    el('h2', { id: 'summary-title' }, 'Översikt'),
    el('dl', {},
      el('dt', {}, 'Status'), el('dd', { id: 'plan-status' }, PLAN_STATUS[plan.status]),
      el('dt', {}, 'Övergripande mål'), el('dd', {}, plan.overallGoalDescription || '–'),
      el('dt', {}, 'Leds av'), el('dd', {}, plan.leadOrganization),
      el('dt', {}, 'Nästa uppföljning'), el('dd', {}, date(plan.nextReviewDate)),
      el('dt', {}, 'Version'), el('dd', { id: 'plan-version' }, String(plan.version))),
    el('p', {}, el('a', { href: `/seen.html?person=${encodeURIComponent(plan.person)}` },
      'Vem har sett personens uppgifter')));
  content.replaceChildren(...[conflict, summary, goalSection(), activitySection(),
    journalSection(), await revisionSection()].filter(Boolean));
}

async function load() {
  const { json, etag: fresh } = await api('GET', `/v1/${name}`);
  plan = json;
  etag = fresh;
  await render();
}

async function main() {
  if (!name.startsWith('plans/')) {
    showError(new ApiError(404, null));
    return;
  }
  try {
    await load();
  } catch (error) {
    showError(error);
    return;
  }
  follow(async (event) => {
    if (event.aggregate !== name || !event.type.startsWith('caseplan.')) return;
    if (Number(event.aggregateVersion || 0) && Number(event.aggregateVersion) <= Number(plan.version)) return;
    try {
      await load();
      notice(`Planen ändrades av ${event.actingOrganization} (${time(event.occurredAt)}).`);
    } catch (error) {
      showError(error);
    }
  });
}

main();
