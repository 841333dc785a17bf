//! Statements run on every decision, parsed and planned once per backend.
//!
//! A saved SPI plan stays valid across transactions; PostgreSQL's plan cache
//! replans it by itself when the tables it uses change.

use crate::pg::guc;
use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use pgrx::spi::{OwnedPreparedStatement, SpiResult, SpiTupleTable};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

thread_local! {
    static PLANS: RefCell<HashMap<&'static str, Rc<OwnedPreparedStatement>>> = RefCell::new(HashMap::new());
}

/// Runs the read-only query `sql` with `args` through its saved plan
/// (preparing it on first use, with the argument types of this call) and
/// hands the result to `read`. It writes nothing, so it assigns no
/// transaction id and works on a hot standby.
///
/// The plan runs in SPI's non-read-only mode all the same, which takes a
/// snapshot of its own for the query (under READ COMMITTED; the
/// transaction's under REPEATABLE READ or SERIALIZABLE). In read-only mode
/// SPI would reuse the calling statement's snapshot, taken before the
/// invalidation messages the decision has just accepted: a publish that
/// committed in between would bump the cache's generation and yet be read
/// as not there, and its old version cached as current.
pub fn read<R>(
    sql: &'static str,
    args: &[DatumWithOid],
    read: impl FnOnce(SpiTupleTable) -> SpiResult<R>,
) -> SpiResult<R> {
    Spi::connect(|client| {
        let saved = PLANS.with(|plans| plans.borrow().get(sql).cloned());
        let plan = match saved {
            Some(plan) => plan,
            None => {
                let types: Vec<PgOid> = args.iter().map(|arg| PgOid::from(arg.oid())).collect();
                let plan = Rc::new(client.prepare_mut(sql, &types)?.keep());
                PLANS.with(|plans| plans.borrow_mut().insert(sql, Rc::clone(&plan)));
                plan
            }
        };
        let table = client.select(&*plan, None, args)?;
        read(table)
    })
}

/// Runs `f` with search_path set to `pg_catalog, pg_temp`, as a function's
/// `SET search_path` would, so that statements written without schema names
/// cannot pick up a caller's objects. Used for statements off the hot path of
/// a cached decision; the setting is restored when `f` returns, and by
/// PostgreSQL itself if `f` raises.
pub fn pinned<R>(f: impl FnOnce() -> R) -> R {
    guc::with_setting(c"search_path", c"pg_catalog, pg_temp", f)
}
