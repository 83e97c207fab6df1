// The OpenAPI document the gateway serves, checked by a validator nobody here
// wrote, and complete: every annotated call of every service is in it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import SwaggerParser from '@apidevtools/swagger-parser';
import { call } from './support.mjs';

test('the OpenAPI document is valid OpenAPI 3 and covers every service', async () => {
  const r = await call('GET', '/openapi.json');
  assert.equal(r.status, 200);
  const api = await SwaggerParser.validate(structuredClone(r.json));
  assert.match(api.openapi, /^3\./);
  const operations = Object.values(api.paths).flatMap((item) => Object.values(item))
    .filter((op) => op.operationId);
  const ids = new Set(operations.map((op) => op.operationId));
  for (const id of ['CasePlanService_GetPlan', 'CasePlanService_UpdatePlan',
    'IdentityService_ListAccessLog', 'PlacementService_ListColdEmployers',
    'PlacementService_MatchPlacements', 'EventService_Subscribe', 'EventService_ListEvents']) {
    assert.ok(ids.has(id), `${id} is missing`);
  }
  assert.equal(operations.length, 90);
  // Descriptions come from the proto comments.
  const getPlan = api.paths['/v1/plans/{plans_id}'].get;
  assert.match(getPlan.summary, /Returns one plan/);
  assert.ok(api.components.schemas['samplan.caseplan.v1.Plan'].properties.etag.description);
});
