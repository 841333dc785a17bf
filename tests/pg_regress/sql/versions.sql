-- Every publish makes a new immutable version; activate_policy() rolls back
-- and forward; receipts record the versions that decided them.
\c - agent_app
\set VERBOSITY default

BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-r';
SELECT authensor.publish_policy('default: allow') AS v1;
SELECT authensor.publish_policy($$
rules:
  - id: no-email
    tool: email.send
    action: block
    reason: "email is off in v2"
$$) AS v2;
SELECT authensor.publish_policy('default: escalate') AS v3;
COMMIT;

BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-r';
SELECT version, created_by, active FROM authensor.policy_versions WHERE layer = 'tenant' ORDER BY version;
SELECT action, layer, tenant_version FROM authensor.evaluate('email.send');
-- Roll back to v2.
SELECT authensor.activate_policy(2) AS activated;
SELECT action, layer, rule_id, tenant_version FROM authensor.evaluate('email.send');
-- Roll back to v1, then forward to v3.
SELECT authensor.activate_policy(1) AS activated;
SELECT action, tenant_version FROM authensor.evaluate('email.send');
SELECT authensor.activate_policy(3) AS activated;
SELECT action, tenant_version FROM authensor.evaluate('email.send');
SELECT version, active FROM authensor.policy_versions WHERE layer = 'tenant' ORDER BY version;
-- Each receipt names the versions in force when it was written.
SELECT action, platform_version, tenant_version FROM authensor.receipts ORDER BY created_at;
COMMIT;

-- Versions that do not exist, and NULL.
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-r';
SELECT authensor.activate_policy(4);
ROLLBACK;
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-r';
SELECT authensor.activate_policy(NULL);
ROLLBACK;

-- An activation that rolls back leaves the previous version in force.
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-r';
SELECT authensor.activate_policy(2) AS activated;
ROLLBACK;
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-r';
SELECT action, tenant_version FROM authensor.check('email.send');
COMMIT;

-- Stored versions cannot be edited, even by a superuser.
\c - postgres
UPDATE authensor.policies SET source = 'default: allow' WHERE tenant_id = 'tenant-r';
DELETE FROM authensor.policies WHERE tenant_id = 'tenant-r';

-- The operator rolls the platform back and forward the same way.
\c - authensor_operator
SELECT authensor.publish_platform_policy($$
rules:
  - tool: "system.*"
    action: block
    reason: "System tools are blocked for all tenants (v2)"
$$) AS platform_v2;
SELECT authensor.activate_platform_policy(1) AS platform_activated;
SELECT layer, version, active FROM authensor.policy_versions WHERE layer = 'platform' ORDER BY version;
