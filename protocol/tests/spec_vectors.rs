// Cordon-specific known answers: `spec/vectors/cordon.json`, as referenced by
// `spec/PROTOCOL.md`. The file holds inputs (keys, seeds, identifiers, parameters) and the
// outputs this implementation produces for them; this test recomputes every output from the
// inputs with the real code and compares, so any change to tags, filters, the delta chain,
// descriptor signing, constants or the wire encoding breaks it. It then checks the decoding
// direction (frames decode to the same messages, the descriptor verifies and its undersized
// variant does not, the filter round-trips through `EpochFilter::from_bytes`), that the vectors
// agree with each other (the descriptor's filter is the one `EpochFilter::build` makes for its
// records, sized for `filter_capacity(record_count)`), and
// that the querier's and holder's real exchange code (`BlindedBatch`, `holder_evaluate`)
// reproduce the `exchange` vector, which the file computes from the spec's doubled additive
// blinding (`C = 2·(P + r·G)`, `V = E − 2r·pk = 2k·P`, tag over `encode(2·V) = encode(4k·P)`)
// with the group arithmetic itself.
//
// When a wire change is intended, the failure lists every JSON path that differs: update those
// outputs in the file and the text of `spec/PROTOCOL.md` together (and bump the version that
// the change affects). Never edit the file to make an unintended change pass.

use cordon_protocol::count::{holder_evaluate_count_with, CountBatch};
use cordon_protocol::descriptor::{
    EpochDescriptor, SignedDescriptor, DESCRIPTOR_CONTEXT, DESCRIPTOR_VERSION,
};
use cordon_protocol::error::{ErrorCode, RemoteError, VerifyError};
use cordon_protocol::exchange::{holder_evaluate, BlindedBatch, HashedInputs};
use cordon_protocol::filter::{
    chain_delta, filter_capacity, seed_for, EpochFilter, FilterParams, DELTA_DST,
    FILTER_HEADER_LEN, MAX_BITMAP_BYTES, MAX_HASHES, MIN_FILTER_CAPACITY, SEED_DST,
};
use cordon_protocol::frame::{self, FRAME_VERSION, HEADER_LEN, MAX_PAYLOAD};
use cordon_protocol::ident::{canonicalize, Kind, Options};
use cordon_protocol::messages::{
    pack, unpack, EvaluateRequest, EvaluateResponse, PartnerRequest, PartnerResponse, ELEMENT_LEN,
    FILTER_CHUNK_BYTES, MAX_DELTA_TAGS_PER_FRAME, MAX_ITEMS_PER_REQUEST,
};
use cordon_protocol::oprf::{self, Mode, Proof, SecretKey, Tag, MAX_BATCH, TAG_DST};
use curve25519_dalek::constants::RISTRETTO_BASEPOINT_POINT;
use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::scalar::Scalar;
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_bytes::{ByteArray, ByteBuf};
use serde_json::{json, Value};
use std::hash::Hasher;

const VECTORS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../spec/vectors/cordon.json"
));

fn vectors() -> Value {
    serde_json::from_str(VECTORS).expect("spec/vectors/cordon.json is valid JSON")
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap_or_else(|e| panic!("bad hex {s:?}: {e}"))
}

fn arr<const N: usize>(s: &str) -> [u8; N] {
    unhex(s)
        .try_into()
        .unwrap_or_else(|v: Vec<u8>| panic!("expected {N} bytes, got {}", v.len()))
}

fn h(bytes: &[u8]) -> Value {
    Value::String(hex::encode(bytes))
}

fn s<'a>(v: &'a Value, name: &str) -> &'a str {
    v[name]
        .as_str()
        .unwrap_or_else(|| panic!("missing string field `{name}` in {v}"))
}

fn u(v: &Value, name: &str) -> u64 {
    v[name]
        .as_u64()
        .unwrap_or_else(|| panic!("missing integer field `{name}` in {v}"))
}

fn f(v: &Value, name: &str) -> f64 {
    v[name]
        .as_f64()
        .unwrap_or_else(|| panic!("missing number field `{name}` in {v}"))
}

fn indices(v: &Value, name: &str) -> Vec<usize> {
    v[name]
        .as_array()
        .unwrap_or_else(|| panic!("missing array field `{name}` in {v}"))
        .iter()
        .map(|i| i.as_u64().expect("index") as usize)
        .collect()
}

fn scalar(hex: &str) -> Scalar {
    Option::from(Scalar::from_canonical_bytes(arr::<32>(hex)))
        .unwrap_or_else(|| panic!("{hex} is not a canonical scalar"))
}

/// The filter parameters of a JSON object shaped like `descriptor.fields.filter`.
fn filter_params(v: &Value) -> FilterParams {
    FilterParams {
        bitmap_bytes: u(v, "bitmap_bytes"),
        hashes: u32::try_from(u(v, "hashes")).expect("hashes fits u32"),
        seed: ByteArray::new(arr::<32>(s(v, "seed"))),
        capacity: u(v, "capacity"),
        fp_rate: f(v, "fp_rate"),
    }
}

/// A `FilterParams` as the vectors write it (the shape of `descriptor.fields.filter`).
fn params_json(p: &FilterParams) -> Value {
    json!({
        "bitmap_bytes": p.bitmap_bytes,
        "hashes": p.hashes,
        "seed": h(&p.seed[..]),
        "capacity": p.capacity,
        "fp_rate": p.fp_rate,
    })
}

/// The exchange vector's blinds `r_i`, which it must say are additive and doubled
/// (`C = 2·(P + r·G)`).
fn exchange_blinds(ev: &Value) -> Vec<Scalar> {
    assert_eq!(
        s(ev, "blinding"),
        "additive_doubled",
        "the reference querier blinds additively and sends the doubles"
    );
    ev["blinds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| scalar(b.as_str().unwrap()))
        .collect()
}

/// An "RNG" that hands out the given scalars, so that the querier's own code
/// (`BlindedBatch::new`, which draws each blind with `Scalar::random`) uses the vector's
/// blinds: `Scalar::random` reduces 64 drawn bytes modulo ℓ, so `r ‖ 0³²` gives back `r`.
struct ScriptedBlinds {
    bytes: Vec<u8>,
    at: usize,
}

impl ScriptedBlinds {
    fn new(blinds: &[Scalar]) -> Self {
        let mut bytes = Vec::new();
        for r in blinds {
            bytes.extend_from_slice(r.as_bytes());
            bytes.extend_from_slice(&[0u8; 32]);
        }
        ScriptedBlinds { bytes, at: 0 }
    }
}

impl rand_core::RngCore for ScriptedBlinds {
    fn next_u32(&mut self) -> u32 {
        rand_core::impls::next_u32_via_fill(self)
    }
    fn next_u64(&mut self) -> u64 {
        rand_core::impls::next_u64_via_fill(self)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        let end = self.at + dest.len();
        assert!(
            end <= self.bytes.len(),
            "more randomness drawn than scripted"
        );
        dest.copy_from_slice(&self.bytes[self.at..end]);
        self.at = end;
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

// Test-only: deterministic on purpose, so that the vector's blinds come out.
impl rand_core::CryptoRng for ScriptedBlinds {}

/// Copies `keys` of `from` (the inputs) into a new object.
fn inputs(from: &Value, keys: &[&str]) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    for k in keys {
        if let Some(v) = from.get(*k) {
            m.insert((*k).to_string(), v.clone());
        }
    }
    m
}

/// Compares the file with what the code computes, listing every path that differs.
fn diff(path: &str, want: &Value, got: &Value, out: &mut Vec<String>) {
    match (want, got) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, va) in a {
                match b.get(k) {
                    Some(vb) => diff(&format!("{path}.{k}"), va, vb, out),
                    None => out.push(format!("{path}.{k}: in the file but not computed")),
                }
            }
            for k in b.keys() {
                if !a.contains_key(k) {
                    out.push(format!("{path}.{k}: computed but missing from the file"));
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (va, vb)) in a.iter().zip(b).enumerate() {
                diff(&format!("{path}[{i}]"), va, vb, out);
            }
        }
        (Value::Number(a), Value::Number(b)) if a.as_f64() == b.as_f64() => {}
        _ if want == got => {}
        _ => out.push(format!("{path}: file has {want}, code gives {got}")),
    }
}

