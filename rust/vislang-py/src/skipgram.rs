//! Bindings of `vislang_core::skipgram`. Use `vislang.semantics.SkipGram` / `MultimodalSkipGram`.

use std::sync::Mutex;

use numpy::{IntoPyArray, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;
use vislang_core::skipgram::{self, tables, Corpus, MultimodalParams, SkipGramParams, Variant};

use crate::arrays::to_array2;
use crate::errors::InvalidInputError;
use crate::native::run_native;

fn slice1<'a, T: numpy::Element>(a: &'a PyReadonlyArray1<'_, T>, name: &str) -> PyResult<&'a [T]> {
    a.as_slice()
        .map_err(|_| InvalidInputError::new_err(format!("{name} must be C-contiguous")))
}

fn slice2<'a, T: numpy::Element>(
    a: &'a PyReadonlyArray2<'_, T>,
    name: &str,
) -> PyResult<(&'a [T], usize, usize)> {
    let shape = a.shape();
    if !a.is_c_contiguous() {
        return Err(InvalidInputError::new_err(format!(
            "{name} must be C-contiguous"
        )));
    }
    let s = a
        .as_slice()
        .map_err(|_| InvalidInputError::new_err(format!("{name} must be C-contiguous")))?;
    Ok((s, shape[0], shape[1]))
}

fn counts_u64(counts: &[i64]) -> PyResult<Vec<u64>> {
    counts
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            u64::try_from(c)
                .map_err(|_| InvalidInputError::new_err(format!("counts[{i}] = {c} must be >= 0")))
        })
        .collect()
}

/// Python's trained tuple: (syn0, syn1neg, mapping or None, words processed).
type TrainOut<'py> = (
    Bound<'py, PyAny>,
    Bound<'py, PyAny>,
    Option<Bound<'py, PyAny>>,
    u64,
);

/// Trains skip-gram with negative sampling (optionally multimodal); use `vislang.semantics`.
#[pyfunction(
    name = "skipgram_train",
    signature = (
        ids, offsets, counts, *, vector_size=100, window=5, negative=5, sample=1e-3, alpha=0.025,
        min_alpha=1e-4, epochs=5, seed=0, ns_exponent=0.75, visual=None, visual_of=None,
        variant="A", margin=0.5, n_visual_negatives=20, visual_weight=1.0, n_threads=None,
        callback=None
    )
)]
#[allow(clippy::too_many_arguments)]
pub fn skipgram_train_py<'py>(
    py: Python<'py>,
    ids: PyReadonlyArray1<'py, u32>,
    offsets: PyReadonlyArray1<'py, i64>,
    counts: PyReadonlyArray1<'py, i64>,
    vector_size: usize,
    window: usize,
    negative: usize,
    sample: f64,
    alpha: f32,
    min_alpha: f32,
    epochs: usize,
    seed: u64,
    ns_exponent: f64,
    visual: Option<PyReadonlyArray2<'py, f32>>,
    visual_of: Option<PyReadonlyArray1<'py, i64>>,
    variant: &str,
    margin: f32,
    n_visual_negatives: usize,
    visual_weight: f32,
    n_threads: Option<usize>,
    callback: Option<Py<PyAny>>,
) -> PyResult<TrainOut<'py>> {
    let ids_s = slice1(&ids, "ids")?;
    let offsets_v: Vec<usize> = slice1(&offsets, "offsets")?
        .iter()
        .map(|&o| {
            usize::try_from(o).map_err(|_| InvalidInputError::new_err("offsets must be >= 0"))
        })
        .collect::<PyResult<_>>()?;
    let counts_v = counts_u64(slice1(&counts, "counts")?)?;
    let params = SkipGramParams {
        vector_size,
        window,
        negative,
        sample,
        alpha,
        min_alpha,
        epochs,
        seed,
        ns_exponent,
    };
    let variant = match variant {
        "A" => Variant::A,
        "B" => Variant::B,
        other => {
            return Err(InvalidInputError::new_err(format!(
                "variant must be 'A' or 'B', got {other:?}"
            )))
        }
    };
    let mm = match (&visual, &visual_of) {
        (None, None) => None,
        (Some(v), Some(of)) => {
            let (vs, _, vdim) = slice2(v, "visual")?;
            Some(MultimodalParams {
                vectors: vs,
                vdim,
                visual_of: slice1(of, "visual_of")?,
                variant,
                margin,
                n_negatives: n_visual_negatives,
                weight: visual_weight,
            })
        }
        _ => {
            return Err(InvalidInputError::new_err(
                "visual and visual_of must be given together",
            ))
        }
    };
    let corpus = Corpus {
        ids: ids_s,
        offsets: &offsets_v,
    };
    let failure: Mutex<Option<PyErr>> = Mutex::new(None);
    let trained = {
        let failure = &failure;
        let callback = callback.as_ref();
        let counts_v = &counts_v;
        let mm = mm.as_ref();
        run_native(py, n_threads, move || {
            let progress = |done: u64, total: u64| -> bool {
                let Some(cb) = callback else { return true };
                Python::attach(|py| match cb.call1(py, (done, total)) {
                    Ok(r) => !matches!(r.extract::<bool>(py), Ok(false)),
                    Err(e) => {
                        if let Ok(mut slot) = failure.lock() {
                            *slot = Some(e);
                        }
                        false
                    }
                })
            };
            skipgram::train(corpus, counts_v, &params, mm, &progress)
        })
    };
    let trained = match trained {
        Ok(t) => t,
        Err(e) => {
            if let Some(cb_err) = failure.lock().ok().and_then(|mut s| s.take()) {
                return Err(cb_err);
            }
            return Err(e);
        }
    };
    let vocab = counts_v.len();
    let syn0 = to_array2(py, trained.syn0, vocab, vector_size)?.into_any();
    let syn1 = to_array2(py, trained.syn1neg, vocab, vector_size)?.into_any();
    let mapping = match (trained.mapping, mm) {
        (Some(m), Some(mm)) => Some(to_array2(py, m, mm.vdim, vector_size)?.into_any()),
        _ => None,
    };
    Ok((syn0, syn1, mapping, trained.words_done))
}

