//! Which pure-Rust GEMM for the k-means assignment tile? Times out = a * b^T (f32) at the tile
//! shapes vislang uses (rows x centres x d), single-threaded per tile, and the whole product
//! split into 256-row tiles over 2 rayon threads (how `assign` runs).
use rayon::prelude::*;
use std::time::Instant;

type Gemm = fn(&[f32], &[f32], &mut [f32], usize, usize, usize);

fn with_gemm(a: &[f32], b: &[f32], out: &mut [f32], m: usize, n: usize, k: usize) {
    // SAFETY: the pointers and strides describe the three row-major buffers exactly.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_ptr(),
            1,
            k as isize,
            b.as_ptr(),
            k as isize,
            1,
            0.0f32,
            1.0f32,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

fn with_matrixmultiply(a: &[f32], b: &[f32], out: &mut [f32], m: usize, n: usize, k: usize) {
    // SAFETY: as above.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            k as isize,
            1,
            b.as_ptr(),
            1,
            k as isize,
            0.0,
            out.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

fn with_faer(a: &[f32], b: &[f32], out: &mut [f32], m: usize, n: usize, k: usize) {
    let lhs = faer::MatRef::from_row_major_slice(a, m, k);
    let rhs = faer::MatRef::from_row_major_slice(b, n, k).transpose();
    let dst = faer::MatMut::from_row_major_slice_mut(out, m, n);
    faer::linalg::matmul::matmul(dst, faer::Accum::Replace, lhs, rhs, 1.0f32, faer::Par::Seq);
}

fn fill(len: usize, seed: u64) -> Vec<f32> {
    let mut s = seed;
    (0..len)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) - 0.5
        })
        .collect()
}

fn best_of(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let libs: [(&str, Gemm); 3] = [
        ("gemm 0.19", with_gemm),
        ("faer 0.24", with_faer),
        ("matrixmultiply 0.3", with_matrixmultiply),
    ];
    let d = 128;
    println!(
        "| shape (rows x centres x d) | threads | {} |",
        libs.map(|l| l.0).join(" | ")
    );
    println!("|---|---|---|---|---|");
    for &(m, n) in &[(256usize, 256usize), (256, 1024), (256, 4096)] {
        let (a, b) = (fill(m * d, 1), fill(n * d, 2));
        let mut out = vec![0.0f32; m * n];
        let rates: Vec<String> = libs
            .iter()
            .map(|(_, g)| {
                let t = best_of(20, || g(&a, &b, &mut out, m, n, d));
                format!("{:.0} GFLOP/s", 2.0 * (m * n * d) as f64 / t / 1e9)
            })
            .collect();
        println!("| {m} x {n} x {d} (one tile) | 1 | {} |", rates.join(" | "));
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("pool");
    for &(rows, n) in &[(65536usize, 1024usize), (65536, 256)] {
        let (a, b) = (fill(rows * d, 3), fill(n * d, 4));
        let rates: Vec<String> = libs
            .iter()
            .map(|(_, g)| {
                let t = pool.install(|| {
                    best_of(3, || {
                        a.par_chunks(256 * d).for_each_init(
                            || vec![0.0f32; 256 * n],
                            |out, tile| {
                                let m = tile.len() / d;
                                g(tile, &b, &mut out[..m * n], m, n, d);
                            },
                        )
                    })
                });
                format!("{:.0} GFLOP/s", 2.0 * (rows * n * d) as f64 / t / 1e9)
            })
            .collect();
        println!(
            "| {rows} x {n} x {d} (256-row tiles) | 2 | {} |",
            rates.join(" | ")
        );
    }
}
