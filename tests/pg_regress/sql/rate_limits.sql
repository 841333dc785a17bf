-- rate conditions count the tenant's allowed receipts in the window, through
-- the receipts' index, from evaluate(), guard() and check() alike.
\c - agent_app
\set VERBOSITY default

BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-rl';
SELECT authensor.publish_policy($$
default: allow
rules:
  - id: mail-burst
    tool: email.send
    action: block
    reason: at most 3 emails a minute
    when:
      rate: {max: 3, per: 1m, scope: tool}
  - id: search-quota
    tool: web.search
    action: allow
    when:
      not:
        rate: {max: 2, per: 1h, scope: rule}
  - tool: web.search
    action: escalate
    reason: the search quota is spent
$$) AS version;
COMMIT;

-- Three emails go through, the fourth reaches the limit; each evaluate() in
-- one statement sees the receipts of the calls before it.
SET authensor.tenant_id = 'tenant-rl';
SELECT n, (authensor.evaluate('email.send')).action
  FROM generate_series(1, 5) AS n ORDER BY n;
-- Blocked calls are not counted, other tools are not, and check() counts
-- the same receipts without adding one.
SELECT action, rule_id FROM authensor.check('email.send');
SELECT action FROM authensor.evaluate('files.read');
SELECT action, count(*) FROM authensor.receipts
 WHERE tool = 'email.send' GROUP BY action ORDER BY action;

-- scope: rule counts the calls the rule allowed: two searches, then the
-- quota rule no longer matches and the next rule escalates.
SELECT n, (authensor.guard('web.search'))->>'action' AS action
  FROM generate_series(1, 3) AS n ORDER BY n;

-- A tenant rule's scope: rule limit counts the calls its policy allowed
-- through it, also when the platform allows them too and is credited: under
-- a platform default of allow (first), then beside a platform rule of the
-- same id, whose own calls it does not count. In one transaction, rolled back, as it
-- changes the platform policy.
\c - postgres
BEGIN;
SELECT authensor.publish_platform_policy('default: allow') AS platform;
SET LOCAL authensor.tenant_id = 'tenant-rl4';
SELECT authensor.publish_policy($$
default: allow
rules:
  - id: fetch-quota
    tool: web.fetch
    action: allow
    when:
      not:
        rate: {max: 2, per: 1h, scope: rule}
  - tool: web.fetch
    action: block
    reason: the fetch quota is spent
$$) AS version;
SELECT action, layer, rule_id FROM authensor.evaluate('web.fetch');
SELECT action, layer, rule_id FROM authensor.evaluate('web.fetch');
SELECT action, layer, rule_id FROM authensor.evaluate('web.fetch');
SELECT action, layer, rule_id, tenant_rule_id FROM authensor.receipts
 WHERE tenant_id = 'tenant-rl4' ORDER BY recorded_at;
