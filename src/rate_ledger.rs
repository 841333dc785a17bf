//! Rolled-back decisions every session's rate limits count at once.
//!
//! A decision whose transaction rolls back was answered, and its receipt is
//! written again only at its backend's next commit (receipts/held.rs). With
//! the library in `shared_preload_libraries`, the backend lists each such
//! `allow` in shared memory (src/pg/shared_ledger.rs) as the transaction
//! aborts (or commits without having written it again, after a cancel),
//! before the tenant's rate lock is released, and takes it off once
//! the receipt is written again and committed, or at exit. Rate counts add
//! the other backends' entries to what the receipts hold, so a decision made
//! after the rollback counts it, whichever session makes it. Without the
//! library preloaded there is no list, and other sessions count such a
//! decision only once its receipt is written again (README, Rate limits).
//!
//! Entries keep hashes of the tenant (with its database: the list serves
//! every database of the server, whose tenant ids are their own), tool and
//! rules, keyed by a secret the postmaster drew: a collision only makes a
//! count larger.

use crate::pg::backend;
use crate::pg::shared_ledger::{self, Entry, SLOTS, Table};
use std::cell::Cell;
use std::hash::{DefaultHasher, Hash, Hasher};

/// A rolled-back decision to list: an `allow` of a tenant whose rate lock
/// its transaction took (`counted`), the run of an approval (`spends`), or
/// both.
pub(crate) struct RolledBackAllow<'a> {
    pub id: [u8; 16],
    pub counted: bool,
    /// The approval whose run this was: spent, though rolled back.
    pub spends: Option<[u8; 16]>,
    pub tenant_id: &'a str,
    pub tool: &'a str,
    /// The rule credited, when the platform was.
    pub platform_rule: Option<&'a str>,
    pub tenant_rule: Option<&'a str>,
    /// The decision's time, in PostgreSQL's microseconds.
    pub created_at: i64,
}

/// What a `rate` condition counts, as hashes compare.
pub(crate) struct Filter<'a> {
    pub tenant_id: &'a str,
    pub since: i64,
    pub tool: Option<&'a str>,
    /// A tenant rule (`true`) or a platform rule's id.
    pub rule: Option<(bool, &'a str)>,
}

const TENANT: usize = 0;
const TOOL: usize = 1;
const PLATFORM_RULE: usize = 2;
const TENANT_RULE: usize = 3;

/// Entry flags: a decision rate limits count; the run of an approval (in
/// `other_id`), which is spent; a tenant whose decisions went past its share
/// of the list, whose counts are then taken as reached.
const COUNTED: u32 = 1;
const SPENT: u32 = 2;
const OVERFLOW: u32 = 4;

/// Entries one tenant may have at once: no tenant can fill the list and so
/// leave the others' rolled-back decisions out. Past it, its own limits hold
/// as reached, and its approvals as spent, in other sessions until the
/// backend that went past has written its rolled-back decisions.
const PER_TENANT: usize = SLOTS / 16;

thread_local! {
    /// Whether the list was full when this backend last tried to add.
    static REPORTED_FULL: Cell<bool> = const { Cell::new(false) };
    /// Whether this backend marked a tenant as over its share.
    static OWNS_OVERFLOW: Cell<bool> = const { Cell::new(false) };
    /// Whether this backend ever listed anything (its exit then takes its
    /// entries off).
    static OWNS_ENTRIES: Cell<bool> = const { Cell::new(false) };
}

/// Whether rolled-back decisions are listed (the library was preloaded).
pub(crate) fn listing() -> bool {
    shared_ledger::reserved()
}

/// Lists `decisions`, rolled back by this backend. A tenant's decisions
/// past its share are left out and the tenant marked as over it; those that
/// do not fit at all are left out (logged once per backend until all fit
/// again).
pub(crate) fn add<'a>(decisions: impl Iterator<Item = RolledBackAllow<'a>>) {
    if !listing() {
        return;
    }
    // Most transactions end with nothing to list: no lock taken then.
    let decisions: Vec<RolledBackAllow> = decisions.collect();
    if decisions.is_empty() {
        return;
    }
    let owner = backend::process_id();
    let all_fit = shared_ledger::exclusive(|table| {
        let mut all_fit = true;
        let mut counted_by_tenant: Vec<(u64, usize)> = Vec::new();
        for decision in decisions {
            let tenant = tenant_hash(table, decision.tenant_id);
            let mut flags = u32::from(decision.spends.is_some()) * SPENT;
            if decision.counted {
                flags |= COUNTED;
            }
            if flags != 0 {
                let listed = match counted_by_tenant.iter().position(|(t, _)| *t == tenant) {
                    Some(index) => &mut counted_by_tenant[index].1,
                    None => {
                        let already = table.slots[..table.len]
                            .iter()
                            .filter(|entry| {
                                entry.keys[TENANT] == tenant && entry.flags & OVERFLOW == 0
                            })
                            .count();
                        counted_by_tenant.push((tenant, already));
                        &mut counted_by_tenant.last_mut().expect("just pushed").1
                    }
                };
                if *listed < PER_TENANT {
                    *listed += 1;
                } else if !OWNS_OVERFLOW.get()
                    || !table.slots[..table.len].iter().any(|entry| {
                        entry.owner == owner
                            && entry.flags & OVERFLOW != 0
                            && entry.keys[TENANT] == tenant
                    })
                {
                    flags = OVERFLOW;
                } else {
                    flags = 0;
                }
            }
            if flags == 0 {
                continue;
            }
            if table.len == SLOTS {
                all_fit = false;
                break;
            }
            let entry = Entry {
                owner,
                flags,
                id: decision.id,
                other_id: decision.spends.unwrap_or_default(),
                keys: [
                    tenant,
                    hash(table, decision.tool),
                    decision.platform_rule.map_or(0, |rule| hash(table, rule)),
                    decision.tenant_rule.map_or(0, |rule| hash(table, rule)),
                ],
                at: decision.created_at,
            };
            let len = table.len;
            table.slots[len] = entry;
            table.len += 1;
            if flags & OVERFLOW != 0 {
                OWNS_OVERFLOW.set(true);
            }
            OWNS_ENTRIES.set(true);
        }
        all_fit
    });
    if !all_fit && !REPORTED_FULL.replace(true) {
        backend::log_without_statement(&format!(
            "authensor: the shared list of rolled-back decisions is full ({SLOTS}); rate limits in other sessions count the ones left out once their receipts are written again"
        ));
    }
    if all_fit {
        REPORTED_FULL.set(false);
    }
}

