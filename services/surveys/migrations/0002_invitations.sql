-- "Vad hände sen?" invitations: the rules that make them from events, the
-- invitations themselves (one per rule, person and activity), their tokens
-- (SHA-256 only), the answers, and the notifications outbox that delivers them.
-- Applied into schema "surveys" (search_path is set).

-- When to invite, as data: "amount unit after <event_type>". A plan event
-- counts only when the plan's status became `plan_status`.
CREATE TABLE invitation_rules (
  id text PRIMARY KEY,
  event_type text NOT NULL,
  plan_status text NOT NULL DEFAULT '',
  amount integer NOT NULL CHECK (amount BETWEEN 1 AND 730),
  unit text NOT NULL CHECK (unit IN ('days', 'months')),
  questionnaire text NOT NULL,
  -- The stage the answers record: three_months or six_months.
  wave text NOT NULL CHECK (wave IN ('three_months', 'six_months')),
  -- '' for every municipality.
  municipality text NOT NULL DEFAULT ''
);
INSERT INTO invitation_rules (id, event_type, plan_status, amount, unit, questionnaire, wave) VALUES
  ('agreement-completed-3m', 'placement.agreement.completed', '', 3, 'months', 'vad-hande-sen', 'three_months'),
  ('agreement-completed-6m', 'placement.agreement.completed', '', 6, 'months', 'vad-hande-sen', 'six_months'),
  ('agreement-ended-3m', 'placement.agreement.ended', '', 3, 'months', 'vad-hande-sen', 'three_months'),
  ('agreement-ended-6m', 'placement.agreement.ended', '', 6, 'months', 'vad-hande-sen', 'six_months'),
  ('plan-completed-6m', 'caseplan.plan.updated', 'PLAN_STATUS_COMPLETED', 6, 'months', 'vad-hande-sen', 'six_months');

-- One invitation of one person to one questionnaire. Never a personal address:
-- that stays in the identity schema and is read only to send.
CREATE TABLE invitations (
  id uuid PRIMARY KEY,
  rule text NOT NULL REFERENCES invitation_rules (id),
  municipality text NOT NULL,
  person text NOT NULL,
  -- The organization that follows the person up and whose consent is checked.
  owner_organization text NOT NULL,
  -- What is followed up: agreements/{id} or plans/{id}.
  activity text NOT NULL,
  wave text NOT NULL,
  questionnaire text NOT NULL,
  -- Fixed when the invitation is sent; 0 before.
  questionnaire_version integer NOT NULL DEFAULT 0,
  status text NOT NULL CHECK (status IN ('scheduled', 'sent', 'answered', 'cancelled', 'expired')),
  due_time timestamptz NOT NULL,
  sent_time timestamptz,
  expire_time timestamptz,
  reminders_sent integer NOT NULL DEFAULT 0 CHECK (reminders_sent BETWEEN 0 AND 2),
  next_reminder_time timestamptz,
  cancel_reason text NOT NULL DEFAULT '',
  answers bytea,  -- saved partial answers (samplan.surveys.v1.InvitationForm), until submitted
  source_event text NOT NULL,
  version bigint NOT NULL DEFAULT 1,
  create_time timestamptz NOT NULL,
  update_time timestamptz NOT NULL,
  -- Exactly once, however often the event is delivered.
  UNIQUE (rule, person, activity)
);
CREATE INDEX invitations_due ON invitations (due_time) WHERE status = 'scheduled';
CREATE INDEX invitations_reminders ON invitations (next_reminder_time) WHERE status = 'sent';
CREATE INDEX invitations_by_person ON invitations (person) WHERE status IN ('scheduled', 'sent');

-- The tokens of an invitation's links (the invitation's and each reminder's),
-- as SHA-256 of the token: the token itself is stored nowhere once mailed.
CREATE TABLE invitation_tokens (
  token_hash bytea PRIMARY KEY CHECK (length(token_hash) = 32),
  invitation_id uuid NOT NULL REFERENCES invitations (id)
);

-- Submitted answers. For an anonymous questionnaire, invitation_id is NULL and
-- person '' and the day only is kept: nothing links them to who answered.
CREATE TABLE responses (
  id uuid PRIMARY KEY,
  municipality text NOT NULL,
  questionnaire text NOT NULL,
  questionnaire_version integer NOT NULL,
  invitation_id uuid UNIQUE REFERENCES invitations (id),
  person text NOT NULL DEFAULT '',
  wave text NOT NULL,
  answers bytea NOT NULL,
  submit_day date NOT NULL
);

-- The notifications outbox: written in the transaction that decides to send,
-- delivered by the sender (SMTP), marked sent in the same row. `body` holds the
-- link with the token only until it is sent.
CREATE TABLE notifications (
  id uuid PRIMARY KEY,
  invitation_id uuid NOT NULL REFERENCES invitations (id),
  reminder integer NOT NULL CHECK (reminder BETWEEN 0 AND 2),
  channel text NOT NULL CHECK (channel IN ('email')),
  subject text NOT NULL,
  body text,
  status text NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'cancelled')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_time timestamptz NOT NULL,
  last_failure text NOT NULL DEFAULT '',
  create_time timestamptz NOT NULL,
  sent_time timestamptz
);
CREATE INDEX notifications_pending ON notifications (next_attempt_time) WHERE status = 'pending';
CREATE INDEX notifications_by_invitation ON notifications (invitation_id);
