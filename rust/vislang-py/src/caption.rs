//! Bindings of `vislang_core::caption`. Use `vislang.eval.caption_metrics` / `CiderD`.

use numpy::{IntoPyArray, PyArray1};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use vislang_core::caption::{self, CiderScorer};

use crate::native::run_native;

/// PTB-tokenise captions like pycocoevalcap (see `vislang.eval.ptb_tokenize`).
#[pyfunction(name = "ptb_tokenize", signature = (texts, *, n_threads=None))]
pub fn ptb_tokenize_py(
    py: Python<'_>,
    texts: Vec<String>,
    n_threads: Option<usize>,
) -> PyResult<Vec<String>> {
    use rayon::prelude::*;
    run_native(py, n_threads, move || {
        Ok(texts
            .par_iter()
            .map(|t| caption::ptb_tokenize(t).join(" "))
            .collect())
    })
}

/// BLEU-1..4, ROUGE-L, CIDEr-D (see `vislang.eval.caption_metrics`).
#[pyfunction(name = "caption_scores", signature = (candidates, references, *, tokenize=true, n_threads=None))]
pub fn caption_scores_py<'py>(
    py: Python<'py>,
    candidates: Vec<String>,
    references: Vec<Vec<String>>,
    tokenize: bool,
    n_threads: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    let s = run_native(py, n_threads, move || {
        caption::caption_scores(&candidates, &references, tokenize)
    })?;
    let d = PyDict::new(py);
    for (k, v) in s.bleu.iter().enumerate() {
        d.set_item(format!("bleu{}", k + 1), *v)?;
    }
    d.set_item("rouge_l", s.rouge_l)?;
    d.set_item("cider_d", s.cider_d)?;
    d.set_item("rouge_l_per_image", s.rouge_l_per_image.into_pyarray(py))?;
    d.set_item("cider_d_per_image", s.cider_d_per_image.into_pyarray(py))?;
    Ok(d)
}

/// CIDEr-D with cached document frequencies (see `vislang.eval.CiderD`).
#[pyclass(name = "CiderScorer", module = "vislang._core", frozen)]
pub struct CiderScorerPy {
    inner: CiderScorer,
}

#[pymethods]
impl CiderScorerPy {
    #[new]
    #[pyo3(signature = (references, *, tokenize=true, n_threads=None))]
    fn new(
        py: Python<'_>,
        references: Vec<Vec<String>>,
        tokenize: bool,
        n_threads: Option<usize>,
    ) -> PyResult<Self> {
        let inner = run_native(py, n_threads, move || {
            CiderScorer::new(&references, tokenize)
        })?;
        Ok(Self { inner })
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    /// CIDEr-D of `candidates[i]` against reference set `index[i]`.
    #[pyo3(signature = (candidates, index, *, n_threads=None))]
    fn score<'py>(
        &self,
        py: Python<'py>,
        candidates: Vec<String>,
        index: Vec<usize>,
        n_threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let inner = &self.inner;
        let v = run_native(py, n_threads, move || inner.score(&candidates, &index))?;
        Ok(v.into_pyarray(py))
    }
}
