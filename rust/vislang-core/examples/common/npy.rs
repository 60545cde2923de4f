//! Reads a 2-D little-endian float32 `.npy` file (C order) for the profiling examples.
#![allow(clippy::expect_used)] // profiling tools: bad input may stop them

pub fn read_f32(path: &str) -> (Vec<f32>, usize, usize) {
    let bytes = std::fs::read(path).expect("readable .npy file");
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(&bytes[10..10 + header_len]).expect("ascii header");
    assert!(header.contains("'<f4'"), "float32 array expected: {header}");
    assert!(
        header.contains("'fortran_order': False"),
        "C order expected: {header}"
    );
    let shape = &header[header.find("'shape': (").expect("shape") + 10..];
    let dims: Vec<usize> = shape[..shape.find(')').expect("shape end")]
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    assert_eq!(dims.len(), 2, "2-D array expected: {header}");
    let data = bytes[10 + header_len..]
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    (data, dims[0], dims[1])
}
