//! A borrowed row-major matrix and the input checks shared by all kernels.

use rayon::prelude::*;

use crate::{Error, Result, Scalar};

/// A borrowed, C-contiguous `rows x cols` matrix.
#[derive(Debug, Clone, Copy)]
pub struct MatRef<'a, T> {
    data: &'a [T],
    rows: usize,
    cols: usize,
}

impl<'a, T: Scalar> MatRef<'a, T> {
    /// Wraps `data` as a `rows x cols` matrix; `name` is used in the error message.
    pub fn new(name: &'static str, data: &'a [T], rows: usize, cols: usize) -> Result<Self> {
        if rows.checked_mul(cols) != Some(data.len()) {
            return Err(Error::invalid(
                name,
                format!(
                    "buffer of {} values cannot have shape ({rows}, {cols})",
                    data.len()
                ),
            ));
        }
        Ok(Self { data, rows, cols })
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The underlying buffer.
    pub fn as_slice(&self) -> &'a [T] {
        self.data
    }

    /// Row `i`.
    #[inline]
    pub fn row(&self, i: usize) -> &'a [T] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Rows `start..end` as a matrix.
    pub fn slice_rows(&self, start: usize, end: usize) -> MatRef<'a, T> {
        MatRef {
            data: &self.data[start * self.cols..end * self.cols],
            rows: end - start,
            cols: self.cols,
        }
    }

    /// Fails with [`Error::NonFinite`] naming the first row that holds NaN or inf.
    pub fn check_finite(&self, name: &'static str) -> Result<()> {
        if self.cols == 0 {
            return Ok(());
        }
        // Blocks of rows scanned branch-free (vectorised); only a failing block is searched
        // row by row for the first bad row.
        const BLOCK_ROWS: usize = 256;
        let all_finite = |v: &[T]| v.iter().fold(true, |ok, x| ok & (x.abs() < T::infinity()));
        let bad = self
            .data
            .par_chunks(self.cols * BLOCK_ROWS)
            .enumerate()
            .find_first(|(_, block)| !all_finite(block));
        match bad {
            Some((b, block)) => {
                let row = block
                    .chunks(self.cols)
                    .position(|r| !all_finite(r))
                    .unwrap_or(0);
                Err(Error::NonFinite {
                    name,
                    row: b * BLOCK_ROWS + row,
                })
            }
            None => Ok(()),
        }
    }

    /// Fails unless the matrix has at least one row and one column.
    pub fn check_non_empty(&self, name: &'static str) -> Result<()> {
        if self.rows == 0 || self.cols == 0 {
            return Err(Error::invalid(
                name,
                format!(
                    "must be non-empty, got shape ({}, {})",
                    self.rows, self.cols
                ),
            ));
        }
        Ok(())
    }
}

/// Checks optional per-row weights: right length, finite and non-negative.
pub fn check_weights<T: Scalar>(weights: Option<&[T]>, n: usize) -> Result<()> {
    let Some(w) = weights else { return Ok(()) };
    if w.len() != n {
        return Err(Error::invalid(
            "sample_weight",
            format!("has length {}, expected {n}", w.len()),
        ));
    }
    if let Some(i) = w.iter().position(|v| !v.is_finite() || *v < T::zero()) {
        return Err(Error::invalid(
            "sample_weight",
            format!("must be finite and >= 0, got {:?} at index {i}", w[i]),
        ));
    }
    Ok(())
}
