#!/usr/bin/env bash
# The Sentinel over real one-second windows. Two tenants call at a steady rate
# through the warm-up; then a burst of tenant-a's calls, and later a run of
# its blocked calls, each raise tenant-a's alert on tenant-a's channel only,
# while tenant-b gets no alert and its baseline does not move. Also runs the
# README's pg_cron schedule once, where the cluster has pg_cron preloaded
# (AUTHENSOR_TEST_PG_CRON=0 says it has not). Usage: run.sh SOCKET_DIR PORT
set -euo pipefail
socket_dir=$1 port=$2
db=authensor_sentinel
cron_db=authensor_sentinel_cron
psql=(psql -X -q -v ON_ERROR_STOP=1 -h "$socket_dir" -p "$port" -U postgres)
fail() { echo "sentinel: FAILED: $*" >&2; exit 1; }
query() { "${psql[@]}" -d "$db" -Atc "$1"; }

# pg_cron: the documented every-minute schedule, in a database of its own so
# that its scans stay out of the scenario. Checked at the end.
with_cron=${AUTHENSOR_TEST_PG_CRON:-1}
if [[ $with_cron == 1 ]]; then
    "${psql[@]}" -d postgres -c "CREATE EXTENSION pg_cron"
    "${psql[@]}" -d postgres -c "CREATE DATABASE $cron_db"
    "${psql[@]}" -d "$cron_db" -c "CREATE EXTENSION authensor"
    cron_job=$("${psql[@]}" -d postgres -Atc "SELECT cron.schedule_in_database('authensor-sentinel', '* * * * *',
                                                  'SELECT authensor.sentinel_scan()', '$cron_db')")
    cron_deadline=$((SECONDS + 75))
fi

"${psql[@]}" -d postgres -c "CREATE DATABASE $db"
"${psql[@]}" -d postgres -c "ALTER DATABASE $db SET authensor.sentinel_window = '1s'"
"${psql[@]}" -d "$db" >/dev/null <<'SQL'
CREATE EXTENSION authensor;
-- n decisions for a tenant in one transaction (superusers may choose the tenant).
CREATE FUNCTION decide(tenant text, tool text, n integer) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('authensor.tenant_id', tenant, true);
    FOR i IN 1..n LOOP
        PERFORM authensor.evaluate(tool);
    END LOOP;
END
$$;
SET authensor.tenant_id = 'tenant-a';
SELECT authensor.publish_policy('rules: [{tool: probe.ok, action: allow}, {tool: probe.bad, action: block}]');
SELECT authensor.set_alert_route('sentinel_tenant_a');
SET authensor.tenant_id = 'tenant-b';
SELECT authensor.publish_policy('rules: [{tool: probe.ok, action: allow}, {tool: probe.bad, action: block}]');
SQL
channel_a=sentinel_tenant_a
channel_b=$("${psql[@]}" -d "$db" -Atc "SET authensor.tenant_id = 'tenant-b'" -c "SELECT authensor.alert_route()")

# Scans while listening on both tenants' channels; psql prints the
# notifications the scan's commit delivers. Appends them to $notes.
notes=$(mktemp)
trap 'rm -f "$notes"' EXIT
scan() {
    local out
    out=$("${psql[@]}" -d "$db" -At -c "LISTEN $channel_a" -c "LISTEN $channel_b" -c "SELECT authensor.sentinel_scan()")
    grep '^Asynchronous notification' <<<"$out" >>"$notes" || true
}
notified_on() { grep -c "notification \"$1\"" "$notes" || true; }
b_statistics() {
    query "SELECT string_agg(format('%s mean %s var %s, block %s/%s, escalate %s/%s', coalesce(tool, '*'), rate_mean,
                                    rate_var, block_mean, block_var, escalate_mean, escalate_var), '; ' ORDER BY tool NULLS FIRST)
             FROM authensor.sentinel_baselines WHERE tenant_id = 'tenant-b'"
}
b_windows() { query "SELECT min(windows) FROM authensor.sentinel_baselines WHERE tenant_id = 'tenant-b'"; }

# Window k is [t0 + k, t0 + k + 1) seconds since the epoch. Each window's calls
# are made 0.2 s in, by one session that waits for that moment itself, so that
# a slow machine cannot push them into the next window; the scans follow, when
# every earlier window is complete.
t0=$(query "SELECT ceil(extract(epoch FROM clock_timestamp()))::bigint + 1")
window_calls() { # k tenant-a's tool tenant-a's count
    query "SELECT pg_sleep_until(to_timestamp($t0 + $1 + 0.2)), decide('tenant-a', '$2', $3), decide('tenant-b', 'probe.ok', 5)" >/dev/null
}

