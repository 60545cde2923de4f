//! The one place that leaves Python: detach the GIL, install the thread pool, catch panics.

use std::cell::RefCell;
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use pyo3::prelude::*;
use rayon::{ThreadPool, ThreadPoolBuilder};

use crate::errors::{to_pyerr, InternalError};

thread_local! {
    // One pool per calling thread and size: concurrent Python threads never queue on each
    // other's pool, and a thread reuses its pool across calls.
    static POOLS: RefCell<HashMap<usize, Arc<ThreadPool>>> = RefCell::new(HashMap::new());
}

fn pool(n_threads: usize) -> PyResult<Arc<ThreadPool>> {
    if let Some(p) = POOLS.with(|m| m.borrow().get(&n_threads).cloned()) {
        return Ok(p);
    }
    let p = ThreadPoolBuilder::new()
        .num_threads(n_threads)
        .thread_name(|i| format!("vislang-{i}"))
        .build()
        .map_err(|e| InternalError::new_err(format!("cannot start {n_threads} threads: {e}")))?;
    let p = Arc::new(p);
    POOLS.with(|m| m.borrow_mut().insert(n_threads, Arc::clone(&p)));
    Ok(p)
}

/// Runs `f` without the GIL on `n_threads` threads (`None`: rayon's default pool, which honours
/// `RAYON_NUM_THREADS`). A panic becomes `InternalError`, a core error its Python exception.
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
