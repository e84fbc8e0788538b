//! Any filter text: an error or a `Filter`, never a panic.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crmstore::Filter::parse(text);
    }
});
