//! Any decrypted archive stream: an error or a report, never a panic.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = crmstore::fuzzing::archive_plaintext(data);
});
