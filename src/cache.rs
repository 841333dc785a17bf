//! The backend-local cache of compiled policies.
//!
//! Two maps, both bounded by `authensor.cache_size` with LRU eviction, the
//! compiled policies also by their estimated size, `authensor.cache_max_bytes`:
//! - `compiled`: policy source digest → compiled policy. Keyed by content, so
//!   an entry can never be stale and survives invalidations.
//! - `heads`: (layer, tenant) → the active version and its compiled policy,
//!   and the shadow version's, if any (src/shadow.rs).
//!   This is what can go stale when another transaction publishes or activates.
//!
//! Invalidation is exact and needs no `shared_preload_libraries`: a statement
//! trigger on `policies`, `active_policies` and `shadow_policies` calls
//! `CacheInvalidateRelcacheByRelid`. PostgreSQL queues that message in the
//! writing transaction and broadcasts it through the shared invalidation queue
//! when (and only if) it commits. Every backend that loaded this library has a
//! relcache callback that bumps `GENERATION` when the message arrives, and each
//! decision first calls `AcceptInvalidationMessages()`, so the first statement
//! after the commit — even inside an already open transaction — sees the bump
//! and re-reads the active versions. LISTEN/NOTIFY cannot serve this purpose:
//! notifications go to the client, between transactions, never to backend code.
//!
//! `authensor.cache_ttl` bounds how long a head is trusted without any signal;
//! it only matters if the triggers are bypassed.

use crate::errors::raise_policy_error;
use crate::gucs::{CACHE_MAX_BYTES, CACHE_SIZE, CACHE_TTL, MAX_CONDITION_DEPTH_CEILING};
use crate::lru::{Bounds, Lru};
use crate::pg::{Oid, inval, xact};
use crate::store::{self, LayerKind};
use authensor_policy::{Limits, Policy, PolicyError};
use pgrx::JsonB;
use pgrx::prelude::*;
use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A policy version in force, compiled.
#[derive(Clone)]
pub struct ActivePolicy {
    pub version: i32,
    pub policy: Arc<Policy>,
}

/// A shadow version (src/shadow.rs), compiled, or `None` when its stored
/// source no longer compiles (a limit or the language changed since it was
/// published): a shadow never makes a decision fail, so that is recorded as
/// the shadow's outcome instead of raised.
#[derive(Clone)]
pub struct ShadowPolicy {
    pub version: i32,
    pub policy: Option<Arc<Policy>>,
}

/// The two layers that apply to one tenant, and the shadow version of each
/// (src/shadow.rs), if any.
pub struct Layers {
    pub platform: Option<ActivePolicy>,
    pub tenant: Option<ActivePolicy>,
    pub platform_shadow: Option<ShadowPolicy>,
    pub tenant_shadow: Option<ShadowPolicy>,
}

/// One layer's active version and shadow version.
#[derive(Clone, Default)]
struct LayerHeads {
    active: Option<ActivePolicy>,
    shadow: Option<ShadowPolicy>,
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct HeadKey {
    layer: LayerKind,
    tenant_id: Option<String>,
}

struct Head {
    versions: LayerHeads,
    loaded_at: Instant,
}

#[derive(Default)]
struct Stats {
    hits: u64,
    misses: u64,
    compiles: u64,
    invalidations: u64,
    evictions: u64,
}

struct Cache {
    seen_generation: u64,
    heads: Lru<HeadKey, Head>,
    compiled: Lru<Vec<u8>, Arc<Policy>>,
    stats: Stats,
}

/// Bumped by the relcache callback; compared with `Cache::seen_generation`.
static GENERATION: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache {
        seen_generation: 0,
        heads: Lru::new(),
        compiled: Lru::new(),
        stats: Stats::default(),
    });
    /// Oids of the three policy tables, learnt when heads are loaded. Until
    /// then every relcache message counts as a policy change.
    static WATCHED: Cell<Option<[Option<Oid>; 3]>> = const { Cell::new(None) };
}

/// Registers the relcache callback. Called once per backend from `_PG_init`.
pub fn register_invalidation_callback() {
    inval::on_relcache_invalidation(on_relcache_invalidation);
}

/// Runs inside PostgreSQL's invalidation processing: it must not allocate much,
/// query or raise, so it only bumps a counter. `None`: every relation.
fn on_relcache_invalidation(relation: Option<Oid>) {
    let relevant = relation.is_none_or(|relation| {
        WATCHED.with(|w| w.get().is_none_or(|oids| oids.contains(&Some(relation))))
    });
    if relevant {
        GENERATION.fetch_add(1, Ordering::Relaxed);
    }
}

/// A number that changes whenever a policy change may have committed since
/// it was last read.
pub fn generation() -> u64 {
    GENERATION.load(Ordering::Relaxed)
}

/// The platform policy and `tenant_id`'s policy in force now, and their
/// shadow versions.
pub fn active_layers(tenant_id: &str) -> Layers {
    // As every statement start does.
    inval::accept_invalidation_messages();
    CACHE.with(|cell| {
        let mut cache = cell.borrow_mut();
        cache.sync_generation();
        let platform_key = HeadKey {
            layer: LayerKind::Platform,
            tenant_id: None,
        };
        let tenant_key = HeadKey {
            layer: LayerKind::Tenant,
            tenant_id: Some(tenant_id.to_owned()),
        };
        let ttl = Duration::from_secs(CACHE_TTL.get().max(0) as u64);
        match (
            cache.fresh_head(&platform_key, ttl),
            cache.fresh_head(&tenant_key, ttl),
        ) {
            (Some(platform), Some(tenant)) => {
                cache.stats.hits += 1;
                Layers {
                    platform: platform.active,
                    tenant: tenant.active,
                    platform_shadow: platform.shadow,
                    tenant_shadow: tenant.shadow,
                }
            }
            _ => {
                cache.stats.misses += 1;
                cache.load(platform_key, tenant_key)
            }
        }
    })
}

