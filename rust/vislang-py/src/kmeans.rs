//! Bindings of `vislang_core::{assign, kmeans, minibatch, seeding}`. Use `vislang.VisualVocabulary`.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Mutex;
use std::time::Duration;

use numpy::{IntoPyArray, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use pyo3::types::{PyString, PyTuple};
use vislang_core::assign::Precision;
use vislang_core::kmeans::{self, Algorithm, Init, IterInfo, KMeansParams};
use vislang_core::seeding::{self, SeedParams};
use vislang_core::{assign, minibatch, Scalar};

use crate::arrays::{mat, to_array2, weights, Floats2};
use crate::errors::{InternalError, InvalidInputError};
use crate::native::run_native;

/// Options of `kmeans_fit` that do not depend on the dtype.
struct FitOptions {
    params: KMeansParams,
    n_local_trials: Option<usize>,
    n_threads: Option<usize>,
}

fn parse_algorithm(name: &str) -> PyResult<Algorithm> {
    match name {
        "lloyd" => Ok(Algorithm::Lloyd),
        "hamerly" => Ok(Algorithm::Hamerly),
        other => Err(InvalidInputError::new_err(format!(
            "algorithm must be 'lloyd' or 'hamerly', got {other:?}"
        ))),
    }
}

fn fit_typed<'py, T: Scalar + numpy::Element>(
    py: Python<'py>,
    x: &PyReadonlyArray2<'py, T>,
    init: &Bound<'py, PyAny>,
    sample_weight: Option<&Bound<'py, PyAny>>,
    opts: &FitOptions,
    callback: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyTuple>> {
    let xm = mat(x, "X")?;
    let init_arr: Option<PyReadonlyArray2<'py, T>>;
    let init_kind = if let Ok(s) = init.cast::<PyString>() {
        init_arr = None;
        match s.to_str()? {
            "k-means++" => Init::KMeansPlusPlus(opts.n_local_trials),
            "random" => Init::Random,
            other => {
                return Err(InvalidInputError::new_err(format!(
                    "init must be 'k-means++', 'random' or an array, got {other:?}"
                )))
            }
        }
    } else {
        init_arr = Some(init.extract().map_err(|_| {
            InvalidInputError::new_err("init must be a 2-D array of the same dtype as X")
        })?);
        Init::Random
    };
    let init_kind = match &init_arr {
        Some(a) => Init::Centers(mat(a, "init")?),
        None => init_kind,
    };
    let w: Option<PyReadonlyArray1<'py, T>> = match sample_weight {
        Some(w) => Some(w.extract().map_err(|_| {
            InvalidInputError::new_err("sample_weight must be a 1-D array of the same dtype as X")
        })?),
        None => None,
    };
    let wv = weights(&w)?;
    let params = &opts.params;
    let fit = run_polled(
        py,
        opts.n_threads,
        move |ask| kmeans::fit(xm, wv, init_kind, params, &mut |info: &IterInfo| ask(*info)),
        |py, info: IterInfo| match callback.as_ref() {
            Some(cb) => {
                let args = (
                    info.run,
                    info.iter,
                    info.inertia,
                    info.shift,
                    info.n_full_rows,
                );
                cb.call1(py, args).map(drop)
            }
            None => Ok(()),
        },
    )?;
    let k = opts.params.n_clusters;
    let centers = to_array2(py, fit.centers, k, xm.cols())?;
    let labels = fit.labels.into_pyarray(py);
    (centers, labels, fit.inertia, fit.n_iter, fit.seed_inertia).into_pyobject(py)
}

/// k-means fit; see `vislang.VisualVocabulary`. Returns (centers, labels, inertia, n_iter, seed_inertia).
#[pyfunction(name = "kmeans_fit", signature = (
    x, n_clusters, *, init, sample_weight=None, max_iter=300, tol=0.0, n_init=1, seed=0,
    algorithm="lloyd", n_local_trials=None, n_threads=None, callback=None
))]
#[allow(clippy::too_many_arguments)]
pub fn kmeans_fit_py<'py>(
    py: Python<'py>,
    x: Floats2<'py>,
    n_clusters: usize,
    init: &Bound<'py, PyAny>,
    sample_weight: Option<&Bound<'py, PyAny>>,
    max_iter: usize,
    tol: f64,
    n_init: usize,
    seed: u64,
    algorithm: &str,
    n_local_trials: Option<usize>,
    n_threads: Option<usize>,
    callback: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyTuple>> {
    if !(tol.is_finite() && tol >= 0.0) {
        return Err(InvalidInputError::new_err(format!(
            "tol must be finite and >= 0, got {tol}"
        )));
    }
    let opts = FitOptions {
        params: KMeansParams {
            n_clusters,
            max_iter,
            tol,
            n_init,
            seed,
            algorithm: parse_algorithm(algorithm)?,
        },
        n_local_trials,
        n_threads,
    };
    match &x {
        Floats2::F32(a) => fit_typed(py, a, init, sample_weight, &opts, callback),
        Floats2::F64(a) => fit_typed(py, a, init, sample_weight, &opts, callback),
    }
}

