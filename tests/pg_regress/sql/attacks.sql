-- The tenant-isolation attack suite. Every attempt runs over a real login of
-- the untrusted role agent_untrusted, authenticated as tenant-a with an API
-- key (or not at all), and shows that nothing of tenant-b is read, changed or
-- learned. Runs after seed_scenario, which gave both tenants policies and
-- receipts.
\set VERBOSITY default

-- The operator issues one key per tenant.
\c - authensor_operator
SELECT authensor.create_api_key('tenant-a', 'attack suite') AS key_a \gset
SELECT authensor.create_api_key('tenant-b', 'attack suite') AS key_b \gset
SELECT authensor.create_api_key('tenant-b', 'attack suite: tenant-b admin', 'admin') AS admin_key_b \gset
SELECT length(:'key_a') AS key_length, left(:'key_a', 3) AS key_prefix;

-- What tenant-b has, seen by tenant-b itself, to compare with at the end.
\c - agent_untrusted
BEGIN;
SELECT authensor.authenticate(:'admin_key_b') AS tenant;
SELECT count(*) AS b_receipts FROM authensor.receipts;
-- tenant-b has a second version, kept inactive.
SELECT authensor.publish_policy('default: block') AS b_version;
SELECT authensor.activate_policy(1) AS b_active;
SELECT count(*) AS b_versions FROM authensor.policy_versions WHERE layer = 'tenant';
COMMIT;

-- 1-4. Choosing tenant-b through the setting, in every way the language
-- offers, changes nothing once authenticated as tenant-a.
BEGIN;
SELECT authensor.authenticate(:'key_a') AS tenant;
SET authensor.tenant_id = 'tenant-b';
SELECT authensor.current_tenant() AS after_set, count(*) AS receipts_of_b
  FROM authensor.receipts WHERE tenant_id = 'tenant-b';
SET LOCAL authensor.tenant_id = 'tenant-b';
SELECT authensor.current_tenant() AS after_set_local;
SELECT set_config('authensor.tenant_id', 'tenant-b', true) IS NOT NULL AS set_config_ran,
       authensor.current_tenant() AS after_set_config;
RESET authensor.tenant_id;
RESET ALL;
SELECT authensor.current_tenant() AS after_reset;
SELECT tenant_id, action FROM authensor.evaluate('file.read', '{"path": "/data/x.csv"}');
COMMIT;
RESET authensor.tenant_id;

-- 5. Without a key, the setting alone gives no tenant and no rows.
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-b';
SELECT authensor.current_tenant() AS unauthenticated_tenant;
SELECT count(*) AS receipts_visible FROM authensor.receipts;
SELECT count(*) AS tenant_policies_visible FROM authensor.policies WHERE layer = 'tenant';
SELECT authensor.evaluate('file.read');
ROLLBACK;

-- 6. A new transaction after authenticate(): the binding is gone.
BEGIN;
SELECT authensor.authenticate(:'key_a') AS tenant;
COMMIT;
SELECT authensor.current_tenant() AS next_transaction_tenant;
SELECT count(*) AS receipts_visible FROM authensor.receipts;
-- Also after a rollback, and after DISCARD ALL.
BEGIN;
SELECT authensor.authenticate(:'key_a') AS tenant;
ROLLBACK;
SELECT authensor.current_tenant() AS after_rollback;
DISCARD ALL;
SELECT authensor.current_tenant() AS after_discard_all;

-- 7-9. Becoming a trusted role.
SET ROLE agent_app;
SET ROLE authensor_trusted;
-- Refused with insufficient_privilege; the wording is PostgreSQL's own and
-- changed in 16, so only the SQLSTATE is shown.
\set VERBOSITY sqlstate
SET SESSION AUTHORIZATION agent_app;
GRANT authensor_trusted TO agent_untrusted;
\set VERBOSITY default

-- 10-12. Reading tenant-b's rows by name, through every table and view.
BEGIN;
SELECT authensor.authenticate(:'key_a') AS tenant;
SELECT (SELECT count(*) FROM authensor.receipts WHERE tenant_id = 'tenant-b') AS receipts,
       (SELECT count(*) FROM authensor.policies WHERE tenant_id = 'tenant-b') AS policies,
       (SELECT count(*) FROM authensor.active_policies WHERE tenant_id = 'tenant-b') AS active_policies,
       (SELECT count(*) FROM authensor.policy_versions WHERE tenant_id = 'tenant-b') AS policy_versions,
       (SELECT count(*) FROM authensor.api_keys WHERE tenant_id = 'tenant-b') AS api_keys;
