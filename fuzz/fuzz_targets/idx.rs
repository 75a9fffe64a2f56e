//! Fuzz target: the IDX parser of `genzoo_data::idx` (raw and gzip) must return Ok or a
//! clean error for any input, never panic, and an Ok array must hold exactly its declared bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = std::path::Path::new("fuzz-input");
    if let Ok(arr) = genzoo_data::idx::parse_idx(data, path) {
        assert_eq!(arr.data.len(), arr.len() * arr.dtype.size());
        let _ = genzoo_data::idx::images_from(&arr, path);
    }
});
