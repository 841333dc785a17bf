-- Least privilege and separation of duties. Every attempt runs over a real
-- login of a non-superuser role; the operator's changes to the tables are
-- made as postgres and undone at the end of each part. Runs after attacks.
\set VERBOSITY default

\c - authensor_operator
SELECT authensor.create_api_key('tenant-a', 'least privilege: agent') AS agent_a \gset
SELECT authensor.create_api_key('tenant-a', 'least privilege: admin', 'admin') AS admin_a \gset
SELECT authensor.create_api_key('tenant-b', 'least privilege: agent') AS agent_b \gset
SELECT authensor.create_api_key('tenant-a', 'no such scope', 'root');
SELECT authensor.create_api_key('tenant-a', 'no scope', NULL);

-- 1. Who the SECURITY DEFINER functions run as: a role that is no
-- superuser, cannot log in, has no members and no special attribute.
SELECT p.proname, pg_get_userbyid(p.proowner) AS runs_as
  FROM pg_proc p WHERE p.pronamespace = 'authensor'::regnamespace AND p.prosecdef ORDER BY 1;
SELECT rolsuper, rolcanlogin, rolbypassrls, rolcreaterole, rolcreatedb, rolreplication, rolinherit
  FROM pg_roles WHERE rolname = 'authensor_definer';
SELECT count(*) AS definer_members FROM pg_auth_members WHERE roleid = 'authensor_definer'::regrole;
-- Its rights: the extension's own tables and functions, nothing else.
SELECT c.relname, array_agg(p.privilege_type ORDER BY p.privilege_type) AS rights
  FROM pg_class c, aclexplode(c.relacl) p
 WHERE c.relnamespace = 'authensor'::regnamespace AND p.grantee = 'authensor_definer'::regrole
 GROUP BY 1 ORDER BY 1;

-- 1a. An operator's trigger on receipts that names a table without its
-- schema, and an agent that makes that name resolve to a temporary table of
-- its own, whose trigger tries everything a raised privilege would allow.
\c - postgres
CREATE TABLE public.receipt_log (receipt_id uuid, tool text);
CREATE FUNCTION public.log_receipt() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN INSERT INTO receipt_log VALUES (NEW.id, NEW.tool); RETURN NULL; END $$;
CREATE TRIGGER log_receipt AFTER INSERT ON authensor.receipts
    FOR EACH ROW EXECUTE FUNCTION public.log_receipt();
\c - agent_untrusted
-- Without a capture the name does not resolve through the caller's
-- search_path: the operator's trigger sees pg_catalog and pg_temp only.
BEGIN;
SELECT authensor.authenticate(:'agent_a') AS tenant;
SET LOCAL search_path = public;
SELECT action FROM authensor.evaluate('file.read', '{"path": "/unqualified"}');
ROLLBACK;
CREATE TEMP TABLE loot (what text, outcome text);
CREATE TEMP TABLE receipt_log (receipt_id uuid, tool text);
CREATE FUNCTION pg_temp.escalate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO pg_temp.loot VALUES ('runs as', current_user);
    BEGIN
        ALTER ROLE agent_untrusted SUPERUSER;
        INSERT INTO pg_temp.loot VALUES ('made itself superuser', 'yes');
    EXCEPTION WHEN OTHERS THEN
        INSERT INTO pg_temp.loot VALUES ('made itself superuser', SQLSTATE);
    END;
    BEGIN
        PERFORM count(*) FROM authensor.api_key_hashes;
        INSERT INTO pg_temp.loot VALUES ('read key hashes', 'yes');
    EXCEPTION WHEN OTHERS THEN
        INSERT INTO pg_temp.loot VALUES ('read key hashes', SQLSTATE);
    END;
    BEGIN
        INSERT INTO authensor.receipts (tenant_id, tool, args, context, action, reason, layer)
        VALUES ('tenant-b', 'forged', '{}', '{}', 'allow', 'forged', 'tenant');
        INSERT INTO pg_temp.loot VALUES ('forged a receipt', 'yes');
    EXCEPTION WHEN OTHERS THEN
        INSERT INTO pg_temp.loot VALUES ('forged a receipt', SQLSTATE);
    END;
    BEGIN
        PERFORM count(*) FROM authensor.receipts WHERE tenant_id = 'tenant-b';
        INSERT INTO pg_temp.loot
        SELECT 'tenant-b receipts seen', count(*)::text FROM authensor.receipts WHERE tenant_id = 'tenant-b';
    EXCEPTION WHEN OTHERS THEN
        INSERT INTO pg_temp.loot VALUES ('tenant-b receipts seen', SQLSTATE);
    END;
    RETURN NULL;
