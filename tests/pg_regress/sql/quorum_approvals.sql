-- Quorum approvals and per-rule expiry: a rule's `approval:` block sets how
-- many distinct approvers its escalation needs and how long the approval
-- lasts. Approvers are login roles; each counts once.
\set VERBOSITY default

\c - postgres
CREATE ROLE approver_one LOGIN NOSUPERUSER NOBYPASSRLS IN ROLE authensor_trusted;
CREATE ROLE approver_two LOGIN NOSUPERUSER NOBYPASSRLS IN ROLE authensor_trusted;
-- approver_one may also SET ROLE to a trusted group role: that must not
-- make it a second approver.
CREATE ROLE approvers_group NOLOGIN IN ROLE authensor_trusted;
GRANT approvers_group TO approver_one;

\c - agent_app
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-q';
SELECT authensor.publish_policy($$
rules:
  - id: payouts
    tool: payments.payout
    action: escalate
    approval: {required: 2, expires: 10m}
  - id: deploys
    tool: deploy
    action: escalate
    approval: {expires: 1s}
  - id: refunds
    tool: payments.refund
    action: escalate
$$) AS version;
COMMIT;

-- Only an escalate rule takes an approval; terms are checked at publishing.
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-q';
SELECT authensor.publish_policy('rules: [{tool: x, action: allow, approval: {required: 2}}]');
ROLLBACK;
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-q';
SELECT authensor.publish_policy('rules: [{tool: x, action: escalate, approval: {required: 17}}]');
ROLLBACK;

-- authensor.approval_ttl says one hour (its default); the rules say
-- otherwise.
SHOW authensor.approval_ttl;
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-q';
SELECT receipt_id AS payout FROM authensor.evaluate('payments.payout', '{"amount": 50000}') \gset
SELECT receipt_id AS deploy FROM authensor.evaluate('deploy', '{}') \gset
SELECT receipt_id AS refund FROM authensor.evaluate('payments.refund', '{"amount": 5}') \gset
SELECT tool, status, required, approvers, expires_at - requested_at AS ttl
  FROM authensor.approvals ORDER BY tool;
COMMIT;

-- The first approver leaves it pending; approving again, or under another
-- role name set with SET ROLE, does not count twice.
\c - approver_one
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-q';
SELECT authensor.approve(:'payout', 'looks right') AS status;
COMMIT;
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-q';
SELECT authensor.approve(:'payout');
ROLLBACK;
BEGIN;
SET LOCAL ROLE approvers_group;
SET LOCAL authensor.tenant_id = 'tenant-q';
SELECT authensor.approve(:'payout');
ROLLBACK;
-- The role that asked cannot be one of the approvers of a quorum.
\c - agent_app
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-q';
SELECT authensor.approve(:'payout');
ROLLBACK;
-- Pending: the agent cannot use it yet.
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-q';
SELECT authensor.consume_approval(:'payout', 'payments.payout', '{"amount": 50000}') AS consumed;
SELECT status, approvers, decided_by FROM authensor.approvals WHERE receipt_id = :'payout';
ROLLBACK;

-- Another tenant neither sees the votes nor can vote.
\c - approver_two
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-b';
SELECT count(*) AS votes_seen_by_b FROM authensor.approval_votes;
SELECT authensor.approve(:'payout');
ROLLBACK;

-- The second distinct approver completes the quorum.
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-q';
SELECT authensor.approve(:'payout', 'agreed') AS status;
SELECT status, approvers, decided_by FROM authensor.approvals WHERE receipt_id = :'payout';
SELECT approver, note FROM authensor.approval_votes ORDER BY voted_at;
COMMIT;
\c - agent_app
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-q';
SELECT authensor.consume_approval(:'payout', 'payments.payout', '{"amount": 50000}') AS consumed;
COMMIT;

-- A rule without terms needs one approver, as before.
\c - approver_one
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-q';
SELECT authensor.approve(:'refund') AS status;
COMMIT;

-- The rule's one-second expiry beats the operator's hour.
SELECT pg_sleep(1.2);
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-q';
SELECT status FROM authensor.approvals WHERE receipt_id = :'deploy';
SELECT authensor.approve(:'deploy');
ROLLBACK;

-- When both layers escalate, neither lengthens the other's expiry: the
-- platform's rule leaves its expiry to authensor.approval_ttl (an hour), so
-- the tenant's week is cut to the hour.
\c - authensor_operator
SELECT version AS platform_before FROM authensor.policy_versions
 WHERE layer = 'platform' AND active \gset
\set platform `cat "$AUTHENSOR_FIXTURES/platform.yaml"`
SELECT authensor.publish_platform_policy(:'platform' || $$
  - {id: deploys-reviewed, tool: deploy.prod, action: escalate}
$$) > :platform_before AS published;
\c - agent_app
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-q';
SELECT authensor.publish_policy($$
rules:
  - {id: slow-deploys, tool: deploy.prod, action: escalate, approval: {expires: 7d}}
$$) AS version;
SELECT layer, rule_id FROM authensor.evaluate('deploy.prod', '{}');
SELECT expires_at - requested_at AS ttl FROM authensor.approvals WHERE tool = 'deploy.prod';
ROLLBACK;
\c - authensor_operator
SELECT authensor.activate_platform_policy(:platform_before) = :platform_before AS restored;

-- Nobody writes votes directly.
\c - approver_one
INSERT INTO authensor.approval_votes (approval_id, tenant_id, approver)
SELECT id, tenant_id, 'someone_else' FROM authensor.approval_requests LIMIT 1;

\c - postgres
DROP ROLE approver_one, approver_two, approvers_group;
