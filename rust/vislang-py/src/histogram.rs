//! Bindings of `vislang_core::histogram`. Use `vislang.encode` / `vislang.BagOfVisualWords`.

use numpy::{IntoPyArray, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use vislang_core::histogram::{self, EncodeParams, Encoding, Layout, Norm};
use vislang_core::Scalar;

use crate::arrays::{mat, to_array2, Floats2};
use crate::errors::InvalidInputError;
use crate::native::run_native;

fn parse_norm(norm: Option<&str>) -> PyResult<Norm> {
    match norm {
        None => Ok(Norm::None),
        Some("l1") => Ok(Norm::L1),
        Some("l2") => Ok(Norm::L2),
        Some("power") => Ok(Norm::Power),
        Some(other) => Err(InvalidInputError::new_err(format!(
            "norm must be None, 'l1', 'l2' or 'power', got {other:?}"
        ))),
    }
}

fn parse_encoding(name: &str, k: usize, sigma: Option<f64>) -> PyResult<Encoding> {
    match name {
        "hard" => Ok(Encoding::Hard),
        "soft" => Ok(Encoding::Soft { k, sigma }),
        "vlad" => Ok(Encoding::Vlad),
        other => Err(InvalidInputError::new_err(format!(
            "encoding must be 'hard', 'soft' or 'vlad', got {other:?}"
        ))),
    }
}

fn slice1<'a, T: numpy::Element>(a: &'a PyReadonlyArray1<'_, T>, name: &str) -> PyResult<&'a [T]> {
    a.as_slice()
        .map_err(|_| InvalidInputError::new_err(format!("{name} must be C-contiguous")))
}

#[allow(clippy::too_many_arguments)]
fn encode_typed<'py, T: Scalar + numpy::Element>(
    py: Python<'py>,
    x: &PyReadonlyArray2<'py, T>,
    offsets: &PyReadonlyArray1<'py, i64>,
    centers: &Bound<'py, PyAny>,
    keypoints: Option<&Bound<'py, PyAny>>,
    image_sizes: Option<&PyReadonlyArray2<'py, i64>>,
    params: &EncodeParams,
    n_threads: Option<usize>,
) -> PyResult<Bound<'py, PyTuple>> {
    let c: PyReadonlyArray2<'py, T> = centers.extract().map_err(|_| {
        InvalidInputError::new_err("centers must be a 2-D array of the same dtype as descriptors")
    })?;
    let kp: Option<PyReadonlyArray2<'py, T>> = match keypoints {
        Some(k) => Some(k.extract().map_err(|_| {
            InvalidInputError::new_err(
                "keypoints must be a 2-D array of the same dtype as descriptors",
            )
        })?),
        None => None,
    };
    let (xm, cm) = (mat(x, "descriptors")?, mat(&c, "centers")?);
    let offs = slice1(offsets, "offsets")?;
    let layout = match (&kp, image_sizes) {
        (Some(k), Some(s)) => Some(Layout {
            keypoints: mat(k, "keypoints")?,
            image_sizes: s
                .as_slice()
                .map_err(|_| InvalidInputError::new_err("image_sizes must be C-contiguous"))?,
        }),
        (None, None) => None,
        _ => {
            return Err(InvalidInputError::new_err(
                "keypoints and image_sizes must be given together",
            ))
        }
    };
    let enc = run_native(py, n_threads, move || {
        histogram::encode(xm, offs, layout, cm, params)
    })?;
    let arr = to_array2(py, enc.data, enc.n_images, enc.n_cols)?;
    (arr, enc.sigma).into_pyobject(py)
}

/// Encodes all images of a descriptor set; see `vislang.encode`. Returns (encodings, sigma).
#[pyfunction(name = "encode", signature = (
    x, offsets, centers, *, encoding="hard", k=1, sigma=None, pyramid=vec![1], keypoints=None,
    image_sizes=None, idf=None, intra_norm=false, norm=None, precision="auto", n_threads=None
))]
#[allow(clippy::too_many_arguments)]
pub fn encode_py<'py>(
    py: Python<'py>,
    x: Floats2<'py>,
    offsets: PyReadonlyArray1<'py, i64>,
    centers: &Bound<'py, PyAny>,
    encoding: &str,
    k: usize,
    sigma: Option<f64>,
    pyramid: Vec<usize>,
    keypoints: Option<&Bound<'py, PyAny>>,
    image_sizes: Option<PyReadonlyArray2<'py, i64>>,
    idf: Option<PyReadonlyArray1<'py, f64>>,
    intra_norm: bool,
    norm: Option<&str>,
    precision: &str,
    n_threads: Option<usize>,
) -> PyResult<Bound<'py, PyTuple>> {
    let params = EncodeParams {
        encoding: parse_encoding(encoding, k, sigma)?,
        pyramid,
        idf: match &idf {
            Some(w) => Some(slice1(w, "idf")?.to_vec()),
            None => None,
        },
        intra_norm,
        norm: parse_norm(norm)?,
        precision: crate::kmeans::parse_precision(precision)?,
    };
    let sizes = image_sizes.as_ref();
    match &x {
        Floats2::F32(a) => encode_typed(
            py, a, &offsets, centers, keypoints, sizes, &params, n_threads,
        ),
        Floats2::F64(a) => encode_typed(
            py, a, &offsets, centers, keypoints, sizes, &params, n_threads,
        ),
    }
}

fn normalize_typed<'py, T: Scalar + numpy::Element>(
    py: Python<'py>,
    x: &PyReadonlyArray2<'py, T>,
    idf: Option<&[f64]>,
    norm: Norm,
    n_threads: Option<usize>,
) -> PyResult<Bound<'py, PyAny>> {
    let xm = mat(x, "X")?;
    let (rows, cols) = (xm.rows(), xm.cols());
    let mut data = xm.as_slice().to_vec();
    let data = run_native(py, n_threads, move || {
        histogram::weight_and_normalize(&mut data, cols, idf, norm)?;
        Ok(data)
    })?;
    Ok(to_array2(py, data, rows, cols)?.into_any())
}

/// Applies idf weights and a row norm to a copy of X; see `vislang.encode`.
#[pyfunction(name = "weight_and_normalize", signature = (x, *, idf=None, norm=None, n_threads=None))]
pub fn weight_and_normalize_py<'py>(
    py: Python<'py>,
    x: Floats2<'py>,
    idf: Option<PyReadonlyArray1<'py, f64>>,
    norm: Option<&str>,
    n_threads: Option<usize>,
) -> PyResult<Bound<'py, PyAny>> {
    let norm = parse_norm(norm)?;
    let w = match &idf {
        Some(w) => Some(slice1(w, "idf")?),
        None => None,
    };
    match &x {
        Floats2::F32(a) => normalize_typed(py, a, w, norm, n_threads),
        Floats2::F64(a) => normalize_typed(py, a, w, norm, n_threads),
    }
}

/// Inverse document frequencies log(N / max(df, 1)) of the columns of X (float64).
#[pyfunction(name = "idf")]
pub fn idf_py<'py>(py: Python<'py>, x: Floats2<'py>) -> PyResult<Bound<'py, PyAny>> {
    let v = match &x {
        Floats2::F32(a) => {
            let m = mat(a, "X")?;
            run_native(py, Some(1), move || histogram::idf(m.as_slice(), m.cols()))?
        }
        Floats2::F64(a) => {
            let m = mat(a, "X")?;
            run_native(py, Some(1), move || histogram::idf(m.as_slice(), m.cols()))?
        }
    };
    Ok(v.into_pyarray(py).into_any())
}
