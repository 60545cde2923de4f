//! Bindings of `vislang_core::negatives`. Use `vislang.losses` (torch modules and functional).

use numpy::{PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;
use vislang_core::negatives::{
    self, Direction, LossGrad, Mode, Positives, RankingParams, WarpParams,
};
use vislang_core::{MatRef, Scalar};

use crate::arrays::{mat, to_array2, Floats2};
use crate::errors::InvalidInputError;
use crate::native::run_native;

fn parse_direction(name: &str) -> PyResult<Direction> {
    match name {
        "both" => Ok(Direction::Both),
        "i2t" => Ok(Direction::ImageToText),
        "t2i" => Ok(Direction::TextToImage),
        other => Err(InvalidInputError::new_err(format!(
            "direction must be 'both', 'i2t' or 't2i', got {other:?}"
        ))),
    }
}

/// The mask as a slice after checking its shape against the scores.
fn mask_slice<'a>(
    positives: &'a Option<PyReadonlyArray2<'_, bool>>,
    rows: usize,
    cols: usize,
) -> PyResult<Positives<'a>> {
    let Some(m) = positives else {
        return Ok(Positives::Diagonal);
    };
    let shape = m.shape();
    if shape != [rows, cols] {
        return Err(InvalidInputError::new_err(format!(
            "positives must have shape ({rows}, {cols}) like scores, got ({}, {})",
            shape[0], shape[1]
        )));
    }
    m.as_slice()
        .map(Positives::Mask)
        .map_err(|_| InvalidInputError::new_err("positives must be C-contiguous"))
}

/// The pool to install: none for problems the core runs on the calling thread (installing one
/// would hand the work to a pool thread and wake it for nothing).
fn pool_size(rows: usize, cols: usize, n_threads: Option<usize>) -> PyResult<Option<usize>> {
    if n_threads == Some(0) {
        return Err(InvalidInputError::new_err("n_threads must be >= 1, got 0"));
    }
    Ok(if negatives::runs_inline(rows, cols) {
        None
    } else {
        n_threads
    })
}

fn finish<'py, T: Scalar + numpy::Element>(
    py: Python<'py>,
    out: LossGrad<T>,
    rows: usize,
    cols: usize,
) -> PyResult<(f64, Bound<'py, PyAny>)> {
    let grad = to_array2(py, out.grad, rows, cols)?;
    Ok((out.loss, grad.into_any()))
}

fn ranking_typed<'py, T: Scalar + numpy::Element>(
    py: Python<'py>,
    scores: &PyReadonlyArray2<'py, T>,
    positives: &Option<PyReadonlyArray2<'py, bool>>,
    params: &RankingParams,
    n_threads: Option<usize>,
) -> PyResult<(f64, Bound<'py, PyAny>)> {
    let s: MatRef<'_, T> = mat(scores, "scores")?;
    let pos = mask_slice(positives, s.rows(), s.cols())?;
    let threads = pool_size(s.rows(), s.cols(), n_threads)?;
    let out = run_native(py, threads, || {
        negatives::contrastive_ranking(s, pos, params)
    })?;
    finish(py, out, s.rows(), s.cols())
}

fn warp_typed<'py, T: Scalar + numpy::Element>(
    py: Python<'py>,
    scores: &PyReadonlyArray2<'py, T>,
    positives: &Option<PyReadonlyArray2<'py, bool>>,
    params: &WarpParams,
    n_threads: Option<usize>,
) -> PyResult<(f64, Bound<'py, PyAny>)> {
    let s: MatRef<'_, T> = mat(scores, "scores")?;
    let pos = mask_slice(positives, s.rows(), s.cols())?;
    let threads = pool_size(s.rows(), s.cols(), n_threads)?;
    let out = run_native(py, threads, || negatives::warp(s, pos, params))?;
    finish(py, out, s.rows(), s.cols())
}

/// Triplet margin loss and dL/dS of a score matrix; use `vislang.losses.functional.contrastive_ranking`.
#[pyfunction(
    name = "contrastive_ranking",
    signature = (scores, positives=None, *, margin=0.2, max_violation=false, direction="both", n_threads=None)
)]
pub fn contrastive_ranking_py<'py>(
    py: Python<'py>,
    scores: Floats2<'py>,
    positives: Option<PyReadonlyArray2<'py, bool>>,
    margin: f64,
    max_violation: bool,
    direction: &str,
    n_threads: Option<usize>,
) -> PyResult<(f64, Bound<'py, PyAny>)> {
    let params = RankingParams {
        margin,
        mode: if max_violation { Mode::Max } else { Mode::Sum },
        direction: parse_direction(direction)?,
    };
    match scores {
        Floats2::F32(a) => ranking_typed(py, &a, &positives, &params, n_threads),
        Floats2::F64(a) => ranking_typed(py, &a, &positives, &params, n_threads),
    }
}

/// WARP loss and dL/dS of a score matrix; use `vislang.losses.functional.warp`.
#[pyfunction(
    name = "warp",
    signature = (scores, positives=None, *, margin=1.0, direction="i2t", seed=0, max_trials=None, n_threads=None)
)]
#[allow(clippy::too_many_arguments)]
pub fn warp_py<'py>(
    py: Python<'py>,
    scores: Floats2<'py>,
    positives: Option<PyReadonlyArray2<'py, bool>>,
    margin: f64,
    direction: &str,
    seed: u64,
    max_trials: Option<usize>,
    n_threads: Option<usize>,
) -> PyResult<(f64, Bound<'py, PyAny>)> {
    let params = WarpParams {
        margin,
        direction: parse_direction(direction)?,
        seed,
        max_trials,
    };
    match scores {
        Floats2::F32(a) => warp_typed(py, &a, &positives, &params, n_threads),
        Floats2::F64(a) => warp_typed(py, &a, &positives, &params, n_threads),
    }
}