// ---------------------------------------------------------------------------------------------
// CBOR diagnostic notation (RFC 8949 §8) of the subset Cordon uses, asserting along the way
// that the encoding is the preferred one: shortest arguments, definite lengths, shortest
// lossless floats, no tags.
// ---------------------------------------------------------------------------------------------

struct Cbor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cbor<'_> {
    fn byte(&mut self) -> u8 {
        let x = self.b[self.i];
        self.i += 1;
        x
    }

    fn take(&mut self, n: usize) -> &[u8] {
        let x = &self.b[self.i..self.i + n];
        self.i += n;
        x
    }

    fn argument(&mut self, info: u8) -> u64 {
        let (v, min) = match info {
            0..=23 => (info as u64, 0),
            24 => (self.byte() as u64, 24),
            25 => (
                u16::from_be_bytes(self.take(2).try_into().unwrap()) as u64,
                256,
            ),
            26 => (
                u32::from_be_bytes(self.take(4).try_into().unwrap()) as u64,
                1 << 16,
            ),
            27 => (
                u64::from_be_bytes(self.take(8).try_into().unwrap()),
                1 << 32,
            ),
            _ => panic!("indefinite length or reserved additional info {info}"),
        };
        assert!(v >= min, "non-preferred (overlong) argument encoding");
        v
    }

    fn item(&mut self) -> String {
        let ib = self.byte();
        let (major, info) = (ib >> 5, ib & 0x1f);
        match major {
            0 => self.argument(info).to_string(),
            1 => format!("-{}", self.argument(info) as i128 + 1),
            2 => {
                let n = self.argument(info) as usize;
                format!("h'{}'", hex::encode(self.take(n)))
            }
            3 => {
                let n = self.argument(info) as usize;
                let t = std::str::from_utf8(self.take(n)).expect("UTF-8 text");
                serde_json::to_string(t).unwrap()
            }
            4 => {
                let n = self.argument(info);
                let items: Vec<String> = (0..n).map(|_| self.item()).collect();
                format!("[{}]", items.join(", "))
            }
            5 => {
                let n = self.argument(info);
                let items: Vec<String> = (0..n)
                    .map(|_| {
                        let k = self.item();
                        let v = self.item();
                        format!("{k}: {v}")
                    })
                    .collect();
                format!("{{{}}}", items.join(", "))
            }
            6 => panic!("CBOR tags are never sent"),
            _ => match info {
                20 => "false".into(),
                21 => "true".into(),
                22 => "null".into(),
                25 => panic!("half-precision floats do not occur in these vectors"),
                26 => {
                    let x = f32::from_be_bytes(self.take(4).try_into().unwrap());
                    format!("{x:?}")
                }
                27 => {
                    let x = f64::from_be_bytes(self.take(8).try_into().unwrap());
                    assert_ne!(
                        (x as f32) as f64,
                        x,
                        "a double that fits a single is not the preferred encoding"
                    );
                    format!("{x:?}")
                }
                _ => panic!("unexpected simple value {info}"),
            },
        }
    }
}

fn diag(payload: &[u8]) -> String {
    let mut c = Cbor { b: payload, i: 0 };
    let d = c.item();
    assert_eq!(c.i, payload.len(), "trailing bytes after the CBOR item");
    d
}

// ---------------------------------------------------------------------------------------------
// Computing every output from the file's inputs
// ---------------------------------------------------------------------------------------------

struct Ctx {
    sk: SecretKey,
    pk: [u8; 32],
    tags: Vec<Tag>,
    bloom_seed: [u8; 32],
    filters: Vec<EpochFilter>,
    filter_members: Vec<Vec<Tag>>,
    delta_tags: Vec<Vec<Tag>>,
    signing_key: Ed25519KeyPair,
    signing_seed: [u8; 32],
    /// Index into `filters` of the descriptor's filter.
    filter_index: usize,
    signed: SignedDescriptor,
    undersized: SignedDescriptor,
    descriptor: EpochDescriptor,
    blinded: Vec<[u8; 32]>,
    evaluated: Vec<[u8; 32]>,
    proof: [u8; 64],
    query_id: [u8; 16],
}

/// The bit positions of a tag, recomputed from the text of `spec/PROTOCOL.md` (SipHash-1-3
/// keyed by the two seed halves, double hashing modulo the largest 64-bit prime), not by
/// calling the crate's own `Bloom::set`.
fn positions(tag: &Tag, seed: &[u8; 32], hashes: u32, bits: u64) -> Vec<u64> {
    let sip = |key: &[u8]| {
        let mut s = bloomfilter::reexports::siphasher::sip::SipHasher13::new_with_key(
            key.try_into().unwrap(),
        );
        s.write(tag);
        s.finish()
    };
    let (h0, h1) = (sip(&seed[..16]), sip(&seed[16..]));
    (0..hashes as u64)
        .map(|i| {
            let hi = match i {
                0 => h0,
                1 => h1,
                _ => h0.wrapping_add(i.wrapping_mul(h1)) % 0xFFFF_FFFF_FFFF_FFC5,
            };
            hi % bits
        })
        .collect()
}

fn error_codes() -> Vec<ErrorCode> {
    vec![
        ErrorCode::BadRequest,
        ErrorCode::UnknownCollection,
        ErrorCode::StaleEpoch,
        ErrorCode::TooManyItems,
        ErrorCode::NotAuthorized,
        ErrorCode::NoEpoch,
        ErrorCode::ShuttingDown,
        ErrorCode::NotShared,
        ErrorCode::ModeNotAllowed,
        ErrorCode::BudgetExhausted,
        ErrorCode::FollowupNotAllowed,
        ErrorCode::UnknownReference,
        ErrorCode::UnknownFollowup,
        ErrorCode::ReplayedQuery,
        ErrorCode::LimitExceeded,
        ErrorCode::Internal,
        ErrorCode::Unknown,
    ]
}

fn compute_constants() -> Value {
    json!({
        "frame_version": FRAME_VERSION,
        "frame_header_len": HEADER_LEN,
        "max_payload": MAX_PAYLOAD,
        "max_items_per_request": MAX_ITEMS_PER_REQUEST,
        "max_dleq_batch": MAX_BATCH,
        "max_delta_tags_per_frame": MAX_DELTA_TAGS_PER_FRAME,
        "filter_chunk_bytes": FILTER_CHUNK_BYTES,
        "element_len": ELEMENT_LEN,
        "filter_header_len": FILTER_HEADER_LEN,
        "max_hashes": MAX_HASHES,
        "max_bitmap_bytes": MAX_BITMAP_BYTES,
        "min_filter_capacity": MIN_FILTER_CAPACITY,
        "descriptor_version": DESCRIPTOR_VERSION,
        "descriptor_context_hex": h(DESCRIPTOR_CONTEXT),
        "tag_dst": std::str::from_utf8(TAG_DST).unwrap(),
        "seed_dst": std::str::from_utf8(SEED_DST).unwrap(),
        "delta_dst": std::str::from_utf8(DELTA_DST).unwrap(),
        "oprf_context_string_hex": h(&oprf::context_string(Mode::Voprf)),
        "error_codes": error_codes().iter().map(|c| c.as_str()).collect::<Vec<_>>(),
    })
}

