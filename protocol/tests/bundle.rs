//! Audit bundles in memory: whole logs and time ranges verify; every kind of tampering with
//! entries, header, checkpoints, receipts or cosignatures is refused, naming the first bad
//! entry where there is one.

use std::collections::BTreeMap;

use cordon_protocol::audit::bundle::{
    encode_hashes, verify, Bundle, BundleError, BundleHeader, BundleKeys, Cosigned, BUNDLE_FORMAT,
};
use cordon_protocol::audit::checkpoint::Checkpoint;
use cordon_protocol::audit::cosignature::cosign;
use cordon_protocol::audit::entry::{Actor, Entry, EntryKind};
use cordon_protocol::audit::merkle::leaf_hash;
use cordon_protocol::audit::note::{sign_note, Signer};
use cordon_protocol::audit::receipt::{request_digest, Receipt};
use cordon_protocol::audit::tree::Tree;

struct Log {
    log: Signer,
    holder: Signer,
    witness: Signer,
    lines: Vec<Vec<u8>>,
    tree: Tree,
    checkpoints: Vec<String>,
}

impl Log {
    /// 30 entries of `th`: queries sent and completed with receipts from `jp`.
    fn new() -> Log {
        let log = Signer::from_seed("th/audit", &[1; 32]).unwrap();
        let holder = Signer::from_seed("jp", &[2; 32]).unwrap();
        let witness = Signer::from_seed("jp", &[3; 32]).unwrap();
        let mut l = Log {
            log,
            holder,
            witness,
            lines: Vec::new(),
            tree: Tree::new(),
            checkpoints: Vec::new(),
        };
        for i in 0..30u64 {
            let kind = if i % 2 == 0 {
                EntryKind::QuerySent
            } else {
                EntryKind::QueryCompleted
            };
            let mut e = Entry::new(1000 + i * 10, kind, "th", Actor::node("th"));
            e.partner = Some("jp".into());
            e.collection = Some("phones".into());
            e.exchange_id = Some(hex::encode([i as u8 / 2; 16]));
            e.epoch = Some(1);
            e.items = Some(5);
            if kind == EntryKind::QueryCompleted {
                let r = Receipt {
                    exchange_id: [i as u8 / 2; 16],
                    holder: "jp".into(),
                    querier: "th".into(),
                    collection: "phones".into(),
                    epoch: 1,
                    mode: "match".into(),
                    items: 5,
                    request_digest: request_digest(&[i as u8; 160]),
                    time: e.time,
                };
                e.receipt = Some(r.sign(&l.holder).unwrap());
            }
            l.push(e.to_line());
        }
        l
    }

    fn push(&mut self, line: Vec<u8>) {
        self.tree.push(leaf_hash(&line)).unwrap();
        self.lines.push(line);
        let c = self.checkpoint(self.tree.size());
        self.checkpoints.push(c);
    }

    fn checkpoint(&self, size: u64) -> String {
        let c = Checkpoint {
            origin: "th/audit".into(),
            size,
            root: self.tree.root_at(size).unwrap(),
            extensions: vec![],
        };
        sign_note(&c.to_body().unwrap(), &[&self.log]).unwrap()
    }

    fn keys(&self) -> BundleKeys {
        let mut k = BundleKeys {
            log: self.log.verifier_key().to_string(),
            ..Default::default()
        };
        k.receipts
            .insert("jp".into(), self.holder.verifier_key().to_string());
        k.witnesses.insert(
            "jp".into(),
            self.witness.cosignature_verifier_key().to_string(),
        );
        k
    }

    /// A bundle of entries `first..end`, with jp's cosignature over size `cosigned`.
    fn bundle(&self, first: u64, end: u64, cosigned: u64, range: bool) -> Bundle {
        let size = self.tree.size();
        let ours = self.checkpoints[cosigned as usize - 1].clone();
        let body = ours.split_once("\n\n").unwrap().0.to_string() + "\n";
        let line = cosign(&body, 5000, &self.witness).unwrap();
        let consistency = |from: u64| {
            if from == size {
                vec![]
            } else {
                encode_hashes(&self.tree.consistency_proof(from, size).unwrap())
            }
        };
        Bundle {
            header: BundleHeader {
                format: BUNDLE_FORMAT.into(),
                node: "th".into(),
                origin: "th/audit".into(),
                exported_at: 9999,
                since: range.then_some(1),
                until: range.then_some(u64::MAX),
                first,
                count: end - first,
                frontier: encode_hashes(&self.tree.frontier_at(first).unwrap()),
                checkpoints: self.checkpoints[first as usize..end as usize].to_vec(),
                latest: self.checkpoints[size as usize - 1].clone(),
                consistency: consistency(end),
                cosigned: vec![Cosigned {
                    partner: "jp".into(),
                    checkpoint: format!("{ours}{line}"),
                    consistency: consistency(cosigned),
                }],
                keys: self.keys(),
                alerts: vec![],
            },
            entries: self.lines[first as usize..end as usize].to_vec(),
        }
    }
}

