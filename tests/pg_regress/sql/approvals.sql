-- Escalations become approvals bound to the exact action: approved by a
-- trusted member of the tenant, consumed once by the agent with the same tool
-- and args, before expiry.
\set VERBOSITY default

-- tenant-a's policy (seed_scenario) escalates external email. Its agent
-- authenticates with a key and asks.
\c - authensor_operator
SELECT authensor.create_api_key('tenant-a', 'approvals') AS key_a \gset
SELECT authensor.create_api_key('tenant-b', 'approvals') AS key_b \gset
\c - agent_untrusted
BEGIN;
SELECT authensor.authenticate(:'key_a') AS tenant;
SELECT action, reason, approval_id IS NOT NULL AS approval_opened, receipt_id AS escalated
  FROM authensor.evaluate('email.send', '{"to": "x@gmail.com", "subject": "Q3"}') \gset
SELECT :'action' AS action, :'approval_opened' AS approval_opened;
COMMIT;
BEGIN;
SELECT authensor.authenticate(:'key_a') AS tenant;
SELECT tool, status, expires_at - requested_at AS ttl, decided_by FROM authensor.approvals WHERE receipt_id = :'escalated';
-- Not approved yet: nothing to consume.
SELECT authensor.consume_approval(:'escalated', 'email.send', '{"to": "x@gmail.com", "subject": "Q3"}') AS consumed;
-- The agent cannot approve its own escalation.
SELECT authensor.approve(:'escalated');
ROLLBACK;

-- Nor can another tenant, even a trusted one: it does not see the approval.
\c - agent_app
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-b';
SELECT count(*) AS visible_to_b FROM authensor.approvals WHERE receipt_id = :'escalated';
SELECT authensor.approve(:'escalated');
ROLLBACK;

-- A trusted member of tenant-a approves.
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-a';
SELECT authensor.approve(:'escalated', 'customer asked for it') AS status;
SELECT status, decided_by, note FROM authensor.approvals WHERE receipt_id = :'escalated';
COMMIT;
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-a';
SELECT authensor.approve(:'escalated');
ROLLBACK;

-- The agent consumes it: a different tool or different args never match
-- (no swap between check and use), the identical action matches once.
\c - agent_untrusted
BEGIN;
SELECT authensor.authenticate(:'key_a') AS tenant;
SELECT authensor.consume_approval(:'escalated', 'email.send', '{"to": "boss@gmail.com", "subject": "Q3"}') AS other_args;
SELECT authensor.consume_approval(:'escalated', 'email.forward', '{"to": "x@gmail.com", "subject": "Q3"}') AS other_tool;
SELECT authensor.consume_approval(:'escalated', 'email.send', '{"to": "x@gmail.com"}') AS fewer_args;
-- Key order and spacing do not matter: the args are compared as jsonb.
SELECT authensor.consume_approval(:'escalated', 'email.send', '{"subject":"Q3","to":"x@gmail.com"}') AS same_action;
SELECT authensor.consume_approval(:'escalated', 'email.send', '{"to": "x@gmail.com", "subject": "Q3"}') AS second_time;
SELECT status FROM authensor.approvals WHERE receipt_id = :'escalated';
COMMIT;
-- tenant-b's key cannot consume tenant-a's approval.
BEGIN;
SELECT authensor.authenticate(:'key_b') AS tenant;
SELECT authensor.consume_approval(:'escalated', 'email.send', '{"to": "x@gmail.com", "subject": "Q3"}') AS consumed_by_b;
ROLLBACK;

-- A rejection is final.
BEGIN;
SELECT authensor.authenticate(:'key_a') AS tenant;
SELECT receipt_id AS rejected FROM authensor.evaluate('email.send', '{"to": "y@gmail.com"}') \gset
COMMIT;
\c - agent_app
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-a';
SELECT authensor.reject(:'rejected', 'not to that address') AS status;
SELECT authensor.approve(:'rejected');
ROLLBACK;
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-a';
SELECT authensor.reject(:'rejected', 'not to that address') AS status;
COMMIT;
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-a';
SELECT authensor.approve(:'rejected');
ROLLBACK;
\c - agent_untrusted
BEGIN;
SELECT authensor.authenticate(:'key_a') AS tenant;
SELECT authensor.consume_approval(:'rejected', 'email.send', '{"to": "y@gmail.com"}') AS consumed;
SELECT status, note FROM authensor.approvals WHERE receipt_id = :'rejected';
COMMIT;

-- Expiry is fixed when the approval opens, from authensor.approval_ttl,
-- which the operator sets (an agent cannot lengthen its own approvals).
SET authensor.approval_ttl = '7d';
\c - postgres
ALTER ROLE agent_untrusted SET authensor.approval_ttl = '1s';
\c - agent_untrusted
BEGIN;
SELECT authensor.authenticate(:'key_a') AS tenant;
SELECT receipt_id AS expiring FROM authensor.evaluate('email.send', '{"to": "z@gmail.com"}') \gset
SELECT expires_at - requested_at AS ttl FROM authensor.approvals WHERE receipt_id = :'expiring';
COMMIT;
SELECT pg_sleep(1.2);
\c - postgres
ALTER ROLE agent_untrusted RESET authensor.approval_ttl;
\c - agent_app
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-a';
SELECT status FROM authensor.approvals WHERE receipt_id = :'expiring';
SELECT authensor.approve(:'expiring');
ROLLBACK;

-- Only escalations written by evaluate() open approvals: check() and
-- allow or block decisions do not.
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-a';
SELECT approval_id IS NULL AS none_for_check FROM authensor.check('email.send', '{"to": "x@gmail.com"}');
SELECT approval_id IS NULL AS none_for_allow FROM authensor.evaluate('email.send', '{"to": "bob@tenant-a.com"}');
SELECT count(*) AS approvals, count(DISTINCT receipt_id) AS receipts FROM authensor.approvals;
SELECT authensor.guard('email.send', '{"to": "w@gmail.com"}') ? 'approval' AS guard_names_the_approval;
ROLLBACK;

-- Nobody writes approvals directly.
\c - agent_untrusted
UPDATE authensor.approval_requests SET status = 'approved';
INSERT INTO authensor.approval_requests (receipt_id, tenant_id, tool, request_hash, expires_at)
VALUES (gen_random_uuid(), 'tenant-a', 'x', '\x00', now());

-- Bad input.
\c - agent_app
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-a';
SELECT authensor.approve(NULL);
ROLLBACK;
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-a';
SELECT authensor.approve(gen_random_uuid());
ROLLBACK;
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-a';
SELECT authensor.consume_approval(:'escalated', NULL, '{}');
ROLLBACK;

-- The alert route: trusted members set it; agents cannot divert it.
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-a';
SELECT authensor.alert_route() ~ '^authensor_[0-9a-f]{24}$' AS default_route;
SELECT authensor.set_alert_route('tenant_a_ops') AS route;
SELECT authensor.alert_route() AS route_now;
ROLLBACK;
\c - agent_untrusted
BEGIN;
SELECT authensor.authenticate(:'key_a') AS tenant;
SELECT authensor.set_alert_route('somewhere_else');
ROLLBACK;