fn compute(file: &Value) -> (Value, Ctx) {
    let mut out = serde_json::Map::new();
    for k in ["title", "description", "conventions"] {
        if let Some(v) = file.get(k) {
            out.insert(k.into(), v.clone());
        }
    }
    out.insert("constants".into(), compute_constants());

    // OPRF key (RFC 9497 DeriveKeyPair, VOPRF mode).
    let fk = &file["oprf_key"];
    assert_eq!(u(fk, "mode"), 1, "Cordon uses VOPRF mode");
    let (sk, pk) = oprf::derive_key_pair(
        Mode::Voprf,
        &arr::<32>(s(fk, "seed")),
        s(fk, "info").as_bytes(),
    )
    .unwrap();
    let pk = pk.to_bytes();
    let mut k = inputs(fk, &["note", "mode", "seed", "info"]);
    k.insert("info_hex".into(), h(s(fk, "info").as_bytes()));
    k.insert("secret_key".into(), h(&sk.to_bytes()));
    k.insert("public_key".into(), h(&pk));
    out.insert("oprf_key".into(), Value::Object(k));

    // Tags of identifiers: element = k·HashToGroup(input), tagged = encode(4·element),
    // tag = TagHash(tagged) (§5.4).
    let k_scalar = scalar(&hex::encode(sk.to_bytes()));
    let mut tag_out = Vec::new();
    let mut tags = Vec::new();
    for t in file["tags"].as_array().unwrap() {
        let input = s(t, "input");
        let point = k_scalar * oprf::hash_to_group(Mode::Voprf, input.as_bytes());
        let element = point.compress().to_bytes();
        let tagged = (Scalar::from(4u64) * point).compress().to_bytes();
        let tag = oprf::tag_of_encoding(&tagged);
        tags.push(tag);
        let mut o = inputs(t, &["note", "input"]);
        o.insert("input_hex".into(), h(input.as_bytes()));
        o.insert("element".into(), h(&element));
        o.insert("tagged".into(), h(&tagged));
        o.insert("tag".into(), h(&tag));
        tag_out.push(Value::Object(o));
    }
    out.insert("tags".into(), Value::Array(tag_out));

    // Bloom seed of the key's epoch.
    let bloom_seed = seed_for(&pk);
    out.insert(
        "bloom_seed".into(),
        json!({"public_key": h(&pk), "seed": h(&bloom_seed)}),
    );

    // Filters.
    let mut filters = Vec::new();
    let mut filter_members = Vec::new();
    let mut filter_out = Vec::new();
    for fv in file["filters"].as_array().unwrap() {
        let seed: [u8; 32] = match s(fv, "seed_from") {
            "bloom_seed" => bloom_seed,
            "zero" => [0; 32],
            other => panic!("unknown seed_from {other:?}"),
        };
        let members: Vec<Tag> = match fv.get("tag_indices") {
            Some(_) => indices(fv, "tag_indices")
                .iter()
                .map(|&i| tags[i])
                .collect(),
            None => vec![[0u8; 32]],
        };
        let (capacity, fp) = (u(fv, "capacity"), f(fv, "fp_rate"));
        let mut filter = EpochFilter::new(capacity, fp, &seed).unwrap();
        for t in &members {
            filter.insert(t);
        }
        let p = filter.params(capacity, fp);
        let mut o = inputs(
            fv,
            &["note", "capacity", "fp_rate", "seed_from", "tag_indices"],
        );
        o.insert("seed".into(), h(&seed));
        o.insert(
            "tags".into(),
            Value::Array(members.iter().map(|t| h(t)).collect()),
        );
        o.insert("bitmap_bytes".into(), json!(p.bitmap_bytes));
        o.insert("hashes".into(), json!(p.hashes));
        o.insert(
            "positions".into(),
            json!(members
                .iter()
                .map(|t| positions(t, &seed, p.hashes, filter.bits()))
                .collect::<Vec<_>>()),
        );
        o.insert("bytes".into(), h(filter.as_bytes()));
        o.insert("digest".into(), h(&filter.digest()));
        if let Some(probes) = fv.get("probe_indices") {
            o.insert("probe_indices".into(), probes.clone());
            o.insert(
                "probes".into(),
                Value::Array(
                    indices(fv, "probe_indices")
                        .iter()
                        .map(
                            |&i| json!({"tag": h(&tags[i]), "contains": filter.contains(&tags[i])}),
                        )
                        .collect(),
                ),
            );
        }
        filter_out.push(Value::Object(o));
        filters.push(filter);
        filter_members.push(members);
    }
    out.insert("filters".into(), Value::Array(filter_out));

    // Sizing.
    let sizing: Vec<Value> = file["sizing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|sv| {
            let (c, fp) = (u(sv, "capacity"), f(sv, "fp_rate"));
            let p = EpochFilter::new(c, fp, &[0; 32]).unwrap().params(c, fp);
            json!({"capacity": c, "fp_rate": fp, "bitmap_bytes": p.bitmap_bytes, "hashes": p.hashes})
        })
        .collect();
    out.insert("sizing".into(), Value::Array(sizing));

    // Delta chains.
    let mut delta_tags = Vec::new();
    let mut delta_out = Vec::new();
    for dv in file["delta"].as_array().unwrap() {
        let start = arr::<32>(s(dv, "start"));
        let dt: Vec<Tag> = indices(dv, "tag_indices")
            .iter()
            .map(|&i| tags[i])
            .collect();
        let mut o = inputs(dv, &["note", "start", "tag_indices"]);
        o.insert(
            "tags".into(),
            Value::Array(dt.iter().map(|t| h(t)).collect()),
        );
        o.insert("chain".into(), h(&chain_delta(start, &dt)));
        delta_out.push(Value::Object(o));
        delta_tags.push(dt);
    }
    out.insert("delta".into(), Value::Array(delta_out));

    // Signed descriptor.
    let dv = &file["descriptor"];
    let key = Ed25519KeyPair::from_seed_unchecked(&unhex(s(dv, "signing_seed"))).unwrap();
    let fi = u(dv, "filter_index") as usize;
    let di = u(dv, "delta_index") as usize;
    // As a holder builds an epoch (node/src/epoch.rs): the records are the members of
    // `filters[fi]`, their filter is the one `EpochFilter::build` makes, and the descriptor
    // states it with capacity `filter_capacity(record_count)`. That this is the filter of
    // `filters[fi]` is checked in `descriptor_verifies_and_agrees_with_the_other_vectors`.
    let fp = f(&file["filters"][fi], "fp_rate");
    let records = &filter_members[fi];
    let record_count = records.len() as u64;
    let built = EpochFilter::build(records, fp, &bloom_seed).unwrap();
    let descriptor = EpochDescriptor {
        version: DESCRIPTOR_VERSION,
        node: s(dv, "node").into(),
        collection: s(dv, "collection").into(),
        kind: s(dv, "kind").into(),
        epoch: u(dv, "epoch"),
        public_key: ByteArray::new(pk),
        record_count,
        filter: built.params(filter_capacity(record_count), fp),
        filter_digest: ByteArray::new(built.digest()),
        delta_count: delta_tags[di].len() as u64,
        delta_chain: ByteArray::new(chain_delta([0; 32], &delta_tags[di])),
        issued_at: u(dv, "issued_at"),
        not_after: u(dv, "not_after"),
    };
    let signed = SignedDescriptor::sign(&descriptor, &key).unwrap();
    let mut o = inputs(
        dv,
        &[
            "note",
            "signing_seed",
            "node",
            "collection",
            "kind",
            "epoch",
            "issued_at",
            "not_after",
            "filter_index",
            "delta_index",
            "valid_at",
            "invalid_at",
        ],
    );
    o.insert("signing_public_key".into(), h(key.public_key().as_ref()));
    o.insert(
        "fields".into(),
        json!({
            "version": descriptor.version,
            "node": descriptor.node,
            "collection": descriptor.collection,
            "kind": descriptor.kind,
            "epoch": descriptor.epoch,
            "public_key": h(&descriptor.public_key[..]),
            "record_count": descriptor.record_count,
            "filter": params_json(&descriptor.filter),
            "filter_digest": h(&descriptor.filter_digest[..]),
            "delta_count": descriptor.delta_count,
            "delta_chain": h(&descriptor.delta_chain[..]),
            "issued_at": descriptor.issued_at,
            "not_after": descriptor.not_after,
        }),
    );
    o.insert("body".into(), h(&signed.body));
    o.insert("body_diag".into(), Value::String(diag(&signed.body)));
    let mut msg = DESCRIPTOR_CONTEXT.to_vec();
    msg.extend_from_slice(&signed.body);
    o.insert("signed_message".into(), h(&msg));
    o.insert("signature".into(), h(&signed.signature[..]));

    // The same epoch signed by the same key with its filter sized for `capacity` records (the
    // record count itself, as before `MIN_FILTER_CAPACITY`): a querier refuses it (§5.8).
    let ud = &dv["undersized"];
    let ucap = u(ud, "capacity");
    let mut small = EpochFilter::new(ucap, fp, &bloom_seed).unwrap();
    for t in records {
        small.insert(t);
    }
    let mut under = descriptor.clone();
    under.filter = small.params(ucap, fp);
    under.filter_digest = ByteArray::new(small.digest());
    let undersized = SignedDescriptor::sign(&under, &key).unwrap();
    let mut uo = inputs(ud, &["note", "capacity"]);
    uo.insert("filter".into(), params_json(&under.filter));
    uo.insert("filter_digest".into(), h(&under.filter_digest[..]));
    uo.insert("body".into(), h(&undersized.body));
    uo.insert("body_diag".into(), Value::String(diag(&undersized.body)));
    uo.insert("signature".into(), h(&undersized.signature[..]));
    o.insert("undersized".into(), Value::Object(uo));
    out.insert("descriptor".into(), Value::Object(o));

    // Filter-parameter checks a querier applies to every descriptor (§5.5).
    let fc = &file["filter_checks"];
    let max_fp_rate = f(fc, "max_fp_rate");
    let cases: Vec<Value> = fc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|cv| {
            let params = filter_params(&cv["params"]);
            let mut o = inputs(cv, &["name", "params"]);
            o.insert(
                "accepted".into(),
                json!(EpochFilter::check_params(&params, &pk, max_fp_rate).is_ok()),
            );
            Value::Object(o)
        })
        .collect();
    let mut o = inputs(fc, &["note", "max_fp_rate"]);
    o.insert("public_key".into(), h(&pk));
    o.insert("cases".into(), Value::Array(cases));
    out.insert("filter_checks".into(), Value::Object(o));

    // One exchange with fixed blinds and proof nonce, blinded additively and doubled (§5.2),
    // computed here from the text of the spec with the group arithmetic itself; the querier's
    // real code (`BlindedBatch`) is checked against it in
    // `querier_and_holder_paths_give_the_same_tags`.
    let ev = &file["exchange"];
    let ex_inputs: Vec<Vec<u8>> = indices(ev, "input_indices")
        .iter()
        .map(|&i| s(&file["tags"][i], "input").as_bytes().to_vec())
        .collect();
    let blinds = exchange_blinds(ev);
    let pk_full = sk.public_key();
    let hashed_points: Vec<RistrettoPoint> = ex_inputs
        .iter()
        .map(|i| oprf::hash_to_group(Mode::Voprf, i))
        .collect();
    // C_i = 2·(P_i + r_i·G); the querier unblinds with 2·r_i.
    let two = Scalar::from(2u64);
    let blinded_points: Vec<RistrettoPoint> = hashed_points
        .iter()
        .zip(&blinds)
        .map(|(p, r)| two * (p + r * RISTRETTO_BASEPOINT_POINT))
        .collect();
    let unblind_scalars: Vec<Scalar> = blinds.iter().map(|r| two * r).collect();
    let evaluated_points = oprf::blind_evaluate(&sk, &blinded_points);
    let proof = oprf::generate_proof_with(
        Mode::Voprf,
        &sk,
        &pk_full,
        &blinded_points,
        &evaluated_points,
        scalar(s(ev, "proof_nonce")),
    )
    .unwrap();
    // V_i = E_i − 2r_i·pk = 2k·P_i; tag_i = TagHash(encode(2·V_i)) = TagHash(encode(4k·P_i)).
    let unblinded_points: Vec<RistrettoPoint> = evaluated_points
        .iter()
        .zip(&unblind_scalars)
        .map(|(e, r2)| e - r2 * pk_full.as_point())
        .collect();
    let tagged_points: Vec<RistrettoPoint> = unblinded_points.iter().map(|v| two * v).collect();
    let ex_tags: Vec<Tag> = oprf::compress_batch(&tagged_points)
        .iter()
        .map(oprf::tag_of_encoding)
        .collect();
    let delta_set = &delta_tags[di];
    let held: Vec<bool> = ex_tags
        .iter()
        .map(|t| filters[fi].contains(t) || delta_set.contains(t))
        .collect();
    let blinded = oprf::compress_batch(&blinded_points);
    let evaluated = oprf::compress_batch(&evaluated_points);
    let hex_list = |l: &[[u8; 32]]| Value::Array(l.iter().map(|b| h(b)).collect());
    let mut o = inputs(
        ev,
        &[
            "note",
            "blinding",
            "input_indices",
            "blinds",
            "proof_nonce",
            "query_id",
        ],
    );
    o.insert(
        "unblind_scalars".into(),
        Value::Array(unblind_scalars.iter().map(|r| h(r.as_bytes())).collect()),
    );
    o.insert(
        "hashed".into(),
        hex_list(&oprf::compress_batch(&hashed_points)),
    );
    o.insert("blinded".into(), hex_list(&blinded));
    o.insert("evaluated".into(), hex_list(&evaluated));
    o.insert("proof".into(), h(&proof.to_bytes()));
    o.insert(
        "unblinded".into(),
        hex_list(&oprf::compress_batch(&unblinded_points)),
    );
    o.insert(
        "tagged".into(),
        hex_list(&oprf::compress_batch(&tagged_points)),
    );
    o.insert("tags".into(), hex_list(&ex_tags));
    o.insert("held".into(), json!(held));
    out.insert("exchange".into(), Value::Object(o));

    // The same inputs in count mode (§5.2, "Count mode"), with a fixed shared blind r, answer
    // order and proof nonce, computed here from the spec's text: C_i = 2r·P_i; the holder
    // answers F_j = k·C_order[j] and proves DLEQ(G, pk, ΣC, ΣF); V_j = r⁻¹·F_j = 2k·P_order[j].
    // `count_vector_is_what_the_code_does` checks the real code against it.
    let cv = &file["count"];
    let c_inputs: Vec<Vec<u8>> = indices(cv, "input_indices")
        .iter()
        .map(|&i| s(&file["tags"][i], "input").as_bytes().to_vec())
        .collect();
    assert_eq!(s(cv, "blinding"), "multiplicative_doubled");
    let r = scalar(s(cv, "blind"));
    let order = indices(cv, "order");
    let c_hashed: Vec<RistrettoPoint> = c_inputs
        .iter()
        .map(|i| oprf::hash_to_group(Mode::Voprf, i))
        .collect();
    let c_blinded: Vec<RistrettoPoint> = c_hashed.iter().map(|p| (two * r) * p).collect();
    let in_order = oprf::blind_evaluate(&sk, &c_blinded);
    let answered: Vec<RistrettoPoint> = order.iter().map(|&i| in_order[i]).collect();
    let sum_c: RistrettoPoint = c_blinded.iter().sum();
    let sum_f: RistrettoPoint = answered.iter().sum();
    let c_proof = oprf::generate_proof_with(
        Mode::Voprf,
        &sk,
        &pk_full,
        &[sum_c],
        &[sum_f],
        scalar(s(cv, "proof_nonce")),
    )
    .unwrap();
    let c_unblinded: Vec<RistrettoPoint> = answered.iter().map(|f| r.invert() * f).collect();
    let c_tags: Vec<Tag> =
        oprf::compress_batch(&c_unblinded.iter().map(|v| two * v).collect::<Vec<_>>())
            .iter()
            .map(oprf::tag_of_encoding)
            .collect();
    let c_held = c_tags
        .iter()
        .filter(|t| filters[fi].contains(t) || delta_set.contains(t))
        .count();
    let mut o = inputs(
        cv,
        &[
            "note",
            "blinding",
            "input_indices",
            "blind",
            "order",
            "proof_nonce",
        ],
    );
    o.insert("hashed".into(), hex_list(&oprf::compress_batch(&c_hashed)));
    o.insert(
        "blinded".into(),
        hex_list(&oprf::compress_batch(&c_blinded)),
    );
    o.insert(
        "evaluated".into(),
        hex_list(&oprf::compress_batch(&answered)),
    );
    o.insert("sum_blinded".into(), h(sum_c.compress().as_bytes()));
    o.insert("sum_evaluated".into(), h(sum_f.compress().as_bytes()));
    o.insert("proof".into(), h(&c_proof.to_bytes()));
    o.insert(
        "unblinded".into(),
        hex_list(&oprf::compress_batch(&c_unblinded)),
    );
    o.insert("tags".into(), hex_list(&c_tags));
    o.insert("count".into(), json!(c_held));
    out.insert("count".into(), Value::Object(o));

    let ctx = Ctx {
        sk,
        pk,
        tags,
        bloom_seed,
        filters,
        filter_members,
        delta_tags,
        signing_key: key,
        signing_seed: arr::<32>(s(dv, "signing_seed")),
        filter_index: fi,
        signed,
        undersized,
        descriptor,
        blinded,
        evaluated,
        proof: proof.to_bytes(),
        query_id: arr::<16>(s(ev, "query_id")),
    };

    // Frames.
    let frames: Vec<Value> = file["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|fv| {
            let name = s(fv, "name");
            let bytes = frame_bytes(name, &ctx);
            let mut o = inputs(fv, &["name", "note"]);
            o.insert("diag".into(), Value::String(diag(&bytes[HEADER_LEN..])));
            o.insert("hex".into(), h(&bytes));
            Value::Object(o)
        })
        .collect();
    out.insert("frames".into(), Value::Array(frames));
    (Value::Object(out), ctx)
}