impl Cache {
    fn sync_generation(&mut self) {
        let generation = GENERATION.load(Ordering::Relaxed);
        if generation != self.seen_generation {
            // Recorded before any re-read: a message that arrives during the
            // read bumps GENERATION again and forces another re-read next time.
            self.seen_generation = generation;
            self.heads.clear();
            self.stats.invalidations += 1;
        }
    }

    fn fresh_head(&mut self, key: &HeadKey, ttl: Duration) -> Option<LayerHeads> {
        let head = self.heads.get(key)?;
        (head.loaded_at.elapsed() < ttl).then(|| head.versions.clone())
    }

    fn load(&mut self, platform_key: HeadKey, tenant_key: HeadKey) -> Layers {
        WATCHED.with(|w| w.set(store::policy_table_oids()));
        let tenant_id = tenant_key.tenant_id.as_deref().unwrap_or_default();
        let mut platform = LayerHeads::default();
        let mut tenant = LayerHeads::default();
        for head in store::active_heads(tenant_id) {
            let layer = match head.layer {
                LayerKind::Platform => &mut platform,
                LayerKind::Tenant => &mut tenant,
            };
            let compiled = self.compiled_policy(&head);
            match head.shadow {
                false => {
                    layer.active = Some(ActivePolicy {
                        version: head.version,
                        policy: compiled.unwrap_or_else(|error| raise_policy_error(&error)),
                    })
                }
                true => {
                    layer.shadow = Some(ShadowPolicy {
                        version: head.version,
                        policy: compiled.ok(),
                    })
                }
            }
        }
        // Under REPEATABLE READ or SERIALIZABLE the read used the transaction's
        // snapshot, which may predate a commit this backend was already told
        // about; such a result is used for this call but never cached.
        if !xact::uses_transaction_snapshot() {
            let bounds = heads_bounds();
            let loaded_at = Instant::now();
            self.stats.evictions += self.heads.insert(
                platform_key,
                Head {
                    versions: platform.clone(),
                    loaded_at,
                },
                0,
                bounds,
            ) as u64;
            self.stats.evictions += self.heads.insert(
                tenant_key,
                Head {
                    versions: tenant.clone(),
                    loaded_at,
                },
                0,
                bounds,
            ) as u64;
        }
        Layers {
            platform: platform.active,
            tenant: tenant.active,
            platform_shadow: platform.shadow,
            tenant_shadow: tenant.shadow,
        }
    }

    fn compiled_policy(&mut self, head: &store::ActiveHead) -> Result<Arc<Policy>, PolicyError> {
        if let Some(policy) = self.compiled.get(&head.digest) {
            return Ok(Arc::clone(policy));
        }
        let source = store::policy_source(head.layer, head.tenant_id.as_deref(), head.version);
        let policy = Arc::new(authensor_policy::compile_with_limits(
            &source,
            &stored_policy_limits(),
        )?);
        self.stats.compiles += 1;
        self.stats.evictions += self.compiled.insert(
            head.digest.clone(),
            Arc::clone(&policy),
            policy.approx_bytes(),
            compiled_bounds(),
        ) as u64;
        Ok(policy)
    }
}

/// A stored version passed validation when it was published; size limits
/// lowered since then must not make it unusable. The depth bound stays, as it
/// protects the stack, at the deepest nesting any publish may have allowed.
fn stored_policy_limits() -> Limits {
    Limits {
        max_source_bytes: usize::MAX,
        max_rules: usize::MAX,
        max_compiled_bytes: usize::MAX,
        max_conditions: usize::MAX,
        max_interpolations: usize::MAX,
        max_depth: MAX_CONDITION_DEPTH_CEILING as usize,
    }
}

/// Compiled policies: by count and by estimated bytes.
fn compiled_bounds() -> Bounds {
    Bounds {
        entries: CACHE_SIZE.get().max(1) as usize,
        weight: CACHE_MAX_BYTES.get().max(1) as usize,
    }
}

/// Active-version lookups are small: by count only.
fn heads_bounds() -> Bounds {
    Bounds {
        entries: CACHE_SIZE.get().max(1) as usize,
        weight: usize::MAX,
    }
}

/// Counters of this backend's policy cache.
#[pg_extern(volatile, parallel_safe)]
fn cache_stats() -> JsonB {
    CACHE.with(|cell| {
        let mut cache = cell.borrow_mut();
        // Lowered bounds take effect here too, not only on the next insert.
        let evicted =
            cache.compiled.shrink_to(compiled_bounds()) + cache.heads.shrink_to(heads_bounds());
        cache.stats.evictions += evicted as u64;
        JsonB(serde_json::json!({
            "hits": cache.stats.hits,
            "misses": cache.stats.misses,
            "compiles": cache.stats.compiles,
            "invalidations": cache.stats.invalidations,
            "evictions": cache.stats.evictions,
            "entries": cache.compiled.len(),
            "bytes": cache.compiled.weight(),
            "active_entries": cache.heads.len(),
            "capacity": compiled_bounds().entries,
            "capacity_bytes": compiled_bounds().weight,
        }))
    })
}