END
$$;
CREATE TRIGGER escalate AFTER INSERT ON pg_temp.receipt_log
    FOR EACH ROW EXECUTE FUNCTION pg_temp.escalate();
BEGIN;
SELECT authensor.authenticate(:'agent_a') AS tenant;
SELECT action FROM authensor.evaluate('file.read', '{"path": "/captured"}');
COMMIT;
SELECT what, outcome FROM pg_temp.loot ORDER BY what;
SELECT rolsuper AS agent_is_superuser FROM pg_roles WHERE rolname = 'agent_untrusted';
\c - postgres
DROP TRIGGER log_receipt ON authensor.receipts;
DROP FUNCTION public.log_receipt();
DROP TABLE public.receipt_log;

-- 1b. A BEFORE trigger may add to a receipt, never change what it records.
CREATE FUNCTION public.retarget_receipt() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN NEW.tenant_id := 'tenant-b'; RETURN NEW; END $$;
CREATE TRIGGER retarget BEFORE INSERT ON authensor.receipts
    FOR EACH ROW EXECUTE FUNCTION public.retarget_receipt();
\c - agent_untrusted
BEGIN;
SELECT authensor.authenticate(:'agent_a') AS tenant;
SELECT action FROM authensor.evaluate('file.read', '{"path": "/retargeted"}');
ROLLBACK;
\c - postgres
DROP TRIGGER retarget ON authensor.receipts;
DROP FUNCTION public.retarget_receipt();

-- 5. Whatever an operator may legally do to authensor.receipts, evaluate()
-- does what an INSERT would, or refuses with a clear error; the backend
-- survives each change, and a second call reuses what the first prepared.
-- A stored generated column: computed from the receipt.
ALTER TABLE authensor.receipts ADD COLUMN tool_upper text GENERATED ALWAYS AS (upper(tool)) STORED;
-- A whole-row CHECK (on the partition the receipts go to here: a
-- partitioned table takes none), a CHECK with a long IN list (hashed), and a
-- CHECK calling a function that is replaced later.
CREATE FUNCTION public.receipt_ok(r authensor.receipts_default) RETURNS boolean LANGUAGE sql
    AS $$ SELECT r.tool IS NOT NULL $$;
CREATE FUNCTION public.tool_allowed(tool text) RETURNS boolean LANGUAGE sql
    AS $$ SELECT tool <> 'forbidden.tool' $$;
ALTER TABLE authensor.receipts_default ADD CONSTRAINT whole_row CHECK (public.receipt_ok(receipts_default));
ALTER TABLE authensor.receipts ADD CONSTRAINT long_in_list
    CHECK (tool NOT IN ('t1', 't2', 't3', 't4', 't5', 't6', 't7', 't8', 't9', 't10', 't11', 't12'));
ALTER TABLE authensor.receipts ADD CONSTRAINT allowed_tool CHECK (public.tool_allowed(tool));
-- A volatile default, and a column of a domain that refuses NULL with a
-- default that satisfies it.
CREATE SEQUENCE public.receipt_numbers;
GRANT USAGE ON SEQUENCE public.receipt_numbers TO PUBLIC;
ALTER TABLE authensor.receipts ADD COLUMN number bigint DEFAULT nextval('public.receipt_numbers');
CREATE DOMAIN public.positive AS integer NOT NULL CHECK (VALUE > 0);
ALTER TABLE authensor.receipts ADD COLUMN weight public.positive DEFAULT 1;
\c - agent_untrusted
BEGIN;
SELECT authensor.authenticate(:'agent_a') AS tenant;
SELECT action FROM authensor.evaluate('file.read', '{"path": "/one"}');
SELECT action FROM authensor.evaluate('file.read', '{"path": "/two"}');
SELECT tool_upper, number > 0 AS numbered, weight FROM authensor.receipts ORDER BY created_at DESC LIMIT 2;
-- The IN list and the function refuse with the usual check_violation.
SELECT action FROM authensor.evaluate('t11');
ROLLBACK;
BEGIN;
SELECT authensor.authenticate(:'agent_a') AS tenant;
SELECT action FROM authensor.evaluate('forbidden.tool');
ROLLBACK;
\c - postgres
CREATE OR REPLACE FUNCTION public.tool_allowed(tool text) RETURNS boolean LANGUAGE sql
    AS $$ SELECT tool <> 'file.read' $$;
