//! Times k-means iterations (fixed random-row init, `tol = 0`) on a float32 `.npy` file.
//!
//! `cargo run --release -p vislang-core --example lloyd_profile -- FILE.npy [k] [iters] [lloyd|hamerly]`
#![allow(clippy::expect_used)] // a profiling tool: bad input may stop it

use std::time::Instant;

use vislang_core::kmeans::{fit, Algorithm, Init, KMeansParams};
use vislang_core::MatRef;

#[path = "common/npy.rs"]
mod npy;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (data, n, d) = npy::read_f32(&args[1]);
    let k: usize = args.get(2).map_or(256, |s| s.parse().expect("k"));
    let iters: usize = args.get(3).map_or(20, |s| s.parse().expect("iters"));
    let algorithm = match args.get(4).map_or("lloyd", String::as_str) {
        "hamerly" => Algorithm::Hamerly,
        _ => Algorithm::Lloyd,
    };
    let x = MatRef::new("x", &data, n, d).expect("matrix");
    let params = KMeansParams {
        n_clusters: k,
        max_iter: iters,
        tol: 0.0,
        n_init: 1,
        seed: 0,
        algorithm,
    };
    let t = Instant::now();
    let mut last = t;
    let fitted = fit(x, None, Init::Random, &params, &mut |info| {
        let now = Instant::now();
        eprintln!(
            "iter {:>3}: {:7.1} ms, inertia {:.6e}",
            info.iter,
            (now - last).as_secs_f64() * 1e3,
            info.inertia
        );
        last = now;
        true
    })
    .expect("fit");
    println!(
        "n={n} k={k} {algorithm:?}: {} iterations in {:.3} s, inertia {:.6e}",
        fitted.n_iter,
        t.elapsed().as_secs_f64(),
        fitted.inertia
    );
}
