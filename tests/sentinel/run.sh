#!/usr/bin/env bash
# The Sentinel over real one-second windows. Two tenants call at a steady rate
# through the warm-up; then a burst of tenant-a's calls, and later a run of
# its blocked calls, each raise tenant-a's alert on tenant-a's channel only,
# while tenant-b gets no alert and its baseline does not move. Then receipts
# that become visible only after the scan that folded their window: a burst
# tenant-a holds in an open transaction across a scan, and blocked decisions
# of a transaction it rolls back, written at its next commit. Each is counted
# once, in the first window folded after it became visible, and raises
# tenant-a's alert; the baseline's mean over every window shows that nothing
# was counted twice or missed. Also runs the README's pg_cron schedule once,
# where the cluster has pg_cron preloaded (AUTHENSOR_TEST_PG_CRON=0 says it
# has not). Usage: run.sh SOCKET_DIR PORT
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
held_fifo=$(mktemp -u) held_out=$(mktemp)
trap 'rm -f "$notes" "$held_fifo" "$held_out"' EXIT
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

# tenant-a's second connection, which holds a transaction open across scans:
# held SQL... sends it lines, held_reached MARKER waits until it has printed
# MARKER (psql's \echo, which runs no transaction, or a SELECT's result).
mkfifo "$held_fifo"
"${psql[@]}" -d "$db" -At <"$held_fifo" >"$held_out" 2>&1 &
held_pid=$!
exec {held_in}>"$held_fifo"
held() { printf '%s\n' "$@" >&"$held_in"; }
held_reached() {
    local deadline=$((SECONDS + 20))
    until grep -qx "$1" "$held_out"; do
        kill -0 "$held_pid" 2>/dev/null || fail "tenant-a's second connection ended: $(cat "$held_out")"
        ((SECONDS < deadline)) || fail "tenant-a's second connection did not reach '$1': $(cat "$held_out")"
        sleep 0.05
    done
}
alerts_of() { query "SELECT coalesce(string_agg(format('%s %s %s @%s observed %s late %s', tenant_id, kind, coalesce(tool, '*'),
                                                        extract(epoch FROM window_start)::bigint - $t0, round(observed::numeric, 4), late),
                                                 ', ' ORDER BY window_start, kind, tool NULLS FIRST), 'none')
                       FROM authensor.alerts WHERE $1"; }