\c - agent_untrusted
BEGIN;
SELECT authensor.authenticate(:'agent_a') AS tenant;
SELECT action FROM authensor.evaluate('forbidden.tool');
SAVEPOINT replaced;
-- The replaced body is what is checked now, in the same backend.
SELECT action FROM authensor.evaluate('file.read', '{"path": "/three"}');
ROLLBACK TO SAVEPOINT replaced;
ROLLBACK;
\c - postgres
-- The domain's NOT NULL holds for a receipt as for an INSERT.
ALTER TABLE authensor.receipts ALTER COLUMN weight DROP DEFAULT;
\c - agent_untrusted
BEGIN;
SELECT authensor.authenticate(:'agent_a') AS tenant;
SELECT action FROM authensor.evaluate('file.read', '{"path": "/no-weight"}');
ROLLBACK;
\c - postgres
ALTER TABLE authensor.receipts_default DROP CONSTRAINT whole_row;
ALTER TABLE authensor.receipts DROP COLUMN weight, DROP COLUMN number, DROP COLUMN tool_upper,
    DROP CONSTRAINT long_in_list, DROP CONSTRAINT allowed_tool;
DROP DOMAIN public.positive;
DROP SEQUENCE public.receipt_numbers;
DROP FUNCTION public.receipt_ok(authensor.receipts_default), public.tool_allowed(text);
-- A trigger that raises: its error, no receipt, and the next call works.
CREATE FUNCTION public.refuse_receipt() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN IF NEW.tool = 'refused.tool' THEN RAISE EXCEPTION 'operator says no' USING ERRCODE = 'P0001'; END IF;
        RETURN NEW; END $$;
CREATE TRIGGER refuse BEFORE INSERT ON authensor.receipts
    FOR EACH ROW EXECUTE FUNCTION public.refuse_receipt();
\c - agent_untrusted
BEGIN;
SELECT authensor.authenticate(:'agent_a') AS tenant;
SELECT count(*) AS before FROM authensor.receipts \gset
SAVEPOINT s;
SELECT action FROM authensor.evaluate('refused.tool');
ROLLBACK TO SAVEPOINT s;
SELECT action FROM authensor.evaluate('file.read', '{"path": "/after-refusal"}');
SELECT count(*) - :before AS new_receipts FROM authensor.receipts;
ROLLBACK;
\c - postgres
DROP TRIGGER refuse ON authensor.receipts;
DROP FUNCTION public.refuse_receipt();
-- A read-only transaction: evaluate() refuses as an INSERT would (25006);
-- a decision without a receipt is still possible for those who may check.
\c - agent_untrusted
BEGIN READ ONLY;
SELECT authensor.authenticate(:'agent_a') AS tenant;
SELECT action FROM authensor.evaluate('file.read');
ROLLBACK;
BEGIN READ ONLY;
SELECT authensor.authenticate(:'admin_a') AS tenant;
SELECT action FROM authensor.check('file.read');
SELECT authensor.guard('file.read');
ROLLBACK;

-- 2. The governed cannot govern themselves. An agent key decides and
-- consumes approvals; everything else that touches governance is refused.
BEGIN;
SELECT authensor.authenticate(:'agent_a') AS tenant;
SELECT action FROM authensor.evaluate('file.read');
SELECT authensor.guard('file.read')->>'action' AS guard;
SELECT authensor.consume_approval(gen_random_uuid(), 'email.send', '{}') AS consumed;
SAVEPOINT s;
SELECT authensor.check('file.read');
ROLLBACK TO SAVEPOINT s;
SELECT authensor.publish_policy('default: allow');
ROLLBACK TO SAVEPOINT s;
SELECT authensor.activate_policy(1);
ROLLBACK TO SAVEPOINT s;
SELECT authensor.reject(gen_random_uuid());
ROLLBACK TO SAVEPOINT s;
SELECT authensor.set_alert_route('elsewhere');
ROLLBACK TO SAVEPOINT s;
SELECT authensor.create_agent_key('another agent');
ROLLBACK TO SAVEPOINT s;
SELECT authensor.revoke_agent_key(gen_random_uuid());
ROLLBACK;
-- An admin key governs its own tenant: publishes, checks, issues and
-- revokes that tenant's agent keys.
BEGIN;
SELECT authensor.authenticate(:'admin_a') AS tenant;
SELECT authensor.publish_policy('rules: [{id: admin-rule, tool: "file.read", action: allow}]') > 1 AS published;
SELECT action, rule_id FROM authensor.check('file.read');
SELECT authensor.create_agent_key('issued by admin') AS issued \gset
SELECT label, scope, revoked_at IS NULL AS active FROM authensor.api_keys WHERE label = 'issued by admin';
SELECT id AS issued_id FROM authensor.api_keys WHERE label = 'issued by admin' \gset
COMMIT;
-- The issued key is an agent key of tenant-a.
BEGIN;
SELECT authensor.authenticate(:'issued') AS tenant;
SELECT authensor.publish_policy('default: allow');
ROLLBACK;
BEGIN;
SELECT authensor.authenticate(:'admin_a') AS tenant;
SELECT authensor.revoke_agent_key(:'issued_id') AS revoked;
-- An admin key cannot be revoked this way, nor another tenant's key.
SELECT set_config('lp.key', k.id::text, true) IS NOT NULL AS admin_key_named
  FROM authensor.api_keys k WHERE k.label = 'least privilege: admin';
