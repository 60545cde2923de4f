//! `vislang._core`: thin pyo3 bindings over `vislang-core`.
//!
//! This crate only converts arrays, releases the GIL, installs the thread pool and maps errors.
//! Every algorithm lives in `vislang-core`. Use the Python API in `vislang`, which validates first.

mod arrays;
mod caption;
mod config;
mod dsift;
mod errors;
mod histogram;
mod kmeans;
mod native;
mod negatives;
mod skipgram;

use pyo3::prelude::*;

#[pymodule(gil_used = false)]
mod _core {
    #[pymodule_export]
    use crate::caption::{caption_scores_py, ptb_tokenize_py, CiderScorerPy};
    #[pymodule_export]
    use crate::config::cpu_features_py;
    #[pymodule_export]
    use crate::dsift::dense_sift_py;
    #[pymodule_export]
    use crate::histogram::{encode_py, idf_py, weight_and_normalize_py};
    #[pymodule_export]
    use crate::kmeans::{kmeans_fit_py, kmeans_plus_plus_py, minibatch_step_py, nearest_py};
    #[pymodule_export]
    use crate::negatives::{contrastive_ranking_py, warp_py};
    #[pymodule_export]
    use crate::skipgram::skipgram_train_py;

    use pyo3::prelude::*;

    /// Single-step kernels that only tests call (`vislang._core._testing`).
    #[pymodule(gil_used = false)]
    mod _testing {
        #[pymodule_export]
        use crate::skipgram::{multimodal_step_py, skipgram_step_py, skipgram_tables_py};
    }

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        crate::native::install_fork_guard();
        m.add("__version__", env!("CARGO_PKG_VERSION"))?;
        Ok(())
    }
}
