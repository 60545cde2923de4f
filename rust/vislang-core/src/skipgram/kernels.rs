//! The SGD updates of one sample, on raw row pointers so that Hogwild threads can share them.
//!
//! Fixed-width accumulator arrays let LLVM vectorise `dot` and the fused updates for whatever
//! target features the caller was compiled with (see `train::Dispatch`).
#![allow(unsafe_op_in_unsafe_fn)]

/// Accumulator lanes of [`dot`]: one AVX-512 register, two AVX2 registers.
const LANES: usize = 16;

/// `sum(a[i] * b[i])` over `n` elements.
///
/// # Safety
/// `a` and `b` point to `n` readable floats.
#[inline(always)]
pub unsafe fn dot(a: *const f32, b: *const f32, n: usize) -> f32 {
    let mut acc = [0.0f32; LANES];
    let mut i = 0;
    while i + LANES <= n {
        let (xa, xb) = (
            &*(a.add(i) as *const [f32; LANES]),
            &*(b.add(i) as *const [f32; LANES]),
        );
        for l in 0..LANES {
            acc[l] += xa[l] * xb[l];
        }
        i += LANES;
    }
    let mut tail = 0.0f32;
    while i < n {
        tail += *a.add(i) * *b.add(i);
        i += 1;
    }
    let mut half = LANES / 2;
    while half > 0 {
        for l in 0..half {
            acc[l] += acc[l + half];
        }
        half /= 2;
    }
    acc[0] + tail
}

/// `y[i] += alpha * x[i]` over `n` elements.
///
/// # Safety
/// `x` is readable and `y` writable for `n` floats; they do not overlap.
#[inline(always)]
pub unsafe fn axpy(alpha: f32, x: *const f32, y: *mut f32, n: usize) {
    let x = std::slice::from_raw_parts(x, n);
    let y = std::slice::from_raw_parts_mut(y, n);
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += alpha * *xi;
    }
}

/// The logistic function `1 / (1 + e^-x)` (no table, so tests can reproduce it).
#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// `ln(1 + e^x)` without overflow or cancellation.
fn softplus(x: f32) -> f32 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// One skip-gram negative-sampling update (word2vec.c): `input` (a row of the input matrix)
/// predicts `targets[0]` (label 1) and `targets[1..]` (label 0, skipped when equal to
/// `targets[0]`) through rows of the output matrix `out`. `work` receives the input's gradient
/// and is applied at the end. Returns the loss `-log s(x.o) - sum log s(-x.n)` before the update
/// when `with_loss` (training passes `false`, which compiles the loss away), else 0.
///
/// # Safety
/// `input` points to `dim` floats, `work` to `dim` floats not overlapping anything else,
/// `out` to `max(targets) + 1` rows of `dim` floats that do not overlap `input`.
#[inline(always)]
pub unsafe fn sgns_update(
    input: *mut f32,
    out: *mut f32,
    dim: usize,
    targets: &[u32],
    lr: f32,
    work: &mut [f32],
    with_loss: bool,
) -> f32 {
    let work = &mut work[..dim];
    work.fill(0.0);
    let x = std::slice::from_raw_parts(input as *const f32, dim);
    let positive = targets.first().copied().unwrap_or(0);
    let mut loss = 0.0f32;
    for (d, &t) in targets.iter().enumerate() {
        if d > 0 && t == positive {
            continue;
        }
        let label = if d == 0 { 1.0f32 } else { 0.0 };
        let o = std::slice::from_raw_parts_mut(out.add(t as usize * dim), dim);
        let f = dot(x.as_ptr(), o.as_ptr(), dim);
        let s = sigmoid(f);
        if with_loss {
            // -log s(f) = softplus(-f), -log(1 - s(f)) = softplus(f), computed stably.
            loss += softplus(if d == 0 { -f } else { f });
        }
        let g = (label - s) * lr;
        for ((wi, oi), xi) in work.iter_mut().zip(o.iter_mut()).zip(x) {
            *wi += g * *oi;
            *oi += g * *xi;
        }
    }
    axpy(1.0, work.as_ptr(), input, dim);
    loss
}

/// Settings of the max-margin visual term.
#[derive(Debug, Clone, Copy)]
pub struct MarginTerm {
    /// The margin gamma.
    pub margin: f32,
    /// Learning rate times the term's weight.
    pub step: f32,
}

/// Norms below this count as 1 in the cosine gradient: the direction stays exact, only the
/// step length of word2vec's tiny initial vectors is capped (see `MultimodalParams`).
pub const NORM_FLOOR: f32 = 1.0;