DO $$ BEGIN
    PERFORM authensor.revoke_agent_key(current_setting('lp.key')::uuid);
EXCEPTION WHEN undefined_object THEN RAISE NOTICE 'admin key not revoked: %', SQLSTATE;
END $$;
-- Back to the policy tenant-a had.
SELECT authensor.activate_policy(1);
COMMIT;
BEGIN;
SELECT authensor.authenticate(:'issued') AS tenant;
ROLLBACK;
\c - agent_untrusted
BEGIN;
SELECT authensor.authenticate(:'agent_b') AS tenant;
SELECT id AS b_agent_id FROM authensor.api_keys WHERE label = 'least privilege: agent' \gset
COMMIT;
BEGIN;
SELECT authensor.authenticate(:'admin_a') AS tenant;
SELECT set_config('lp.key', :'b_agent_id', true) IS NOT NULL AS b_key_named;
DO $$ BEGIN
    PERFORM authensor.revoke_agent_key(current_setting('lp.key')::uuid);
EXCEPTION WHEN undefined_object THEN RAISE NOTICE 'tenant-b key not revoked: %', SQLSTATE;
END $$;
ROLLBACK;
-- A trusted role that binds an agent key acts as that agent.
\c - agent_app
BEGIN;
SELECT authensor.authenticate(:'agent_a') AS tenant;
SELECT authensor.publish_policy('default: allow');
ROLLBACK;
-- So does the operator: its functions are refused in an agent's transaction.
\c - authensor_operator
BEGIN;
SELECT authensor.authenticate(:'agent_a') AS tenant;
SELECT authensor.create_api_key('tenant-a', 'from an agent transaction');
ROLLBACK;

-- 3. Settings that weaken enforcement or use memory are not the caller's:
-- set before the library is loaded in the session, they are dropped when it
-- loads; set after, they are refused; a role cannot keep one for itself.
\c - agent_untrusted
SET authensor.approval_ttl = '7d';
SELECT authensor.current_tenant() IS NULL AS library_loaded;
SHOW authensor.approval_ttl;
ALTER ROLE agent_untrusted SET authensor.approval_ttl = '7d';
SET authensor.cache_size = 1000000;
SET authensor.cache_ttl = 86400;
SET authensor.approval_ttl = '7d';
SET authensor.max_args_bytes = 2147483647;
SELECT set_config('authensor.approval_ttl', '604800', true);
SELECT name, context FROM pg_settings WHERE name LIKE 'authensor.%' AND context <> 'superuser' ORDER BY 1;

-- 6. Bounded work per policy: many large regexes, and aliases that fan one
-- placeholder out to many conditions, are refused at publish (54000), and
-- nothing is stored; the cache reports its size in bytes.
\c - agent_app
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-a';
SELECT max(version) AS versions_before FROM authensor.policy_versions WHERE layer = 'tenant' \gset
SAVEPOINT s;
SELECT authensor.publish_policy(
    'rules:' || string_agg(format(E'\n  - tool: t.%s\n    action: block\n    when: {args.x: {matches: "(%s|[a-z]{1,20}){1,10}"}}', n, n), '')
) FROM generate_series(1, 1000) AS n;
ROLLBACK TO SAVEPOINT s;
SELECT authensor.publish_policy(E'rules:\n  - tool: a\n    action: block\n    when: &c {all: [{args.a: {contains: "${context.x}"}}, {args.b: {contains: "${context.x}"}}]}\n'
    || string_agg(format(E'  - tool: a%s\n    action: block\n    when: {all: [*c, *c, *c, *c, *c, *c, *c, *c]}\n', n), '')
) FROM generate_series(1, 2000) AS n;
ROLLBACK TO SAVEPOINT s;
-- A regex whose search could run for minutes is refused at publish: one
-- search cannot be interrupted, and costs the value's length times its size.
SELECT authensor.publish_policy('rules: [{tool: rx, action: block, when: {args.s: {matches: "[a-y]{14560}z"}}}]');
ROLLBACK TO SAVEPOINT s;
SELECT max(version) = :versions_before AS nothing_stored FROM authensor.policy_versions WHERE layer = 'tenant';
-- And a value longer than authensor.max_match_bytes is never searched: the
-- decision fails (54000) rather than run long or answer without the rule.
SELECT authensor.publish_policy('rules: [{id: rx, tool: rx, action: block, when: {args.s: {matches: "secret"}}}, {tool: rx, action: allow}]') > 0 AS published;
SELECT action, rule_id FROM authensor.check('rx', jsonb_build_object('s', 'a secret'));
SELECT action, rule_id FROM authensor.check('rx', jsonb_build_object('s', repeat('a', 20000) || ' secret'));
ROLLBACK TO SAVEPOINT s;
SELECT action FROM authensor.check('file.read');
SELECT (authensor.cache_stats()->>'bytes')::bigint > 0 AS bytes_reported,
       (authensor.cache_stats()->>'capacity_bytes')::bigint AS capacity_bytes;
