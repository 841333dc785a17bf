//! What every fuzz target checks around each input: panics (recorded by
//! location, and fuzzing goes on), the CPU time each input takes, and the most
//! heap it has live at once (a counting global allocator). Findings and
//! running figures go to the directory `AUTHENSOR_FUZZ_OUT` names (by
//! default `fuzz-out`), which scripts/fuzz.sh reads for RELIABILITY.md.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// An input taking longer than this, in CPU time of its thread, is a hang.
/// CPU time rather than wall time, so that an input is not called a hang
/// because other processes had the cores meanwhile.
pub const HANG: Duration = Duration::from_secs(1);

#[repr(C)]
struct Timespec {
    seconds: i64,
    nanoseconds: i64,
}

const CLOCK_THREAD_CPUTIME_ID: i32 = 3;

unsafe extern "C" {
    fn clock_gettime(clock: i32, time: *mut Timespec) -> i32;
}

/// The CPU time this thread has used.
fn thread_cpu_time() -> Duration {
    let mut time = Timespec {
        seconds: 0,
        nanoseconds: 0,
    };
    // SAFETY: clock_gettime(2) writes a timespec (two 64-bit fields on the
    // 64-bit Linux targets this builds for) into the one given.
    unsafe {
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut time);
    }
    Duration::new(time.seconds as u64, time.nanoseconds as u32)
}

/// Counts the bytes in use and the most in use since the last reset. Plain
/// loads and stores rather than atomic read-modify-writes, with which the
/// counting took about 4 % of compile_bytes' time and 12 % of
/// mutate_policy's: the targets allocate on libFuzzer's one thread (its own
/// threads call malloc directly), so no update is lost.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: defers to the system allocator, only counting on the way.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.load(Ordering::Relaxed).wrapping_add(layout.size());
        LIVE.store(live, Ordering::Relaxed);
        // Branch-free: the harness's edges are counted, and how often an
        // input sets a new peak is not coverage.
        PEAK.store(PEAK.load(Ordering::Relaxed).max(live), Ordering::Relaxed);
        // SAFETY: the caller's contract is System's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        let live = LIVE.load(Ordering::Relaxed).wrapping_sub(layout.size());
        LIVE.store(live, Ordering::Relaxed);
        // SAFETY: the caller's contract is System's.
        unsafe { System.dealloc(pointer, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The heap in use now, in bytes asked of the allocator.
pub fn live_bytes() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// The most heap in use since `since` was taken by [`live_bytes`], above it.
pub fn peak_above(since: usize) -> usize {
    PEAK.load(Ordering::Relaxed).saturating_sub(since)
}

/// Starts a new peak at the heap in use now.
pub fn reset_peak() -> usize {
    let live = live_bytes();
    PEAK.store(live, Ordering::Relaxed);
    live
}

/// The running figures of one fuzzing process.
#[derive(Default)]
struct Figures {
    target: &'static str,
    executions: u64,
    slowest: Duration,
    slowest_len: usize,
    /// Most heap an input had live at once, above what was live before it.
    peak_bytes: usize,
    peak_len: usize,
    /// Each distinct finding, by the check that failed or a panic's location.
    findings: BTreeMap<String, Finding>,
    /// Notable measurements the targets report (the most, by name).
    maxima: BTreeMap<&'static str, f64>,
    written: Option<Instant>,
}

/// How often a finding occurred, and its first input's file and figures.
struct Finding {
    count: u64,
    file: String,
    detail: String,
}

static FIGURES: Mutex<Option<Figures>> = Mutex::new(None);

thread_local! {
    /// Where the last panic on this thread happened, and its message.
    static PANIC: RefCell<Option<(String, String)>> = const { RefCell::new(None) };
    /// Findings the target reported for the current input.
    static REPORTED: RefCell<Vec<(String, String)>> = const { RefCell::new(Vec::new()) };
    /// Measurements the current input took to a new maximum.
    static NEW_MAXIMA: RefCell<Vec<&'static str>> = const { RefCell::new(Vec::new()) };
}

fn out_dir() -> PathBuf {
    PathBuf::from(std::env::var("AUTHENSOR_FUZZ_OUT").unwrap_or_else(|_| "fuzz-out".into()))
}

/// Records a panic's location instead of aborting (libfuzzer-sys's hook
/// aborts at the first one), so that fuzzing goes on and each distinct
/// panic is counted once.
fn install_panic_hook() {
    panic::set_hook(Box::new(|info| {
        let place = info
            .location()
            .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
            .unwrap_or_else(|| "unknown".into());
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let first_line = message
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(200)
            .collect();
        PANIC.with(|p| *p.borrow_mut() = Some((place, first_line)));
    }));
}

/// Records a finding for the current input: `kind` names the check that
/// failed (each kind is one distinct finding), `detail` the first case's
/// figures.
pub fn finding(kind: &str, detail: impl std::fmt::Display) {
    REPORTED.with(|r| r.borrow_mut().push((kind.to_string(), detail.to_string())));
}

/// Records a measurement; the figures keep the largest of each name, and
/// its input as `max-<name>`.
pub fn measure(name: &'static str, value: f64) {
    let mut guard = FIGURES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(figures) = guard.as_mut() {
        let largest = figures.maxima.entry(name).or_insert(f64::NEG_INFINITY);
        if value > *largest {
            *largest = value;
            NEW_MAXIMA.with(|m| m.borrow_mut().push(name));
        }
    }
}

/// Runs `body` on `data` with the checks, as a fuzz target's body.
pub fn run(target: &'static str, data: &[u8], body: impl FnOnce(&[u8])) {
    {
        let mut guard = FIGURES.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            install_panic_hook();
            *guard = Some(Figures {
                target,
                ..Figures::default()
            });
        }
    }
    REPORTED.with(|r| r.borrow_mut().clear());
    NEW_MAXIMA.with(|m| m.borrow_mut().clear());
    let before = reset_peak();
    let started = thread_cpu_time();
    let wall = Instant::now();
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| body(data)));
    let wall = wall.elapsed();
    let peak = peak_above(before);

    let mut guard = FIGURES.lock().unwrap_or_else(|e| e.into_inner());
    let figures = guard.as_mut().expect("initialised above");
    // A thread's CPU time is at most the wall time it spans (give or take
    // the monotonic clock's slewing, under 0.1 %), so an input whose wall
    // time is below both the hang limit and the slowest input so far is
    // neither, and the second system call, about 1 % of compile_bytes'
    // time, is spared; the vDSO's wall clock costs nothing like it.
    let elapsed = if wall + wall / 1000 < HANG.min(figures.slowest) {
        Duration::ZERO
    } else {
        thread_cpu_time().saturating_sub(started)
    };

    let mut found: Vec<(String, String)> = REPORTED.with(|r| r.borrow_mut().drain(..).collect());
    if outcome.is_err() {
        let (place, message) = PANIC.with(|p| p.borrow_mut().take()).unwrap_or_default();
        found.push((format!("panic at {place}"), message));
    }
    if elapsed > HANG {
        found.push((
            format!("hang over {} s", HANG.as_secs()),
            format!("{:.3} s", elapsed.as_secs_f64()),
        ));
    }

    figures.executions += 1;
    if elapsed > figures.slowest {
        figures.slowest = elapsed;
        figures.slowest_len = data.len();
        save(target, "slowest", data);
    }
    if peak > figures.peak_bytes {
        figures.peak_bytes = peak;
        figures.peak_len = data.len();
        save(target, "peak-memory", data);
    }
    for name in NEW_MAXIMA.with(|m| m.borrow_mut().split_off(0)) {
        save(
            target,
            &format!("max-{}", name.replace([' ', '/', '\''], "-")),
            data,
        );
    }
    for (key, detail) in found {
        let finding = figures.findings.entry(key.clone()).or_insert_with(|| {
            let file = format!("finding-{:016x}", fnv(key.as_bytes()));
            save(target, &file, data);
            eprintln!("FINDING in {target}: {key}: {detail} (input saved as {file})");
            Finding {
                count: 0,
                file,
                detail,
            }
        });
        finding.count += 1;
    }
    let due = figures
        .written
        .is_none_or(|at| at.elapsed() >= Duration::from_secs(1));
    if due {
        figures.written = Some(Instant::now());
        write_figures(figures);
    }
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn save(target: &str, name: &str, data: &[u8]) {
    let dir = out_dir().join(target);
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(dir.join(name), data);
}

