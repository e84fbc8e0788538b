//! Whatever a write accepts, every read, export and dump reads back, and the
//! dump loads again: no record a write let in may poison the store.
#![no_main]
use std::sync::OnceLock;

static STORE: OnceLock<(tempfile::TempDir, crmstore::Store)> = OnceLock::new();

fn store() -> &'static crmstore::Store {
    &STORE
        .get_or_init(|| {
            let dir = tempfile::tempdir().expect("a temporary folder");
            let store = crmstore::Store::open(dir.path().join("f.redb")).expect("a store");
            store
                .operator().load_json(
                    r#"{"account": {"id": 1, "name": "f"}, "roles": [{"id": 1, "name": "r"}],
                        "profiles": [{"id": 1, "name": "p"}],
                        "users": [{"id": 1, "name": "u", "role": 1, "profile": 1, "admin": true}]}"#,
                )
                .expect("the account");
            (dir, store)
        })
        .1
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err(e) = crmstore::fuzzing::write_then_read(store(), text) {
            panic!("{e}");
        }
    }
});