SELECT DISTINCT tenant_id FROM authensor.receipts;
SELECT tenant_id, label, revoked_at IS NULL AS active FROM authensor.api_keys;
COMMIT;
SELECT * FROM authensor.api_key_hashes;

-- 13-17. Writing: INSERT, UPDATE, DELETE, TRUNCATE and COPY on every table.
BEGIN;
SELECT authensor.authenticate(:'key_a') AS tenant;
INSERT INTO authensor.receipts (tenant_id, tool, args, context, action, reason, layer)
VALUES ('tenant-b', 'forged', '{}', '{}', 'allow', 'forged', 'tenant');
ROLLBACK;
BEGIN;
SELECT authensor.authenticate(:'key_a') AS tenant;
UPDATE authensor.receipts SET reason = 'tampered';
ROLLBACK;
BEGIN;
SELECT authensor.authenticate(:'key_a') AS tenant;
DELETE FROM authensor.receipts WHERE tenant_id = 'tenant-b';
ROLLBACK;
TRUNCATE authensor.receipts;
TRUNCATE authensor.policies;
TRUNCATE authensor.api_keys CASCADE;
INSERT INTO authensor.policies (layer, tenant_id, version, source, digest, created_by)
VALUES ('tenant', 'tenant-b', 99, 'default: allow', '\x00', 'x');
UPDATE authensor.active_policies SET version = 1;
DELETE FROM authensor.api_keys;
INSERT INTO authensor.api_key_hashes VALUES (gen_random_uuid(), '\x00');
\copy authensor.receipts FROM '/dev/null'
\copy authensor.policies FROM '/dev/null'
BEGIN;
SELECT authensor.authenticate(:'key_a') AS tenant;
COPY (SELECT count(*) AS copied, count(*) FILTER (WHERE tenant_id = 'tenant-b') AS of_b FROM authensor.receipts) TO STDOUT;
COPY (SELECT tenant_id FROM authensor.receipts) TO STDOUT;
COMMIT;

-- 18. A forged tenantId in evaluate()'s context.
BEGIN;
SELECT authensor.authenticate(:'key_a') AS tenant;
SELECT tenant_id, action, rule_id
  FROM authensor.evaluate('database.query', '{"query": "SELECT 1 WHERE tenant_id = ''tenant-b''"}',
                          '{"tenantId": "tenant-b"}');
SELECT tenant_id, context->>'tenantId' AS receipt_context
  FROM authensor.receipts ORDER BY created_at DESC LIMIT 1;
COMMIT;

-- 19. An agent key changes no policy, not even its own tenant's (see
-- least_privilege.sql for what an admin key may do).
BEGIN;
SELECT authensor.authenticate(:'key_a') AS tenant;
SELECT authensor.publish_policy('default: allow') AS a_new_version;
SELECT layer, tenant_id, version FROM authensor.policy_versions WHERE active ORDER BY 1;
ROLLBACK;
BEGIN;
SELECT authensor.authenticate(:'key_a') AS tenant;
SELECT authensor.activate_policy(2);
ROLLBACK;

-- 20-21. The platform layer and the keys belong to the operator.
BEGIN;
SELECT authensor.authenticate(:'key_a') AS tenant;
SELECT authensor.publish_platform_policy('default: allow');
ROLLBACK;
SELECT authensor.activate_platform_policy(1);
SELECT authensor.create_api_key('tenant-b');
SELECT authensor.revoke_api_key(gen_random_uuid());

-- 22. Errors say nothing about tenant-b: a wrong secret for tenant-b's key,
-- a malformed key, an unknown key and NULL all fail alike.
SELECT authensor.authenticate(left(:'key_b', -1) || CASE WHEN right(:'key_b', 1) = '0' THEN '1' ELSE '0' END);
SELECT authensor.authenticate('ak_not-a-key');
SELECT authensor.authenticate('ak_00000000000000000000000000000000_' || repeat('0', 64));
SELECT authensor.authenticate(NULL);
SELECT authensor.authenticate(repeat('x', 100000));

-- 23. Counts: tenant-a's totals include nothing of tenant-b.
BEGIN;
SELECT authensor.authenticate(:'key_a') AS tenant;
SELECT count(*) = count(*) FILTER (WHERE tenant_id = 'tenant-a') AS only_own_rows FROM authensor.receipts;
COMMIT;

