-- Hostile and malformed input: every case is a clean ERROR with a SQLSTATE,
-- the backend survives, and nothing is stored.
\c - agent_app
\set VERBOSITY default
SET authensor.tenant_id = 'tenant-bad';

-- A billion-laughs alias bomb.
SELECT authensor.publish_policy($$
description:
  a: &a ["x","x","x","x","x","x","x","x","x","x"]
  b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]
  c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]
  d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]
  e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]
  f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]
  g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]
  h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g,*g]
rules:
  - tool: mail.send
    action: block
    when:
      args.to:
        in: *h
$$);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;

-- 10,000-deep nesting, as flow sequences and as conditions.
SELECT authensor.publish_policy('rules: ' || repeat('[', 10000) || repeat(']', 10000));
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT authensor.publish_policy('rules: [{tool: a, action: allow, when: ' || repeat('{not: ', 10000) || '{args.x: {exists: true}}' || repeat('}', 10000) || '}]');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
-- Nesting past authensor.max_condition_depth (32) but well-formed.
SELECT authensor.publish_policy('rules: [{tool: a, action: allow, when: ' || repeat('{not: ', 40) || '{args.x: {exists: true}}' || repeat('}', 40) || '}]');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;

-- A 10 MB document, and a policy over authensor.max_policy_rules.
SELECT authensor.publish_policy('rules: []' || E'\n# ' || repeat('x', 10 * 1024 * 1024));
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
\c - postgres
SET authensor.max_policy_rules = 3;
SET authensor.tenant_id = 'tenant-bad';
SELECT authensor.publish_policy('rules: [{tool: a, action: allow}, {tool: b, action: allow}, {tool: c, action: allow}, {tool: d, action: allow}]');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
RESET authensor.max_policy_rules;
\c - agent_app
SET authensor.tenant_id = 'tenant-bad';
-- Only a superuser may change the limits.
SELECT authensor.current_tenant() AS tenant;
SET authensor.max_policy_bytes = '100MB';

-- Regexes: invalid, and too large once compiled.
SELECT authensor.publish_policy($$rules: [{tool: a, action: block, when: {args.x: {matches: "(?P<n"}}}]$$);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT authensor.publish_policy($$rules: [{tool: a, action: block, when: {args.x: {matches: "(\\w{100}){100}"}}}]$$);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;

-- Strings that are not plain ASCII are data like any other.
SELECT authensor.publish_policy(E'rules: [{tool: "mail.send", action: allow, reason: "\u00e9t\u00e9 \u2603 \U0001F600", when: {args.to: {endsWith: "@\u00e9xample.com"}}}]') AS version;
SELECT action, reason FROM authensor.check('mail.send', E'{"to": "b@\u00e9xample.com"}');
SELECT action FROM authensor.check('mail.send', '{"to": "b@\u0000example.com"}');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;

-- NULL anywhere.
SELECT authensor.publish_policy(NULL);
SELECT authensor.check(NULL);
SELECT authensor.check('a', NULL);
SELECT authensor.check('a', '{}', NULL);
SELECT authensor.guard(NULL);
SELECT authensor.activate_policy(NULL);
SELECT authensor.authenticate(NULL);

-- args and context must be objects.
SELECT authensor.check('a', '[]');
SELECT authensor.check('a', '"text"');
SELECT authensor.check('a', 'null');
SELECT authensor.check('a', '{}', '42');

-- 10 MB of args, and a very long tool name.
SELECT authensor.evaluate('a', jsonb_build_object('blob', repeat('x', 10 * 1024 * 1024)));
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT authensor.evaluate(repeat('t', 100000));
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;

-- Empty, oversized and control-character tenant ids.
SET authensor.tenant_id = '';
SELECT authensor.check('a');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT set_config('authensor.tenant_id', repeat('t', 300), false) IS NOT NULL AS set;
SELECT authensor.check('a');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT set_config('authensor.tenant_id', E'tenant\nb', false) IS NOT NULL AS set;
SELECT authensor.check('a');
\c - authensor_operator
SELECT authensor.create_api_key('');
SELECT authensor.create_api_key(NULL);

-- Numbers of any size or precision decide: only authensor.max_args_bytes
-- bounds args and context. (The language examples compare such numbers.)
\c - agent_app
SET authensor.tenant_id = 'tenant-bad';
SELECT action, layer FROM authensor.check('a', '{"x": 1e400, "y": -1e400, "z": 1e-400, "w": 0.1000000000000000000001}');
SELECT action, layer FROM authensor.check('a', jsonb_build_object('big', ('1' || repeat('0', 131071))::numeric, 'small', ('0.' || repeat('0', 16382) || '1')::numeric));
SELECT action, layer FROM authensor.check('a', '{}', '{"n": 1e131071}');
-- JSON nested as deep as PostgreSQL reads it decides too.
SELECT action, layer FROM authensor.check('a', ('{"x": ' || repeat('[', 5000) || '1' || repeat(']', 5000) || '}')::jsonb);

-- The sql.* tools are agents' statements' own: a function that names its
-- tool writes no receipt for one, which would record a statement that never
-- ran. A dry run decides one, so that a policy's sql.* rules can be tried.
SELECT authensor.evaluate('sql.select', '{"command": "SELECT", "tables": ["public.orders"], "statement": "SELECT * FROM orders"}');
SELECT authensor.guard('sql.delete', '{"has_where": true}');
SELECT authensor.consume_approval('00000000-0000-7000-8000-000000000001', 'sql.update', '{}');
SELECT action, layer FROM authensor.check('sql.select', '{"tables": ["public.orders"]}');
SELECT authensor.explain('sql.ddl', '{"command": "DROP TABLE"}')->>'action' AS explained;

-- The backend is still here, and of all the above only the one valid
-- policy (the non-ASCII one) was stored, and no receipt.
\c - agent_app
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-bad';
SELECT count(*) AS versions FROM authensor.policies WHERE tenant_id = 'tenant-bad';
SELECT count(*) AS receipts FROM authensor.receipts;
COMMIT;
