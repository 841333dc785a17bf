-- Roles shared by the tests. Neither is a superuser nor BYPASSRLS, so
-- row-level security applies to everything they do.
CREATE ROLE authensor_operator LOGIN NOSUPERUSER NOBYPASSRLS;
GRANT EXECUTE ON FUNCTION authensor.publish_platform_policy(text),
                          authensor.activate_platform_policy(integer)
   TO authensor_operator;
CREATE ROLE agent_app LOGIN NOSUPERUSER NOBYPASSRLS;

SELECT rolname, rolsuper, rolbypassrls
  FROM pg_roles WHERE rolname IN ('authensor_operator', 'agent_app') ORDER BY 1;

-- The seed's platform policy, published by the operator.
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
$$) AS platform_version;
