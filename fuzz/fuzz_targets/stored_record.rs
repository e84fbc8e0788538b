//! Any stored bytes: `Corrupt` or a record, never a panic; and read in place
//! (as pages read records) exactly as decoded whole.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(crmstore::Error::Corrupt(m)) = crmstore::fuzzing::stored_record(data) {
        assert!(!m.starts_with("read in place"), "{m}");
    }
});
