//! The fence around PostgreSQL's internals: the only code that calls
//! `pg_sys` directly or holds an `unsafe` block.
//!
//! Each file follows one PostgreSQL routine or facility and names the C code
//! it mirrors and the majors it was checked against; code that differs
//! between majors is `cfg`'d in the file that owns the difference. What
//! leaves this module is safe Rust: the feature modules (evaluate, publish,
//! keys, approvals, store, receipts …) call these functions and never
//! PostgreSQL's C API themselves. When a new major comes out, this folder is
//! what to check against its source.

pub mod backend;
pub mod catalog;
pub mod event_trigger;
pub mod guc;
pub mod hooks;
pub mod inval;
pub mod jsonb;
pub mod locks;
pub mod relation_insert;
pub mod result_row;
pub mod roles;
pub mod shared_ledger;
pub mod spi;
pub mod statement;
pub mod xact;

mod rel_check;
pub mod security_context;
mod tuple_routing;

/// PostgreSQL types the feature modules name, without calling into C.
pub use pgrx::pg_sys::panic::ErrorReport;
pub use pgrx::pg_sys::{FunctionCallInfo, Oid, SubTransactionId};
