//! Receipt ids: UUID version 7 (RFC 9562), the receipt's millisecond followed
//! by 74 random bits.
//!
//! Time-ordered ids keep inserts into the primary key at the right edge of the
//! index instead of on a random page of a table that only grows. The random
//! bits come from a per-backend ChaCha20 generator seeded from PostgreSQL's
//! strong random source, which costs microseconds a call when asked directly.

use crate::errors::raise;
use crate::pg::backend;
use chacha20::ChaCha20Rng;
use pgrx::datum::{TimestampWithTimeZone, Uuid};
use pgrx::prelude::*;
use rand_core::{Rng, SeedableRng};
use std::cell::RefCell;

/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01).
const POSTGRES_EPOCH_UNIX_MICROS: i64 = 946_684_800_000_000;

thread_local! {
    /// The generator and the process it was seeded in: a backend forked from
    /// a process that had one seeds its own.
    static GENERATOR: RefCell<Option<(i32, ChaCha20Rng)>> = const { RefCell::new(None) };
}

/// A new id for a receipt created at `created_at`.
pub fn new_id(created_at: TimestampWithTimeZone) -> Uuid {
    let micros = i64::from(created_at) + POSTGRES_EPOCH_UNIX_MICROS;
    let millis = (micros.max(0) / 1000) as u64;
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    fill_random(&mut bytes[6..]);
    bytes[6] = (bytes[6] & 0x0f) | 0x70; // version 7
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 9562 variant
    Uuid::from_bytes(bytes)
}

fn fill_random(bytes: &mut [u8]) {
    let pid = backend::process_id();
    GENERATOR.with(|generator| {
        let mut generator = generator.borrow_mut();
        if generator
            .as_ref()
            .is_none_or(|(seeded_in, _)| *seeded_in != pid)
        {
            *generator = Some((pid, ChaCha20Rng::from_seed(strong_seed())));
        }
        if let Some((_, rng)) = generator.as_mut() {
            rng.fill_bytes(bytes);
        }
    });
}

fn strong_seed() -> [u8; 32] {
    let mut seed = [0u8; 32];
    if !backend::strong_random(&mut seed) {
        raise(
            PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
            "could not obtain random bits for receipt ids",
            None,
        )
    }
    seed
}