fn none() -> BundleKeys {
    BundleKeys::default()
}

fn entry_err(b: &Bundle, key: &cordon_protocol::audit::note::VerifierKey) -> u64 {
    match verify(b, key, &none()) {
        Err(e) => e.entry().unwrap_or_else(|| panic!("no entry named: {e}")),
        Ok(_) => panic!("a tampered bundle verified"),
    }
}

#[test]
fn whole_logs_and_ranges_verify_and_round_trip() {
    let l = Log::new();
    let key = l.log.verifier_key();
    let whole = l.bundle(0, 30, 20, false);
    let r = verify(&whole, &key, &none()).unwrap();
    assert_eq!((r.first, r.count, r.log_size, r.receipts), (0, 30, 30, 15));
    assert_eq!(r.cosigned_by, vec![("jp".to_string(), 20)]);
    assert_eq!(Bundle::parse(&whole.to_bytes()).unwrap(), whole);
    // Ranges anywhere in the log, including ones that end before the latest checkpoint.
    for (first, end) in [(0, 1), (7, 19), (13, 30), (16, 17), (29, 30)] {
        let b = l.bundle(first, end, 20, true);
        let r = verify(&b, &key, &none()).unwrap_or_else(|e| panic!("{first}..{end}: {e}"));
        assert_eq!((r.first, r.count), (first, end - first));
        // A range must say it is one.
        let mut whole_claim = b.clone();
        whole_claim.header.since = None;
        whole_claim.header.until = None;
        if (first, end) != (0, 30) {
            assert!(verify(&whole_claim, &key, &none()).is_err());
        }
    }
}

#[test]
fn tampered_entries_are_named() {
    let l = Log::new();
    let key = l.log.verifier_key();
    let good = l.bundle(0, 30, 20, false);
    for i in [0usize, 5, 17, 29] {
        // Flip a byte inside the entry (not its JSON structure).
        let mut b = good.clone();
        let pos = b.entries[i].iter().position(|c| *c == b'0').unwrap();
        b.entries[i][pos] = b'9';
        assert_eq!(entry_err(&b, &key), i as u64, "flip {i}");
        // Drop it.
        let mut b = good.clone();
        b.entries.remove(i);
        assert_eq!(entry_err(&b, &key), i as u64, "drop {i}");
    }
    // Reorder two.
    let mut b = good.clone();
    b.entries.swap(10, 11);
    assert_eq!(entry_err(&b, &key), 10);
    // Insert one.
    let mut b = good.clone();
    let extra = b.entries[3].clone();
    b.entries.insert(4, extra);
    assert_eq!(entry_err(&b, &key), 4);
    // Truncate the tail, in the body only or with the header's count and checkpoints too.
    let mut b = good.clone();
    b.entries.truncate(25);
    assert_eq!(entry_err(&b, &key), 25);
    let mut b = good.clone();
    b.entries.truncate(25);
    b.header.count = 25;
    b.header.checkpoints.truncate(25);
    assert!(matches!(
        verify(&b, &key, &none()),
        Err(BundleError::Verification(_))
    ));
    // Checkpoints left out of the header: refused (the first bad entry could not be named).
    let mut b = good.clone();
    b.header.checkpoints.remove(3);
    assert!(verify(&b, &key, &none()).is_err());
    // A whole export relabelled as a range ending earlier: its entries are outside the range.
    let mut b = l.bundle(0, 20, 20, true);
    b.header.until = Some(1000 + 15 * 10);
    assert_eq!(entry_err(&b, &key), 15);
    // A range export whose first entry is moved, or whose frontier is edited.
    let mut b = l.bundle(8, 20, 20, true);
    b.header.first = 9;
    assert!(verify(&b, &key, &none()).is_err());
    let mut b = l.bundle(8, 20, 20, true);
    b.header.frontier[0] = encode_hashes(&[[0; 32]])[0].clone();
    assert_eq!(entry_err(&b, &key), 8);
}

