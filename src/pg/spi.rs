//! What pgrx's SPI wrapper leaves out: releasing a result before the
//! connection ends (SPI_freetuptable() of executor/spi.c, checked against
//! PostgreSQL 15, 16 and 18). A cursor read in batches keeps every batch's
//! rows until SPI_finish() otherwise.

use pgrx::pg_sys;

/// Frees the last result of the current SPI connection: the batch a cursor
/// fetch returned, once its rows were read. Nothing may read that result
/// afterwards.
pub fn free_last_result() {
    // SAFETY: SPI_tuptable is the current connection's last result (a
    // nested connection restores it when it ends), or NULL, which
    // SPI_freetuptable ignores; callers have dropped every row of it.
    unsafe { pg_sys::SPI_freetuptable(pg_sys::SPI_tuptable) }
}
