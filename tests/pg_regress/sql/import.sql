-- Authensor JSON import: import_policy() shows the policy document a JSON
-- policy translates to, with its validation, and publishes nothing; the
-- caller publishes the YAML it has read.
\set VERBOSITY default
\set payments `cat "$AUTHENSOR_FIXTURES/authensor-templates/payments.json"`
\set data_export `cat "$AUTHENSOR_FIXTURES/authensor-templates/data-export.json"`

\c - agent_app
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-i';
SELECT imported->>'yaml' AS yaml, imported->'valid' AS valid, imported->'errors' AS errors,
       imported->'warnings' AS warnings, imported->'notes' AS notes
  FROM authensor.import_policy(:'payments') AS imported;
-- Nothing was published.
SELECT count(*) AS versions FROM authensor.policy_versions WHERE layer = 'tenant';
-- Fields carried into the context are listed.
SELECT jsonb_array_elements_text(authensor.import_policy(:'data_export', format => 'authensor')->'notes') AS note;
-- Publishing what was shown: the imported policy decides, and its
-- approvalConfig becomes the approval's terms.
SELECT authensor.publish_policy(authensor.import_policy(:'payments')->>'yaml') AS version;
SELECT action, rule_id FROM authensor.evaluate('stripe.charge', '{"amount": 10, "currency": "usd"}');
SELECT action, rule_id FROM authensor.evaluate('stripe.charge', '{"amount": 10, "currency": "gbp"}');
SELECT action, rule_id FROM authensor.evaluate('stripe.charge', '{"amount": 5000, "currency": "usd"}');
SELECT required, expires_at - requested_at AS ttl FROM authensor.approvals;
SELECT action, layer FROM authensor.evaluate('email.send', '{}');
ROLLBACK;

-- A rate limit becomes a rate condition and a rule that blocks past it.
SELECT authensor.import_policy('{"id": "p", "rules": [{"id": "send", "effect": "allow", "condition": {"field": "action.type", "operator": "eq", "value": "email.send"}, "rateLimit": {"requests": 5, "window": "1m", "scope": "action"}}]}')->>'yaml';

-- What cannot be expressed is refused, naming the field; nothing is written.
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-i';
SELECT authensor.import_policy('{"id": "p", "rules": [{"id": "r", "effect": "allow", "rateLimit": {"requests": 5, "window": "1m"}}]}');
ROLLBACK;
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-i';
SELECT authensor.import_policy('[{"id": "a", "rules": []}, {"id": "b", "rules": [], "priority": 5}]');
ROLLBACK;
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-i';
SELECT authensor.import_policy('{"id": "p", "rules": [{"id": "r", "effect": "require_approval", "approvalConfig": {"expiresIn": "30d"}}]}');
ROLLBACK;
-- Bad input.
SELECT authensor.import_policy(NULL);
SELECT authensor.import_policy('{"id": "p", "rules": []}', format => 'cedar');
SELECT authensor.import_policy('"a string"');
