//! The one error type of the core crate. Every message names the argument and the cause.

/// Errors returned by the core kernels.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// An argument has a value that the kernel cannot use.
    #[error("{name}: {reason}")]
    InvalidInput {
        /// The argument's name.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A matrix holds NaN or an infinity.
    #[error("{name} contains NaN or inf at row {row}")]
    NonFinite {
        /// The argument's name.
        name: &'static str,
        /// The first offending row.
        row: usize,
    },
    /// More clusters were requested than there are samples.
    #[error("n_clusters={k} must be <= n_samples={n}")]
    TooFewSamples {
        /// Requested clusters.
        k: usize,
        /// Available samples.
        n: usize,
    },
    /// Two matrices disagree on the number of features.
    #[error("{name} has {got} features, expected {expected}")]
    DimensionMismatch {
        /// The argument's name.
        name: &'static str,
        /// Features it has.
        got: usize,
        /// Features it should have.
        expected: usize,
    },
    /// A vector's length disagrees with a count named by another argument.
    #[error("{name} has length {got}, expected {expected_name}={expected}")]
    LengthMismatch {
        /// The argument's name.
        name: &'static str,
        /// Its length.
        got: usize,
        /// What fixes the length (e.g. `n_clusters`).
        expected_name: &'static str,
        /// The expected length.
        expected: usize,
    },
    /// The caller stopped the computation (a callback returned `false`).
    #[error("interrupted")]
    Interrupted,
}

/// Result alias of the core crate.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Shorthand for [`Error::InvalidInput`].
    pub fn invalid(name: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidInput {
            name,
            reason: reason.into(),
        }
    }
}
