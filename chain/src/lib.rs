//! The receipts' hash chain: the canonical encoding of a receipt, the links
//! that join one tenant's receipts, the walk that verifies them, and the
//! export format. The extension seals and verifies with this crate, and the
//! `authensor-chain` binary verifies an export with it, so the two cannot
//! read a receipt differently.

pub mod export;
pub mod json;
pub mod receipt;
pub mod verify;

pub use receipt::{GENESIS, Hash, Receipt, from_hex, link, to_hex};
pub use verify::{Entry, Finding, Problem, Report, Walk};