const STALE_MESSAGE: &str =
    "epoch 3 of `phones` is no longer current (now 4); fetch the descriptor again";

enum Msg {
    Req(PartnerRequest),
    Resp(PartnerResponse),
}

/// The message each named frame vector carries.
fn message(name: &str, c: &Ctx) -> Option<Msg> {
    let collection = c.descriptor.collection.clone();
    let epoch = c.descriptor.epoch;
    Some(match name {
        "get_descriptor" => Msg::Req(PartnerRequest::GetDescriptor { collection }),
        "get_filter" => Msg::Req(PartnerRequest::GetFilter { collection, epoch }),
        "get_delta" => Msg::Req(PartnerRequest::GetDelta {
            collection,
            epoch,
            from: 0,
        }),
        "evaluate" => Msg::Req(PartnerRequest::Evaluate(EvaluateRequest {
            query_id: ByteArray::new(c.query_id),
            collection,
            epoch,
            blinded: pack(&c.blinded),
            mode: Default::default(),
            audit: None,
        })),
        "descriptor" => Msg::Resp(PartnerResponse::Descriptor(c.signed.clone())),
        "filter_start" => Msg::Resp(PartnerResponse::FilterStart {
            epoch,
            total_bytes: c.filters[c.filter_index].as_bytes().len() as u64,
        }),
        "filter_chunk" => Msg::Resp(PartnerResponse::FilterChunk {
            bytes: c.filters[c.filter_index].as_bytes().to_vec(),
        }),
        "delta" => Msg::Resp(PartnerResponse::Delta {
            epoch,
            from: 0,
            tags: pack(&c.delta_tags[0]),
        }),
        "evaluated" => Msg::Resp(PartnerResponse::Evaluated(EvaluateResponse {
            query_id: ByteArray::new(c.query_id),
            epoch,
            evaluated: pack(&c.evaluated),
            proof: ByteArray::new(c.proof),
            receipt: vector_receipt(c),
            audit: None,
        })),
        "error" => Msg::Resp(PartnerResponse::Error(RemoteError::new(
            ErrorCode::StaleEpoch,
            STALE_MESSAGE,
        ))),
        "error_unknown_code" => return None,
        other => panic!("no message for frame vector {other:?}"),
    })
}