ROLLBACK;

-- 7. (Publishing takes no lock another role can hold: see
-- tests/isolation/specs/publish_lock.spec.)

-- 8. Approvals compare args as stored jsonb: 10.50 is its own amount,
-- numbers are never rounded, and deep nesting is an answer, not XX000.
\c - agent_untrusted
BEGIN;
SELECT authensor.authenticate(:'agent_a') AS tenant;
SELECT receipt_id AS decimal_receipt FROM authensor.evaluate('email.send', '{"to": "x@gmail.com", "amount": 10.50}') \gset
SELECT receipt_id AS big_receipt FROM authensor.evaluate('email.send', '{"to": "x@gmail.com", "n": 9007199254740993}') \gset
COMMIT;
BEGIN;
SELECT authensor.authenticate(:'admin_a') AS tenant;
SELECT authensor.approve(:'decimal_receipt'), authensor.approve(:'big_receipt');
COMMIT;
BEGIN;
SELECT authensor.authenticate(:'agent_a') AS tenant;
SELECT authensor.consume_approval(:'big_receipt', 'email.send', '{"to": "x@gmail.com", "n": 9007199254740992}') AS rounded_neighbour;
SELECT authensor.consume_approval(:'big_receipt', 'email.send', '{"n": 9007199254740993, "to": "x@gmail.com"}') AS exact;
SELECT authensor.consume_approval(:'decimal_receipt', 'email.send', '{"to": "x@gmail.com", "amount": 10.5}') AS same_amount;
SELECT authensor.consume_approval(:'decimal_receipt', 'email.send',
                                  (repeat('[', 200) || repeat(']', 200))::jsonb) AS deep;
SELECT authensor.evaluate('email.send', (repeat('[', 200) || repeat(']', 200))::jsonb);
COMMIT;

-- 9. Channels, bindings, cursors.
-- A tenant's default channel cannot be computed from its id alone.
BEGIN;
SELECT authensor.authenticate(:'agent_a') AS tenant;
SELECT authensor.alert_route() LIKE 'authensor\_%' AS prefixed,
       authensor.alert_route() <> 'authensor_' || left(encode(sha256('tenant-a'), 'hex'), 24) AS not_from_id_alone,
       authensor.alert_route() = authensor.alert_route() AS stable;
COMMIT;
-- ROLLBACK TO SAVEPOINT undoes an authenticate() made inside it.
BEGIN;
SAVEPOINT s;
SELECT authensor.authenticate(:'agent_a') AS tenant;
ROLLBACK TO SAVEPOINT s;
SELECT authensor.current_tenant() AS after_rollback_to;
SELECT authensor.authenticate(:'agent_b') AS outer_tenant;
SAVEPOINT s;
SELECT authensor.authenticate(:'agent_a') AS inner_tenant;
SAVEPOINT t;
SELECT authensor.authenticate(:'admin_a') AS innermost_tenant;
RELEASE SAVEPOINT t;
ROLLBACK TO SAVEPOINT s;
SELECT authensor.current_tenant() AS back_to_outer;
SELECT authensor.publish_policy('default: allow');
ROLLBACK;
-- A WITH HOLD cursor outlives the transaction that bound the tenant, so it
-- sees no tenant's rows, inside that transaction or after it.
BEGIN;
SELECT authensor.authenticate(:'agent_a') AS tenant;
SELECT count(*) > 0 AS tenant_has_receipts FROM authensor.receipts;
DECLARE held CURSOR WITH HOLD FOR SELECT tenant_id, tool FROM authensor.receipts;
DECLARE plain CURSOR FOR SELECT count(*) > 0 AS plain_cursor_sees_rows FROM authensor.receipts;
FETCH ALL FROM plain;
COMMIT;
FETCH ALL FROM held;
CLOSE held;
