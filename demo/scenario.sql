\set ON_ERROR_STOP 1
\pset footer off
\pset null '—'
\set platform `cat tests/fixtures/platform.yaml`
\set tenant_a `cat demo/tenant-a.yaml`
\set tenant_b `cat demo/tenant-b.yaml`

\echo
\echo '1. The operator publishes the platform policy (tests/fixtures/platform.yaml).'
\echo '   Tenants cannot override it; a platform block is final.'
\c - authensor_operator
SELECT authensor.publish_platform_policy(:'platform') AS "platform version";

\echo '2. Each tenant publishes its own policy, as the ordinary login role agent_app.'
\c - agent_app
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-a';
SELECT authensor.publish_policy(:'tenant_a') AS "tenant-a version";
SET LOCAL authensor.tenant_id = 'tenant-b';
SELECT authensor.publish_policy(:'tenant_b') AS "tenant-b version";
COMMIT;

\echo '3. Agents ask before every tool call: SELECT authensor.evaluate(tool, args).'
\echo '   Each call is decided by the two layers and leaves a receipt.'
CREATE TEMP TABLE calls (n int, tenant text, tool text, args jsonb);
INSERT INTO calls VALUES
  (1, 'tenant-a', 'email.send',     '{"to": "bob@tenant-a.com"}'),
  (2, 'tenant-a', 'email.send',     '{"to": "someone@gmail.com"}'),
  (3, 'tenant-a', 'database.query', '{"query": "SELECT * FROM orders WHERE tenant_id = ''tenant-a''"}'),
  (4, 'tenant-a', 'database.query', '{"query": "SELECT * FROM orders"}'),
  (5, 'tenant-a', 'shell.execute',  '{"cmd": "rm -rf /"}'),
  (6, 'tenant-b', 'file.read',      '{"path": "/data/report.csv"}'),
  (7, 'tenant-b', 'file.read',      '{"path": "/etc/passwd"}'),
  (8, 'tenant-b', 'email.send',     '{"to": "bob@tenant-a.com"}'),
  (9, 'tenant-b', 'system.reboot',  '{}'),
  (10, 'tenant-a', 'calendar.read', '{}');

-- One transaction per call, with the tenant set the way an application does.
CREATE TEMP TABLE decisions AS SELECT NULL::int AS n, NULL::authensor.decision AS d WHERE false;
SELECT format($q$BEGIN; SET LOCAL authensor.tenant_id = %L;
                 INSERT INTO decisions SELECT %s, authensor.evaluate(%L, %L::jsonb); COMMIT;$q$,
              tenant, n, tool, args)
  FROM calls ORDER BY n \gexec

SELECT c.tenant, c.tool, c.args::text AS args,
       upper((x.d).action) AS decision, (x.d).layer, (x.d).reason
  FROM calls c JOIN decisions x USING (n) ORDER BY n;

\echo '4. Receipts are tagged with the tenant and protected by row-level security.'
\echo '   tenant-a''s session:'
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-a';
SELECT tenant_id, to_char(created_at, 'HH24:MI:SS.MS') AS at, tool, action, layer, rule_id,
       platform_version AS "platform v", tenant_version AS "tenant v"
  FROM authensor.receipts ORDER BY created_at;
COMMIT;
\echo '   tenant-b''s session (same role, same table):'
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-b';
SELECT tenant_id, to_char(created_at, 'HH24:MI:SS.MS') AS at, tool, action, layer, rule_id,
       platform_version AS "platform v", tenant_version AS "tenant v"
  FROM authensor.receipts ORDER BY created_at;
\echo '   tenant-b asking for tenant-a''s receipts by name:'
SELECT count(*) AS "tenant-a receipts visible to tenant-b" FROM authensor.receipts WHERE tenant_id = 'tenant-a';
COMMIT;

\echo '5. The SDK-shaped answer: authensor.guard(''file.read'', ''{"path":"/data/report.csv"}'')'
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-b';
SELECT jsonb_pretty(authensor.guard('file.read', '{"path": "/data/report.csv"}')) AS "guard()";
COMMIT;

\echo '6. The escalated email became a pending approval. A trusted member of tenant-a approves it;'
\echo '   the agent may then do exactly that action, once:'
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-a';
SELECT receipt_id AS escalated FROM authensor.approvals WHERE status = 'pending' \gset
SELECT tool, status, to_char(expires_at - requested_at, 'HH24:MI') AS "valid for" FROM authensor.approvals;
SELECT authensor.approve(:'escalated', 'customer asked for it') AS "approve()";
SELECT authensor.consume_approval(:'escalated', 'email.send', '{"to": "attacker@evil.com"}') AS "same receipt, other recipient";
SELECT authensor.consume_approval(:'escalated', 'email.send', '{"to": "someone@gmail.com"}') AS "the approved action";
SELECT authensor.consume_approval(:'escalated', 'email.send', '{"to": "someone@gmail.com"}') AS "a second time";
COMMIT;

\echo '7. An agent that runs its own SQL (role agent_sql) cannot pick a tenant by hand:'
\c - authensor_operator
SELECT authensor.create_api_key('tenant-b', 'reporting agent') AS key_b \gset
\c - agent_sql
\set ON_ERROR_STOP 0
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-a';
SELECT authensor.current_tenant() AS "tenant after SET LOCAL", count(*) AS "receipts visible" FROM authensor.receipts;
SELECT authensor.evaluate('file.read', '{"path": "/data/report.csv"}');
ROLLBACK;
\set ON_ERROR_STOP 1
\echo '   With tenant-b''s API key (shown once, only its hash is stored) it acts for tenant-b, for one transaction:'
BEGIN;
SELECT authensor.authenticate(:'key_b') AS "authenticated as";
SELECT action, layer, reason FROM authensor.evaluate('file.read', '{"path": "/data/report.csv"}');
COMMIT;
SELECT authensor.current_tenant() IS NULL AS "tenant gone in the next transaction";
\c - agent_app

\echo '8. Bad policies are refused with a clear error, and nothing is stored:'
\set ON_ERROR_STOP 0
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-a';
SELECT authensor.publish_policy(E'rules:\n  - tool: email.send\n    action: allow\n    when:\n      args.to:\n        endswith: "@tenant-a.com"\n');
ROLLBACK;
\set ON_ERROR_STOP 1
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-a';
SELECT string_agg(version::text, ', ') AS "tenant-a versions stored", max(version) FILTER (WHERE active) AS "active"
  FROM authensor.policy_versions WHERE layer = 'tenant';
COMMIT;