/// The holder's receipt in the `evaluated` frame: signed by the descriptor key (Ed25519 is
/// deterministic, so the frame is a fixed vector), time = the descriptor's `issued_at`.
fn vector_receipt(c: &Ctx) -> String {
    let r = cordon_protocol::audit::receipt::Receipt {
        exchange_id: c.query_id,
        holder: c.descriptor.node.clone(),
        querier: "jp".into(),
        collection: c.descriptor.collection.clone(),
        epoch: c.descriptor.epoch,
        mode: "match".into(),
        items: c.blinded.len() as u64,
        request_digest: cordon_protocol::audit::receipt::request_digest(&pack(&c.blinded)),
        time: c.descriptor.issued_at,
    };
    let signer =
        cordon_protocol::audit::note::Signer::from_seed(&c.descriptor.node, &c.signing_seed)
            .unwrap();
    r.sign(&signer).unwrap()
}

fn frame_bytes(name: &str, c: &Ctx) -> Vec<u8> {
    match message(name, c) {
        Some(Msg::Req(r)) => frame::encode(&r).unwrap(),
        Some(Msg::Resp(r)) => frame::encode(&r).unwrap(),
        None => {
            // What a newer peer might send: an error code this build does not know.
            #[derive(serde::Serialize)]
            #[serde(rename_all = "snake_case")]
            enum Newer {
                Error { code: String, message: String },
            }
            frame::encode(&Newer::Error {
                code: "rate_limited".into(),
                message: "try again later".into(),
            })
            .unwrap()
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[test]
fn every_vector_matches_the_code() {
    let file = vectors();
    let (computed, _) = compute(&file);
    // To regenerate after a deliberate change: CORDON_VECTORS_OUT=/tmp/c.json, then review
    // and copy the changed fields into spec/vectors/cordon.json.
    if let Ok(out) = std::env::var("CORDON_VECTORS_OUT") {
        std::fs::write(&out, serde_json::to_string_pretty(&computed).unwrap()).unwrap();
    }
    let mut diffs = Vec::new();
    diff("$", &file, &computed, &mut diffs);
    assert!(
        diffs.is_empty(),
        "spec/vectors/cordon.json disagrees with the code:\n{}",
        diffs.join("\n")
    );
}

/// The querier's and holder's real count-mode code, given the vector's blind, order and nonce,
/// send exactly `blinded`, answer exactly `evaluated` and `proof`, and find exactly `tags`.
#[test]
fn count_vector_is_what_the_code_does() {
    let file = vectors();
    let (_, ctx) = compute(&file);
    let cv = &file["count"];
    let inputs: Vec<Vec<u8>> = indices(cv, "input_indices")
        .iter()
        .map(|&i| s(&file["tags"][i], "input").as_bytes().to_vec())
        .collect();
    let list = |name: &str| -> Vec<u8> {
        cv[name]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|x| unhex(x.as_str().unwrap()))
            .collect()
    };
    let batch =
        CountBatch::with_blind(&HashedInputs::new(&inputs), scalar(s(cv, "blind"))).unwrap();
    assert_eq!(batch.request_bytes(), list("blinded"));
    let pk = oprf::PublicKey::from_bytes(&ctx.pk).unwrap();
    let (evaluated, proof) = holder_evaluate_count_with(
        &ctx.sk,
        &pk,
        &list("blinded"),
        &indices(cv, "order"),
        scalar(s(cv, "proof_nonce")),
    )
    .unwrap();
    assert_eq!(evaluated, list("evaluated"));
    assert_eq!(hex::encode(proof), s(cv, "proof"));
    let tags = batch.finish(&ctx.pk, &evaluated, &proof).unwrap();
    assert_eq!(tags.concat(), list("tags"));
    // Unordered, they are the match-mode tags of the same inputs.
    let mut want: Vec<Tag> = indices(cv, "input_indices")
        .iter()
        .map(|&i| ctx.tags[i])
        .collect();
    let mut got = tags;
    want.sort();
    got.sort();
    assert_eq!(got, want);
}

#[test]
fn frames_decode_to_their_messages() {
    let file = vectors();
    let (_, ctx) = compute(&file);
    for fv in file["frames"].as_array().unwrap() {
        let name = s(fv, "name");
        let bytes = unhex(s(fv, "hex"));
        assert_eq!(bytes[0], FRAME_VERSION, "{name}: version byte");
        let len = u32::from_be_bytes(bytes[1..5].try_into().unwrap()) as usize;
        assert_eq!(len, bytes.len() - HEADER_LEN, "{name}: length field");
        match message(name, &ctx) {
            Some(Msg::Req(want)) => {
                let got: PartnerRequest = frame::decode_frame(&bytes).unwrap();
                assert_eq!(got, want, "{name}");
            }
            Some(Msg::Resp(want)) => {
                let got: PartnerResponse = frame::decode_frame(&bytes).unwrap();
                assert_eq!(got, want, "{name}");
            }
            None => {
                let got: PartnerResponse = frame::decode_frame(&bytes).unwrap();
                let PartnerResponse::Error(e) = got else {
                    panic!("{name}: not an error response");
                };
                assert_eq!(e.code, ErrorCode::Unknown, "{name}");
                assert_eq!(e.message, "try again later");
            }
        }
        // Any byte more, or one byte less, is refused.
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(frame::decode_frame::<PartnerResponse>(&longer).is_err());
        assert!(frame::decode_frame::<PartnerRequest>(&longer).is_err());
        assert!(frame::split_frame(&bytes[..bytes.len() - 1]).is_err());
    }
}

#[test]
fn descriptor_verifies_and_agrees_with_the_other_vectors() {
    let file = vectors();
    let (_, ctx) = compute(&file);
    let dv = &file["descriptor"];
    let signed = SignedDescriptor {
        body: ByteBuf::from(unhex(s(dv, "body"))),
        signature: ByteArray::new(arr::<64>(s(dv, "signature"))),
    };
    assert_eq!(signed, ctx.signed);
    let key = arr::<32>(s(dv, "signing_public_key"));
    let (node, collection) = (s(dv, "node"), s(dv, "collection"));
    for t in dv["valid_at"].as_array().unwrap() {
        let d = signed
            .verify(&key, node, collection, t.as_u64().unwrap())
            .unwrap_or_else(|e| panic!("valid at {t}: {e}"));
        assert_eq!(d, ctx.descriptor);
    }
    for t in dv["invalid_at"].as_array().unwrap() {
        assert!(
            signed
                .verify(&key, node, collection, t.as_u64().unwrap())
                .is_err(),
            "must be refused at {t}"
        );
    }
    let now = u(dv, "issued_at");
    assert!(signed.verify(&key, "jp", collection, now).is_err());
    assert!(signed.verify(&key, node, "emails", now).is_err());
    assert!(signed.verify(&ctx.pk, node, collection, now).is_err());
    let mut tampered = signed.clone();
    tampered.body[3] ^= 1;
    assert!(tampered.verify(&key, node, collection, now).is_err());

    // The descriptor commits to the OPRF key, the filter and the delta of the other vectors.
    let d = &ctx.descriptor;
    assert_eq!(*d.public_key, ctx.pk);
    assert_eq!(
        hex::encode(*d.public_key),
        s(&file["oprf_key"], "public_key")
    );
    assert_eq!(*d.filter.seed, ctx.bloom_seed);
    assert_eq!(hex::encode(*d.filter.seed), s(&file["bloom_seed"], "seed"));
    // Its filter is `filters[filter_index]`: the tags of its `record_count` records, sized for
    // `filter_capacity(record_count)` = MIN_FILTER_CAPACITY (the records are fewer), exactly
    // the filter a holder's `EpochFilter::build` makes of them.
    let fi = u(dv, "filter_index") as usize;
    assert_eq!(fi, ctx.filter_index);
    let fv = &file["filters"][fi];
    assert_eq!(hex::encode(*d.filter_digest), s(fv, "digest"));
    assert_eq!(d.record_count as usize, indices(fv, "tag_indices").len());
    assert!(
        d.record_count < MIN_FILTER_CAPACITY,
        "the vector exercises the minimum"
    );
    assert_eq!(d.filter.capacity, filter_capacity(d.record_count));
    assert_eq!(d.filter.capacity, MIN_FILTER_CAPACITY);
    assert_eq!(
        d.filter,
        ctx.filters[fi].params(u(fv, "capacity"), f(fv, "fp_rate"))
    );
    let built =
        EpochFilter::build(&ctx.filter_members[fi], d.filter.fp_rate, &ctx.bloom_seed).unwrap();
    assert_eq!(built.as_bytes(), &unhex(s(fv, "bytes"))[..]);
    assert_eq!(built.as_bytes(), ctx.filters[fi].as_bytes());
    let delta = &file["delta"][u(dv, "delta_index") as usize];
    assert_eq!(hex::encode(*d.delta_chain), s(delta, "chain"));
    assert_eq!(
        d.delta_count as usize,
        delta["tags"].as_array().unwrap().len()
    );
}

#[test]
fn undersized_descriptor_is_refused() {
    let file = vectors();
    let (_, ctx) = compute(&file);
    let dv = &file["descriptor"];
    let ud = &dv["undersized"];
    let signed = SignedDescriptor {
        body: ByteBuf::from(unhex(s(ud, "body"))),
        signature: ByteArray::new(arr::<64>(s(ud, "signature"))),
    };
    assert_eq!(signed, ctx.undersized);
    let key = arr::<32>(s(dv, "signing_public_key"));
    let (node, collection) = (s(dv, "node"), s(dv, "collection"));
    // The signature is good, the filter parameters follow the sizing formulas for the stated
    // capacity, and everything but the filter is the descriptor vector's: only the capacity
    // rule (`filter.capacity = filter_capacity(record_count)`) refuses it.
    let mut msg = DESCRIPTOR_CONTEXT.to_vec();
    msg.extend_from_slice(&signed.body);
    ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, &key)
        .verify(&msg, &signed.signature[..])
        .expect("the undersized descriptor is properly signed");
    let d = signed.descriptor_unverified().unwrap();
    assert_eq!(d.filter.capacity, u(ud, "capacity"));
    assert_eq!(d.filter.capacity, d.record_count);
    assert!(d.record_count < MIN_FILTER_CAPACITY);
    assert_ne!(d.filter.capacity, filter_capacity(d.record_count));
    EpochFilter::check_params(&d.filter, &ctx.pk, f(&file["filter_checks"], "max_fp_rate"))
        .unwrap();
    let mut same = d.clone();
    same.filter = ctx.descriptor.filter.clone();
    same.filter_digest = ctx.descriptor.filter_digest;
    assert_eq!(same, ctx.descriptor);
    for t in dv["valid_at"].as_array().unwrap() {
        let r = signed.verify(&key, node, collection, t.as_u64().unwrap());
        assert!(
            matches!(r, Err(VerifyError::DescriptorMismatch(_))),
            "an undersized filter must be refused at {t}: {r:?}"
        );
    }
}

#[test]
fn descriptor_capacity_is_filter_capacity_of_record_count() {
    let file = vectors();
    let (_, ctx) = compute(&file);
    let dv = &file["descriptor"];
    let key = arr::<32>(s(dv, "signing_public_key"));
    let (node, collection, now) = (s(dv, "node"), s(dv, "collection"), u(dv, "issued_at"));
    assert_eq!(MIN_FILTER_CAPACITY, 1024);
    // (record_count, filter.capacity, accepted)
    let cases = [
        (0, 1024, true),
        (0, 0, false),
        (0, 1, false),
        (3, 1024, true),
        (3, 3, false),
        (3, 1023, false),
        (3, 1025, false),
        (1023, 1023, false),
        (1023, 1024, true),
        (1024, 1024, true),
        (1024, 1025, false),
        (1025, 1025, true),
        (1025, 1024, false),
        (1025, 1026, false),
        (5_000_000, 5_000_000, true),
    ];
    for (records, capacity, accepted) in cases {
        assert_eq!(capacity == records.max(1024), accepted);
        assert_eq!(filter_capacity(records) == capacity, accepted);
        let mut d = ctx.descriptor.clone();
        d.record_count = records;
        d.filter.capacity = capacity;
        let signed = SignedDescriptor::sign(&d, &ctx.signing_key).unwrap();
        let r = signed.verify(&key, node, collection, now);
        if accepted {
            assert_eq!(r.unwrap(), d, "{records} records, capacity {capacity}");
        } else {
            assert!(
                matches!(r, Err(VerifyError::DescriptorMismatch(_))),
                "{records} records, capacity {capacity}: {r:?}"
            );
        }
    }
}

#[test]
fn filter_bytes_follow_the_specified_layout() {
    let file = vectors();
    let (_, ctx) = compute(&file);
    for (i, fv) in file["filters"].as_array().unwrap().iter().enumerate() {
        let bytes = unhex(s(fv, "bytes"));
        let (m, k) = (u(fv, "bitmap_bytes"), u(fv, "hashes") as u32);
        let seed = arr::<32>(s(fv, "seed"));
        // Header: version, bitmap length (u64 LE), k (u32 LE), seed.
        assert_eq!(bytes[0], 1);
        assert_eq!(u64::from_le_bytes(bytes[1..9].try_into().unwrap()), m);
        assert_eq!(u32::from_le_bytes(bytes[9..13].try_into().unwrap()), k);
        assert_eq!(bytes[13..45], seed);
        assert_eq!(bytes.len() as u64, FILTER_HEADER_LEN as u64 + m);
        // Bitmap: exactly the union of the positions, bit p at byte p/8, mask 1 << (p % 8).
        let mut bitmap = vec![0u8; m as usize];
        for p in fv["positions"].as_array().unwrap().iter().flat_map(|a| {
            a.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as usize)
                .collect::<Vec<_>>()
        }) {
            bitmap[p / 8] |= 1 << (p % 8);
        }
        assert_eq!(bitmap, bytes[45..], "filters[{i}]: bitmap");
        // Accepted against the signed parameters and digest, and answers the probes.
        let params = ctx.filters[i].params(u(fv, "capacity"), f(fv, "fp_rate"));
        let g = EpochFilter::from_bytes(bytes.clone(), &params, &arr::<32>(s(fv, "digest")))
            .unwrap_or_else(|e| panic!("filters[{i}]: {e}"));
        if let Some(probes) = fv["probes"].as_array() {
            for p in probes {
                let tag = arr::<32>(s(p, "tag"));
                assert_eq!(g.contains(&tag), p["contains"].as_bool().unwrap());
            }
        }
        // A filter whose bytes are not the signed ones is refused.
        let mut flipped = bytes;
        let last = flipped.len() - 1;
        flipped[last] ^= 0x80;
        assert!(EpochFilter::from_bytes(flipped, &params, &arr::<32>(s(fv, "digest"))).is_err());
    }
}