for k in $(seq 0 26); do
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
        ;;
    18) # tenant-a's second connection makes 30 calls in this window and keeps
        # them uncommitted
        held "BEGIN;" "SELECT pg_sleep_until(to_timestamp($t0 + 18.3)), decide('tenant-a', 'probe.ok', 30);" "\\echo held"
        held_reached held
        ;;
    19 | 20) # two scans fold window 18 and the next without them; then they commit
        scan
        [[ $(query "SELECT count(*) FROM authensor.receipts WHERE tenant_id = 'tenant-a'
                       AND created_at >= to_timestamp($t0 + 18) AND created_at < to_timestamp($t0 + 19)") == 5 ]] ||
            fail "the held calls were visible to the scan at $k"
        [[ $(alerts_of "tenant_id = 'tenant-a' AND window_start >= to_timestamp($t0 + 17)") == none ]] ||
            fail "an alert for tenant-a before its held calls committed: $(alerts_of "window_start >= to_timestamp($t0 + 17)")"
        # The receipts the scans did not see were recorded after the horizon
        # they leave, which an open transaction holds back.
        [[ $(query "SELECT horizon < to_timestamp($t0 + 18.3) FROM authensor.sentinel_scan_state") == t ]] ||
            fail "the horizon passed the open transaction: $(query "SELECT horizon FROM authensor.sentinel_scan_state")"
        if ((k == 20)); then
            held "COMMIT;" "\\echo committed"
            held_reached committed
        fi
        ;;
    21) # the next scan counts them, in the first window it folds
        scan
        [[ $(query "SELECT count(*) FROM authensor.alerts WHERE tenant_id = 'tenant-a' AND kind = 'rate' AND tool IS NULL
                       AND observed = 35 AND window_start >= to_timestamp($t0 + 20)") == 1 ]] ||
            fail "no rate alert for the calls tenant-a held open: $(alerts_of "window_start >= to_timestamp($t0 + 17)")"
        [[ $(query "SELECT string_agg(format('%s %s %s %s', kind, coalesce(tool, '*'), observed, late), ', ' ORDER BY tool NULLS FIRST)
                      FROM authensor.alerts WHERE tenant_id = 'tenant-a' AND window_start >= to_timestamp($t0 + 17)") == \
           "rate * 35 30, rate probe.ok 35 30" ]] ||
            fail "tenant-a's alerts for its held calls: $(alerts_of "window_start >= to_timestamp($t0 + 17)")"
        [[ $(b_statistics) == "$b_before" ]] || fail "tenant-b's baseline moved: before [$b_before] after [$(b_statistics)]"
        ;;
    23) # 10 blocked decisions of tenant-a in this window, rolled back: the
        # receipts wait in that connection for its next commit
        held "BEGIN;" "SELECT pg_sleep_until(to_timestamp($t0 + 23.3)), decide('tenant-a', 'probe.bad', 10);" "ROLLBACK;" \
             "\\echo rolled back"
        held_reached "rolled back"
        ;;
    24) # the scan folds window 23 without them; then any commit writes them
        scan
        [[ $(query "SELECT count(*) FROM authensor.receipts WHERE tenant_id = 'tenant-a' AND NOT committed") == 0 ]] ||
            fail "the rolled-back receipts were written before a commit"
        held "SELECT 'written';"
        held_reached written
        [[ $(query "SELECT count(*) FROM authensor.receipts WHERE tenant_id = 'tenant-a' AND NOT committed AND tool = 'probe.bad'
                       AND created_at >= to_timestamp($t0 + 23) AND created_at < to_timestamp($t0 + 24)") == 10 ]] ||
            fail "the rolled-back decisions were not written with their own time"
        ;;
    25) # the next scan counts them
        scan
        [[ $(query "SELECT count(*) FROM authensor.alerts WHERE tenant_id = 'tenant-a' AND kind = 'block_ratio' AND tool IS NULL
                       AND round(observed::numeric, 6) = round(10 / 15.0, 6) AND late = 10
                       AND window_start >= to_timestamp($t0 + 24)") == 1 ]] ||
            fail "no block-ratio alert for tenant-a's rolled-back decisions: $(alerts_of "window_start >= to_timestamp($t0 + 22)")"
        ;;
    26) # one more window: nothing counted again, and with no transaction
        # open the horizon moves on
        scan
        [[ $(query "SELECT horizon > to_timestamp($t0 + 24) FROM authensor.sentinel_scan_state") == t ]] ||
            fail "the horizon stayed behind: $(query "SELECT horizon FROM authensor.sentinel_scan_state")"
        break
        ;;
    esac
done
held '\q'
exec {held_in}>&-
wait "$held_pid" || fail "tenant-a's second connection failed: $(cat "$held_out")"

# Every receipt of tenant-a counted once: the window of its time, or, for the
# held and rolled-back ones, the window the alerts name. Windows 0 to 25 are
# folded; the baseline's mean is the EWMA (alpha 0.3) of those counts.
late_windows=$(query "SELECT string_agg(format('%s:%s', extract(epoch FROM window_start)::bigint - $t0, late), ' ' ORDER BY window_start)
                        FROM authensor.alerts WHERE tenant_id = 'tenant-a' AND tool IS NULL AND late > 0")
expected_mean=$(awk -v late="$late_windows" 'BEGIN {
    n = split(late, pairs, " ")
    for (i = 1; i <= n; i++) { split(pairs[i], p, ":"); extra[p[1]] += p[2] }
    for (k = 0; k <= 25; k++) {
        x = (k == 12 ? 30 : 5) + extra[k]
        mean = (k == 0 ? x : mean + 0.3 * (x - mean))
    }
    printf "%.9f", mean
}')
a_baseline=$(query "SELECT format('%s windows, mean %s', windows, round(rate_mean::numeric, 9))
                      FROM authensor.sentinel_baselines WHERE tenant_id = 'tenant-a' AND tool IS NULL")
[[ $late_windows =~ ^2[01]:30\ 2[45]:10$ ]] ||
    fail "the late receipts were counted in windows [$late_windows], expected 30 in window 20 or 21, then 10 in 24 or 25"
[[ $a_baseline == "26 windows, mean $expected_mean" ]] ||
    fail "tenant-a's baseline is [$a_baseline], expected 26 windows, mean $expected_mean: a receipt counted twice or not at all"
echo "sentinel: late receipts of tenant-a counted once each (window:count $late_windows); its baseline [$a_baseline]"

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
