//! Positive pairs of a score matrix in compressed form (by row and by column).

use super::{Direction, Positives, CHUNK_ROWS, NONE};
use crate::parallel::map_chunks;
use crate::{Error, Result};

/// Positive pairs in compressed form, by row and by column (indices ascending).
#[derive(Debug)]
pub(crate) struct Pairs<'a> {
    pub(crate) row_ptr: Vec<usize>,
    pub(crate) row_idx: Vec<usize>,
    pub(crate) col_ptr: Vec<usize>,
    pub(crate) col_idx: Vec<usize>,
    pub(crate) mask: Option<&'a [bool]>,
    /// At most one positive in every row and every column.
    pub(crate) single: bool,
    /// Run on the calling thread ([`runs_inline`]).
    pub(crate) inline: bool,
}

impl<'a> Pairs<'a> {
    pub(crate) fn new(
        rows: usize,
        cols: usize,
        positives: Positives<'a>,
        dir: Direction,
        inline: bool,
    ) -> Result<Self> {
        let pairs = match positives {
            Positives::Diagonal => {
                if rows != cols {
                    return Err(Error::invalid(
                        "positives",
                        format!(
                            "must be given when scores is not square, got shape ({rows}, {cols})"
                        ),
                    ));
                }
                let ptr: Vec<usize> = (0..=rows).collect();
                let idx: Vec<usize> = (0..rows).collect();
                Self {
                    row_ptr: ptr.clone(),
                    row_idx: idx.clone(),
                    col_ptr: ptr,
                    col_idx: idx,
                    mask: None,
                    single: true,
                    inline,
                }
            }
            Positives::Mask(mask) => Self::from_mask(rows, cols, mask, inline)?,
        };
        if dir.rows() {
            if let Some(i) = (0..rows).find(|&i| pairs.row_ptr[i] == pairs.row_ptr[i + 1]) {
                return Err(Error::invalid(
                    "positives",
                    format!(
                        "row {i} has no positive: every image needs a matching text \
                         (or use direction='t2i')"
                    ),
                ));
            }
        }
        if dir.cols() {
            if let Some(j) = (0..cols).find(|&j| pairs.col_ptr[j] == pairs.col_ptr[j + 1]) {
                return Err(Error::invalid(
                    "positives",
                    format!(
                        "column {j} has no positive: every text needs a matching image \
                         (or use direction='i2t')"
                    ),
                ));
            }
        }
        Ok(pairs)
    }

    fn from_mask(rows: usize, cols: usize, mask: &'a [bool], inline: bool) -> Result<Self> {
        if mask.len() != rows * cols {
            return Err(Error::invalid(
                "positives",
                format!(
                    "has {} entries, expected {rows} x {cols} = {}",
                    mask.len(),
                    rows * cols
                ),
            ));
        }
        let positives_of = |chunk: &[bool]| {
            let mut counts = Vec::with_capacity(CHUNK_ROWS);
            let mut idx = Vec::new();
            for row in chunk.chunks(cols) {
                let before = idx.len();
                idx.extend(row.iter().enumerate().filter(|(_, &b)| b).map(|(j, _)| j));
                counts.push(idx.len() - before);
            }
            (counts, idx)
        };
        let chunks: Vec<(Vec<usize>, Vec<usize>)> = map_chunks(
            mask.chunks(CHUNK_ROWS * cols.max(1)).collect(),
            inline,
            || (),
            |(), _, chunk| positives_of(chunk),
        );
        let mut row_ptr = Vec::with_capacity(rows + 1);
        row_ptr.push(0);
        let mut row_idx = Vec::new();
        for (counts, idx) in chunks {
            for c in counts {
                row_ptr.push(row_ptr[row_ptr.len() - 1] + c);
            }
            row_idx.extend(idx);
        }
        // Counting sort by column; rows are visited in order, so each column's list ascends.
        let mut col_ptr = vec![0usize; cols + 1];
        for &j in &row_idx {
            col_ptr[j + 1] += 1;
        }
        for j in 0..cols {
            col_ptr[j + 1] += col_ptr[j];
        }
        let mut fill = col_ptr.clone();
        let mut col_idx = vec![0usize; row_idx.len()];
        for i in 0..rows {
            for &j in &row_idx[row_ptr[i]..row_ptr[i + 1]] {
                col_idx[fill[j]] = i;
                fill[j] += 1;
            }
        }
        let single = row_ptr.windows(2).all(|w| w[1] - w[0] <= 1)
            && col_ptr.windows(2).all(|w| w[1] - w[0] <= 1);
        Ok(Self {
            row_ptr,
            row_idx,
            col_ptr,
            col_idx,
            mask: Some(mask),
            single,
            inline,
        })
    }

    pub(crate) fn row(&self, i: usize) -> &[usize] {
        &self.row_idx[self.row_ptr[i]..self.row_ptr[i + 1]]
    }

    pub(crate) fn col(&self, j: usize) -> &[usize] {
        &self.col_idx[self.col_ptr[j]..self.col_ptr[j + 1]]
    }

    /// The only positive of row `i` (single mode), or [`NONE`].
    pub(crate) fn row_single(&self, i: usize) -> usize {
        self.row(i).first().copied().unwrap_or(NONE)
    }

    /// The only positive of column `j` (single mode), or [`NONE`].
    pub(crate) fn col_single(&self, j: usize) -> usize {
        self.col(j).first().copied().unwrap_or(NONE)
    }
}
