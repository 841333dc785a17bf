-- Roles shared by the tests. None is a superuser or BYPASSRLS, so row-level
-- security applies to everything they do.
-- The operator: owns the platform policy and the API keys.
CREATE ROLE authensor_operator LOGIN NOSUPERUSER NOBYPASSRLS;
GRANT EXECUTE ON FUNCTION authensor.publish_platform_policy(text, boolean),
                          authensor.activate_platform_policy(integer),
                          authensor.clear_platform_shadow_policy(),
                          authensor.create_api_key(text, text, text),
                          authensor.revoke_api_key(uuid)
   TO authensor_operator;
-- A trusted application server: chooses the tenant with SET LOCAL.
CREATE ROLE agent_app LOGIN NOSUPERUSER NOBYPASSRLS IN ROLE authensor_trusted;
-- An agent running its own SQL: must authenticate with an API key.
CREATE ROLE agent_untrusted LOGIN NOSUPERUSER NOBYPASSRLS;

SELECT rolname, rolsuper, rolbypassrls, pg_has_role(rolname, 'authensor_trusted', 'USAGE') AS trusted
  FROM pg_roles WHERE rolname IN ('authensor_operator', 'agent_app', 'agent_untrusted') ORDER BY 1;

-- The seed's platform policy, published by the operator. AUTHENSOR_FIXTURES
-- is tests/fixtures (set by tests/run-sql-tests.sh).
\c - authensor_operator
\set platform `cat "$AUTHENSOR_FIXTURES/platform.yaml"`
SELECT authensor.publish_platform_policy(:'platform') AS platform_version;
