//! Filter text at large sizes: a fragment of the input repeated up to far
//! past the 64 KiB and 1,000-term limits, joined by `and`, `or` or nothing,
//! inside up to 200 parentheses. Parsed and run as a count: an answer or a
//! clear error, never a panic or a stack overflow.
#![no_main]
use std::sync::OnceLock;

static STORE: OnceLock<(tempfile::TempDir, crmstore::Store)> = OnceLock::new();

fn store() -> &'static crmstore::Store {
    &STORE
        .get_or_init(|| {
            let dir = tempfile::tempdir().expect("a temporary folder");
            let store = crmstore::Store::open(dir.path().join("f.redb")).expect("a store");
            let spec = crmstore::synth::GenSpec { account: 1, records: 50, users: 3, teams: 1, seed: 1 };
            store.operator().generate(&spec, &crmstore::NoProgress).expect("an account");
            (dir, store)
        })
        .1
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let [times_hi, times_lo, join, parens, rest @ ..] = data else {
        return;
    };
    let Ok(fragment) = std::str::from_utf8(rest) else {
        return;
    };
    let times = usize::from(u16::from_be_bytes([*times_hi, *times_lo])) % 20_000 + 1;
    let join = [" and ", " or ", " "][usize::from(*join) % 3];
    let parens = usize::from(*parens) % 200;
    let body = vec![fragment; times].join(join);
    let text = format!("{}{body}{}", "(".repeat(parens), ")".repeat(parens));
    if let Ok(filter) = crmstore::Filter::parse(&text) {
        let store = store();
        let ctx = store.operator().context(1, 1).expect("the admin");
        let _ = store.count(&ctx, &crmstore::Query::module("deals").filter(filter));
    }
});
