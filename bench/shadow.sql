-- Shadow versions for `make bench-shadow`, after bench/setup.sql, in the
-- database psql is connected to. Tenant bench-shadow: bench-10's policy in
-- force and, as its shadow, the same policy with the benchmark's request
-- escalated, so that every decision diverges and its receipt records the
-- shadow's action, layer and rule (the most a shadow writes). With
-- -v platform_shadow=on, the platform's policy gets a shadow version too (one
-- more rule, on another tool): then every decision there is evaluated under
-- both shadows.
\set ON_ERROR_STOP on
SELECT set_config('authensor.tenant_id', 'bench-shadow', false) IS NOT NULL AS tenant_set;
SELECT authensor.publish_policy(bench.tenant_policy(10)::text) AS active_version;
SELECT authensor.publish_policy(
           jsonb_set(bench.tenant_policy(10), '{rules,3,action}', '"escalate"')::text,
           shadow => true) AS shadow_version;
RESET authensor.tenant_id;
\if :{?platform_shadow}
SELECT authensor.publish_platform_policy(
           jsonb_set(bench.platform_policy(), '{rules}',
                     (bench.platform_policy() -> 'rules')
                     || '[{"id": "no-export", "tool": "data.export", "action": "block"}]')::text,
           shadow => true) AS platform_shadow_version;
\endif