for k in $(seq 0 16); do
    case $k in
    12) window_calls "$k" probe.ok 30 ;;
    15) window_calls "$k" probe.bad 5 ;;
    *) window_calls "$k" probe.ok 5 ;;
    esac
    case $k in
    12) # the end of a steady warm-up: nothing to report
        scan
        [[ $(query "SELECT count(*) FROM authensor.alerts") == 0 ]] || fail "an alert during the steady warm-up"
        [[ ! -s $notes ]] || fail "a notification during the steady warm-up: $(cat "$notes")"
        [[ $(query "SELECT count(*) FROM authensor.sentinel_baselines WHERE window_seconds = 1 AND windows >= 10") == 4 ]] ||
            fail "expected 4 warmed-up baselines with 1-second windows, found: $(query "SELECT string_agg(format('%s/%s %ss x%s', tenant_id, tool, window_seconds, windows), ', ') FROM authensor.sentinel_baselines")"
        b_before=$(b_statistics) b_windows_before=$(b_windows)
        ;;
    13) # after tenant-a's burst
        scan
        rate_alerts=$(query "SELECT count(*) FROM authensor.alerts WHERE tenant_id = 'tenant-a' AND kind = 'rate'
                                AND tool IS NULL AND observed = 30 AND window_start = to_timestamp($t0 + 12)")
        [[ $rate_alerts == 1 ]] || fail "no rate alert for tenant-a's burst: $(query "SELECT string_agg(format('%s %s %s %s', tenant_id, kind, tool, observed), ', ') FROM authensor.alerts")"
        [[ $(b_statistics) == "$b_before" ]] || fail "tenant-b's baseline moved: before [$b_before] after [$(b_statistics)]"
        (($(b_windows) > b_windows_before)) || fail "tenant-b's baseline did not fold in the burst window"
        ;;
    16) # after tenant-a's blocked run
        scan
        block_alerts=$(query "SELECT count(*) FROM authensor.alerts WHERE tenant_id = 'tenant-a' AND kind = 'block_ratio'
                                 AND tool IS NULL AND observed = 1 AND window_start = to_timestamp($t0 + 15)")
        [[ $block_alerts == 1 ]] || fail "no block-ratio alert for tenant-a's blocked calls: $(query "SELECT string_agg(format('%s %s %s %s', tenant_id, kind, tool, observed), ', ') FROM authensor.alerts")"
        break
        ;;
    esac
done

# tenant-b: no alert and no notification. tenant-a: one notification per alert,
# on its own channel, carrying the alert's id and kind and nothing more.
[[ $(query "SELECT count(*) FROM authensor.alerts WHERE tenant_id = 'tenant-b'") == 0 ]] || fail "tenant-b has alerts"
[[ $(notified_on "$channel_b") == 0 ]] || fail "tenant-b's channel was notified: $(cat "$notes")"
a_alerts=$(query "SELECT count(*) FROM authensor.alerts WHERE tenant_id = 'tenant-a'")
[[ $(notified_on "$channel_a") == "$a_alerts" && $(wc -l <"$notes") == "$a_alerts" ]] ||
    fail "expected $a_alerts notifications on $channel_a, got: $(cat "$notes")"
while read -r line; do
    payload=${line#*with payload \"}
    payload=${payload%\" received from server process*}
    [[ $(query "SELECT count(*) FROM authensor.alerts
                 WHERE tenant_id = 'tenant-a' AND '$payload'::jsonb = jsonb_build_object('alertId', id, 'kind', kind)") == 1 ]] ||
        fail "payload $payload is not {alertId, kind} of one of tenant-a's alerts"
done <"$notes"
echo "sentinel: tenant-a alerted $a_alerts times on its channel ($(query "SELECT string_agg(DISTINCT kind, ', ') FROM authensor.alerts")); tenant-b: no alert, baseline unchanged [$b_before]"

# The pg_cron job has run sentinel_scan() at the top of a minute.
if [[ $with_cron != 1 ]]; then
    echo "sentinel: pg_cron schedule not run: this PostgreSQL has no pg_cron"
    exit 0
fi
while :; do
    status=$("${psql[@]}" -d postgres -Atc "SELECT string_agg(status, ',') FROM cron.job_run_details WHERE jobid = $cron_job")
    [[ $status == *succeeded* || $status == *failed* || $SECONDS -ge $cron_deadline ]] && break
    sleep 1
done
details=$("${psql[@]}" -d postgres -Atc "SELECT string_agg(format('%s: %s', status, return_message), '; ') FROM cron.job_run_details WHERE jobid = $cron_job")
"${psql[@]}" -d postgres -Atc "SELECT cron.unschedule($cron_job)" >/dev/null
[[ $status == succeeded* ]] || fail "the pg_cron job did not succeed: ${details:-no run within 75 s}"
echo "sentinel: pg_cron ran authensor.sentinel_scan() on schedule '* * * * *': $details"
