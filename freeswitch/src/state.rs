//! The module's process-wide state: the current configuration and counters, set at load, cleared at shutdown.
//! Readers take a snapshot (`Arc<Config>`), so a reload never blocks a call in progress.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::config::Config;

static CONFIG: RwLock<Option<Arc<Config>>> = RwLock::new(None);

/// Counters shown by `wacall_stats`.
pub struct Stats {
    pub api_calls: AtomicU64,
    pub api_errors: AtomicU64,
    pub app_runs: AtomicU64,
    pub app_errors: AtomicU64,
    pub calls_from_meta: AtomicU64,
    pub calls_to_meta: AtomicU64,
    pub reloads: AtomicU64,
    pub panics: AtomicU64,
}

pub static STATS: Stats = Stats {
    api_calls: AtomicU64::new(0),
    api_errors: AtomicU64::new(0),
    app_runs: AtomicU64::new(0),
    app_errors: AtomicU64::new(0),
    calls_from_meta: AtomicU64::new(0),
    calls_to_meta: AtomicU64::new(0),
    reloads: AtomicU64::new(0),
    panics: AtomicU64::new(0),
};

impl Stats {
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// `name=value` pairs in a fixed order.
    pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        vec![
            ("api_calls", g(&self.api_calls)),
            ("api_errors", g(&self.api_errors)),
            ("app_runs", g(&self.app_runs)),
            ("app_errors", g(&self.app_errors)),
            ("calls_from_meta", g(&self.calls_from_meta)),
            ("calls_to_meta", g(&self.calls_to_meta)),
            ("reloads", g(&self.reloads)),
            ("panics", g(&self.panics)),
        ]
    }
}

/// The configuration in force, if the module is loaded.
pub fn config() -> Option<Arc<Config>> {
    // A poisoned lock only means a panic elsewhere while holding it; the value inside is still whole.
    CONFIG.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Install a configuration (load, reload) or clear it (shutdown).
pub fn set_config(cfg: Option<Config>) {
    *CONFIG.write().unwrap_or_else(|e| e.into_inner()) = cfg.map(Arc::new);
}
