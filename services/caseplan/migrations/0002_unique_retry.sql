-- One revision per (plan, request id) of UpdatePlan: retries of one request, even
-- sent at once, find the revision the first made (the lookup runs under the plan's
-- row lock); the unique index makes that a property of the table as well.
DROP INDEX plan_revisions_by_request;
CREATE UNIQUE INDEX plan_revisions_by_request ON plan_revisions (plan_id, request_id)
  WHERE request_fingerprint <> '';
