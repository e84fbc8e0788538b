//! Any stored bytes: `Corrupt` or a record, never a panic.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = crmstore::fuzzing::stored_record(data);
});