/// Writes the figures as JSON, one file per process (scripts/fuzz.sh sums
/// the processes of a target, which a timeout or a crash restarts).
fn write_figures(figures: &Figures) {
    let mut json = String::new();
    let findings: Vec<String> = figures
        .findings
        .iter()
        .map(|(key, finding)| {
            format!(
                "{{\"key\": {}, \"count\": {}, \"file\": {}, \"detail\": {}}}",
                quote(key),
                finding.count,
                quote(&finding.file),
                quote(&finding.detail)
            )
        })
        .collect();
    let maxima: Vec<String> = figures
        .maxima
        .iter()
        .map(|(name, value)| format!("{}: {value}", quote(name)))
        .collect();
    let _ = writeln!(
        json,
        "{{\"target\": {}, \"executions\": {}, \"slowest_seconds\": {}, \"slowest_len\": {}, \"peak_bytes\": {}, \"peak_len\": {}, \"findings\": [{}], \"maxima\": {{{}}}}}",
        quote(figures.target),
        figures.executions,
        figures.slowest.as_secs_f64(),
        figures.slowest_len,
        figures.peak_bytes,
        figures.peak_len,
        findings.join(", "),
        maxima.join(", ")
    );
    let dir = out_dir().join(figures.target);
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("figures-{}.json", std::process::id()));
    let temporary = path.with_extension("tmp");
    if std::fs::write(&temporary, json).is_ok() {
        let _ = std::fs::rename(temporary, path);
    }
}

fn quote(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"?\"".into())
}

/// Writes the figures at exit too, so that the last second is counted.
pub extern "C" fn write_at_exit() {
    let guard = FIGURES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(figures) = guard.as_ref() {
        write_figures(figures);
    }
}

unsafe extern "C" {
    fn atexit(callback: extern "C" fn()) -> i32;
}

/// A target's init: registers [`write_at_exit`]; writes the target's seed
/// inputs into the directory `AUTHENSOR_FUZZ_SEEDS` names, if set; and runs
/// `warm_up` once, so that lazily built statics are not counted against the
/// first inputs' memory.
pub fn init(target: &str, seeds: impl FnOnce() -> Vec<Vec<u8>>, warm_up: impl FnOnce()) {
    // SAFETY: atexit(3) with a function that lives as long as the process.
    unsafe {
        atexit(write_at_exit);
    }
    if let Ok(dir) = std::env::var("AUTHENSOR_FUZZ_SEEDS") {
        let dir = PathBuf::from(dir).join(target);
        let _ = std::fs::create_dir_all(&dir);
        for (n, seed) in seeds().iter().enumerate() {
            let _ = std::fs::write(dir.join(format!("seed-{n}")), seed);
        }
    }
    warm_up();
}
