-- The seed's multi-tenant scenario, end to end, as an ordinary login role.
\c - agent_app

BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-a';
SELECT authensor.publish_policy($$
rules:
  - id: internal-email
    tool: "email.send"
    action: allow
    reason: "Internal email"
    when:
      args.to:
        endsWith: "@tenant-a.com"
  - id: external-email
    tool: "email.send"
    action: escalate
    reason: "External emails need approval"
  - id: tenant-filter
    tool: "database.query"
    action: block
    reason: "Queries must include tenant_id filter"
    when:
      args.query:
        not:
          contains: "tenant_id = '${context.tenantId}'"
  - id: queries
    tool: "database.query"
    action: allow
  - id: reads
    tool: "file.read"
    action: allow
$$) AS tenant_a_version;
COMMIT;

BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-b';
SELECT authensor.publish_policy($$
default: escalate
rules:
  - id: reads-under-data
    tool: "file.read"
    action: allow
    when:
      args.path:
        startsWith: "/data/"
  - id: no-email
    tool: "email.*"
    action: block
    reason: "tenant-b agents never send email"
$$) AS tenant_b_version;
COMMIT;

-- Each call writes one receipt in the caller's transaction.
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-a';
SELECT c.n, c.tool, d.action, d.layer, d.rule_id, d.reason
  FROM (VALUES (1, 'email.send',     '{"to": "bob@tenant-a.com"}'::jsonb),
               (2, 'email.send',     '{"to": "x@gmail.com"}'),
               (3, 'system.exec',    '{"cmd": "reboot"}'),
               (4, 'shell.execute',  '{"cmd": "ls"}'),
               (5, 'database.query', '{"query": "SELECT * FROM orders WHERE tenant_id = ''tenant-a''"}'),
               (6, 'database.query', '{"query": "SELECT * FROM orders"}'),
               (7, 'file.read',      '{"path": "/data/report.csv"}'),
               (8, 'calendar.read',  '{}')) AS c(n, tool, args),
       LATERAL authensor.evaluate(c.tool, c.args) AS d
 ORDER BY c.n;
COMMIT;

BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-b';
SELECT c.n, c.tool, d.action, d.layer, d.rule_id, d.reason
  FROM (VALUES (1, 'email.send',    '{"to": "bob@tenant-b.com"}'::jsonb),
               (2, 'file.read',     '{"path": "/data/report.csv"}'),
               (3, 'file.read',     '{"path": "/etc/passwd"}'),
               (4, 'system.exec',   '{}'),
               (5, 'database.query', '{"query": "SELECT 1"}')) AS c(n, tool, args),
       LATERAL authensor.evaluate(c.tool, c.args) AS d
 ORDER BY c.n;
COMMIT;

-- The SDK-shaped answer names the tenant in its receipt.
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-a';
SELECT authensor.guard('file.read', '{"path": "/data/report.csv"}')->'receipt'->>'tenantId' AS receipt_tenant;
SELECT g->>'action' AS action, g->>'layer' AS layer, g->>'rule' AS rule, g->>'reason' AS reason,
       (SELECT string_agg(k, ', ' ORDER BY k) FROM jsonb_object_keys(g->'receipt') AS k) AS receipt_keys
  FROM authensor.guard('email.send', '{"to": "x@gmail.com"}') AS g;
COMMIT;

-- A dry run decides the same and writes nothing.
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-a';
SELECT count(*) AS receipts_before FROM authensor.receipts;
SELECT action, layer, rule_id, receipt_id IS NULL AS no_receipt FROM authensor.check('email.send', '{"to": "x@gmail.com"}');
SELECT count(*) AS receipts_after FROM authensor.receipts;
COMMIT;

-- Each tenant's session sees its own receipts only.
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-a';
SELECT tenant_id, tool, action, layer, rule_id, platform_version, tenant_version
  FROM authensor.receipts ORDER BY created_at;
COMMIT;
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-b';
SELECT tenant_id, tool, action, layer, rule_id, platform_version, tenant_version
  FROM authensor.receipts ORDER BY created_at;
COMMIT;
-- And without a tenant, nothing.
SELECT count(*) AS receipts_without_tenant FROM authensor.receipts;

-- A receipt written in a transaction that rolls back is gone with it.
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-b';
SELECT action FROM authensor.evaluate('file.read', '{"path": "/data/rolled-back"}');
ROLLBACK;
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-b';
SELECT count(*) AS rolled_back_receipts FROM authensor.receipts WHERE args->>'path' = '/data/rolled-back';
COMMIT;
