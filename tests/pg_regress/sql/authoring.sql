-- Writing policies: validate_policy() reports what publishing would refuse
-- and warns about rules that can never decide; the tests a document holds
-- run with test_policy() and on every publish, which refuses, storing
-- nothing, when one fails.
\c - agent_app
\set VERBOSITY default
SET authensor.tenant_id = 'tenant-w';

-- Errors, with the SQLSTATE publishing would raise, a path, line and column.
SELECT jsonb_pretty(authensor.validate_policy($$
rules:
  - tool: email.send
    action: allow
    when:
      args.to:
        endswith: "@tenant-w.com"
$$));
SELECT authensor.validate_policy('rules: [') ->'errors'->0->>'sqlstate' AS syntax;
SELECT authensor.validate_policy('{}') AS empty_is_valid;

-- Each warning code. The platform policy in force (setup) blocks system.*.
SELECT w->>'code' AS code, w->>'path' AS path, w->>'rule' AS rule, w->>'message' AS message
  FROM jsonb_array_elements(authensor.validate_policy($$
rules:
  - id: mail
    tool: email.*
    action: escalate
  - id: mail-send
    tool: email.send
    action: allow
  - id: amounts
    tool: payments.send
    action: allow
    when:
      args.amount: {gt: 5, lt: 3}
  - id: shell
    tool: system.exec
    action: allow
  - id: long
    tool: "$$ || repeat('x', 513) || $$"
    action: block
$$)->'warnings') AS w;
-- The same document as a platform policy is not compared with the platform.
SELECT w->>'code' AS code, w->>'path' AS path
  FROM jsonb_array_elements(authensor.validate_policy($$
rules:
  - {id: shell, tool: system.exec, action: allow}
$$, 'platform')->'warnings') AS w;
-- Warnings never block a publish.
BEGIN;
SELECT authensor.publish_policy($$
rules:
  - {id: all, action: allow}
  - {id: never, tool: a, action: block}
$$) AS published_with_a_warning;
ROLLBACK;
SELECT authensor.validate_policy('x: 1', 'tenants');
SELECT authensor.validate_policy(NULL);

-- test_policy(): each case under the platform policy in force, as tenant-w.
\set mail_policy 'rules:\n  - id: own-domain\n    tool: email.send\n    action: allow\n    when:\n      args.to:\n        endsWith: "@${context.tenantId}.com"\n  - id: other-mail\n    tool: email.send\n    action: escalate\ntests:\n  - {tool: email.send, args: {to: bob@tenant-w.com}, expect: allow, rule: own-domain}\n  - {tool: email.send, args: {to: bob@tenant-w.com}, tenant: tenant-x, expect: escalate}\n  - {tool: system.exec, expect: block, rule: no-system-tools}\n'
SELECT * FROM authensor.test_policy(E:'mail_policy');
SELECT count(*) AS versions_before FROM authensor.policy_versions WHERE tenant_id = 'tenant-w';
SELECT authensor.publish_policy(E:'mail_policy') AS published;

-- A failing case: publish refuses with P0004, naming the case and what it
-- got, and stores nothing.
SELECT * FROM authensor.test_policy(E:'mail_policy' || E'  - {tool: system.exec, expect: allow}\n');
SELECT authensor.publish_policy(E:'mail_policy' || E'  - {tool: system.exec, expect: allow}\n');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT authensor.publish_policy(E:'mail_policy' || E'  - {tool: file.read, expect: block, rule: nope}\n');
SELECT version, active FROM authensor.policy_versions WHERE tenant_id = 'tenant-w' ORDER BY version;
-- A malformed case is refused like any other error in the document.
SELECT authensor.publish_policy(E'tests:\n  - {tool: a, expect: allow, args: [1]}\n');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
-- So is a case for a call check() refuses: an empty tenant, a tool longer
-- than 512 bytes.
SELECT e->>'message' AS message, e->>'path' AS path, e->>'sqlstate' AS sqlstate
  FROM jsonb_array_elements(authensor.validate_policy(E'tests:\n  - {tool: a, expect: allow, tenant: ""}\n')->'errors') AS e
UNION ALL
SELECT e->>'message', e->>'path', e->>'sqlstate'
  FROM jsonb_array_elements(authensor.validate_policy(E'tests:\n  - {tool: ' || repeat('t', 513) || E', expect: block}\n')->'errors') AS e;