/// One SGNS step on copies of `syn0` / `syn1neg`: returns (syn0, syn1neg, loss before the step).
#[pyfunction(name = "skipgram_step", signature = (syn0, syn1neg, center, context, negatives, lr))]
pub fn skipgram_step_py<'py>(
    py: Python<'py>,
    syn0: PyReadonlyArray2<'py, f32>,
    syn1neg: PyReadonlyArray2<'py, f32>,
    center: usize,
    context: usize,
    negatives: PyReadonlyArray1<'py, u32>,
    lr: f32,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>, f32)> {
    let (s0, rows, dim) = slice2(&syn0, "syn0")?;
    let (s1, rows1, dim1) = slice2(&syn1neg, "syn1neg")?;
    if (rows, dim) != (rows1, dim1) {
        return Err(InvalidInputError::new_err(format!(
            "syn1neg has shape ({rows1}, {dim1}), expected ({rows}, {dim}) like syn0"
        )));
    }
    let (mut a, mut b) = (s0.to_vec(), s1.to_vec());
    let negs = slice1(&negatives, "negatives")?;
    let (loss, a, b) = run_native(py, None, move || {
        let loss = skipgram::sgns_step(&mut a, &mut b, dim, center, context, negs, lr)?;
        Ok((loss, a, b))
    })?;
    Ok((
        to_array2(py, a, rows, dim)?.into_any(),
        to_array2(py, b, rows, dim)?.into_any(),
        loss,
    ))
}

/// One max-margin visual step on copies: returns (syn0, mapping or None, loss before the step).
#[pyfunction(
    name = "multimodal_step",
    signature = (syn0, word, visual, target, negatives, lr, *, margin=0.5, weight=1.0, mapping=None)
)]
#[allow(clippy::too_many_arguments)]
pub fn multimodal_step_py<'py>(
    py: Python<'py>,
    syn0: PyReadonlyArray2<'py, f32>,
    word: usize,
    visual: PyReadonlyArray2<'py, f32>,
    target: usize,
    negatives: PyReadonlyArray1<'py, u32>,
    lr: f32,
    margin: f32,
    weight: f32,
    mapping: Option<PyReadonlyArray2<'py, f32>>,
) -> PyResult<(Bound<'py, PyAny>, Option<Bound<'py, PyAny>>, f32)> {
    let (s0, rows, dim) = slice2(&syn0, "syn0")?;
    let (vs, _, vdim) = slice2(&visual, "visual")?;
    let negs = slice1(&negatives, "negatives")?;
    let mut w = s0.to_vec();
    let mut m: Option<Vec<f32>> = match &mapping {
        Some(m) => Some(slice2(m, "mapping")?.0.to_vec()),
        None => None,
    };
    let (loss, w, m) = run_native(py, None, move || {
        let loss = skipgram::margin_step(
            &mut w,
            dim,
            word,
            vs,
            vdim,
            target,
            negs,
            m.as_deref_mut(),
            margin,
            lr,
            weight,
        )?;
        Ok((loss, w, m))
    })?;
    let m_out = match m {
        Some(m) => Some(to_array2(py, m, vdim, dim)?.into_any()),
        None => None,
    };
    Ok((to_array2(py, w, rows, dim)?.into_any(), m_out, loss))
}

/// (keep probability per word, noise probability per word) of the sampling tables.
#[pyfunction(name = "skipgram_tables", signature = (counts, sample, ns_exponent=0.75))]
pub fn skipgram_tables_py<'py>(
    py: Python<'py>,
    counts: PyReadonlyArray1<'py, i64>,
    sample: f64,
    ns_exponent: f64,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let c = counts_u64(slice1(&counts, "counts")?)?;
    let (keep, noise) = run_native(py, None, move || {
        let keep = tables::effective_keep_probabilities(&c, sample);
        let noise = tables::AliasTable::unigram(&c, ns_exponent)?.probabilities();
        Ok((keep, noise))
    })?;
    Ok((
        keep.into_pyarray(py).into_any(),
        noise.into_pyarray(py).into_any(),
    ))
}
