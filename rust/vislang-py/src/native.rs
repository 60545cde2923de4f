//! The one place that leaves Python: detach the GIL, install the thread pool, catch panics.
//!
//! Fork guard (as HF tokenizers): a `fork()`ed child (a torch DataLoader worker) inherits the
//! pools' bookkeeping but none of their threads, so submitting work to them would wait forever.
//! A `pthread_atfork` child handler bumps a generation counter; `run_native` then never touches
//! a pool of an older generation (rayon's global one included) and builds fresh ones instead.

use std::cell::RefCell;
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Once};

use pyo3::prelude::*;
use rayon::{ThreadPool, ThreadPoolBuilder};

use crate::errors::{to_pyerr, InternalError};

thread_local! {
    // One pool per calling thread and size: concurrent Python threads never queue on each
    // other's pool, and a thread reuses its pool across calls. Tagged with the fork generation
    // they were built in.
    static POOLS: RefCell<(usize, HashMap<usize, Arc<ThreadPool>>)> =
        RefCell::new((0, HashMap::new()));
}

/// How many `fork()`s this process descends from (0 in the original process).
static FORK_GENERATION: AtomicUsize = AtomicUsize::new(0);

extern "C" fn after_fork_in_child() {
    // Only an atomic store: async-signal-safe, as a child handler of a threaded parent must be.
    FORK_GENERATION.fetch_add(1, Ordering::SeqCst);
}

/// Registers the fork handler (once per process; called from the module's init).
pub fn install_fork_guard() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        #[cfg(unix)]
        // SAFETY: the handler only performs an atomic store and stays valid for the life of
        // the process (the extension is never unloaded).
        unsafe {
            libc::pthread_atfork(None, None, Some(after_fork_in_child));
        }
    });
}

/// Whether this process is a fork of one that loaded the extension.
pub fn forked() -> bool {
    FORK_GENERATION.load(Ordering::SeqCst) > 0
}

/// Threads of rayon's default pool: `RAYON_NUM_THREADS`, else the logical CPUs.
fn default_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .or_else(|| std::thread::available_parallelism().ok().map(usize::from))
        .unwrap_or(1)
}

fn pool(n_threads: usize) -> PyResult<Arc<ThreadPool>> {
    let generation = FORK_GENERATION.load(Ordering::SeqCst);
    let cached = POOLS.with(|m| {
        let mut m = m.borrow_mut();
        if m.0 != generation {
            // Pools of the parent: their threads do not exist here. Leak them: dropping one
            // would signal threads that are gone.
            std::mem::forget(std::mem::take(&mut m.1));
            m.0 = generation;
        }
        m.1.get(&n_threads).cloned()
    });
    if let Some(p) = cached {
        return Ok(p);
    }
    let p = ThreadPoolBuilder::new()
        .num_threads(n_threads)
        .thread_name(|i| format!("vislang-{i}"))
        .build()
        .map_err(|e| InternalError::new_err(format!("cannot start {n_threads} threads: {e}")))?;
    let p = Arc::new(p);
    POOLS.with(|m| m.borrow_mut().1.insert(n_threads, Arc::clone(&p)));
    Ok(p)
}

/// Runs `f` without the GIL on `n_threads` threads (`None`: rayon's default pool, which honours
/// `RAYON_NUM_THREADS`; in a forked child, a fresh pool of that size). A panic becomes
/// `InternalError`, a core error its Python exception.
pub fn run_native<T, F>(py: Python<'_>, n_threads: Option<usize>, f: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> vislang_core::Result<T> + Send,
{
    let pool = match n_threads {
        Some(0) => {
            return Err(crate::errors::InvalidInputError::new_err(
                "n_threads must be >= 1, got 0",
            ))
        }
        Some(t) => Some(pool(t)?),
        // rayon's global pool was started by the parent: its threads are gone after a fork.
        None if forked() => Some(pool(default_threads())?),
        None => None,
    };
    let outcome = py.detach(move || {
        catch_unwind(AssertUnwindSafe(move || match pool {
            Some(p) => p.install(f),
            None => f(),
        }))
    });
    match outcome {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(to_pyerr(e)),
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            Err(InternalError::new_err(format!(
                "internal error in vislang native code: {msg}; please report it"
            )))
        }
    }
}
