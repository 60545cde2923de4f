//! Times greedy k-means++ seeding on a float32 `.npy` file (C order, 2-D), for profiling.
//!
//! `cargo run --release -p vislang-core --example seeding_profile -- FILE.npy [k] [reps]`

use std::time::Instant;

use vislang_core::rng::Rng;
use vislang_core::seeding::{default_local_trials, kmeans_plus_plus};
use vislang_core::MatRef;

fn read_npy_f32(path: &str) -> (Vec<f32>, usize, usize) {
    let bytes = std::fs::read(path).expect("readable .npy file");
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(&bytes[10..10 + header_len]).expect("ascii header");
    assert!(header.contains("'<f4'"), "float32 array expected: {header}");
    let shape = &header[header.find("'shape': (").expect("shape") + 10..];
    let dims: Vec<usize> = shape[..shape.find(')').expect("shape end")]
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let data: Vec<f32> = bytes[10 + header_len..]
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    (data, dims[0], dims[1])
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (data, n, d) = read_npy_f32(&args[1]);
    let k: usize = args.get(2).map_or(1024, |s| s.parse().expect("k"));
    let reps: usize = args.get(3).map_or(3, |s| s.parse().expect("reps"));
    let x = MatRef::new("x", &data, n, d).expect("matrix");
    for _ in 0..reps {
        let t = Instant::now();
        let seeds = kmeans_plus_plus(x, None, k, default_local_trials(k), &mut Rng::new(0));
        println!("n={n} k={k}: {:.3} s ({} seeds)", t.elapsed().as_secs_f64(), seeds.len());
    }
}
