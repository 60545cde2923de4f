//! Pure-Rust kernels of vislang.
//!
//! This crate never sees Python: it takes row-major slices plus a parameter struct and returns
//! [`Result`]. The pyo3 crate `vislang-py` converts arrays, releases the GIL and maps [`Error`].
//!
//! - [`isa`]: the one CPU-feature detection and the `VISLANG_ISA` level every kernel runs at.
//! - [`rng`]: the only source of randomness.
//! - [`dsift`]: dense SIFT over a grid, VLFeat's separable way (PHOW features).
//! - [`assign`]: k nearest centres of each row, a blocked GEMM fused with the arg-min.
//! - [`kmeans`]: Lloyd and Hamerly iterations, empty-cluster relocation, `n_init` restarts.
//! - [`seeding`]: greedy k-means++ (Arthur & Vassilvitskii 2007) with triangle-inequality pruning.
//! - [`minibatch`]: one mini-batch k-means step (Sculley 2010).
//! - [`histogram`]: bag-of-visual-words encodings (hard, soft, VLAD, spatial pyramid, tf-idf).
//! - [`negatives`]: batched margin-ranking losses (VSE, VSE++, WARP) with their gradient.
//! - [`caption`]: BLEU, ROUGE-L and CIDEr-D of the COCO caption evaluation, PTB tokenisation.
//! - [`skipgram`]: skip-gram with negative sampling and the multimodal skip-gram (Hogwild).
#![deny(missing_docs)]

mod accumulate;
pub mod assign;
pub mod caption;
pub mod dsift;
pub mod error;
pub mod histogram;
pub mod isa;
pub mod kmeans;
mod lowp;
pub mod matrix;
pub mod minibatch;
pub mod negatives;
mod parallel;
pub mod rng;
pub mod scalar;
pub mod seeding;
#[cfg(target_arch = "x86_64")]
mod simd;
pub mod skipgram;

pub use error::{Error, Result};
pub use matrix::MatRef;
pub use scalar::Scalar;
