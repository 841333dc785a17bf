-- Publishing validates everything. Each bad policy raises an ERROR with a
-- SQLSTATE and, where YAML gives one, a line and column; nothing is stored.
\c - agent_app
\set VERBOSITY default
SET authensor.tenant_id = 'tenant-v';

-- Malformed YAML.
SELECT authensor.publish_policy($$
rules:
  - tool: [email.send
    action: allow
$$);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;

-- Unknown top-level key.
SELECT authensor.publish_policy($$
rulez:
  - tool: email.send
    action: allow
$$);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;

-- Unknown rule key.
SELECT authensor.publish_policy($$
rules:
  - tool: email.send
    effect: allow
$$);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;

-- Unknown operator: named, with the valid ones listed.
SELECT authensor.publish_policy($$
rules:
  - tool: email.send
    action: allow
    when:
      args.to:
        endswith: "@tenant-v.com"
$$);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;

-- Unknown action.
SELECT authensor.publish_policy($$
rules:
  - tool: email.send
    action: deny
$$);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;

-- A regex that does not compile.
SELECT authensor.publish_policy($$
rules:
  - tool: email.send
    action: block
    when:
      args.to:
        matches: "([a-z]+"
$$);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;

-- Wrong operand types.
SELECT authensor.publish_policy($$
rules:
  - tool: payment.send
    action: escalate
    when:
      args.amount:
        gt: "1000"
$$);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT authensor.publish_policy($$
rules:
  - tool: email.send
    action: allow
    when:
      args.to:
        in: "a@tenant-v.com"
$$);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT authensor.publish_policy($$
rules:
  - tool: email.send
    action: allow
    when:
      args.to:
        exists: "yes"
$$);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;

-- A path outside tool, args and context.
SELECT authensor.publish_policy($$
rules:
  - tool: email.send
    action: allow
    when:
      body.to:
        equals: x
$$);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;

-- A malformed tool glob.
SELECT authensor.publish_policy($$
rules:
  - tool: "email..send"
    action: allow
$$);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;

-- Not a policy at all.
SELECT authensor.publish_policy('just a string');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT authensor.publish_policy(NULL);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;

-- Nothing of the above was stored.
SELECT count(*) AS stored_versions FROM authensor.policies WHERE tenant_id = 'tenant-v';

-- A valid policy after all that gets version 1.
SELECT authensor.publish_policy('default: allow') AS first_version;
RESET authensor.tenant_id;

-- Bad arguments to evaluate().
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-v';
SELECT authensor.evaluate(NULL);
ROLLBACK;
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-v';
SELECT authensor.evaluate('file.read', '"not an object"');
ROLLBACK;
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-v';
SELECT authensor.evaluate('file.read', '{}', '[]');
ROLLBACK;
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-v';
SELECT authensor.evaluate('file.read', NULL);
ROLLBACK;
-- None of those left a receipt.
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-v';
SELECT count(*) AS receipts FROM authensor.receipts;
COMMIT;
