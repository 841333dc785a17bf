-- Shadow versions: a tenant admin publishes a candidate with shadow => true;
-- an agent's decisions keep the active version's answer, and their receipts
-- record what the shadow decided when it differs; shadow_report() sums it up
-- for the tenant alone; activate_policy() promotes the shadow.
\c - authensor_operator
SELECT authensor.create_api_key('tenant-sh', 'shadow admin', 'admin') AS admin_key \gset
SELECT authensor.create_api_key('tenant-sh', 'shadow agent') AS agent_key \gset
SELECT authensor.create_api_key('tenant-sh2', 'other tenant admin', 'admin') AS other_key \gset

\c - agent_untrusted
\set VERBOSITY default
-- The active version allows email; the candidate escalates large sends
-- and blocks web.fetch.
BEGIN;
SELECT authensor.authenticate(:'admin_key') AS tenant;
SELECT authensor.publish_policy($$
default: allow
rules:
  - id: mail
    tool: email.send
    action: allow
$$) AS active_version;
SELECT authensor.publish_policy($$
default: allow
rules:
  - id: mail-bulk
    tool: email.send
    action: escalate
    reason: bulk mail needs a person
    when:
      args.recipients: {gt: 10}
  - id: mail
    tool: email.send
    action: allow
  - id: no-fetch
    tool: web.fetch
    action: block
tests:
  - tool: web.fetch
    expect: block
$$, shadow => true) AS shadow_version;
-- The shadow is stored, not active.
SELECT version, active FROM authensor.policy_versions WHERE layer = 'tenant' ORDER BY version;
SELECT layer, tenant_id, version FROM authensor.shadow_policies;
COMMIT;

-- An agent decides: the answers are the active version's.
BEGIN;
SELECT authensor.authenticate(:'agent_key') AS tenant;
SELECT action, rule_id, tenant_version FROM authensor.evaluate('email.send', '{"recipients": 3}');
SELECT action, rule_id, tenant_version FROM authensor.evaluate('email.send', '{"recipients": 50}');
SELECT action, rule_id, tenant_version FROM authensor.evaluate('web.fetch');
SELECT (authensor.guard('web.fetch'))->>'action' AS guard_action;
-- A platform block is final in the shadow decision too: no divergence.
SELECT action, layer, rule_id FROM authensor.evaluate('shell.execute');
-- The escalation the shadow would make opens no approval.
SELECT count(*) AS approvals FROM authensor.approvals;
-- Every receipt names the shadow version it was evaluated under; only the
-- diverging ones say what the shadow decided.
SELECT tool, args, action, rule_id, shadow_tenant_version, shadow_platform_version,
       shadow_action, shadow_layer, shadow_rule_id
  FROM authensor.receipts ORDER BY created_at;
COMMIT;

-- An agent cannot publish, activate or clear a shadow. (The decision of this
-- transaction, which rolls back, is written again with its shadow columns.)
BEGIN;
SELECT authensor.authenticate(:'agent_key') AS tenant;
SELECT action FROM authensor.evaluate('web.fetch', '{"rolled": "back"}');
SAVEPOINT s;
SELECT authensor.publish_policy('default: block', shadow => true);
ROLLBACK TO s;
SELECT authensor.activate_policy(2);
ROLLBACK TO s;
SELECT authensor.clear_shadow_policy();
ROLLBACK TO s;
SELECT authensor.clear_platform_shadow_policy();
ROLLBACK;

-- The report, as the tenant admin sees it.
BEGIN;
SELECT authensor.authenticate(:'admin_key') AS tenant;
SELECT tool, action, decided_layer, rule_id, shadow_action, shadow_layer, shadow_rule_id,
       diverged, decisions, first_seen <= last_seen AS ordered
  FROM authensor.shadow_report(2);
-- Divergence rate of the candidate.
SELECT sum(decisions) FILTER (WHERE diverged) AS diverged, sum(decisions) AS evaluated
  FROM authensor.shadow_report(2);
-- check() and explain() show the real decision only, and write nothing.
SELECT action, rule_id FROM authensor.check('web.fetch');
SELECT count(*) AS receipts FROM authensor.receipts;
COMMIT;

-- Another tenant sees nothing of it.
BEGIN;
SELECT authensor.authenticate(:'other_key') AS tenant;
SELECT count(*) AS shadows FROM authensor.shadow_policies;
-- Its report on version 2 is of its own version 2, which does not exist.
SAVEPOINT s;
SELECT count(*) AS report_rows FROM authensor.shadow_report(2);
ROLLBACK TO s;
SELECT count(*) AS receipts FROM authensor.receipts;
-- Its own decisions are evaluated under no shadow.
SELECT authensor.publish_policy('default: allow') AS version;
SELECT action, tenant_version FROM authensor.evaluate('web.fetch');
SELECT shadow_tenant_version, shadow_action FROM authensor.receipts;
-- It cannot clear the other tenant's shadow: only its own (none).
SELECT authensor.clear_shadow_policy() AS cleared;
COMMIT;

-- A shadow whose tests fail is refused, storing nothing: the shadow in
-- place stays.
BEGIN;
SELECT authensor.authenticate(:'admin_key') AS tenant;
SELECT authensor.publish_policy($$
default: allow
tests:
  - tool: web.fetch
    expect: block
$$, shadow => true);
ROLLBACK;
BEGIN;
SELECT authensor.authenticate(:'admin_key') AS tenant;
SELECT max(version) AS newest FROM authensor.policies WHERE layer = 'tenant';
SELECT version FROM authensor.shadow_policies;
-- The rolled-back decision above, written again.
SELECT committed, action, shadow_tenant_version, shadow_action, shadow_rule_id
  FROM authensor.receipts WHERE NOT committed;
