//! State of the backend process, read as PostgreSQL's own code reads it.
//!
//! MyProcPid (utils/init/globals.c), pg_strong_random()
//! (port/pg_strong_random.c), GetCurrentTimestamp()
//! (utils/adt/timestamp.c) and ActivePortal's cursor options
//! (utils/portal.h), the running statement's text in pg_stat_activity
//! (debug_query_string, pgstat_report_activity() in
//! utils/activity/backend_status.c), checked against PostgreSQL 15, 16 and
//! 18; and the
//! environment of the process, which a backend, running one thread, may set.

use pgrx::pg_sys;

/// The backend's process id.
pub fn process_id() -> i32 {
    // SAFETY: MyProcPid is set once when the process starts.
    unsafe { pg_sys::MyProcPid }
}

/// The database this backend is connected to.
pub fn database_id() -> u32 {
    // SAFETY: MyDatabaseId is set once when the backend connects.
    unsafe { pg_sys::MyDatabaseId }.to_u32()
}

/// Fills `buffer` from PostgreSQL's strong random source; false if it
/// failed.
pub fn strong_random(buffer: &mut [u8]) -> bool {
    // SAFETY: writes exactly buffer.len() bytes into buffer.
    unsafe { pg_sys::pg_strong_random(buffer.as_mut_ptr().cast(), buffer.len()) }
}

/// The clock now, in microseconds since 2000-01-01 (clock_timestamp(), not
/// the transaction's start).
pub fn now_micros() -> i64 {
    // SAFETY: reads the clock.
    unsafe { pg_sys::GetCurrentTimestamp() }
}

/// Whether the database's encoding is UTF8.
pub fn database_is_utf8() -> bool {
    // SAFETY: reads the database's encoding, set when the backend started.
    unsafe { pg_sys::GetDatabaseEncoding() == pg_sys::pg_enc::PG_UTF8 as i32 }
}

/// Whether the statement running now reads through a WITH HOLD cursor.
pub fn in_holdable_cursor() -> bool {
    // SAFETY: ActivePortal is NULL or the portal PostgreSQL is running now.
    unsafe {
        let portal = pg_sys::ActivePortal;
        !portal.is_null() && (*portal).cursorOptions & pg_sys::CURSOR_OPT_HOLD as i32 != 0
    }
}

/// Takes every occurrence of `secret` out of the running statement's text as
/// pg_stat_activity shows it, where every session of the same role (and
/// members of pg_read_all_stats) can read it, writing `replacement` instead.
/// The statement's text itself, as errors and logs quote it, is unchanged.
pub fn hide_in_activity(secret: &str, replacement: &str) {
    // SAFETY: debug_query_string is NULL or the NUL-terminated text of the
    // statement running now; pgstat_report_activity() copies the text it is
    // given into the backend's own pg_stat_activity entry, as postgres.c
    // does when a statement starts.
    unsafe {
        let running = pg_sys::debug_query_string;
        if running.is_null() || secret.is_empty() {
            return;
        }
        let text = std::ffi::CStr::from_ptr(running).to_string_lossy();
        if !text.contains(secret) {
            return;
        }
        let Ok(hidden) = std::ffi::CString::new(text.replace(secret, replacement)) else {
            return;
        };
        pg_sys::pgstat_report_activity(pg_sys::BackendState::STATE_RUNNING, hidden.as_ptr());
    }
}

/// Keeps Rust backtraces out of the errors clients see. pgrx attaches one to
/// the DETAIL of every error that passes through Rust when RUST_BACKTRACE is
/// set in the server's environment; a client must never see one, nor the
/// build paths it holds. The library's own setting wins over RUST_BACKTRACE
/// and is read at the first capture. Called from `_PG_init`.
pub fn hide_backtraces() {
    // SAFETY: a backend runs one thread, and this runs before any capture.
    unsafe { std::env::set_var("RUST_LIB_BACKTRACE", "0") };
}

/// Calls `callback` when the backend exits normally or after a FATAL error,
/// while it is still connected to its database (before_shmem_exit() of
/// storage/ipc/ipc.c; callbacks run in the reverse order of registration, so
/// one registered by a library runs before PostgreSQL's own ShutdownPostgres
/// rolls back an open transaction). Not called when the process is killed
/// (SIGKILL) or the server stops in immediate mode.
pub fn at_exit(callback: fn()) {
    // SAFETY: registers a trampoline for the backend's lifetime; its argument
    // is `callback`, a function pointer, which lives as long.
    unsafe {
        pg_sys::before_shmem_exit(
            Some(exit_trampoline),
            pg_sys::Datum::from(callback as usize),
        )
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn exit_trampoline(_code: std::ffi::c_int, arg: pg_sys::Datum) {
    // SAFETY: `arg` is the fn() registered in at_exit.
    let callback = unsafe { std::mem::transmute::<usize, fn()>(arg.value()) };
    callback();
}

/// Writes `message` to the server log at LOG level without the statement
/// that was running or its context (errhidestmt() and errhidecontext() of
/// utils/error/elog.c): statements may be large, and whoever runs them
/// decides how often. Interrupts are held meanwhile (HOLD_INTERRUPTS() of
/// miscadmin.h), since errfinish() would otherwise act on a pending cancel
/// and raise an ERROR from inside the caller's bookkeeping.
pub fn log_without_statement(message: &str) {
    let message = std::ffi::CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    // SAFETY: the ereport(LOG, errmsg_internal("%s", message),
    // errhidestmt(true), errhidecontext(true)) sequence of elog.h, between
    // HOLD_INTERRUPTS() and RESUME_INTERRUPTS(); at LOG level errfinish
    // returns.
    unsafe {
        pg_sys::InterruptHoldoffCount += 1;
        if errstart(pg_sys::LOG as std::ffi::c_int, std::ptr::null()) {
            pg_sys::errmsg_internal(c"%s".as_ptr(), message.as_ptr());
            pg_sys::errhidestmt(true);
            pg_sys::errhidecontext(true);
            errfinish(c"backend.rs".as_ptr(), 0, c"log_without_statement".as_ptr());
        }
        pg_sys::InterruptHoldoffCount -= 1;
    }
}

// elog.h's entry points, which pgrx's bindings leave out (pgrx declares them
// the same way for its own ereport).
unsafe extern "C-unwind" {
    fn errstart(elevel: std::ffi::c_int, domain: *const std::ffi::c_char) -> bool;
    fn errfinish(
        filename: *const std::ffi::c_char,
        lineno: std::ffi::c_int,
        funcname: *const std::ffi::c_char,
    );
}

/// Sets what PostgreSQL's SIGINT handler sets for a cancel request
/// (StatementCancelHandler() of tcop/postgres.c), so that the next
/// CHECK_FOR_INTERRUPTS() cancels the statement (for tests).
#[cfg(any(test, feature = "pg_test"))]
pub fn request_cancel() {
    // SAFETY: the two flags the handler sets; a backend runs one thread.
    unsafe {
        pg_sys::QueryCancelPending = 1;
        pg_sys::InterruptPending = 1;
    }
}
