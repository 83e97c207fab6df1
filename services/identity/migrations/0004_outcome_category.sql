-- The data category "outcome" (the results follow-up of the surveys service:
-- status at entry, at exit, and 3 and 6 months after, and the answers to "Vad
-- hände sen?"). A consent names only the categories of common/access.h's
-- kDataCategories; the database now refuses any other too.

ALTER TABLE consents ADD CONSTRAINT consents_known_data_categories CHECK (
  data_categories <@ ARRAY['plan', 'person', 'contact', 'health', 'attendance', 'placement',
                           'outcome']::text[]);
COMMENT ON COLUMN consents.data_categories IS
  'plan, person, contact, health, attendance, placement, outcome';