-- NULL and bad arguments.
SAVEPOINT s;
SELECT authensor.publish_policy('default: allow', shadow => NULL);
ROLLBACK TO s;
SELECT authensor.shadow_report(2, 'sideways');
ROLLBACK TO s;
SELECT authensor.shadow_report(NULL);
ROLLBACK TO s;
-- A version that does not exist, of either layer.
SELECT authensor.shadow_report(99);
ROLLBACK TO s;
SELECT authensor.shadow_report(99, 'platform');
ROLLBACK;
-- Without a tenant, a tenant version names nothing.
SELECT authensor.shadow_report(2);

-- Activating another version leaves the shadow in place; activating the
-- shadow promotes it and ends the shadowing.
BEGIN;
SELECT authensor.authenticate(:'admin_key') AS tenant;
SELECT authensor.activate_policy(1) AS activated;
SELECT version FROM authensor.shadow_policies;
SELECT authensor.activate_policy(2) AS activated;
SELECT count(*) AS shadows FROM authensor.shadow_policies;
COMMIT;
BEGIN;
SELECT authensor.authenticate(:'agent_key') AS tenant;
SELECT action, rule_id, tenant_version FROM authensor.evaluate('web.fetch');
SELECT shadow_tenant_version, shadow_action FROM authensor.receipts
 ORDER BY created_at DESC LIMIT 1;
COMMIT;

-- A new shadow replaces the one in place; clear_shadow_policy() ends it
-- without activating it.
BEGIN;
SELECT authensor.authenticate(:'admin_key') AS tenant;
SELECT authensor.publish_policy('default: block', shadow => true) AS first_shadow;
SELECT authensor.publish_policy('default: escalate', shadow => true) AS second_shadow;
SELECT version FROM authensor.shadow_policies;
SELECT authensor.clear_shadow_policy() AS cleared;
SELECT authensor.clear_shadow_policy() AS cleared_again;
SELECT version, active FROM authensor.policy_versions WHERE layer = 'tenant' ORDER BY version;
COMMIT;

-- The operator's platform shadow is evaluated for every tenant; with a
-- tenant shadow too, the shadow decision takes both, and the receipt names
-- both versions.
\c - authensor_operator
SELECT authensor.publish_platform_policy($$
rules:
  - id: no-system-tools
    tool: "system.*"
    action: block
    reason: "System tools are blocked for all tenants"
  - id: no-shell
    tool: "shell.execute"
    action: block
    reason: "Shell access is disabled"
  - id: no-fetch-anywhere
    tool: web.fetch
    action: escalate
$$, shadow => true) AS platform_shadow \gset
\c - agent_untrusted
\set VERBOSITY default
BEGIN;
SELECT authensor.authenticate(:'admin_key') AS tenant;
SELECT authensor.publish_policy('default: allow', shadow => true) AS tenant_shadow;
COMMIT;
BEGIN;
SELECT authensor.authenticate(:'agent_key') AS tenant;
SELECT action, rule_id FROM authensor.evaluate('web.fetch');
SELECT action FROM authensor.evaluate('files.read');
SELECT tool, action, shadow_platform_version = :platform_shadow AS platform_shadow_named,
       shadow_tenant_version, shadow_action, shadow_layer, shadow_rule_id
  FROM authensor.receipts ORDER BY created_at DESC LIMIT 2;
SELECT tool, action, shadow_action, shadow_layer, shadow_rule_id, decisions
  FROM authensor.shadow_report(:platform_shadow, 'platform');
COMMIT;
-- Another tenant's decisions are evaluated under the platform shadow only.
BEGIN;
SELECT authensor.authenticate(:'other_key') AS tenant;
SELECT action FROM authensor.evaluate('web.fetch');
SELECT shadow_platform_version = :platform_shadow AS platform_shadow_named,
       shadow_tenant_version, shadow_action, shadow_rule_id
  FROM authensor.receipts ORDER BY created_at DESC LIMIT 1;
-- A tenant admin cannot clear the platform shadow.
SELECT authensor.clear_platform_shadow_policy();
ROLLBACK;
\c - authensor_operator
SELECT authensor.clear_platform_shadow_policy() = :platform_shadow AS cleared;
\c - agent_untrusted
BEGIN;
SELECT authensor.authenticate(:'admin_key') AS tenant;
SELECT authensor.clear_shadow_policy() IS NOT NULL AS cleared;
COMMIT;

-- A shadow never makes a decision fail. One whose `matches` would search a
-- value over authensor.max_match_bytes cannot decide: its receipt records
-- 'error', and the active version's answer stands.
BEGIN;
SELECT authensor.authenticate(:'admin_key') AS tenant;
SELECT authensor.publish_policy($$
default: allow
rules:
  - id: secret-paths
    tool: files.read
    action: block
    when:
      args.path: {matches: "secret"}
$$, shadow => true) AS matching_shadow \gset
COMMIT;
BEGIN;
SELECT authensor.authenticate(:'agent_key') AS tenant;
SELECT action, rule_id FROM authensor.evaluate('files.read', jsonb_build_object('path', repeat('a', 20000)));
SELECT action, rule_id FROM authensor.evaluate('files.read', '{"path": "/secret"}');
SELECT tool, action, shadow_tenant_version = :matching_shadow AS shadow_named,
       shadow_action, shadow_layer, shadow_rule_id
  FROM authensor.receipts ORDER BY created_at DESC LIMIT 2;
COMMIT;
BEGIN;
SELECT authensor.authenticate(:'admin_key') AS tenant;
SELECT tool, action, shadow_action, shadow_layer, shadow_rule_id, diverged, decisions
  FROM authensor.shadow_report(:matching_shadow);
SELECT authensor.clear_shadow_policy() = :matching_shadow AS cleared;
COMMIT;
