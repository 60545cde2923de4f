//! Array conversion: the float dtypes the kernels take, contiguity and shape checks.

use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray2, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;
use vislang_core::{MatRef, Scalar};

use crate::errors::InvalidInputError;

/// A 2-D float array, `float32` or `float64`.
#[derive(FromPyObject)]
pub enum Floats2<'py> {
    /// float32 input.
    F32(PyReadonlyArray2<'py, f32>),
    /// float64 input.
    F64(PyReadonlyArray2<'py, f64>),
}

/// A C-contiguous view as a core matrix, or `InvalidInputError` naming `name`.
pub fn mat<'a, T: Scalar + numpy::Element>(
    a: &'a PyReadonlyArray2<'_, T>,
    name: &'static str,
) -> PyResult<MatRef<'a, T>> {
    let shape = a.shape();
    let (rows, cols) = (shape[0], shape[1]);
    // `as_slice` also accepts Fortran order, which would be read transposed.
    if !a.is_c_contiguous() {
        return Err(InvalidInputError::new_err(format!(
            "{name} must be C-contiguous"
        )));
    }
    let data = a
        .as_slice()
        .map_err(|_| InvalidInputError::new_err(format!("{name} must be C-contiguous")))?;
    MatRef::new(name, data, rows, cols).map_err(crate::errors::to_pyerr)
}

/// Optional 1-D weights of the same dtype as the data.
pub fn weights<'a, T: Scalar + numpy::Element>(
    w: &'a Option<PyReadonlyArray1<'_, T>>,
) -> PyResult<Option<&'a [T]>> {
    match w {
        None => Ok(None),
        Some(w) if !w.is_c_contiguous() => Err(InvalidInputError::new_err(
            "sample_weight must be C-contiguous",
        )),
        Some(w) => w
            .as_slice()
            .map(Some)
            .map_err(|_| InvalidInputError::new_err("sample_weight must be C-contiguous")),
    }
}

/// A row-major `rows x cols` buffer as a NumPy array, moved without a copy.
pub fn to_array2<'py, T: numpy::Element>(
    py: Python<'py>,
    v: Vec<T>,
    rows: usize,
    cols: usize,
) -> PyResult<Bound<'py, PyArray2<T>>> {
    let a = Array2::from_shape_vec((rows, cols), v)
        .map_err(|e| crate::errors::InternalError::new_err(format!("output shape: {e}")))?;
    Ok(a.into_pyarray(py))
}