/// Whether another backend ran `approval`, of `tenant_id`, in a transaction
/// that rolled back and has not yet written that run's receipt again (which
/// spends it); taken as so while another backend has marked the tenant as
/// over its share.
pub(crate) fn spent_elsewhere(approval: [u8; 16], tenant_id: &str) -> bool {
    if !listing() {
        return false;
    }
    let owner = backend::process_id();
    shared_ledger::shared(|table| {
        let tenant = tenant_hash(table, tenant_id);
        table.slots[..table.len].iter().any(|entry| {
            entry.owner != owner
                && ((entry.flags & SPENT != 0 && entry.other_id == approval)
                    || (entry.flags & OVERFLOW != 0 && entry.keys[TENANT] == tenant))
        })
    })
}

/// Takes this backend's marks of tenants over their share off the list:
/// once it has no rolled-back decision left to write.
pub(crate) fn remove_overflow() {
    if OWNS_OVERFLOW.replace(false) {
        remove_where(|entry| entry.flags & OVERFLOW != 0);
    }
}

/// Takes this backend's entries for `ids` off the list (their receipts are
/// committed), or all of them (`None`, at exit).
pub(crate) fn remove(ids: Option<&[[u8; 16]]>) {
    if !OWNS_ENTRIES.get() {
        return;
    }
    // Sorted first: the exclusive lock is held for one pass, not one pass
    // per id.
    let ids = ids.map(|ids| {
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids
    });
    remove_where(|entry| {
        entry.flags & OVERFLOW == 0
            && ids
                .as_ref()
                .is_none_or(|ids| ids.binary_search(&entry.id).is_ok())
            || ids.is_none()
    });
}

/// Takes this backend's entries `remove` accepts off the list.
fn remove_where(remove: impl Fn(&Entry) -> bool) {
    if !listing() {
        return;
    }
    let owner = backend::process_id();
    shared_ledger::exclusive(|table| {
        let mut index = 0;
        while index < table.len {
            let entry = table.slots[index];
            if entry.owner == owner && remove(&entry) {
                table.len -= 1;
                table.slots[index] = table.slots[table.len];
                table.slots[table.len] = Entry::default();
            } else {
                index += 1;
            }
        }
    });
}

/// How many other backends' listed decisions `filter` counts (this
/// backend's own are counted from its copies, receipts/held.rs).
pub(crate) fn count(filter: &Filter) -> u64 {
    if !listing() {
        return 0;
    }
    let owner = backend::process_id();
    shared_ledger::shared(|table| {
        if table.len == 0 {
            return 0;
        }
        let tenant = tenant_hash(table, filter.tenant_id);
        let tool = filter.tool.map(|tool| hash(table, tool));
        let rule = filter.rule.map(|(tenant_rule, rule)| {
            let key = if tenant_rule {
                TENANT_RULE
            } else {
                PLATFORM_RULE
            };
            (key, hash(table, rule))
        });
        let others = || {
            table.slots[..table.len]
                .iter()
                .filter(|entry| entry.owner != owner && entry.keys[TENANT] == tenant)
        };
        if others().any(|entry| entry.flags & OVERFLOW != 0) {
            return u64::MAX;
        }
        others()
            .filter(|entry| {
                entry.flags & COUNTED != 0
                    && entry.at > filter.since
                    && tool.is_none_or(|tool| entry.keys[TOOL] == tool)
                    && rule.is_none_or(|(key, rule)| entry.keys[key] == rule)
            })
            .count() as u64
    })
}

fn hash(table: &Table, text: &str) -> u64 {
    keyed_hash(table, 0, text)
}

/// A tenant of this backend's database.
fn tenant_hash(table: &Table, tenant_id: &str) -> u64 {
    keyed_hash(table, backend::database_id(), tenant_id)
}

fn keyed_hash(table: &Table, database: u32, text: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    table.secret.hash(&mut hasher);
    database.hash(&mut hasher);
    text.hash(&mut hasher);
    // 0 stands for "no rule".
    hasher.finish().max(1)
}
