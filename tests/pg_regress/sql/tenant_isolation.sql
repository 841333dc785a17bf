-- Tenant A's session can neither read nor change tenant B's receipts or
-- policies. Runs as the non-superuser agent_app after seed_scenario.
\c - agent_app
\set VERBOSITY default

BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-a';
-- Reading: B's rows are invisible, even when asked for by name.
SELECT count(*) AS b_receipts_seen_by_a FROM authensor.receipts WHERE tenant_id = 'tenant-b';
SELECT count(*) AS b_policies_seen_by_a FROM authensor.policies WHERE tenant_id = 'tenant-b';
SELECT count(*) AS b_versions_seen_by_a FROM authensor.policy_versions WHERE tenant_id = 'tenant-b';
SELECT count(*) AS b_heads_seen_by_a FROM authensor.active_policies WHERE tenant_id = 'tenant-b';
SELECT DISTINCT tenant_id FROM authensor.receipts ORDER BY 1;
SELECT layer, coalesce(tenant_id, '(platform)') AS owner, version, active
  FROM authensor.policy_versions ORDER BY 1, 2, 3;
COMMIT;

-- Writing: no role but the extension's own functions can write.
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-a';
UPDATE authensor.receipts SET action = 'allow' WHERE tenant_id = 'tenant-b';
ROLLBACK;
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-a';
DELETE FROM authensor.receipts WHERE tenant_id = 'tenant-b';
ROLLBACK;
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-a';
DELETE FROM authensor.receipts;
ROLLBACK;
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-a';
TRUNCATE authensor.receipts;
ROLLBACK;
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-a';
INSERT INTO authensor.receipts (tenant_id, tool, args, context, action, reason, layer)
VALUES ('tenant-b', 'email.send', '{}', '{}', 'allow', 'forged', 'tenant');
ROLLBACK;
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-a';
UPDATE authensor.policies SET source = 'default: allow' WHERE tenant_id = 'tenant-b';
ROLLBACK;
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-a';
DELETE FROM authensor.policies WHERE tenant_id = 'tenant-b';
ROLLBACK;
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-a';
INSERT INTO authensor.policies (layer, tenant_id, version, source, created_by)
VALUES ('tenant', 'tenant-b', 99, 'default: allow', 'agent_app');
ROLLBACK;
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-a';
UPDATE authensor.active_policies SET version = 1 WHERE tenant_id = 'tenant-b';
ROLLBACK;

-- The platform layer belongs to the operator.
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-a';
SELECT authensor.publish_platform_policy('default: allow');
ROLLBACK;
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-a';
SELECT authensor.activate_platform_policy(1);
ROLLBACK;

-- activate_policy() only reaches the caller's own versions: tenant-a has one
-- version, so version 2 (which exists only for others) is unknown to it.
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-a';
SELECT authensor.activate_policy(2);
ROLLBACK;

-- A tenant policy cannot loosen a platform block.
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-c';
SELECT authensor.publish_policy($$
rules:
  - tool: "**"
    action: allow
$$) AS tenant_c_version;
SELECT action, layer, reason FROM authensor.check('shell.execute');
SELECT action, layer, reason FROM authensor.check('email.send');
ROLLBACK;

-- B's data is unchanged after all of the above.
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-b';
SELECT count(*) AS b_receipts, count(*) FILTER (WHERE reason = 'forged') AS forged
  FROM authensor.receipts;
SELECT version, active FROM authensor.policy_versions WHERE layer = 'tenant';
COMMIT;

-- Without a tenant: no receipts, only the platform's policy, and the
-- functions that need a tenant say so.
SELECT count(*) AS receipts_without_tenant FROM authensor.receipts;
SELECT layer, tenant_id, version FROM authensor.policies;
SELECT authensor.evaluate('file.read');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SET authensor.tenant_id = '';
SELECT authensor.check('file.read');
RESET authensor.tenant_id;

-- The operator is not a tenant either.
\c - authensor_operator
SELECT count(*) AS receipts_seen_by_operator FROM authensor.receipts;
SELECT layer, tenant_id, version FROM authensor.policies;