/// Gradient of `sum_j max(0, margin - cos(u, v) + cos(u, v_j))` w.r.t. `u` into `grad`, with
/// the unit visual rows `v = vis[pos]`, `v_j = vis[negs[j]]` (`negs` equal to `pos` are
/// skipped); `1/|u|` is taken as `1/max(|u|, NORM_FLOOR)`. Returns the loss.
///
/// # Safety
/// `u` points to `vdim` floats; `vis` to `max(pos, negs) + 1` rows of `vdim` floats; `grad`
/// has at least `vdim` elements.
#[inline(always)]
pub unsafe fn margin_grad(
    u: *const f32,
    vis: *const f32,
    vdim: usize,
    pos: u32,
    negs: &[u32],
    margin: f32,
    grad: &mut [f32],
) -> f32 {
    let grad = &mut grad[..vdim];
    grad.fill(0.0);
    let norm = dot(u, u, vdim).sqrt();
    if norm <= 0.0 {
        return 0.0;
    }
    let inv_norm = 1.0 / norm;
    let inv_scale = 1.0 / norm.max(NORM_FLOOR);
    let us = std::slice::from_raw_parts(u, vdim);
    let vp = vis.add(pos as usize * vdim);
    let cos_pos = dot(u, vp, vdim) * inv_norm;
    let mut loss = 0.0f32;
    // d cos(u, v) / du = (v - cos * u / |u|) / |u|, for unit v. Sum the active negatives' v and
    // cosines first, then form the gradient in one pass.
    let (mut active, mut cos_sum) = (0.0f32, 0.0f32);
    for &j in negs {
        if j == pos {
            continue;
        }
        let vn = vis.add(j as usize * vdim);
        let cos_neg = dot(u, vn, vdim) * inv_norm;
        let violation = margin - cos_pos + cos_neg;
        if violation > 0.0 {
            loss += violation;
            active += 1.0;
            cos_sum += cos_neg;
            axpy(1.0, vn, grad.as_mut_ptr(), vdim);
        }
    }
    if active > 0.0 {
        let vps = std::slice::from_raw_parts(vp, vdim);
        let cu = (cos_sum - active * cos_pos) * inv_norm;
        for ((gi, vi), ui) in grad.iter_mut().zip(vps).zip(us) {
            *gi = (*gi - active * *vi - cu * *ui) * inv_scale;
        }
    }
    loss
}

/// MMSkip-gram-A: `u = w` (the word's input vector, `dim == vdim`); `w -= step * grad`.
///
/// # Safety
/// As [`margin_grad`] with `u = w` writable; `grad` does not overlap `w`.
#[inline(always)]
pub unsafe fn margin_update_a(
    w: *mut f32,
    vis: *const f32,
    dim: usize,
    pos: u32,
    negs: &[u32],
    term: MarginTerm,
    grad: &mut [f32],
) -> f32 {
    let loss = margin_grad(w, vis, dim, pos, negs, term.margin, grad);
    if loss > 0.0 {
        axpy(-term.step, grad.as_ptr(), w, dim);
    }
    loss
}

/// MMSkip-gram-B: `u = M w` with `M` (`vdim x dim`, row-major); `w -= step * M^T grad` and
/// `M -= step * grad w^T` (both from the values before the update). `z` and `grad` hold `vdim`
/// floats, `gw` `dim` floats.
///
/// # Safety
/// `w` points to `dim` writable floats, `m` to `vdim * dim` writable floats, `vis` as in
/// [`margin_grad`]; the scratch buffers overlap nothing.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub unsafe fn margin_update_b(
    w: *mut f32,
    m: *mut f32,
    vis: *const f32,
    dim: usize,
    vdim: usize,
    pos: u32,
    negs: &[u32],
    term: MarginTerm,
    z: &mut [f32],
    grad: &mut [f32],
    gw: &mut [f32],
) -> f32 {
    let z = &mut z[..vdim];
    for (r, zr) in z.iter_mut().enumerate() {
        *zr = dot(m.add(r * dim), w, dim);
    }
    let loss = margin_grad(z.as_ptr(), vis, vdim, pos, negs, term.margin, grad);
    if loss <= 0.0 {
        return 0.0;
    }
    let gw = &mut gw[..dim];
    gw.fill(0.0);
    for (r, &gr) in grad[..vdim].iter().enumerate() {
        axpy(gr, m.add(r * dim), gw.as_mut_ptr(), dim);
    }
    for (r, &gr) in grad[..vdim].iter().enumerate() {
        axpy(-term.step * gr, w, m.add(r * dim), dim);
    }
    axpy(-term.step, gw.as_ptr(), w, dim);
    loss
}