SELECT authensor.publish_platform_policy($$
default: allow
rules:
  - {id: fetch-quota, tool: "web.*", action: allow}
$$) AS platform;
SET LOCAL authensor.tenant_id = 'tenant-rl5';
SELECT authensor.publish_policy($$
default: allow
rules:
  - id: fetch-quota
    tool: web.fetch
    action: allow
    when:
      not:
        rate: {max: 1, per: 1h, scope: rule}
  - tool: web.fetch
    action: block
    reason: the fetch quota is spent
$$) AS version;
-- Two calls credited to the platform's fetch-quota, which the tenant's
-- fetch-quota did not decide: not counted by it.
SELECT action, layer, rule_id FROM authensor.evaluate('web.search');
SELECT action, layer, rule_id FROM authensor.evaluate('web.search');
SELECT action, layer, rule_id FROM authensor.evaluate('web.fetch');
SELECT action, layer, rule_id FROM authensor.evaluate('web.fetch');
ROLLBACK;
-- A call the tenant escalates runs once its approval is consumed, and only
-- then counts: consume_approval() decides it again with the escalation
-- granted, so that it counts as an allow of the platform's rule would, and
-- refuses it (false, with a receipt of the block) when the platform's limit
-- is reached by then. A tenant's own escalations and approvals thus cannot
-- get past a platform limit. Rolled back, as it changes the platform policy.
\c - postgres
BEGIN;
SELECT authensor.publish_platform_policy($$
default: allow
rules:
  - id: send-quota
    tool: email.send
    action: allow
    when:
      not:
        rate: {max: 2, per: 1h, scope: rule}
  - {tool: email.send, action: block, reason: the platform's send quota is spent}
$$) AS platform;
SET LOCAL authensor.tenant_id = 'tenant-rl6';
SELECT authensor.publish_policy('{default: allow, rules: [{id: ask, tool: "email.*", action: escalate}]}') AS version;
SELECT n, (authensor.evaluate('email.send', jsonb_build_object('n', n))).action
  FROM generate_series(1, 3) AS n ORDER BY n;
SELECT (authensor.evaluate('email.draft', '{"n": 9}')).action;
SELECT authensor.approve(id) FROM authensor.receipts
 WHERE tenant_id = 'tenant-rl6' AND action = 'escalate' ORDER BY args->>'n';
SELECT args->>'n' AS n, authensor.consume_approval(id, 'email.send', args) AS consumed
  FROM authensor.receipts
 WHERE tenant_id = 'tenant-rl6' AND action = 'escalate' AND tool = 'email.send' ORDER BY args->>'n';
SELECT args->>'n' AS n, action, layer, rule_id, tenant_rule_id,
       regexp_replace(reason, '[0-9a-f-]{36}', '<approval>') AS reason
  FROM authensor.receipts WHERE tenant_id = 'tenant-rl6' ORDER BY recorded_at;
SELECT r.args->>'n' AS n, a.status
  FROM authensor.approvals a JOIN authensor.receipts r ON r.id = a.receipt_id
 WHERE a.tenant_id = 'tenant-rl6' ORDER BY 1;
-- A consumption that rolls back is spent all the same (the call may have
-- run): this connection cannot consume it again, and the approval is marked
-- consumed when the run's receipt is written again.
SELECT id AS draft FROM authensor.receipts
 WHERE tenant_id = 'tenant-rl6' AND tool = 'email.draft' AND action = 'escalate' \gset
SAVEPOINT s;
SELECT authensor.consume_approval(:'draft', 'email.draft', '{"n": 9}') AS consumed;
ROLLBACK TO SAVEPOINT s;
SELECT authensor.consume_approval(:'draft', 'email.draft', '{"n": 9}') AS consumed_again;
-- An approval stands for no more approvers than it had: once the platform
-- asks two for drafts, an approval by one is not enough.
SELECT receipt_id AS draft2 FROM authensor.evaluate('email.draft', '{"n": 10}') \gset
SELECT authensor.approve(:'draft2');
SELECT authensor.publish_platform_policy($$
default: allow
rules:
  - {id: drafts, tool: email.draft, action: escalate, approval: {required: 2}}
$$) AS platform;
SELECT authensor.consume_approval(:'draft2', 'email.draft', '{"n": 10}') AS consumed;
SELECT status FROM authensor.approvals WHERE receipt_id = :'draft2';
ROLLBACK;
\c - agent_app
\set VERBOSITY default

-- Another tenant's receipts count for nothing here.
SET authensor.tenant_id = 'tenant-rl2';
BEGIN;
SELECT authensor.publish_policy($$
default: allow
rules:
  - tool: email.send
    action: block
    when:
      rate: {max: 1, per: 1m}
$$) AS version;
COMMIT;
SELECT action FROM authensor.evaluate('email.send');
SELECT action FROM authensor.evaluate('email.send');

-- Under REPEATABLE READ a limit cannot be exact: refused with a hint.
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT action FROM authensor.evaluate('email.send');
ROLLBACK;
-- check() takes no lock, so it decides in any isolation.
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT action FROM authensor.check('email.send');
ROLLBACK;
-- A decision that rolls back counts at once in its own session (and in
-- others once its receipt is written again, at this backend's next commit).
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-rl3';
SELECT authensor.publish_policy('{rules: [{tool: "*", action: block, when: {rate: {max: 1, per: 1m}}}], default: allow}') AS version;
COMMIT;
SET authensor.tenant_id = 'tenant-rl3';
BEGIN;
SELECT action FROM authensor.evaluate('x');
ROLLBACK;
SELECT action FROM authensor.evaluate('x');
SELECT action FROM authensor.evaluate('x');
SELECT action, committed FROM authensor.receipts ORDER BY recorded_at;
-- A transaction that took the rate lock cannot be prepared (it would keep
-- the lock), also once its decision rolled back.
BEGIN;
SAVEPOINT s;
SELECT action FROM authensor.evaluate('y');
ROLLBACK TO SAVEPOINT s;
PREPARE TRANSACTION 'keeps-the-lock';

-- explain() shows the count.
SET authensor.tenant_id = 'tenant-rl';
SELECT c->>'operator' AS operator, c->>'operand' AS operand, c->>'value' AS value, c->>'held' AS held
  FROM jsonb_path_query(authensor.explain('email.send'), '$.layers[*].visited[*].checks[*]') AS c;

-- Bad limits are refused when published.
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-rl';
SELECT authensor.publish_policy('{rules: [{action: block, when: {rate: {max: 0, per: 1m}}}]}');
ROLLBACK;
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-rl';
SELECT authensor.publish_policy('{rules: [{action: block, when: {rate: {max: 5, per: 1 minute}}}]}');
ROLLBACK;