#[test]
fn forged_checkpoints_receipts_and_cosignatures_are_refused() {
    let l = Log::new();
    let key = l.log.verifier_key();
    let good = l.bundle(0, 30, 20, false);
    // A latest checkpoint signed by another key of the same name.
    let other = Signer::from_seed("th/audit", &[9; 32]).unwrap();
    let mut b = good.clone();
    let body = b.header.latest.split_once("\n\n").unwrap().0.to_string() + "\n";
    b.header.latest = sign_note(&body, &[&other]).unwrap();
    let e = verify(&b, &key, &none()).unwrap_err();
    assert!(e.to_string().contains("not signed by the log key"), "{e}");
    // The wrong key, or a key of another log.
    assert!(verify(&good, &other.verifier_key(), &none()).is_err());
    let jp_log = Signer::from_seed("jp/audit", &[1; 32]).unwrap();
    assert!(verify(&good, &jp_log.verifier_key(), &none()).is_err());
    // A receipt altered (its signature fails) names its entry.
    let mut b = good.clone();
    let mut e = Entry::parse(&b.entries[3]).unwrap();
    e.receipt = Some(e.receipt.unwrap().replace("items 5", "items 6"));
    b.entries[3] = e.to_line();
    assert_eq!(entry_err(&b, &key), 3);
    // A receipt re-signed by another key is refused when the auditor pins jp's real key, and
    // also with the bundle's key (the bundle's key is jp's, so the forgery does not verify).
    let forger = Signer::from_seed("jp", &[8; 32]).unwrap();
    let mut b = good.clone();
    let mut e = Entry::parse(&b.entries[5]).unwrap();
    let r = Receipt::open(e.receipt.as_deref().unwrap(), &l.holder.verifier_key()).unwrap();
    e.receipt = Some(r.sign(&forger).unwrap());
    b.entries[5] = e.to_line();
    assert_eq!(entry_err(&b, &key), 5);
    let mut pins = BundleKeys::default();
    pins.receipts
        .insert("jp".into(), l.holder.verifier_key().to_string());
    // With the bundle's keys swapped to the forger's, the pinned key still catches it.
    let mut b2 = b.clone();
    b2.header
        .keys
        .receipts
        .insert("jp".into(), forger.verifier_key().to_string());
    assert!(
        verify(&b2, &key, &none()).is_err(),
        "tree changed, so caught anyway"
    );
    assert!(verify(&b2, &key, &pins).is_err());
    // A receipt that disagrees with its entry (another item count), properly signed.
    let mut e = Entry::parse(&good.entries[7]).unwrap();
    e.items = Some(6);
    let mut l2 = Log::new();
    l2.lines.truncate(0);
    l2.tree = Tree::new();
    l2.checkpoints.clear();
    for (i, line) in good.entries.iter().enumerate() {
        l2.push(if i == 7 { e.to_line() } else { line.clone() });
    }
    let b = l2.bundle(0, 30, 20, false);
    let err = verify(&b, &key, &none()).unwrap_err();
    assert_eq!(err.entry(), Some(7));
    assert!(err.to_string().contains("item count"), "{err}");
    // A cosignature by a key that is not jp's witness key, and one over another size.
    let mut b = good.clone();
    let fake = Signer::from_seed("jp", &[7; 32]).unwrap();
    let ours = l.checkpoints[19].clone();
    let body = ours.split_once("\n\n").unwrap().0.to_string() + "\n";
    b.header.cosigned[0].checkpoint = format!("{ours}{}", cosign(&body, 1, &fake).unwrap());
    assert!(verify(&b, &key, &none()).is_err());
    let mut b = good.clone();
    b.header.cosigned[0].consistency.pop();
    assert!(verify(&b, &key, &none()).is_err());
    // No key at all for a partner.
    let mut b = good.clone();
    b.header.keys.witnesses = BTreeMap::new();
    assert!(verify(&b, &key, &none()).is_err());
}
