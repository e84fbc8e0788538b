//! Archives crafted to pass every hash but hold what no backup writes.
//! Anyone with the public key can make one (servers hold only public keys),
//! so `verify` and the restores must refuse their content, not only their
//! damage.

use std::path::{Path, PathBuf};

use super::chunks::{Chunk, ChunkReader, ChunkWriter};
use super::format::{AccountIndex, Counts, Item, ItemRef, Trailer};
use super::read::{count_item, open};
use super::{BackupOptions, Decryption, Encryption, Kind};
use crate::synth::GenSpec;
use crate::{Error, NoProgress, Store};

fn as_ref(item: &Item) -> ItemRef<'_> {
    match item {
        Item::Header(h) => ItemRef::Header(h),
        Item::Account(a) => ItemRef::Account(*a),
        Item::Directory(b) => ItemRef::Directory(b),
        Item::State(b) => ItemRef::State(b),
        Item::Record(id, b) => ItemRef::Record(*id, b),
        Item::Batch(id, b) => ItemRef::Batch(*id, b),
        Item::Trashed(batch, id, b) => ItemRef::Trashed(*batch, *id, b),
        Item::Audit(seq, b) => ItemRef::Audit(*seq, b),
        Item::Trailer(t) => ItemRef::Trailer(t),
        Item::Gate(b) => ItemRef::Gate(b),
        Item::Session(id, b) => ItemRef::Session(*id, b),
        Item::AuthEvent(seq, b) => ItemRef::AuthEvent(*seq, b),
        Item::Lockout(l, b) => ItemRef::Lockout(l, b),
        Item::Login(l, b) => ItemRef::Login(l, b),
    }
}

/// Every item of an archive but its trailer, in order.
fn items_of(file: &Path, key: &Decryption) -> Vec<Item> {
    let mut rd = ChunkReader::new(open(file, key).unwrap(), 0);
    let mut items = Vec::new();
    while let Chunk::Items(chunk) = rd.next().unwrap() {
        items.extend(chunk.into_iter().filter(|i| !matches!(i, Item::Trailer(_))));
    }
    items
}

/// Writes `items` as an archive at `to` with every offset, hash and count
/// right, as `Store::backup` lays one out.
fn write_archive(items: &[Item], key: &Encryption, to: &Path) {
    let file = std::fs::File::create(to).unwrap();
    let mut w = ChunkWriter::new(key.wrap(file).unwrap());
    let (mut index, mut totals) = (Vec::new(), Counts::default());
    let mut current: Option<(u64, u64, Counts)> = None;
    let mut close = |w: &mut ChunkWriter<_>, current: Option<(u64, u64, Counts)>| {
        if let Some((account, start, counts)) = current {
            let end = w.mark().unwrap();
            totals.add(&counts);
            index.push(AccountIndex {
                account,
                start,
                end: end.pos,
                counts,
                sha256: end.region,
            });
        }
    };
    for item in items {
        if let Item::Account(a) = item {
            close(&mut w, current.take());
            current = Some((*a, w.mark().unwrap().pos, Counts::default()));
        }
        if let Some((_, _, counts)) = current.as_mut() {
            count_item(item, counts);
        }
        w.push(&as_ref(item)).unwrap();
    }
    close(&mut w, current.take());
    let digest = w.mark().unwrap().total;
    let trailer = Trailer {
        accounts: index,
        totals,
        digest,
    };
    w.finish(&trailer).unwrap().finish().unwrap();
}

#[test]
fn an_archive_giving_a_record_twice_passes_its_hashes_but_not_verify_and_every_restore_refuses_it()
{
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("s.redb")).unwrap();
    // Two landing batches and more: the refusal comes from a later one, while
    // the archive is still being read on the other thread.
    let spec = GenSpec {
        account: 1,
        records: 70_000,
        users: 5,
        teams: 2,
        seed: 9,
    };
    store.operator().generate(&spec, &NoProgress).unwrap();
    let keyfile = dir.path().join("key.txt");
    let public = super::keygen(&keyfile).unwrap();
    let key = Decryption::identity_file(&keyfile).unwrap();
    let encryption = || Encryption::recipients(&[&public]).unwrap();
    let archive = store
        .operator()
        .backup(
            &BackupOptions {
                dir: dir.path().join("archives"),
                encryption: encryption(),
                account: None,
                kind: Kind::Manual,
            },
            &NoProgress,
        )
        .unwrap()
        .file;
    let mut items = items_of(&archive, &key);
    let at = items
        .iter()
        .position(|i| matches!(i, Item::Record(69_000, _)))
        .unwrap();
    let again = items[at].clone();
    items.insert(at + 1, again);
    let crafted: PathBuf = dir.path().join("crafted.age");
    write_archive(&items, &encryption(), &crafted);

    // Every hash, count and offset holds; only the order of the keys tells.
    let report = super::verify(&crafted, &key, &NoProgress).unwrap();
    assert_eq!(
        report.problems,
        ["account `1`: a record is out of order or given twice"]
    );
    let to = dir.path().join("restored.redb");
    let e = super::restore_store(&crafted, &key, &to, &NoProgress).unwrap_err();
    assert!(
        matches!(&e, Error::Corrupt(m) if m.contains("`69000` of account `1` is given twice")),
        "{e}"
    );
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 4, "no restored or temporary file: {left:?}");
    let before = store.operator().dump_json(1).unwrap();
    let e = store
        .operator()
        .restore_account(&crafted, &key, 1, None)
        .unwrap_err();
    assert!(
        matches!(&e, Error::Corrupt(m) if m.contains("given twice")),
        "{e}"
    );
    assert_eq!(
        store.operator().dump_json(1).unwrap(),
        before,
        "the live account is untouched"
    );
}
