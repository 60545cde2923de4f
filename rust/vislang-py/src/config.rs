//! Build and CPU information for `vislang.show_config()`.

use pyo3::prelude::*;
use pyo3::types::PyDict;
use vislang_core::isa;

use crate::native::{forked, run_native};

/// CPU features, ISA levels and threads as a dict; use `vislang.show_config()`.
#[pyfunction(name = "cpu_features")]
pub fn cpu_features_py(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let (features, choice, bf16, threads) = run_native(py, None, || {
        Ok((
            isa::cpu_features(),
            isa::choice().clone(),
            isa::bf16(),
            rayon::current_num_threads(),
        ))
    })?;
    let out = PyDict::new(py);
    let flags = PyDict::new(py);
    for (name, present) in features.list() {
        flags.set_item(name, present)?;
    }
    out.set_item("features", flags)?;
    out.set_item("isa", choice.active.name())?;
    out.set_item("isa_detected", choice.detected.name())?;
    out.set_item("isa_requested", choice.requested)?;
    out.set_item("isa_warning", choice.warning)?;
    out.set_item("bf16_kernels", bf16)?;
    out.set_item("threads", threads)?;
    out.set_item("forked", forked())?;
    Ok(out)
}