fn nearest_typed<'py, T: Scalar + numpy::Element>(
    py: Python<'py>,
    x: &PyReadonlyArray2<'py, T>,
    centers: &Bound<'py, PyAny>,
    k: usize,
    precision: Precision,
    n_threads: Option<usize>,
) -> PyResult<Bound<'py, PyTuple>> {
    let c: PyReadonlyArray2<'py, T> = centers.extract().map_err(|_| {
        InvalidInputError::new_err("centers must be a 2-D array of the same dtype as X")
    })?;
    let (xm, cm) = (mat(x, "X")?, mat(&c, "centers")?);
    let nb = run_native(py, n_threads, move || {
        let nb = assign::nearest_with(xm, cm, k, precision)?;
        // The kernel computes large distances exactly where they fit: refuse only an
        // overflowing one (never return inf), with the scale in the message.
        if nb.sq_distances.iter().any(|v| !v.is_finite()) {
            kmeans::check_distance_scale("X", &[xm, cm], 1.0)?;
            return Err(vislang_core::Error::invalid(
                "X",
                "squared distances to the centers overflow; rescale X and the centers",
            ));
        }
        Ok(nb)
    })?;
    let n = xm.rows();
    (
        to_array2(py, nb.indices, n, k)?,
        to_array2(py, nb.sq_distances, n, k)?,
    )
        .into_pyobject(py)
}

/// `"auto"` (bfloat16 candidates where the CPU has them) or `"fp32"` (always the GEMM).
pub(crate) fn parse_precision(name: &str) -> PyResult<Precision> {
    match name {
        "auto" => Ok(Precision::Auto),
        "fp32" => Ok(Precision::Fp32),
        other => Err(InvalidInputError::new_err(format!(
            "precision must be 'auto' or 'fp32', got {other:?}"
        ))),
    }
}

/// k nearest centres of each row; see `vislang.assign`. Returns (indices, squared distances).
#[pyfunction(name = "nearest", signature = (x, centers, k=1, *, precision="auto", n_threads=None))]
pub fn nearest_py<'py>(
    py: Python<'py>,
    x: Floats2<'py>,
    centers: &Bound<'py, PyAny>,
    k: usize,
    precision: &str,
    n_threads: Option<usize>,
) -> PyResult<Bound<'py, PyTuple>> {
    let precision = parse_precision(precision)?;
    match &x {
        Floats2::F32(a) => nearest_typed(py, a, centers, k, precision, n_threads),
        Floats2::F64(a) => nearest_typed(py, a, centers, k, precision, n_threads),
    }
}

fn minibatch_typed<'py, T: Scalar + numpy::Element>(
    py: Python<'py>,
    x: &PyReadonlyArray2<'py, T>,
    centers: &Bound<'py, PyAny>,
    counts: PyReadonlyArray1<'py, f64>,
    sample_weight: Option<&Bound<'py, PyAny>>,
    n_threads: Option<usize>,
) -> PyResult<Bound<'py, PyTuple>> {
    let c: PyReadonlyArray2<'py, T> = centers.extract().map_err(|_| {
        InvalidInputError::new_err("centers must be a 2-D array of the same dtype as X")
    })?;
    let (xm, cm) = (mat(x, "X")?, mat(&c, "centers")?);
    let counts = counts
        .as_slice()
        .map_err(|_| InvalidInputError::new_err("counts must be C-contiguous"))?;
    let w: Option<PyReadonlyArray1<'py, T>> = match sample_weight {
        Some(w) => Some(w.extract().map_err(|_| {
            InvalidInputError::new_err("sample_weight must be a 1-D array of the same dtype as X")
        })?),
        None => None,
    };
    let wv = weights(&w)?;
    let (k, d) = (cm.rows(), cm.cols());
    let step = run_native(py, n_threads, move || minibatch::step(xm, wv, cm, counts))?;
    (
        to_array2(py, step.centers, k, d)?,
        step.counts.into_pyarray(py),
        step.labels.into_pyarray(py),
        step.sq_distances.into_pyarray(py),
        step.inertia,
    )
        .into_pyobject(py)
}

/// One mini-batch k-means step; returns (centers, counts, labels, sq_distances, inertia).
#[pyfunction(name = "minibatch_step", signature = (x, centers, counts, *, sample_weight=None, n_threads=None))]
pub fn minibatch_step_py<'py>(
    py: Python<'py>,
    x: Floats2<'py>,
    centers: &Bound<'py, PyAny>,
    counts: PyReadonlyArray1<'py, f64>,
    sample_weight: Option<&Bound<'py, PyAny>>,
    n_threads: Option<usize>,
) -> PyResult<Bound<'py, PyTuple>> {
    match &x {
        Floats2::F32(a) => minibatch_typed(py, a, centers, counts, sample_weight, n_threads),
        Floats2::F64(a) => minibatch_typed(py, a, centers, counts, sample_weight, n_threads),
    }
}

/// Options of `kmeans_plus_plus` that do not depend on the dtype.
struct SeedOptions {
    n_clusters: usize,
    n_local_trials: Option<usize>,
    seed: u64,
    n_threads: Option<usize>,
}