#[test]
fn querier_and_holder_paths_give_the_same_tags() {
    let file = vectors();
    let (_, ctx) = compute(&file);
    let inputs: Vec<Vec<u8>> = file["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| s(t, "input").as_bytes().to_vec())
        .collect();
    let refs: Vec<&[u8]> = inputs.iter().map(Vec::as_slice).collect();
    // The holder's batched path (epoch build).
    assert_eq!(oprf::holder_tags(&ctx.sk, &refs).unwrap(), ctx.tags);

    // The exchange vector, read back from the file.
    let ev = &file["exchange"];
    let pk = oprf::PublicKey::from_bytes(&ctx.pk).unwrap();
    let points = |name: &str| -> Vec<RistrettoPoint> {
        ev[name]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| oprf::decode_element(&arr::<32>(x.as_str().unwrap())).unwrap())
            .collect()
    };
    let (hashed, blinded) = (points("hashed"), points("blinded"));
    let (evaluated, unblinded) = (points("evaluated"), points("unblinded"));
    let tagged = points("tagged");
    let blinds = exchange_blinds(ev);
    let two = Scalar::from(2u64);
    let picked = indices(ev, "input_indices");
    let ex_inputs: Vec<Vec<u8>> = picked.iter().map(|&i| inputs[i].clone()).collect();
    let want: Vec<Tag> = picked.iter().map(|&i| ctx.tags[i]).collect();
    let proof = Proof::from_bytes(&arr::<64>(s(ev, "proof"))).unwrap();
    oprf::verify_proof(Mode::Voprf, &pk, &blinded, &evaluated, &proof).unwrap();
    for i in 0..picked.len() {
        let (p, r) = (hashed[i], blinds[i]);
        assert_eq!(p, oprf::hash_to_group(Mode::Voprf, &ex_inputs[i]), "P_{i}");
        assert_eq!(
            ev["unblind_scalars"][i].as_str().unwrap(),
            hex::encode((two * r).as_bytes()),
            "2·r_{i}"
        );
        assert_eq!(
            blinded[i],
            two * (p + r * RISTRETTO_BASEPOINT_POINT),
            "C_{i} = 2·(P_i + r_i·G)"
        );
        assert_eq!(
            unblinded[i],
            evaluated[i] - (two * r) * pk.as_point(),
            "V_{i} = E_i − 2r_i·pk"
        );
        // V_i is twice the holder's k·P_i, the element of the `tags` vector, and the tag is
        // over its double, 4k·P_i: the `tagged` encoding of the `tags` vector.
        let t = &file["tags"][picked[i]];
        let element = oprf::decode_element(&arr::<32>(s(t, "element"))).unwrap();
        assert_eq!(unblinded[i], two * element, "V_{i} = 2·element");
        assert_eq!(tagged[i], two * unblinded[i], "2·V_{i}");
        assert_eq!(hex::encode(tagged[i].compress().as_bytes()), s(t, "tagged"));
        assert_eq!(oprf::tag_of_element(&element), want[i], "tag_of_element");
    }
    assert_eq!(oprf::tags_of_doubled(&unblinded), want);
    let elements: Vec<RistrettoPoint> = unblinded.iter().map(|v| v * two.invert()).collect();
    assert_eq!(oprf::tags_of_elements(&elements), want);

    // The querier's real code, given the vector's blinds, sends exactly `blinded` and turns
    // `evaluated` and `proof` into exactly `tags`.
    let hashed_inputs = HashedInputs::new(&ex_inputs);
    let mut rng = ScriptedBlinds::new(&blinds);
    let batch = BlindedBatch::new(&hashed_inputs, &mut rng);
    assert_eq!(rng.at, rng.bytes.len(), "one 64-byte draw per blind");
    assert_eq!(batch.request_bytes(), pack(&ctx.blinded));
    assert_eq!(
        unpack("blinded", &batch.request_bytes()).unwrap(),
        oprf::double_and_encode(
            &hashed
                .iter()
                .zip(&blinds)
                .map(|(p, r)| p + r * RISTRETTO_BASEPOINT_POINT)
                .collect::<Vec<_>>()
        )
    );
    let ev_packed = pack(&ctx.evaluated);
    assert_eq!(batch.finish(&ctx.pk, &ev_packed, &ctx.proof).unwrap(), want);
    // It refuses the answer under another key, or with two answers swapped.
    let (_, other_pk) = oprf::generate_key_pair(&mut rand::rngs::OsRng);
    assert!(batch
        .finish(&other_pk.to_bytes(), &ev_packed, &ctx.proof)
        .is_err());
    let swapped = pack(&[ctx.evaluated[1], ctx.evaluated[0], ctx.evaluated[2]]);
    assert!(batch.finish(&ctx.pk, &swapped, &ctx.proof).is_err());

    // The holder's real code evaluates the packed request to the same elements, with a
    // proof (random nonce) that verifies; swapped answers no longer verify.
    let (ev_bytes, proof) =
        holder_evaluate(&ctx.sk, &pk, &pack(&ctx.blinded), &mut rand::rngs::OsRng).unwrap();
    assert_eq!(unpack("evaluated", &ev_bytes).unwrap(), ctx.evaluated);
    let proof = Proof::from_bytes(&proof).unwrap();
    oprf::verify_proof(Mode::Voprf, &pk, &blinded, &evaluated, &proof).unwrap();
    let swapped = vec![evaluated[1], evaluated[0], evaluated[2]];
    assert!(oprf::verify_proof(Mode::Voprf, &pk, &blinded, &swapped, &proof).is_err());

    // Other queriers are served by the same holder code and get the same tags, tagging
    // encode(4·U) for U = k·P: the holder cannot tell them apart.
    let serve = |request: &[RistrettoPoint]| -> Vec<RistrettoPoint> {
        let (ev_bytes, proof) = holder_evaluate(
            &ctx.sk,
            &pk,
            &pack(&oprf::compress_batch(request)),
            &mut rand::rngs::OsRng,
        )
        .unwrap();
        let ev_points = oprf::decode_elements(&unpack("evaluated", &ev_bytes).unwrap()).unwrap();
        let proof = Proof::from_bytes(&proof).unwrap();
        oprf::verify_proof(Mode::Voprf, &pk, request, &ev_points, &proof).unwrap();
        ev_points
    };
    // Multiplicatively, as in RFC 9497: B = r·P, U = r⁻¹·E = k·P, tag_of_element(U).
    let ex_refs: Vec<&[u8]> = ex_inputs.iter().map(Vec::as_slice).collect();
    let mult = oprf::blind_batch_with(Mode::Voprf, &ex_refs, &blinds).unwrap();
    let mult_u = oprf::unblind_batch(&blinds, &serve(&mult)).unwrap();
    let mult_tags: Vec<Tag> = mult_u.iter().map(oprf::tag_of_element).collect();
    assert_eq!(mult_tags, want);
    assert_eq!(oprf::tags_of_elements(&mult_u), want);
    // Additively without the doubling: B = P + r·G, U = E − r·pk = k·P, tag_of_element(U).
    let plain: Vec<RistrettoPoint> = hashed
        .iter()
        .zip(&blinds)
        .map(|(p, r)| p + r * RISTRETTO_BASEPOINT_POINT)
        .collect();
    let plain_tags: Vec<Tag> = serve(&plain)
        .iter()
        .zip(&blinds)
        .map(|(e, r)| oprf::tag_of_element(&(e - r * pk.as_point())))
        .collect();
    assert_eq!(plain_tags, want);

    // Why additive blinding is never used with one blind for a whole batch (count mode):
    // the differences of the blinded elements would be those of the hashed inputs.
    let shared = blinds[0];
    let b: Vec<RistrettoPoint> = hashed
        .iter()
        .map(|p| p + shared * RISTRETTO_BASEPOINT_POINT)
        .collect();
    assert_eq!(b[0] - b[1], hashed[0] - hashed[1]);
}

