//! Any text given to `load`: an error or a valid document, never a panic.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crmstore::fuzzing::account_document(text);
    }
});