fn seeds_typed<'py, T: Scalar + numpy::Element>(
    py: Python<'py>,
    x: &PyReadonlyArray2<'py, T>,
    sample_weight: Option<&Bound<'py, PyAny>>,
    opts: &SeedOptions,
    callback: Option<Py<PyAny>>,
) -> PyResult<Vec<usize>> {
    let xm = mat(x, "X")?;
    let w: Option<PyReadonlyArray1<'py, T>> = match sample_weight {
        Some(w) => Some(w.extract().map_err(|_| {
            InvalidInputError::new_err("sample_weight must be a 1-D array of the same dtype as X")
        })?),
        None => None,
    };
    let wv = weights(&w)?;
    let params = SeedParams {
        n_clusters: opts.n_clusters,
        n_local_trials: opts.n_local_trials,
        seed: opts.seed,
    };
    let work = move |ask: &(dyn Fn(usize) -> bool + Sync)| {
        seeding::seed_rows(xm, wv, &params, &mut |m| ask(m))
    };
    run_polled(py, opts.n_threads, work, |py, m: usize| {
        match callback.as_ref() {
            Some(cb) => cb.call1(py, (m,)).map(drop),
            None => Ok(()),
        }
    })
}

/// A question from the native work to the calling thread, or the end of the work.
enum Polled<Q> {
    Ask(Q, mpsc::Sender<bool>),
    Done,
}

/// Runs `work` on a helper thread (in the `n_threads` pool, via [`run_native`]) while this
/// thread, which can handle signals, waits without the GIL. `ask(q)` from the work blocks until
/// `answer(py, q)` has run here; Ctrl-C is checked before every answer and every 50 ms, and
/// once it or `answer` fails, `ask` returns `false` (the work stops) and the error is raised.
/// So Ctrl-C and callbacks work whatever the thread count.
fn run_polled<'py, Q, T, W, A>(
    py: Python<'py>,
    n_threads: Option<usize>,
    work: W,
    mut answer: A,
) -> PyResult<T>
where
    Q: Send,
    T: Send,
    W: FnOnce(&(dyn Fn(Q) -> bool + Sync)) -> vislang_core::Result<T> + Send,
    A: FnMut(Python<'py>, Q) -> PyResult<()>,
{
    let (tx, rx) = mpsc::channel::<Polled<Q>>();
    let rx = Mutex::new(rx); // waited on without the GIL, which needs `Sync`
    let mut failure: Option<PyErr> = None;
    let joined = std::thread::scope(|scope| {
        let done = tx.clone();
        let handle = scope.spawn(move || {
            let ask = move |q: Q| -> bool {
                let (reply, answered) = mpsc::channel();
                tx.send(Polled::Ask(q, reply)).is_ok() && answered.recv().unwrap_or(false)
            };
            let out = Python::attach(|py| run_native(py, n_threads, || work(&ask)));
            let _ = done.send(Polled::Done);
            out
        });
        loop {
            let msg = py.detach(|| match rx.lock() {
                Ok(r) => r.recv_timeout(Duration::from_millis(50)),
                Err(_) => Err(RecvTimeoutError::Disconnected),
            });
            match msg {
                Ok(Polled::Done) | Err(RecvTimeoutError::Disconnected) => break,
                Ok(Polled::Ask(q, reply)) => {
                    if failure.is_none() {
                        failure = py.check_signals().and_then(|()| answer(py, q)).err();
                    }
                    let _ = reply.send(failure.is_none());
                }
                Err(RecvTimeoutError::Timeout) => {
                    if failure.is_none() {
                        failure = py.check_signals().err();
                    }
                }
            }
        }
        handle.join()
    });
    let out = joined.map_err(|_| InternalError::new_err("vislang native thread panicked"))?;
    // A Ctrl-C or callback error wins over the work's own result (it was consumed here).
    match failure {
        Some(e) => Err(e),
        None => out,
    }
}

/// Greedy k-means++ seed rows (int64 indices); see `vislang.kmeans_plusplus`. `callback(m)`
/// runs after every pass over the data with the number of seeds chosen so far; Ctrl-C and an
/// exception from it stop the seeding.
#[pyfunction(name = "kmeans_plus_plus", signature = (
    x, n_clusters, *, sample_weight=None, n_local_trials=None, seed=0, n_threads=None,
    callback=None
))]
#[allow(clippy::too_many_arguments)]
pub fn kmeans_plus_plus_py<'py>(
    py: Python<'py>,
    x: Floats2<'py>,
    n_clusters: usize,
    sample_weight: Option<&Bound<'py, PyAny>>,
    n_local_trials: Option<usize>,
    seed: u64,
    n_threads: Option<usize>,
    callback: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, numpy::PyArray1<i64>>> {
    let opts = SeedOptions {
        n_clusters,
        n_local_trials,
        seed,
        n_threads,
    };
    let rows = match &x {
        Floats2::F32(a) => seeds_typed(py, a, sample_weight, &opts, callback)?,
        Floats2::F64(a) => seeds_typed(py, a, sample_weight, &opts, callback)?,
    };
    Ok(rows
        .into_iter()
        .map(|r| r as i64)
        .collect::<Vec<_>>()
        .into_pyarray(py))
}