#[test]
fn filter_checks_agree_with_the_descriptor() {
    let file = vectors();
    let (_, ctx) = compute(&file);
    let fc = &file["filter_checks"];
    assert_eq!(s(fc, "public_key"), s(&file["oprf_key"], "public_key"));
    let cases = fc["cases"].as_array().unwrap();
    // The first case is the descriptor's own filter, which a querier accepts.
    assert_eq!(filter_params(&cases[0]["params"]), ctx.descriptor.filter);
    assert!(cases[0]["accepted"].as_bool().unwrap());
    EpochFilter::check_params(&ctx.descriptor.filter, &ctx.pk, f(fc, "max_fp_rate")).unwrap();
    // Every refused case is refused for one reason: it differs from honest parameters for its
    // (capacity, fp_rate) in one field only.
    for c in cases {
        let p = filter_params(&c["params"]);
        // Every case states a capacity a verified descriptor can carry (§5.8).
        assert!(p.capacity >= MIN_FILTER_CAPACITY, "{}", s(c, "name"));
        let honest = EpochFilter::new(p.capacity, p.fp_rate, &ctx.bloom_seed)
            .unwrap()
            .params(p.capacity, p.fp_rate);
        let differing = [
            p.bitmap_bytes != honest.bitmap_bytes,
            p.hashes != honest.hashes,
            p.seed != honest.seed,
            p.fp_rate > f(fc, "max_fp_rate"),
        ]
        .iter()
        .filter(|x| **x)
        .count();
        let accepted = c["accepted"].as_bool().unwrap();
        assert_eq!(differing, usize::from(!accepted), "{}", s(c, "name"));
    }
}

