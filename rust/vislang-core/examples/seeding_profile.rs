//! Times greedy k-means++ seeding on a float32 `.npy` file (C order, 2-D), for profiling.
//!
//! `cargo run --release -p vislang-core --example seeding_profile -- FILE.npy [k] [reps]`
#![allow(clippy::expect_used)] // a profiling tool: bad input may stop it

use std::time::Instant;

use vislang_core::assign::nearest;
use vislang_core::rng::Rng;
use vislang_core::seeding::{default_local_trials, kmeans_plus_plus};
use vislang_core::MatRef;

#[path = "common/npy.rs"]
mod npy;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (data, n, d) = npy::read_f32(&args[1]);
    let k: usize = args.get(2).map_or(1024, |s| s.parse().expect("k"));
    let reps: usize = args.get(3).map_or(3, |s| s.parse().expect("reps"));
    let x = MatRef::new("x", &data, n, d).expect("matrix");
    for _ in 0..reps {
        let t = Instant::now();
        let seeds = kmeans_plus_plus(x, None, k, default_local_trials(k), &mut Rng::new(0));
        let secs = t.elapsed().as_secs_f64();
        let centers: Vec<f32> = seeds.iter().flat_map(|&s| x.row(s).to_vec()).collect();
        let c = MatRef::new("centers", &centers, k, d).expect("centres");
        let near = nearest(x, c, 1).expect("assignment");
        let inertia: f64 = near.sq_distances.iter().map(|&v| f64::from(v)).sum();
        println!("n={n} k={k}: {secs:.3} s, seed inertia {inertia:.6e}");
    }
}
