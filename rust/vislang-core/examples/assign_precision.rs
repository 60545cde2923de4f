//! A/B timing of the nearest-centre search: bfloat16 candidates (`Precision::Auto`) vs the fp32
//! GEMM (`Precision::Fp32`), interleaved, on SIFT-like integer data and on Gaussian data; checks
//! that both give identical indices and distances.
//!
//! `cargo run --release -p vislang-core --example assign_precision -- [n] [k] [nn] [reps]`;
//! `ONLY_AUTO=1` skips the fp32 runs (for profiling the bfloat16 path alone).

use std::time::Instant;

use vislang_core::assign::{nearest_with, Precision};
use vislang_core::MatRef;

fn lcg(s: &mut u64) -> f64 {
    *s = s
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (*s >> 11) as f64 / (1u64 << 53) as f64
}

/// Clustered SIFT-like rows: integers 0..=255, sparse-ish, around `n_modes` prototypes.
fn sift_like(n: usize, d: usize, n_modes: usize, s: &mut u64) -> Vec<f32> {
    let modes: Vec<f64> = (0..n_modes * d).map(|_| lcg(s).powi(3) * 120.0).collect();
    let mut x = Vec::with_capacity(n * d);
    for _ in 0..n {
        let m = (lcg(s) * n_modes as f64) as usize % n_modes;
        for j in 0..d {
            let v = modes[m * d + j] + (lcg(s) - 0.5) * 60.0;
            x.push(v.round().clamp(0.0, 255.0) as f32);
        }
    }
    x
}

fn main() -> vislang_core::Result<()> {
    let a: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let (n, k, nn, reps) = (
        *a.first().unwrap_or(&50_000),
        *a.get(1).unwrap_or(&1024),
        *a.get(2).unwrap_or(&1),
        *a.get(3).unwrap_or(&3),
    );
    let d = 128;
    let only_auto = std::env::var("ONLY_AUTO").is_ok();
    let mut s = 1u64;
    let sets: Vec<(&str, Vec<f32>)> = vec![
        ("sift-like", sift_like(n + k, d, 300, &mut s)),
        (
            "gaussian",
            (0..(n + k) * d)
                .map(|_| {
                    let (u, v) = (lcg(&mut s).max(1e-12), lcg(&mut s));
                    ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
                })
                .collect(),
        ),
    ];
    for (name, data) in &sets {
        let x = MatRef::new("X", &data[..n * d], n, d)?;
        let c = MatRef::new("centers", &data[n * d..], k, d)?;
        let mut best = [f64::INFINITY; 2];
        let mut outs = Vec::new();
        for _ in 0..reps {
            for (i, p) in [Precision::Auto, Precision::Fp32]
                .into_iter()
                .enumerate()
                .take(if only_auto { 1 } else { 2 })
            {
                let t = Instant::now();
                let r = nearest_with(x, c, nn, p)?;
                best[i] = best[i].min(t.elapsed().as_secs_f64());
                if outs.len() < 2 {
                    outs.push(r);
                }
            }
        }
        let same = outs.len() < 2 || outs[0] == outs[1];
        let gflops = 2.0 * (n * k * d) as f64 / 1e9;
        println!(
            "{name:10} n={n} k={k} nn={nn}: auto {:.3}s ({:.0} GF/s) fp32 {:.3}s ({:.0} GF/s) speedup {:.2}x identical={same}",
            best[0],
            gflops / best[0],
            best[1],
            gflops / best[1],
            best[1] / best[0]
        );
    }
    Ok(())
}