#[test]
fn the_largest_requests_and_answers_fit_one_frame() {
    let full = vec![[7u8; 32]; MAX_ITEMS_PER_REQUEST];
    let req = PartnerRequest::Evaluate(EvaluateRequest {
        query_id: ByteArray::new([0; 16]),
        collection: "a".repeat(64),
        epoch: u64::MAX,
        blinded: pack(&full),
        mode: Default::default(),
        audit: Some(cordon_protocol::messages::AuditHello {
            checkpoint: "c".repeat(2000),
            proof_from: u64::MAX,
            proof: vec![0; 64 * 32],
            seen: u64::MAX,
            cosignature: Some("s".repeat(200)),
        }),
    });
    assert!(frame::encode(&req).is_ok());
    let resp = PartnerResponse::Evaluated(EvaluateResponse {
        query_id: ByteArray::new([0; 16]),
        epoch: u64::MAX,
        evaluated: pack(&full),
        proof: ByteArray::new([0; 64]),
        receipt: "r".repeat(1000),
        audit: Some(cordon_protocol::messages::AuditReply {
            checkpoint: "c".repeat(2000),
            proof: vec![0; 64 * 32],
            cosignature: Some("s".repeat(200)),
            known: u64::MAX,
        }),
    });
    assert!(frame::encode(&resp).is_ok());
    let delta = PartnerResponse::Delta {
        epoch: u64::MAX,
        from: u64::MAX,
        tags: pack(&vec![[7u8; 32]; MAX_DELTA_TAGS_PER_FRAME]),
    };
    assert!(frame::encode(&delta).is_ok());
    assert_eq!(
        MAX_ITEMS_PER_REQUEST, MAX_BATCH,
        "one evaluate is one DLEQ batch"
    );
}

#[test]
fn vector_inputs_are_canonical_identifiers() {
    for t in vectors()["tags"].as_array().unwrap() {
        let input = s(t, "input");
        let (kind, value) = input.split_once(':').unwrap();
        let kind: Kind = kind.parse().unwrap();
        let c = canonicalize(kind, value, &Options::default())
            .unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(c.value(), value, "{input} is not in canonical form");
        assert_eq!(c.oprf_input(), input.as_bytes());
    }
}

#[test]
fn error_codes_are_cbor_text_strings() {
    for code in error_codes() {
        let mut buf = Vec::new();
        ciborium::into_writer(&code, &mut buf).unwrap();
        assert_eq!(diag(&buf), format!("\"{}\"", code.as_str()));
        let back: ErrorCode = ciborium::from_reader(&buf[..]).unwrap();
        assert_eq!(back, code);
    }
}