-- 24. Functions and views that run with the owner's rights.
SELECT authensor.policy_tables_changed();
SELECT authensor.reject_change();
SELECT reloptions FROM pg_class WHERE oid = 'authensor.policy_versions'::regclass;
SELECT p.proname, p.prosecdef, p.proconfig
  FROM pg_proc p WHERE p.pronamespace = 'authensor'::regnamespace AND p.prosecdef ORDER BY 1;
-- Who may call each function, and as whom it runs: PUBLIC only where the
-- README says so (an empty proacl is PostgreSQL's default, EXECUTE for PUBLIC
-- and the owner), every SECURITY DEFINER function owned by authensor_definer.
SELECT p.oid::regprocedure AS function, pg_get_userbyid(p.proowner) AS owner, p.prosecdef,
       has_function_privilege('public', p.oid, 'EXECUTE') AS public_execute, p.proacl
  FROM pg_proc p WHERE p.pronamespace = 'authensor'::regnamespace ORDER BY p.oid::regprocedure::text;
-- A temporary table named like an extension table captures nothing.
BEGIN;
SELECT authensor.authenticate(:'key_a') AS tenant;
CREATE TEMP TABLE receipts (LIKE authensor.receipts);
SET LOCAL search_path = pg_temp, public;
SELECT action FROM authensor.evaluate('file.read', '{"path": "/data/temp.csv"}');
SELECT count(*) AS captured_by_temp_table FROM pg_temp.receipts;
ROLLBACK;

-- 25. A view of the untrusted role's own still sees only what it may.
BEGIN;
SELECT authensor.authenticate(:'key_a') AS tenant;
CREATE TEMP VIEW all_receipts AS SELECT * FROM authensor.receipts;
SELECT count(*) FILTER (WHERE tenant_id = 'tenant-b') AS b_rows_through_own_view FROM all_receipts;
ROLLBACK;

-- 26. (NOTIFY payloads carry layer, tenant and version only: see
-- tests/isolation/specs/policy_notify.spec, where a listener's view is stable.)

-- 27. A search_path that puts the caller's own objects first: an operator
-- and a function that would forge tenant-b into the receipt, and an equality
-- that would match every tenant's policy. The decision functions name what
-- they always use with its schema and pin search_path for the rest.
\c - postgres
CREATE SCHEMA sneaky AUTHORIZATION agent_untrusted;
\c - agent_untrusted
CREATE FUNCTION sneaky.forge(jsonb, jsonb) RETURNS jsonb LANGUAGE sql
    AS $$ SELECT '{"tenantId": "tenant-b"}'::jsonb $$;
CREATE OPERATOR sneaky.|| (LEFTARG = jsonb, RIGHTARG = jsonb, FUNCTION = sneaky.forge);
CREATE FUNCTION sneaky.jsonb_build_object(text, text) RETURNS jsonb LANGUAGE sql
    AS $$ SELECT '{"tenantId": "tenant-b"}'::jsonb $$;
CREATE FUNCTION sneaky.always(text, text) RETURNS boolean LANGUAGE sql AS $$ SELECT true $$;
CREATE OPERATOR sneaky.= (LEFTARG = text, RIGHTARG = text, FUNCTION = sneaky.always);
BEGIN;
SELECT authensor.authenticate(:'key_a') AS tenant;
SET LOCAL search_path = sneaky, pg_catalog;
SELECT tenant_id, action, layer, rule_id, tenant_version
  FROM authensor.evaluate('file.read', '{"path": "/data/x.csv"}', '{"tenantId": "tenant-b"}');
SELECT tenant_id, context->>'tenantId' AS receipt_context
  FROM authensor.receipts ORDER BY created_at DESC LIMIT 1;
ROLLBACK;
\c - postgres
DROP SCHEMA sneaky CASCADE;
\c - agent_untrusted

-- tenant-b's data, as tenant-b sees it, is unchanged.
BEGIN;
SELECT authensor.authenticate(:'key_b') AS tenant;
SELECT count(*) AS b_receipts FROM authensor.receipts;
SELECT count(*) AS b_versions FROM authensor.policy_versions WHERE layer = 'tenant';
SELECT count(*) AS tampered FROM authensor.receipts WHERE reason IN ('forged', 'tampered');
COMMIT;
