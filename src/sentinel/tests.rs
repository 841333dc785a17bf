//! The Sentinel's algorithm on replayed history: receipts written with chosen
//! timestamps, and scans with a chosen "now", so nothing depends on timing.

#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;

    /// Window 0 starts here (a multiple of 60 seconds since the epoch).
    const START: &str = "2024-01-01 00:00:00+00";

    fn one<T: IntoDatum + FromDatum>(sql: &str) -> T {
        Spi::get_one::<T>(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .unwrap_or_else(|| panic!("{sql}: NULL"))
    }

    /// `calls` receipts for the tenant in 60-second window `window`, the first
    /// `blocked` of them blocked.
    fn calls(tenant: &str, tool: &str, window: i32, calls: i32, blocked: i32) {
        Spi::run_with_args(
            "INSERT INTO authensor.receipts (tenant_id, created_at, tool, args, context, action, reason, layer)
             SELECT $1, $2::timestamptz + make_interval(secs => $3 * 60 + i * 0.01), $4, '{}', '{}',
                    CASE WHEN i <= $6 THEN 'block' ELSE 'allow' END, 'replayed', 'tenant'
               FROM generate_series(1, $5) AS i",
            &[
                tenant.into(),
                START.into(),
                window.into(),
                tool.into(),
                calls.into(),
                blocked.into(),
            ],
        )
        .unwrap();
    }

    /// Scans as if it were halfway through window `window` (so every earlier
    /// window is complete), with the default settings and 60-second windows.
    fn scan_during(window: i32) -> i32 {
        scan_with(window, 60, 20)
    }

    fn scan_with(window: i32, window_length: i32, max_windows: i32) -> i32 {
        Spi::get_one_with_args::<i32>(
            "SELECT authensor.sentinel_scan_windows($1::timestamptz + make_interval(secs => $2 * 60 + 30),
                                                    $3, 0.3, 3.0, 10, 0.3, 5, $4)",
            &[START.into(), window.into(), window_length.into(), max_windows.into()],
        )
        .unwrap()
        .unwrap()
    }

    /// The learnt statistics of a tenant's baselines, comparable as text.
    fn statistics(tenant: &str) -> String {
        one(&format!(
            "SELECT string_agg(format('%s %s %s %s %s %s %s', coalesce(tool, '*'), rate_mean, rate_var,
                                      block_mean, block_var, escalate_mean, escalate_var), '; ' ORDER BY tool NULLS FIRST)
               FROM authensor.sentinel_baselines WHERE tenant_id = '{tenant}'"
        ))
    }

    /// Windows folded into the tenant's own baseline (tool NULL).
    fn windows(tenant: &str) -> i32 {
        one(&format!(
            "SELECT windows FROM authensor.sentinel_baselines WHERE tenant_id = '{tenant}' AND tool IS NULL"
        ))
    }

    /// Every alert, one `format()` of its columns each, ordered by window and tool.
    fn alerts(columns: &str) -> String {
        one(&format!(
            "SELECT string_agg(format({columns}), '; ' ORDER BY window_start, tool NULLS FIRST, kind)
               FROM authensor.alerts"
        ))
    }

    /// SQL for the minute of `timestamp` counted from the start of window 0.
    fn minute(timestamp: &str) -> String {
        format!("(extract(epoch FROM {timestamp} - '{START}'::timestamptz) / 60)::integer")
    }

    /// Two tenants at a steady 5 calls per window through the warm-up.
    fn steady_warmup(windows: i32) {
        for window in 0..windows {
            calls("tenant-a", "probe.ok", window, 5, 0);
            calls("tenant-b", "probe.ok", window, 5, 0);
        }
    }

    #[pg_test]
    fn a_burst_alerts_its_tenant_only_and_leaves_the_other_baseline_alone() {
        steady_warmup(12);
        assert_eq!(scan_during(12), 0, "no alert during a steady warm-up");
        assert_eq!(windows("tenant-b"), 12);
        let b_before = statistics("tenant-b");
        assert_eq!(b_before, "* 5 0 0 0 0 0; probe.ok 5 0 0 0 0 0");

        calls("tenant-a", "probe.ok", 12, 30, 0);
        calls("tenant-b", "probe.ok", 12, 5, 0);
        assert_eq!(
            scan_during(13),
            2,
            "tenant-a's rate, overall and for the tool"
        );
        assert_eq!(
            alerts("'%s %s %s %s %s', tenant_id, kind, coalesce(tool, '*'), observed, baseline"),
            "tenant-a rate * 30 5; tenant-a rate probe.ok 30 5"
        );
        assert_eq!(statistics("tenant-b"), b_before);
        assert_eq!(windows("tenant-b"), 13);
        assert_eq!(scan_during(13), 0, "a window is folded in once");
    }

    #[pg_test]
    fn nothing_alerts_before_the_warmup_ends() {
        steady_warmup(5);
        calls("tenant-a", "probe.ok", 5, 100, 0);
        assert_eq!(scan_during(6), 0);
    }

    #[pg_test]
    fn a_block_ratio_above_the_limit_alerts_when_it_crosses() {
        steady_warmup(12);
        scan_during(12);
        calls("tenant-a", "probe.ok", 12, 5, 3);
        calls("tenant-a", "probe.ok", 13, 5, 3); // still above: no new alert
        calls("tenant-a", "probe.ok", 14, 2, 2); // too few calls to judge a ratio
        calls("tenant-a", "probe.ok", 15, 5, 0);
        calls("tenant-a", "probe.ok", 16, 5, 4); // crosses again
        assert_eq!(scan_during(17), 4);
        assert_eq!(
            alerts(&format!(
                "'%s %s %s %s', {}, kind, coalesce(tool, '*'), observed",
                minute("window_start")
            )),
            "12 block_ratio * 0.6; 12 block_ratio probe.ok 0.6; 16 block_ratio * 0.8; 16 block_ratio probe.ok 0.8"
        );
        assert_eq!(
            one::<i64>("SELECT count(*) FROM authensor.alerts WHERE tenant_id <> 'tenant-a'"),
            0
        );
    }

    #[pg_test]
    fn a_new_tool_is_judged_by_the_fixed_limit_from_its_first_window() {
        steady_warmup(3);
        calls("tenant-a", "probe.bad", 3, 5, 5);
        scan_during(4);
        assert_eq!(
            alerts("'%s %s %s', kind, coalesce(tool, '*'), coalesce(baseline::text, 'none')"),
            "block_ratio * 0; block_ratio probe.bad none"
        );
    }

    #[pg_test]
    fn quiet_windows_count_as_rate_zero_and_idle_tools_are_forgotten() {
        steady_warmup(12);
        assert_eq!(
            scan_during(14),
            0,
            "two quiet windows after a steady 5 are no anomaly"
        );
        assert_eq!(
            one::<String>(
                "SELECT format('%s %s', windows, round(rate_mean::numeric, 2)) FROM authensor.sentinel_baselines WHERE tenant_id = 'tenant-a' AND tool IS NULL"
            ),
            "14 2.45"
        );
        scan_with(100, 60, 100);
        assert_eq!(
            one::<i64>("SELECT count(*) FROM authensor.sentinel_baselines WHERE tool IS NOT NULL"),
            0
        );
        assert_eq!(
            one::<i64>("SELECT count(*) FROM authensor.sentinel_baselines WHERE tool IS NULL"),
            2
        );
    }

    #[pg_test]
    fn a_long_pause_folds_in_only_the_latest_windows() {
        steady_warmup(1);
        scan_during(1);
        scan_with(1000, 60, 20);
        assert_eq!(windows("tenant-a"), 21);
        assert_eq!(
            one::<i32>(&format!(
                "SELECT {} FROM authensor.sentinel_baselines",
                minute("max(window_end)")
            )),
            1000
        );
    }

    /// Receipts of a window already folded in (here written after the scan,
    /// in the same transaction, so the scan could not see them) are counted
    /// once, in the next window folded in, and only for their tenant.
    #[pg_test]
    fn late_receipts_count_once_in_the_next_window_folded() {
        steady_warmup(12);
        assert_eq!(scan_during(12), 0);
        let b_before = statistics("tenant-b");
        calls("tenant-a", "probe.ok", 5, 30, 0);
        calls("tenant-a", "probe.ok", 12, 5, 0);
        calls("tenant-b", "probe.ok", 12, 5, 0);
        assert_eq!(
            scan_during(13),
            2,
            "tenant-a's rate, overall and for the tool"
        );
        assert_eq!(
            alerts(&format!(
                "'%s %s %s %s %s late %s', {}, tenant_id, kind, coalesce(tool, '*'), observed, late",
                minute("window_start")
            )),
            "12 tenant-a rate * 35 late 30; 12 tenant-a rate probe.ok 35 late 30"
        );
        assert_eq!(statistics("tenant-b"), b_before);

        // Counted once: the next window learns its own 5 calls, and a scan
        // of the same windows again changes nothing.
        calls("tenant-a", "probe.ok", 13, 5, 0);
        assert_eq!(scan_during(14), 0);
        let mean = "SELECT format('%s %s', windows, round(rate_mean::numeric, 6))
                      FROM authensor.sentinel_baselines WHERE tenant_id = 'tenant-a' AND tool IS NULL";
        // 5 a window, then 35 (mean 14), then 5: 14 + 0.3 * (5 - 14)
        assert_eq!(one::<String>(mean), "14 11.300000");
        assert_eq!(scan_during(14), 0);
        assert_eq!(one::<String>(mean), "14 11.300000");
        assert_eq!(
            one::<i64>("SELECT count(*) FROM authensor.alerts WHERE late > 0"),
            2,
            "only window 12's alerts have late calls"
        );
    }

    /// Late blocked decisions (as rolled-back ones written at a later commit)
    /// count in the block ratio of the window they are counted in.
    #[pg_test]
    fn late_blocked_receipts_count_in_the_block_ratio() {
        steady_warmup(3);
        scan_during(3);
        Spi::run(&format!(
            "INSERT INTO authensor.receipts (tenant_id, created_at, tool, args, context, action, reason, layer, committed)
             SELECT 'tenant-a', '{START}'::timestamptz + make_interval(secs => 60 + i * 0.01), 'probe.bad', '{{}}', '{{}}',
                    'block', 'rolled back', 'tenant', false
               FROM generate_series(1, 10) AS i"
        ))
        .unwrap();
        calls("tenant-a", "probe.ok", 3, 5, 0);
        assert_eq!(scan_during(4), 2);
        assert_eq!(
            alerts(
                "'%s %s %s late %s', kind, coalesce(tool, '*'), round(observed::numeric, 4), late"
            ),
            "block_ratio * 0.6667 late 10; block_ratio probe.bad 1.0000 late 10"
        );
    }

    /// When the windows start over (a new length), the windows folded again
    /// count the receipts that were late: none is counted twice.
    #[pg_test]
    fn a_new_window_length_counts_late_receipts_once() {
        steady_warmup(3);
        scan_during(3);
        calls("tenant-a", "probe.ok", 1, 10, 0);
        scan_with(4, 30, 20);
        // 30-second windows from tenant-a's first call to minute 4.5: 9, the
        // late calls in the one of their own time, and no earlier window made
        // up for them.
        assert_eq!(windows("tenant-a"), 9);
        assert_eq!(
            one::<i64>("SELECT count(*) FROM authensor.alerts WHERE late > 0"),
            0
        );
    }

    #[pg_test]
    fn a_new_window_length_starts_the_baselines_over() {
        steady_warmup(3);
        scan_during(3);
        scan_with(3, 30, 20);
        assert_eq!(
            one::<String>(
                "SELECT format('%s %s', window_seconds, windows) FROM authensor.sentinel_baselines WHERE tenant_id = 'tenant-a' AND tool IS NULL"
            ),
            "30 7"
        );
    }
}
