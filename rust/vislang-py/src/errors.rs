//! `vislang_core::Error` -> Python exceptions of `vislang.exceptions`.

use pyo3::exceptions::PyKeyboardInterrupt;
use pyo3::PyErr;
use vislang_core::Error;

pyo3::import_exception!(vislang.exceptions, InvalidInputError);
pyo3::import_exception!(vislang.exceptions, InternalError);

/// Maps a core error to the matching Python exception.
pub fn to_pyerr(e: Error) -> PyErr {
    match e {
        Error::InvalidInput { .. }
        | Error::NonFinite { .. }
        | Error::TooFewSamples { .. }
        | Error::DimensionMismatch { .. }
        | Error::LengthMismatch { .. } => InvalidInputError::new_err(e.to_string()),
        Error::Interrupted => PyKeyboardInterrupt::new_err("interrupted"),
    }
}
