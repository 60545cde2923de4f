//! Bindings of `vislang_core::dsift`. Use `vislang.features.DenseSIFT(backend="rust")`.

use numpy::{IntoPyArray, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use vislang_core::dsift::{self, DsiftParams, Image, Window, DESCRIPTOR_DIMS};

use crate::arrays::to_array2;
use crate::errors::InvalidInputError;
use crate::native::run_native;

fn image_view<'a>(a: &'a PyReadonlyArrayDyn<'_, u8>, index: usize) -> PyResult<Image<'a>> {
    let shape = a.shape();
    let (height, width, channels) = match *shape {
        [h, w] => (h, w, 1),
        [h, w, c] => (h, w, c),
        _ => {
            return Err(InvalidInputError::new_err(format!(
                "image {index} must have shape (H, W) or (H, W, C), got {shape:?}"
            )))
        }
    };
    if !a.is_c_contiguous() {
        return Err(InvalidInputError::new_err(format!(
            "image {index} must be C-contiguous"
        )));
    }
    let data = a
        .as_slice()
        .map_err(|_| InvalidInputError::new_err(format!("image {index} must be C-contiguous")))?;
    Ok(Image {
        data,
        height,
        width,
        channels,
    })
}

/// Dense SIFT of a list of uint8 images; see `vislang.features.DenseSIFT`.
#[pyfunction(name = "dense_sift", signature = (
    images, *, step=8, sizes=vec![4.0, 6.0, 8.0, 10.0], magnif=6.0, window="flat",
    window_size=1.5, contrast_threshold=0.005, quantize=true, root=false, n_threads=None
))]
#[allow(clippy::too_many_arguments, clippy::needless_pass_by_value)]
pub fn dense_sift_py<'py>(
    py: Python<'py>,
    images: Vec<PyReadonlyArrayDyn<'py, u8>>,
    step: usize,
    sizes: Vec<f64>,
    magnif: f64,
    window: &str,
    window_size: f64,
    contrast_threshold: f64,
    quantize: bool,
    root: bool,
    n_threads: Option<usize>,
) -> PyResult<Bound<'py, PyTuple>> {
    let window = match window {
        "flat" => Window::Flat,
        "gaussian" => Window::Gaussian,
        other => {
            return Err(InvalidInputError::new_err(format!(
                "window must be 'flat' or 'gaussian', got {other:?}"
            )))
        }
    };
    let params = DsiftParams {
        step,
        sizes,
        magnif,
        window,
        window_size,
        contrast_threshold,
        quantize,
        root,
    };
    let views = images
        .iter()
        .enumerate()
        .map(|(i, a)| image_view(a, i))
        .collect::<PyResult<Vec<_>>>()?;
    let channels = views.first().map_or(1, |v| v.channels);
    let (desc, counts) = run_native(py, n_threads, || dsift::describe_batch(&views, &params))?;
    let dims = DESCRIPTOR_DIMS * channels;
    let rows = desc.len() / dims;
    let desc = to_array2(py, desc, rows, dims)?;
    #[allow(clippy::cast_possible_wrap)]
    let counts: Vec<i64> = counts.into_iter().map(|c| c as i64).collect();
    PyTuple::new(py, [desc.into_any(), counts.into_pyarray(py).into_any()])
}
