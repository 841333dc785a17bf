//! Sentinel: per-tenant baselines of call rate and of block and escalate
//! ratios, and alerts on each tenant's own channel. The algorithm is SQL
//! (sql/sentinel.sql); this file holds its settings and the operator's entry
//! point. The settings are documented in the README under "Sentinel".

use crate::errors::raise_spi;
use pgrx::prelude::*;
use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};

/// Length of the fixed windows, in seconds, aligned to multiples of it since
/// the Unix epoch.
pub static WINDOW: GucSetting<i32> = GucSetting::<i32>::new(60);
/// EWMA smoothing factor: the weight of the newest window.
pub static ALPHA: GucSetting<f64> = GucSetting::<f64>::new(0.3);
/// Standard deviations from the baseline that raise an alert.
pub static THRESHOLD: GucSetting<f64> = GucSetting::<f64>::new(3.0);
/// Windows a baseline learns before it is used to judge.
pub static WARMUP: GucSetting<i32> = GucSetting::<i32>::new(10);
/// Block ratio above which a window alerts whatever the baseline.
pub static BLOCK_RATIO: GucSetting<f64> = GucSetting::<f64>::new(0.3);
/// Calls a window needs before its block and escalate ratios count.
pub static MIN_CALLS: GucSetting<i32> = GucSetting::<i32>::new(5);
/// Most windows one scan folds in; older pending windows are skipped.
pub static MAX_WINDOWS: GucSetting<i32> = GucSetting::<i32>::new(60);

/// Defines the settings. Called from `_PG_init` before the `authensor` prefix
/// is reserved, so that values set with ALTER DATABASE or ALTER ROLE before
/// the library loaded are kept.
pub fn init() {
    GucRegistry::define_int_guc(
        c"authensor.sentinel_window",
        c"Length of the Sentinel's windows.",
        c"Windows are aligned to multiples of this length since the Unix epoch. Changing it restarts every baseline at the next scan.",
        &WINDOW,
        1,
        86_400,
        GucContext::Suset,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_float_guc(
        c"authensor.sentinel_alpha",
        c"Smoothing factor of the Sentinel's EWMA baselines.",
        c"The weight of the newest window in the mean and variance; higher adapts faster.",
        &ALPHA,
        0.01,
        0.99,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_float_guc(
        c"authensor.sentinel_threshold",
        c"Standard deviations from its baseline at which a window raises an alert.",
        c"Applies to the call rate and to the block and escalate ratios, once the baseline is warmed up.",
        &THRESHOLD,
        0.1,
        1000.0,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"authensor.sentinel_warmup",
        c"Windows a Sentinel baseline learns before it judges.",
        c"No deviation alert is raised for a tenant or tool until its baseline has seen this many windows.",
        &WARMUP,
        1,
        100_000,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_float_guc(
        c"authensor.sentinel_block_ratio",
        c"Block ratio above which a window alerts whatever the baseline.",
        c"Judged from the first window, without warm-up, when the block ratio crosses it. 1 turns this rule off.",
        &BLOCK_RATIO,
        0.0,
        1.0,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"authensor.sentinel_min_calls",
        c"Calls a window needs before the Sentinel judges and learns its block and escalate ratios.",
        c"Keeps a window with one blocked call from reading as a block ratio of 1.",
        &MIN_CALLS,
        1,
        1_000_000,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"authensor.sentinel_max_windows",
        c"Most windows one Sentinel scan folds in.",
        c"When the scan has not run for longer, only the most recent windows are folded in and older ones are skipped.",
        &MAX_WINDOWS,
        1,
        100_000,
        GucContext::Suset,
        GucFlags::default(),
    );
}

/// Folds every complete window since the last scan into the baselines and
/// raises alerts; returns how many. Operator only (EXECUTE is revoked from
/// PUBLIC). Runs as the extension's owner to read every tenant's receipts.
#[pg_extern(volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn sentinel_scan() -> i32 {
    crate::tenant::refuse_agent("sentinel_scan");
    Spi::get_one_with_args::<i32>(
        "SELECT authensor.sentinel_scan_windows(clock_timestamp(), $1, $2, $3, $4, $5, $6, $7)",
        &[
            WINDOW.get().into(),
            ALPHA.get().into(),
            THRESHOLD.get().into(),
            WARMUP.get().into(),
            BLOCK_RATIO.get().into(),
            MIN_CALLS.get().into(),
            MAX_WINDOWS.get().into(),
        ],
    )
    .unwrap_or_else(|e| raise_spi("scan for anomalies", e))
    .unwrap_or(0)
}

#[cfg(any(test, feature = "pg_test"))]
mod tests;