-- The tests run against the platform policy as the publishing transaction
-- sees it: one published earlier in the same transaction included.
\c - postgres
BEGIN;
SELECT authensor.publish_platform_policy(E'rules:\n  - {id: no-mail, tool: "email.*", action: block}\n') AS platform_in_this_transaction;
SET LOCAL authensor.tenant_id = 'tenant-w';
SELECT test, action, decided_layer, rule_id, passed FROM authensor.test_policy(E:'mail_policy');
SELECT authensor.publish_policy(E:'mail_policy');
ROLLBACK;
\c - agent_app
SET authensor.tenant_id = 'tenant-w';

-- A platform policy's tests run with it alone: a call none of its rules
-- matches is blocked by the fail-closed default.
SELECT * FROM authensor.test_policy(E'rules:\n  - {tool: "system.*", action: block}\ntests:\n  - {tool: system.exec, expect: block}\n  - {tool: file.read, expect: allow}\n', 'platform');
\c - authensor_operator
SELECT authensor.publish_platform_policy(E'rules:\n  - {tool: "system.*", action: block}\ntests:\n  - {tool: file.read, expect: allow}\n');
SELECT max(version) AS platform_version_unchanged FROM authensor.policy_versions WHERE layer = 'platform';

-- explain(): the decision check() gives, and every rule each layer visited,
-- with the operator that settled its condition, the operand filled in from
-- the context and the field's value. No receipt is written.
\c - agent_app
SET authensor.tenant_id = 'tenant-w';
SELECT count(*) AS receipts_before FROM authensor.receipts;
SELECT jsonb_pretty(authensor.explain('email.send', '{"to": "eve@elsewhere.com"}'));
-- A field of another type, and a missing one.
SELECT c->>'path' AS path, c->>'operator' AS operator, c->>'field' AS field, c->>'type' AS type, c->>'value' AS value
  FROM jsonb_array_elements(authensor.explain('email.send', '{"to": 42}')->'layers'->1->'visited') AS r,
       jsonb_array_elements(r->'checks') AS c
UNION ALL
SELECT c->>'path', c->>'operator', c->>'field', c->>'type', c->>'value'
  FROM jsonb_array_elements(authensor.explain('email.send')->'layers'->1->'visited') AS r,
       jsonb_array_elements(r->'checks') AS c;
-- A platform block is final: the tenant policy is not consulted.
SELECT e->>'action' AS action, e->>'rule' AS rule, jsonb_array_length(e->'layers') AS layers_consulted
  FROM authensor.explain('system.exec') AS e;
-- The same decision as check().
SELECT (SELECT (action, layer, rule_id) FROM authensor.check('email.send', '{"to": "bob@tenant-w.com"}'))
     = (SELECT (e->>'action', e->>'layer', e->>'rule') FROM authensor.explain('email.send', '{"to": "bob@tenant-w.com"}') AS e)
       AS same_as_check;
SELECT count(*) AS receipts_after FROM authensor.receipts;
SELECT authensor.explain(NULL);
SELECT authensor.explain('x', '[]');
-- The values of the call are shown only to a role that may read receipts'
-- arguments: here one whose SELECT on authensor.receipts was taken back.
\c - postgres
BEGIN;
REVOKE SELECT ON authensor.receipts FROM PUBLIC;
SET LOCAL ROLE agent_app;
SET LOCAL authensor.tenant_id = 'tenant-w';
SELECT e->'valuesShown' AS values_shown, e->'layers'->1->'visited'->0->'checks'->0 AS check
  FROM authensor.explain('email.send', '{"to": "eve@elsewhere.com"}') AS e;
ROLLBACK;
-- An agent key may not explain, as it may not check.
\c - authensor_operator
SELECT authensor.create_api_key('tenant-w', 'explaining bot') AS agent_key \gset
\c - agent_untrusted
BEGIN;
SELECT authensor.authenticate(:'agent_key') AS tenant;
SELECT authensor.explain('email.send');
ROLLBACK;

-- Without a tenant, a tenant policy cannot be tested.
\c - agent_untrusted
SELECT * FROM authensor.test_policy('default: allow');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
-- validate_policy() needs no tenant: it reads nothing any role could not.
SELECT authensor.validate_policy('default: allow') ->> 'valid' AS valid;
