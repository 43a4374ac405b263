//! RFC 9497 oblivious PRF primitives for the ciphersuite `ristretto255-SHA512`, and the
//! Cordon tag derived from an OPRF output element.
//!
//! # What this module does
//!
//! * The RFC 9497 building blocks for the OPRF (mode 0) and VOPRF (mode 1) protocol variants:
//!   context strings, `expand_message_xmd` with SHA-512 (RFC 9380 §5.3.1), `HashToGroup`,
//!   `HashToScalar`, `DeriveKeyPair`, `Blind`, `BlindEvaluate`, `Finalize`, `Evaluate`, and
//!   the batched DLEQ proof (`GenerateProof` / `VerifyProof`, RFC 9497 §2.2). It passes the
//!   RFC's test vectors (`spec/vectors/oprf/ristretto255-sha512.json`).
//! * Strict decoding: [`decode_element`] rejects non-canonical encodings and the identity, as
//!   RFC 9497 `DeserializeElement` requires; [`Proof::from_bytes`] and
//!   [`SecretKey::from_bytes`] reject non-canonical scalars.
//! * Cordon tags ([`Tag`], [`tag_of_element`]): a hash of the *unblinded element* `k·H(y)`
//!   rather than of `(y, k·H(y))` as RFC `Finalize` does. The querier can therefore derive the
//!   tag of an answer without knowing which input it belongs to, which count mode needs
//!   (the holder shuffles its answers). The holder computes the same tags for its whole
//!   collection with [`holder_tags`]; the querier gets them through
//!   [`blind`] → holder [`blind_evaluate`] → [`unblind`] / [`unblind_batch`] → [`tag_of_element`].
//!
//! # What it does not do
//!
//! It keeps no protocol state, does no I/O and knows nothing of messages, budgets, epochs or
//! filters. Randomness always comes from the caller (`&mut (impl RngCore + CryptoRng)`).
//! POPRF (mode 2) is not implemented: Cordon does not use public metadata.
//!
//! # Why by hand instead of the `voprf` crate
//!
//! The `voprf` crate does not offer what Cordon's hot paths need: parallel batch evaluation
//! (the holder evaluates up to 1M inputs per epoch build), multiscalar batch verification of
//! the DLEQ proof, and tag derivation from the unblinded element (count mode and the Bloom
//! filters). The group arithmetic is curve25519-dalek's; this module only composes it.
//!
//! # Performance and side channels
//!
//! Batch operations run on rayon's global pool once they are large enough to pay for it.
//! Operations with secret scalars (the key `k`, blinds, proof nonces) use dalek's
//! constant-time scalar multiplication; the variable-time multiscalar multiplication is used
//! only on public data (the composites of the DLEQ proof, whose weights and points the peer
//! knows too).

use curve25519_dalek::constants::RISTRETTO_BASEPOINT_TABLE;
use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{Identity, IsIdentity, VartimeMultiscalarMul};
use rand_core::{CryptoRng, RngCore};
use rayon::prelude::*;
use sha2::{Digest, Sha512};
use subtle::{Choice, ConstantTimeEq};

/// RFC 9497 ciphersuite identifier.
pub const SUITE_ID: &str = "ristretto255-SHA512";
/// Length of an encoded element (compressed ristretto255).
pub const ELEMENT_LEN: usize = 32;
/// Length of an encoded scalar (little-endian, canonical).
pub const SCALAR_LEN: usize = 32;
/// Length of an OPRF output (`Nh`, SHA-512).
pub const OUTPUT_LEN: usize = 64;
/// Length of an encoded [`Proof`] (`c || s`).
pub const PROOF_LEN: usize = 64;
/// Longest input the RFC allows: `Finalize` prefixes it with a two-byte length.
pub const MAX_INPUT_LEN: usize = u16::MAX as usize;
/// Largest batch one DLEQ proof can cover: `ComputeComposites` encodes the index in two bytes.
pub const MAX_BATCH: usize = 1 << 16;

/// Cordon tag: the first 32 bytes of a domain-separated SHA-512 of an unblinded OPRF element.
pub type Tag = [u8; 32];
/// Domain separation tag for [`tag_of_element`]. Changing it changes every tag.
pub const TAG_DST: &[u8] = b"CordonTag-v1-ristretto255-SHA512";

/// Below this many items a batch runs on the calling thread: rayon's fork/join overhead is
/// then comparable to the work (each item costs roughly 5–50 µs).
const PAR_MIN: usize = 64;
/// Below this many terms a multiscalar multiplication is not split across threads
/// (Pippenger gets cheaper per term as it grows, so splitting small ones loses).
const MSM_PAR_MIN: usize = 2048;
/// Items per batch in [`holder_tags`]: one field inversion is shared by this many elements.
const TAG_CHUNK: usize = 256;

/// RFC 9497 protocol variant. Its value is the `mode` byte of the context string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Mode {
    /// Plain OPRF: no proof that the server used a particular key.
    Oprf = 0,
    /// Verifiable OPRF: every evaluation comes with a DLEQ proof against the public key.
    Voprf = 1,
}

impl Mode {
    /// The static one-byte encoding, so DSTs can be hashed in parts without allocating.
    fn id_bytes(self) -> &'static [u8] {
        match self {
            Mode::Oprf => &[0],
            Mode::Voprf => &[1],
        }
    }
}

impl TryFrom<u8> for Mode {
    type Error = OprfError;

    fn try_from(value: u8) -> Result<Self, Self::Error> {
        match value {
            0 => Ok(Mode::Oprf),
            1 => Ok(Mode::Voprf),
            _ => Err(OprfError::InvalidInput("unsupported OPRF mode")),
        }
    }
}

/// Errors of the OPRF primitives. Indices refer to the position in the batch given.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)] // the fields are the indices and lengths the message quotes
pub enum OprfError {
    /// The bytes are not a canonical ristretto255 encoding.
    #[error("element {index} is not a canonical ristretto255 encoding")]
    InvalidElement { index: usize },
    /// The element is the identity, which RFC 9497 `DeserializeElement` rejects.
    #[error("element {index} is the identity element")]
    IdentityElement { index: usize },
    /// A scalar is not canonically encoded, or is zero where zero is not allowed.
    #[error("scalar is zero or not canonically encoded")]
    InvalidScalar,
    /// A parameter is out of range (empty or oversized batch, bad length, unknown mode).
    #[error("invalid input: {0}")]
    InvalidInput(&'static str),
    /// An OPRF input is longer than [`MAX_INPUT_LEN`].
    #[error("input {index} is {len} bytes long; at most 65535 bytes are allowed")]
    InputTooLong { index: usize, len: usize },
    /// An OPRF input hashes to the identity element (probability about 2^-252).
    #[error("input {index} hashes to the identity element")]
    InputMapsToIdentity { index: usize },
    /// The DLEQ proof does not verify.
    #[error("DLEQ proof does not verify")]
    ProofInvalid,
    /// The two sides of a batch differ in length.
    #[error("{blinded} blinded elements (or blinds) but {evaluated} evaluated elements")]
    LengthMismatch { blinded: usize, evaluated: usize },
    /// `DeriveKeyPair` found no non-zero scalar in 256 attempts (probability about 2^-64000).
    #[error("DeriveKeyPair found no non-zero scalar in 256 attempts")]
    DeriveKeyPairError,
}

// ---------------------------------------------------------------------------------------------
// Context strings and hashing
// ---------------------------------------------------------------------------------------------

/// The context string in parts: "OPRFV1-" || I2OSP(mode, 1) || "-" || SUITE_ID.
fn ctx_parts(mode: Mode) -> [&'static [u8]; 4] {
    [b"OPRFV1-", mode.id_bytes(), b"-", SUITE_ID.as_bytes()]
}

/// A domain separation tag `prefix || contextString`, in parts.
fn dst_parts(prefix: &'static [u8], mode: Mode) -> [&'static [u8]; 5] {
    let [a, b, c, d] = ctx_parts(mode);
    [prefix, a, b, c, d]
}

/// RFC 9497 §3.1 context string: `"OPRFV1-" || I2OSP(mode, 1) || "-" || SUITE_ID`.
pub fn context_string(mode: Mode) -> Vec<u8> {
    ctx_parts(mode).concat()
}

/// RFC 9380 §5.3.1 `expand_message_xmd` with SHA-512 into `out`.
///
/// The caller guarantees `1 <= out.len() <= 255 * 64` and that `dst_len` is the total length
/// of `dst` and at most 255.
fn xmd_into(msg: &[&[u8]], dst: &[&[u8]], dst_len: u8, out: &mut [u8]) {
    let len = out.len() as u16; // fits: out.len() <= 16320 by the caller's contract
    let mut h = Sha512::new();
    h.update([0u8; 128]); // Z_pad: one SHA-512 block
    for part in msg {
        h.update(part);
    }
    h.update(len.to_be_bytes());
    h.update([0u8]);
    for part in dst {
        h.update(part);
    }
    h.update([dst_len]);
    let b0: [u8; 64] = h.finalize().into();

    // b_1 = H(b_0 || 1 || DST'), b_i = H((b_0 xor b_{i-1}) || i || DST'); starting from an
    // all-zero b_{i-1} makes the first round the same code as the others.
    let mut prev = [0u8; 64];
    for (i, chunk) in out.chunks_mut(64).enumerate() {
        let mut x = b0;
        for (xb, pb) in x.iter_mut().zip(prev.iter()) {
            *xb ^= pb;
        }
        let mut h = Sha512::new();
        h.update(x);
        h.update([(i + 1) as u8]); // ell <= 255 by the caller's contract
        for part in dst {
            h.update(part);
        }
        h.update([dst_len]);
        prev = h.finalize().into();
        chunk.copy_from_slice(&prev[..chunk.len()]);
    }
}

/// `expand_message_xmd` for the 64 bytes the suite always needs, without allocating.
/// `dst` is one of this module's constant DSTs (all under 70 bytes).
fn xmd64(msg: &[&[u8]], dst: &[&[u8]]) -> [u8; 64] {
    let dst_len: usize = dst.iter().map(|p| p.len()).sum();
    // Internal invariant: every DST built here is a short constant.
    debug_assert!(dst_len <= 255);
    let mut out = [0u8; 64];
    xmd_into(msg, dst, dst_len as u8, &mut out);
    out
}

/// RFC 9380 §5.3.1 `expand_message_xmd` with SHA-512. `msg` is the concatenation of its
/// parts (so callers need not copy a transcript together). A DST longer than 255 bytes is
/// first hashed as RFC 9380 §5.3.3 prescribes. `len` must be in `1..=16320` (`ell <= 255`).
pub fn expand_message_xmd_sha512(
    msg: &[&[u8]],
    dst: &[u8],
    len: usize,
) -> Result<Vec<u8>, OprfError> {
    if len == 0 || len > 255 * 64 {
        return Err(OprfError::InvalidInput(
            "expand_message_xmd: output length must be 1..=16320 bytes",
        ));
    }
    if dst.is_empty() {
        return Err(OprfError::InvalidInput("expand_message_xmd: empty DST"));
    }
    let hashed;
    let dst: &[u8] = if dst.len() > 255 {
        hashed = Sha512::new()
            .chain_update(b"H2C-OVERSIZE-DST-")
            .chain_update(dst)
            .finalize();
        &hashed
    } else {
        dst
    };
    let mut out = vec![0u8; len];
    // dst.len() <= 255 here: either it was, or it is now a 64-byte hash.
    xmd_into(msg, &[dst], dst.len() as u8, &mut out);
    Ok(out)
}

/// RFC 9497 `HashToGroup`: hash_to_ristretto255 (RFC 9380 / RFC 9496) with
/// DST `"HashToGroup-" || contextString`.
pub fn hash_to_group(mode: Mode, input: &[u8]) -> RistrettoPoint {
    let uniform = xmd64(&[input], &dst_parts(b"HashToGroup-", mode));
    RistrettoPoint::from_uniform_bytes(&uniform)
}

/// RFC 9497 `HashToScalar` with DST `"HashToScalar-" || contextString`; `input` is the
/// concatenation of its parts.
pub fn hash_to_scalar(mode: Mode, input: &[&[u8]]) -> Scalar {
    hash_to_scalar_dst(input, &dst_parts(b"HashToScalar-", mode))
}

/// `HashToScalar` with an explicit DST (DeriveKeyPair uses its own).
fn hash_to_scalar_dst(input: &[&[u8]], dst: &[&[u8]]) -> Scalar {
    Scalar::from_bytes_mod_order_wide(&xmd64(input, dst))
}

/// A uniformly random scalar: 64 bytes from `rng` reduced modulo ℓ (bias below 2^-250).
///
/// The same draw as curve25519-dalek's own `Scalar::random`, written here so that the crate's
/// randomness stays on one `rand_core` version (dalek 5 takes a newer one).
pub fn random_scalar(rng: &mut (impl RngCore + CryptoRng)) -> Scalar {
    let mut wide = [0u8; 64];
    rng.fill_bytes(&mut wide);
    Scalar::from_bytes_mod_order_wide(&wide)
}

/// A uniformly random non-zero scalar (RFC 9497 `RandomScalar`): zero would make a blind or
/// a proof nonce useless, so it is redrawn (probability about 2^-252).
fn random_nonzero_scalar(rng: &mut (impl RngCore + CryptoRng)) -> Scalar {
    loop {
        let s = random_scalar(rng);
        if s != Scalar::ZERO {
            return s;
        }
    }
}

fn is_zero(s: &Scalar) -> bool {
    bool::from(s.ct_eq(&Scalar::ZERO))
}

fn check_input_len(input: &[u8], index: usize) -> Result<(), OprfError> {
    if input.len() > MAX_INPUT_LEN {
        return Err(OprfError::InputTooLong {
            index,
            len: input.len(),
        });
    }
    Ok(())
}

/// Runs `f(0..n)` in order, on rayon's pool when the batch is large enough.
fn par_collect<U: Send>(n: usize, f: impl Fn(usize) -> U + Sync + Send) -> Vec<U> {
    if n < PAR_MIN {
        (0..n).map(f).collect()
    } else {
        (0..n).into_par_iter().map(f).collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Keys and elements
// ---------------------------------------------------------------------------------------------

/// The server's (holder's) OPRF key `k`: a non-zero scalar. `Debug` does not print it.
#[derive(Clone)]
pub struct SecretKey(Scalar);

impl SecretKey {
    /// Decodes a canonical little-endian scalar; rejects zero and non-canonical encodings.
    pub fn from_bytes(bytes: &[u8; SCALAR_LEN]) -> Result<Self, OprfError> {
        let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(*bytes))
            .ok_or(OprfError::InvalidScalar)?;
        Self::from_scalar(s)
    }

    /// Wraps a scalar; rejects zero.
    pub fn from_scalar(s: Scalar) -> Result<Self, OprfError> {
        if is_zero(&s) {
            return Err(OprfError::InvalidScalar);
        }
        Ok(SecretKey(s))
    }

    /// The canonical 32-byte little-endian encoding.
    pub fn to_bytes(&self) -> [u8; SCALAR_LEN] {
        self.0.to_bytes()
    }

    /// `pk = k·G`.
    pub fn public_key(&self) -> PublicKey {
        let point = &self.0 * RISTRETTO_BASEPOINT_TABLE;
        PublicKey {
            point,
            bytes: point.compress().to_bytes(),
        }
    }
}

impl core::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

impl ConstantTimeEq for SecretKey {
    fn ct_eq(&self, other: &Self) -> Choice {
        self.0.ct_eq(&other.0)
    }
}

impl PartialEq for SecretKey {
    fn eq(&self, other: &Self) -> bool {
        bool::from(self.ct_eq(other))
    }
}

impl Eq for SecretKey {}

/// The server's public key `pk = k·G`, kept with its encoding (the proof transcripts hash it).
#[derive(Clone, Copy)]
pub struct PublicKey {
    point: RistrettoPoint,
    bytes: [u8; ELEMENT_LEN],
}

impl PublicKey {
    /// Decodes a public key; rejects non-canonical encodings and the identity.
    pub fn from_bytes(bytes: &[u8; ELEMENT_LEN]) -> Result<Self, OprfError> {
        let point = decode_element(bytes)?;
        Ok(PublicKey {
            point,
            bytes: *bytes,
        })
    }

    /// Wraps a point; rejects the identity.
    pub fn from_point(point: RistrettoPoint) -> Result<Self, OprfError> {
        if point.is_identity() {
            return Err(OprfError::IdentityElement { index: 0 });
        }
        Ok(PublicKey {
            point,
            bytes: point.compress().to_bytes(),
        })
    }

    /// The 32-byte compressed encoding.
    pub fn to_bytes(&self) -> [u8; ELEMENT_LEN] {
        self.bytes
    }

    /// The group element.
    pub fn as_point(&self) -> &RistrettoPoint {
        &self.point
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        // Canonical encodings are unique, so comparing them compares the elements.
        self.bytes == other.bytes
    }
}

impl Eq for PublicKey {}

impl core::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("PublicKey(")?;
        for b in self.bytes {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

/// RFC 9497 §3.2.1 `DeriveKeyPair(seed, info)`.
pub fn derive_key_pair(
    mode: Mode,
    seed: &[u8; 32],
    info: &[u8],
) -> Result<(SecretKey, PublicKey), OprfError> {
    let info_len = u16::try_from(info.len())
        .map_err(|_| OprfError::InvalidInput("key info longer than 65535 bytes"))?
        .to_be_bytes();
    let dst = dst_parts(b"DeriveKeyPair", mode);
    for counter in 0..=u8::MAX {
        let s = hash_to_scalar_dst(&[seed, &info_len, info, &[counter]], &dst);
        if let Ok(sk) = SecretKey::from_scalar(s) {
            let pk = sk.public_key();
            return Ok((sk, pk));
        }
    }
    Err(OprfError::DeriveKeyPairError)
}

/// A fresh random key pair (RFC 9497 §3.2 `GenerateKeyPair`).
pub fn generate_key_pair(rng: &mut (impl RngCore + CryptoRng)) -> (SecretKey, PublicKey) {
    let sk = SecretKey(random_nonzero_scalar(rng));
    let pk = sk.public_key();
    (sk, pk)
}

fn decode_at(bytes: &[u8; ELEMENT_LEN], index: usize) -> Result<RistrettoPoint, OprfError> {
    // The identity's only canonical encoding is all zeros; checking the bytes first is
    // exact and cheaper than decompressing.
    if bytes == &[0u8; ELEMENT_LEN] {
        return Err(OprfError::IdentityElement { index });
    }
    CompressedRistretto(*bytes)
        .decompress()
        .ok_or(OprfError::InvalidElement { index })
}

/// RFC 9497 `DeserializeElement`: rejects non-canonical encodings and the identity.
/// Errors report index 0.
pub fn decode_element(bytes: &[u8; ELEMENT_LEN]) -> Result<RistrettoPoint, OprfError> {
    decode_at(bytes, 0)
}

/// [`decode_element`] over a list, in parallel for large lists. The error names the lowest
/// failing index.
pub fn decode_elements(list: &[[u8; ELEMENT_LEN]]) -> Result<Vec<RistrettoPoint>, OprfError> {
    // Collecting in order afterwards (rather than rayon's short-circuit) makes the reported
    // index deterministic.
    par_collect(list.len(), |i| decode_at(&list[i], i))
        .into_iter()
        .collect()
}

/// Compressed encodings of `points`, in parallel for large lists.
pub fn compress_batch(points: &[RistrettoPoint]) -> Vec<[u8; ELEMENT_LEN]> {
    par_collect(points.len(), |i| points[i].compress().to_bytes())
}

// ---------------------------------------------------------------------------------------------
// Client: blind, unblind, finalize
// ---------------------------------------------------------------------------------------------

/// RFC 9497 `Blind`: returns `(blind, blind·H(input))`. Fails if the input is longer than
/// [`MAX_INPUT_LEN`] or hashes to the identity.
pub fn blind(
    mode: Mode,
    input: &[u8],
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<(Scalar, RistrettoPoint), OprfError> {
    let r = random_nonzero_scalar(rng);
    let blinded = blind_with(mode, input, r)?;
    Ok((r, blinded))
}

/// `Blind` with a given blind (test vectors, or a count-mode blind shared by a batch).
/// Rejects a zero blind.
pub fn blind_with(mode: Mode, input: &[u8], blind: Scalar) -> Result<RistrettoPoint, OprfError> {
    blind_at(mode, input, &blind, 0)
}

fn blind_at(
    mode: Mode,
    input: &[u8],
    blind: &Scalar,
    index: usize,
) -> Result<RistrettoPoint, OprfError> {
    if is_zero(blind) {
        return Err(OprfError::InvalidScalar);
    }
    check_input_len(input, index)?;
    let h = hash_to_group(mode, input);
    if h.is_identity() {
        return Err(OprfError::InputMapsToIdentity { index });
    }
    Ok(blind * h)
}

/// [`blind`] over a batch, one fresh blind per input (match mode). Blinds are drawn in order
/// from `rng`; hashing and multiplication run in parallel.
pub fn blind_batch(
    mode: Mode,
    inputs: &[&[u8]],
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<(Vec<Scalar>, Vec<RistrettoPoint>), OprfError> {
    let blinds: Vec<Scalar> = (0..inputs.len())
        .map(|_| random_nonzero_scalar(rng))
        .collect();
    let blinded = blind_batch_with(mode, inputs, &blinds)?;
    Ok((blinds, blinded))
}

/// [`blind_with`] over a batch with given blinds. The error names the lowest failing index.
pub fn blind_batch_with(
    mode: Mode,
    inputs: &[&[u8]],
    blinds: &[Scalar],
) -> Result<Vec<RistrettoPoint>, OprfError> {
    if inputs.len() != blinds.len() {
        return Err(OprfError::InvalidInput(
            "inputs and blinds differ in length",
        ));
    }
    par_collect(inputs.len(), |i| blind_at(mode, inputs[i], &blinds[i], i))
        .into_iter()
        .collect()
}

/// Blinds a whole batch with one blind (count mode: the answers come back shuffled, so the
/// querier must be able to unblind them without knowing their order).
pub fn blind_batch_shared(
    mode: Mode,
    inputs: &[&[u8]],
    blind: &Scalar,
) -> Result<Vec<RistrettoPoint>, OprfError> {
    par_collect(inputs.len(), |i| blind_at(mode, inputs[i], blind, i))
        .into_iter()
        .collect()
}

/// `blind⁻¹ · evaluated`: the holder's `k·H(input)`. A zero blind (never produced by
/// [`blind`]) yields the identity.
pub fn unblind(blind: &Scalar, evaluated: &RistrettoPoint) -> RistrettoPoint {
    blind.invert() * evaluated
}

/// [`unblind`] over a batch: one batched scalar inversion, then parallel multiplications.
/// Rejects mismatched lengths and zero blinds.
pub fn unblind_batch(
    blinds: &[Scalar],
    evaluated: &[RistrettoPoint],
) -> Result<Vec<RistrettoPoint>, OprfError> {
    if blinds.len() != evaluated.len() {
        return Err(OprfError::LengthMismatch {
            blinded: blinds.len(),
            evaluated: evaluated.len(),
        });
    }
    // Scalar::invert_batch_alloc requires non-zero inputs (a zero silently poisons every result).
    if blinds.iter().any(is_zero) {
        return Err(OprfError::InvalidScalar);
    }
    let mut inverses = blinds.to_vec();
    Scalar::invert_batch_alloc(&mut inverses);
    Ok(par_collect(evaluated.len(), |i| inverses[i] * evaluated[i]))
}

/// [`unblind`] of a whole batch blinded with one shared blind (count mode).
pub fn unblind_shared(
    blind: &Scalar,
    evaluated: &[RistrettoPoint],
) -> Result<Vec<RistrettoPoint>, OprfError> {
    if is_zero(blind) {
        return Err(OprfError::InvalidScalar);
    }
    let inverse = blind.invert();
    Ok(par_collect(evaluated.len(), |i| inverse * evaluated[i]))
}

/// `Hash(I2OSP(len(input), 2) || input || I2OSP(32, 2) || element || "Finalize")`.
/// The caller has checked `input.len() <= MAX_INPUT_LEN`.
fn finalize_hash(input: &[u8], element: &[u8; ELEMENT_LEN]) -> [u8; OUTPUT_LEN] {
    Sha512::new()
        .chain_update((input.len() as u16).to_be_bytes())
        .chain_update(input)
        .chain_update((ELEMENT_LEN as u16).to_be_bytes())
        .chain_update(element)
        .chain_update(b"Finalize")
        .finalize()
        .into()
}

/// RFC 9497 `Finalize` (OPRF and VOPRF; for VOPRF verify the proof first with
/// [`verify_proof`]). Fails on an over-long input or a zero blind.
pub fn finalize(
    input: &[u8],
    blind: &Scalar,
    evaluated: &RistrettoPoint,
) -> Result<[u8; OUTPUT_LEN], OprfError> {
    check_input_len(input, 0)?;
    if is_zero(blind) {
        return Err(OprfError::InvalidScalar);
    }
    let n = unblind(blind, evaluated);
    Ok(finalize_hash(input, &n.compress().to_bytes()))
}

// ---------------------------------------------------------------------------------------------
// Server: evaluate
// ---------------------------------------------------------------------------------------------

/// RFC 9497 `BlindEvaluate`: `k · blinded` for each element, in parallel for large batches.
pub fn blind_evaluate(sk: &SecretKey, blinded: &[RistrettoPoint]) -> Vec<RistrettoPoint> {
    // Constant-time variable-base multiplication: k is secret.
    par_collect(blinded.len(), |i| sk.0 * blinded[i])
}

/// RFC 9497 `Evaluate`: the server computes the PRF output directly from the input.
pub fn evaluate(mode: Mode, sk: &SecretKey, input: &[u8]) -> Result<[u8; OUTPUT_LEN], OprfError> {
    check_input_len(input, 0)?;
    let h = hash_to_group(mode, input);
    if h.is_identity() {
        return Err(OprfError::InputMapsToIdentity { index: 0 });
    }
    let issued = (sk.0 * h).compress().to_bytes();
    Ok(finalize_hash(input, &issued))
}

// ---------------------------------------------------------------------------------------------
// DLEQ proof (RFC 9497 §2.2)
// ---------------------------------------------------------------------------------------------

/// A batched DLEQ proof that `evaluated[i] = k·blinded[i]` for the `k` behind `pk = k·G`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Proof {
    /// The challenge.
    pub c: Scalar,
    /// The response.
    pub s: Scalar,
}

impl Proof {
    /// `c || s`, each 32 bytes little-endian.
    pub fn to_bytes(&self) -> [u8; PROOF_LEN] {
        let mut out = [0u8; PROOF_LEN];
        out[..32].copy_from_slice(self.c.as_bytes());
        out[32..].copy_from_slice(self.s.as_bytes());
        out
    }

    /// Decodes `c || s`; rejects non-canonical scalars.
    pub fn from_bytes(bytes: &[u8; PROOF_LEN]) -> Result<Self, OprfError> {
        let mut c = [0u8; 32];
        let mut s = [0u8; 32];
        c.copy_from_slice(&bytes[..32]);
        s.copy_from_slice(&bytes[32..]);
        let c = Option::<Scalar>::from(Scalar::from_canonical_bytes(c))
            .ok_or(OprfError::InvalidScalar)?;
        let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s))
            .ok_or(OprfError::InvalidScalar)?;
        Ok(Proof { c, s })
    }
}

fn check_batch(blinded: usize, evaluated: usize) -> Result<(), OprfError> {
    if blinded != evaluated {
        return Err(OprfError::LengthMismatch { blinded, evaluated });
    }
    if blinded == 0 {
        return Err(OprfError::InvalidInput("empty batch"));
    }
    if blinded > MAX_BATCH {
        return Err(OprfError::InvalidInput("batch larger than 65536 elements"));
    }
    Ok(())
}

/// The weights `d_i` of `ComputeComposites` / `ComputeCompositesFast`. One SHA-512 for the
/// seed, then one `HashToScalar` per item, in parallel. The caller has run [`check_batch`].
fn composite_weights(
    mode: Mode,
    pk_bytes: &[u8; ELEMENT_LEN],
    c: &[RistrettoPoint],
    d: &[RistrettoPoint],
) -> Vec<Scalar> {
    let (c_enc, d_enc) = rayon::join(|| compress_batch(c), || compress_batch(d));
    composite_weights_encoded(mode, pk_bytes, &c_enc, &d_enc)
}

/// [`composite_weights`] from the elements' encodings, which both sides already hold when the
/// elements came off the wire: it saves two point compressions per item.
fn composite_weights_encoded(
    mode: Mode,
    pk_bytes: &[u8; ELEMENT_LEN],
    c: &[[u8; ELEMENT_LEN]],
    d: &[[u8; ELEMENT_LEN]],
) -> Vec<Scalar> {
    let seed_dst = dst_parts(b"Seed-", mode);
    let seed_dst_len: usize = seed_dst.iter().map(|p| p.len()).sum();
    let mut h = Sha512::new();
    h.update((ELEMENT_LEN as u16).to_be_bytes());
    h.update(pk_bytes);
    h.update((seed_dst_len as u16).to_be_bytes()); // a short constant
    for part in seed_dst {
        h.update(part);
    }
    let seed: [u8; 64] = h.finalize().into();

    let h2s_dst = dst_parts(b"HashToScalar-", mode);
    const LEN_SEED: [u8; 2] = (OUTPUT_LEN as u16).to_be_bytes();
    const LEN_ELEMENT: [u8; 2] = (ELEMENT_LEN as u16).to_be_bytes();
    par_collect(c.len(), |i| {
        let (ci, di) = (&c[i], &d[i]);
        let index = (i as u16).to_be_bytes(); // i < MAX_BATCH = 2^16, checked by check_batch
        hash_to_scalar_dst(
            &[
                &LEN_SEED,
                &seed,
                &index,
                &LEN_ELEMENT,
                ci,
                &LEN_ELEMENT,
                di,
                b"Composite",
            ],
            &h2s_dst,
        )
    })
}

/// `Σ scalars[i]·points[i]` in variable time (public data only), split across rayon's
/// threads for large batches.
fn msm_vartime(scalars: &[Scalar], points: &[RistrettoPoint]) -> RistrettoPoint {
    let threads = rayon::current_num_threads();
    if scalars.len() < MSM_PAR_MIN || threads < 2 {
        return RistrettoPoint::vartime_multiscalar_mul(scalars, points);
    }
    let chunk = scalars.len().div_ceil(threads);
    scalars
        .par_chunks(chunk)
        .zip(points.par_chunks(chunk))
        .map(|(s, p)| RistrettoPoint::vartime_multiscalar_mul(s, p))
        .reduce(RistrettoPoint::identity, |a, b| a + b)
}

/// `HashToScalar(I2OSP(32,2)||Bm || I2OSP(32,2)||M || I2OSP(32,2)||Z || I2OSP(32,2)||t2 ||
/// I2OSP(32,2)||t3 || "Challenge")`.
fn challenge(
    mode: Mode,
    pk_bytes: &[u8; ELEMENT_LEN],
    m: &RistrettoPoint,
    z: &RistrettoPoint,
    t2: &RistrettoPoint,
    t3: &RistrettoPoint,
) -> Scalar {
    const LEN_ELEMENT: [u8; 2] = (ELEMENT_LEN as u16).to_be_bytes();
    let [a0, a1, a2, a3] = [m, z, t2, t3].map(|p| p.compress().to_bytes());
    hash_to_scalar(
        mode,
        &[
            &LEN_ELEMENT,
            pk_bytes,
            &LEN_ELEMENT,
            &a0,
            &LEN_ELEMENT,
            &a1,
            &LEN_ELEMENT,
            &a2,
            &LEN_ELEMENT,
            &a3,
            b"Challenge",
        ],
    )
}

/// RFC 9497 `GenerateProof` with a fresh random nonce. `pk` must be `sk`'s public key.
pub fn generate_proof(
    mode: Mode,
    sk: &SecretKey,
    pk: &PublicKey,
    blinded: &[RistrettoPoint],
    evaluated: &[RistrettoPoint],
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<Proof, OprfError> {
    let r = random_nonzero_scalar(rng);
    generate_proof_with(mode, sk, pk, blinded, evaluated, r)
}

/// RFC 9497 `GenerateProof` with a given nonce `r` (test vectors only: reusing `r` for two
/// different challenges reveals the key). Rejects `r = 0`, mismatched lengths, and empty or
/// oversized batches.
pub fn generate_proof_with(
    mode: Mode,
    sk: &SecretKey,
    pk: &PublicKey,
    c_list: &[RistrettoPoint],
    d_list: &[RistrettoPoint],
    r: Scalar,
) -> Result<Proof, OprfError> {
    check_batch(c_list.len(), d_list.len())?;
    if is_zero(&r) {
        return Err(OprfError::InvalidScalar);
    }
    let weights = composite_weights(mode, &pk.bytes, c_list, d_list);
    Ok(prove(mode, sk, pk, &weights, c_list, r))
}

/// `GenerateProof` once the weights are known. ComputeCompositesFast: M from public data
/// (vartime is fine), Z = k·M (constant time).
fn prove(
    mode: Mode,
    sk: &SecretKey,
    pk: &PublicKey,
    weights: &[Scalar],
    c_list: &[RistrettoPoint],
    r: Scalar,
) -> Proof {
    let m = msm_vartime(weights, c_list);
    let z = sk.0 * m;
    let t2 = &r * RISTRETTO_BASEPOINT_TABLE;
    let t3 = r * m;
    let c = challenge(mode, &pk.bytes, &m, &z, &t2, &t3);
    let s = r - c * sk.0;
    Proof { c, s }
}

/// [`generate_proof`] for a batch whose blinded elements arrived as `c_enc` (decoded to
/// `c_list`) and whose evaluations were encoded as `d_enc`: the same proof, without
/// re-encoding any element, and without needing the evaluated points themselves
/// (`ComputeCompositesFast` only needs `M`).
pub fn generate_proof_encoded(
    mode: Mode,
    sk: &SecretKey,
    pk: &PublicKey,
    c_list: &[RistrettoPoint],
    c_enc: &[[u8; ELEMENT_LEN]],
    d_enc: &[[u8; ELEMENT_LEN]],
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<Proof, OprfError> {
    check_batch(c_list.len(), d_enc.len())?;
    check_batch(c_enc.len(), d_enc.len())?;
    let r = random_nonzero_scalar(rng);
    let weights = composite_weights_encoded(mode, &pk.bytes, c_enc, d_enc);
    Ok(prove(mode, sk, pk, &weights, c_list, r))
}

/// [`verify_proof`] with the elements' encodings supplied (as sent and received), saving two
/// point compressions per item. The encodings must be those of the points.
pub fn verify_proof_encoded(
    mode: Mode,
    pk: &PublicKey,
    blinded: &[RistrettoPoint],
    blinded_enc: &[[u8; ELEMENT_LEN]],
    evaluated: &[RistrettoPoint],
    evaluated_enc: &[[u8; ELEMENT_LEN]],
    proof: &Proof,
) -> Result<(), OprfError> {
    check_batch(blinded.len(), evaluated.len())?;
    check_batch(blinded_enc.len(), evaluated_enc.len())?;
    check_batch(blinded.len(), evaluated_enc.len())?;
    let weights = composite_weights_encoded(mode, &pk.bytes, blinded_enc, evaluated_enc);
    check_proof(mode, pk, &weights, blinded, evaluated, proof)
}

/// [`blind_evaluate`] returning the encodings of `k·B_i` directly: it computes `(k/2)·B_i` and
/// encodes the doubles with [`double_and_encode`] (one shared field inversion per chunk instead
/// of one inverse square root per element).
/// The blinded elements must not be the identity ([`decode_elements`] guarantees it).
pub fn blind_evaluate_encoded(
    sk: &SecretKey,
    blinded: &[RistrettoPoint],
) -> Vec<[u8; ELEMENT_LEN]> {
    let half_k = sk.0 * Scalar::from(2u64).invert();
    // Constant time: k is secret. Never the identity (k ≠ 0, B ≠ 0, prime order).
    let halves = par_collect(blinded.len(), |i| half_k * blinded[i]);
    double_and_encode(&halves)
}

/// RFC 9497 `VerifyProof`: checks that `evaluated[i] = k·blinded[i]` for the `k` of `pk`.
/// All arithmetic is on public data, so it uses variable-time multiscalar multiplication.
pub fn verify_proof(
    mode: Mode,
    pk: &PublicKey,
    blinded: &[RistrettoPoint],
    evaluated: &[RistrettoPoint],
    proof: &Proof,
) -> Result<(), OprfError> {
    check_batch(blinded.len(), evaluated.len())?;
    let weights = composite_weights(mode, &pk.bytes, blinded, evaluated);
    check_proof(mode, pk, &weights, blinded, evaluated, proof)
}

/// `VerifyProof` once the weights are known.
fn check_proof(
    mode: Mode,
    pk: &PublicKey,
    weights: &[Scalar],
    blinded: &[RistrettoPoint],
    evaluated: &[RistrettoPoint],
    proof: &Proof,
) -> Result<(), OprfError> {
    let (m, z) = rayon::join(
        || msm_vartime(weights, blinded),
        || msm_vartime(weights, evaluated),
    );
    // t2 = s·G + c·pk, t3 = s·M + c·Z
    let t2 = RistrettoPoint::vartime_double_scalar_mul_basepoint(&proof.c, &pk.point, &proof.s);
    let t3 = RistrettoPoint::vartime_multiscalar_mul([proof.s, proof.c], [m, z]);
    let expected = challenge(mode, &pk.bytes, &m, &z, &t2, &t3);
    if bool::from(expected.ct_eq(&proof.c)) {
        Ok(())
    } else {
        Err(OprfError::ProofInvalid)
    }
}

// ---------------------------------------------------------------------------------------------
// Cordon tags
// ---------------------------------------------------------------------------------------------

/// The tag of an encoded unblinded element:
/// `SHA-512(I2OSP(len(TAG_DST), 2) || TAG_DST || element)[..32]`.
pub fn tag_of_encoding(element: &[u8; ELEMENT_LEN]) -> Tag {
    let digest = Sha512::new()
        .chain_update((TAG_DST.len() as u16).to_be_bytes()) // a short constant
        .chain_update(TAG_DST)
        .chain_update(element)
        .finalize();
    let mut tag = [0u8; 32];
    tag.copy_from_slice(&digest[..32]);
    tag
}

/// The Cordon tag of an unblinded element `u = k·H(y)`: `tag_of_encoding(encode(4·u))`.
///
/// It does not depend on `y` itself, so a querier can tag a shuffled (count-mode) answer. The
/// factor 4 costs nothing and lets both sides encode whole batches with dalek's
/// `double_and_compress_batch` (one shared field inversion per chunk instead of one inverse
/// square root per element): the holder doubles `2k·H(y)`, the querier doubles the `2k·H(y)`
/// it unblinds from its doubled request (see [`crate::exchange`]). Multiplying by 4 is a
/// bijection of the prime-order group, so nothing is lost.
pub fn tag_of_element(unblinded: &RistrettoPoint) -> Tag {
    let two = unblinded + unblinded;
    tag_of_encoding((two + two).compress().as_bytes())
}

/// [`tag_of_element`] over a batch, in parallel for large batches.
pub fn tags_of_elements(unblinded: &[RistrettoPoint]) -> Vec<Tag> {
    let doubled: Vec<RistrettoPoint> = unblinded.iter().map(|u| u + u).collect();
    tags_of_doubled(&doubled)
}

/// Tags of elements given as `v = 2·k·H(y)`: `tag_of_encoding(encode(2·v))`, encoded in
/// batches (see [`double_and_encode`]).
pub fn tags_of_doubled(doubled: &[RistrettoPoint]) -> Vec<Tag> {
    let encodings = double_and_encode(doubled);
    par_collect(encodings.len(), |i| tag_of_encoding(&encodings[i]))
}

/// `encode(2·p)` for each point, in parallel batches that share one field inversion each
/// (dalek's `double_and_compress_batch`). A chunk holding the identity, which the batch
/// inversion cannot take (it never occurs for honest inputs), is encoded one point at a time.
pub fn double_and_encode(points: &[RistrettoPoint]) -> Vec<[u8; ELEMENT_LEN]> {
    let mut out = vec![[0u8; ELEMENT_LEN]; points.len()];
    let work = |(o, chunk): (&mut [[u8; ELEMENT_LEN]], &[RistrettoPoint])| {
        if chunk.iter().any(|p| p.is_identity()) {
            for (slot, p) in o.iter_mut().zip(chunk) {
                *slot = (p + p).compress().to_bytes();
            }
        } else {
            for (slot, enc) in o
                .iter_mut()
                .zip(RistrettoPoint::double_and_compress_batch(chunk))
            {
                *slot = enc.to_bytes();
            }
        }
    };
    if points.len() < PAR_MIN {
        out.chunks_mut(TAG_CHUNK)
            .zip(points.chunks(TAG_CHUNK))
            .for_each(work);
    } else {
        out.par_chunks_mut(TAG_CHUNK)
            .zip(points.par_chunks(TAG_CHUNK))
            .for_each(work);
    }
    out
}

/// The holder's tags `tag_of_element(k · H_VOPRF(y))` for each input `y` (epoch build).
///
/// Parallel over chunks. Each chunk computes `2k·H(y)` and encodes the doubles, `4k·H(y)`, with
/// dalek's `double_and_compress_batch`, which shares one field inversion per chunk instead of
/// an inverse square root per element. The error names the lowest over-long input (identity hashes, practically
/// impossible, are reported by whichever thread meets one).
pub fn holder_tags(sk: &SecretKey, inputs: &[&[u8]]) -> Result<Vec<Tag>, OprfError> {
    for (i, input) in inputs.iter().enumerate() {
        check_input_len(input, i)?;
    }
    let two_k = sk.0 + sk.0;
    let mut tags = vec![[0u8; 32]; inputs.len()];
    let work = |(chunk_index, (out, chunk)): (usize, (&mut [Tag], &[&[u8]]))| {
        let mut points = Vec::with_capacity(chunk.len());
        for (j, input) in chunk.iter().enumerate() {
            let h = hash_to_group(Mode::Voprf, input);
            if h.is_identity() {
                return Err(OprfError::InputMapsToIdentity {
                    index: chunk_index * TAG_CHUNK + j,
                });
            }
            // Constant time: k is secret. The result is never the identity (k ≠ 0, H(y) ≠ 0,
            // prime-order group), which double_and_compress_batch's batch inversion needs.
            points.push(two_k * h);
        }
        for (tag, enc) in out
            .iter_mut()
            .zip(RistrettoPoint::double_and_compress_batch(&points))
        {
            *tag = tag_of_encoding(enc.as_bytes());
        }
        Ok(())
    };
    if inputs.len() < PAR_MIN {
        tags.chunks_mut(TAG_CHUNK)
            .zip(inputs.chunks(TAG_CHUNK))
            .enumerate()
            .try_for_each(work)?;
    } else {
        tags.par_chunks_mut(TAG_CHUNK)
            .zip(inputs.par_chunks(TAG_CHUNK))
            .enumerate()
            .try_for_each(work)?;
    }
    Ok(tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// RFC 9380 Appendix K.3, expand_message_xmd(SHA-512).
    #[test]
    fn expand_message_xmd_rfc9380_vectors() {
        let dst = b"QUUX-V01-CS02-with-expander-SHA512-256";
        let cases: [(&[u8], usize, &str); 5] = [
            (
                b"",
                0x20,
                "6b9a7312411d92f921c6f68ca0b6380730a1a4d982c507211a90964c394179ba",
            ),
            (
                b"abc",
                0x20,
                "0da749f12fbe5483eb066a5f595055679b976e93abe9be6f0f6318bce7aca8dc",
            ),
            (
                b"abcdef0123456789",
                0x20,
                "087e45a86e2939ee8b91100af1583c4938e0f5fc6c9db4b107b83346bc967f58",
            ),
            (
                b"",
                0x80,
                "41b037d1734a5f8df225dd8c7de38f851efdb45c372887be655212d07251b921\
                 b052b62eaed99b46f72f2ef4cc96bfaf254ebbbec091e1a3b9e4fb5e5b619d2e\
                 0c5414800a1d882b62bb5cd1778f098b8eb6cb399d5d9d18f5d5842cf5d13d7e\
                 b00a7cff859b605da678b318bd0e65ebff70bec88c753b159a805d2c89c55961",
            ),
            (
                b"abc",
                0x80,
                "7f1dddd13c08b543f2e2037b14cefb255b44c83cc397c1786d975653e36a6b11\
                 bdd7732d8b38adb4a0edc26a0cef4bb45217135456e58fbca1703cd6032cb134\
                 7ee720b87972d63fbf232587043ed2901bce7f22610c0419751c065922b48843\
                 1851041310ad659e4b23520e1772ab29dcdeb2002222a363f0c2b1c972b3efe1",
            ),
        ];
        for (msg, len, want) in cases {
            let got = expand_message_xmd_sha512(&[msg], dst, len).unwrap();
            assert_eq!(hex(&got), want, "msg {:?} len {len}", msg);
        }
        // Splitting the message into parts does not change the result.
        let split = expand_message_xmd_sha512(&[b"ab", b"", b"c"], dst, 0x20).unwrap();
        assert_eq!(hex(&split), cases[1].2);
    }

    #[test]
    fn expand_message_xmd_rejects_bad_parameters() {
        assert!(expand_message_xmd_sha512(&[b"x"], b"dst", 0).is_err());
        assert!(expand_message_xmd_sha512(&[b"x"], b"dst", 255 * 64 + 1).is_err());
        assert!(expand_message_xmd_sha512(&[b"x"], b"", 32).is_err());
        assert_eq!(
            expand_message_xmd_sha512(&[b"x"], b"dst", 255 * 64)
                .unwrap()
                .len(),
            16320
        );
        // Oversized DSTs are hashed first (RFC 9380 §5.3.3).
        let long = vec![b'd'; 300];
        let hashed: [u8; 64] = Sha512::new()
            .chain_update(b"H2C-OVERSIZE-DST-")
            .chain_update(&long)
            .finalize()
            .into();
        assert_eq!(
            expand_message_xmd_sha512(&[b"x"], &long, 48).unwrap(),
            expand_message_xmd_sha512(&[b"x"], &hashed, 48).unwrap()
        );
    }

    #[test]
    fn xmd64_matches_general_expander() {
        for mode in [Mode::Oprf, Mode::Voprf] {
            let dst = [b"HashToGroup-".as_slice(), &context_string(mode)].concat();
            let general = expand_message_xmd_sha512(&[b"input"], &dst, 64).unwrap();
            let fast = xmd64(&[b"input"], &dst_parts(b"HashToGroup-", mode));
            assert_eq!(general, fast.to_vec());
        }
    }

    #[test]
    fn context_strings() {
        assert_eq!(
            context_string(Mode::Oprf),
            b"OPRFV1-\x00-ristretto255-SHA512".to_vec()
        );
        assert_eq!(
            context_string(Mode::Voprf),
            b"OPRFV1-\x01-ristretto255-SHA512".to_vec()
        );
        assert_eq!(Mode::try_from(1).unwrap(), Mode::Voprf);
        assert!(Mode::try_from(2).is_err());
    }

    #[test]
    fn parallel_msm_matches_sequential() {
        let mut rng = rand_core::OsRng;
        let n = MSM_PAR_MIN * 2 + 17;
        let scalars: Vec<Scalar> = (0..n).map(|_| random_scalar(&mut rng)).collect();
        let points: Vec<RistrettoPoint> = (0..n)
            .map(|_| RistrettoPoint::mul_base(&random_scalar(&mut rng)))
            .collect();
        assert_eq!(
            msm_vartime(&scalars, &points),
            RistrettoPoint::vartime_multiscalar_mul(&scalars, &points)
        );
    }

    #[test]
    fn holder_tags_match_plain_path_across_chunks() {
        let mut rng = rand_core::OsRng;
        let (sk, _) = generate_key_pair(&mut rng);
        let owned: Vec<Vec<u8>> = (0..(TAG_CHUNK + 3) as u32)
            .map(|i| i.to_be_bytes().to_vec())
            .collect();
        let inputs: Vec<&[u8]> = owned.iter().map(|v| v.as_slice()).collect();
        let tags = holder_tags(&sk, &inputs).unwrap();
        for (input, tag) in inputs.iter().zip(&tags) {
            assert_eq!(
                *tag,
                tag_of_element(&(sk.0 * hash_to_group(Mode::Voprf, input)))
            );
        }
        // Small batches take the sequential path.
        assert_eq!(holder_tags(&sk, &inputs[..3]).unwrap(), tags[..3].to_vec());
        assert_eq!(holder_tags(&sk, &[]).unwrap(), Vec::<Tag>::new());
    }

    #[test]
    fn secret_key_debug_is_redacted() {
        let sk = SecretKey::from_bytes(&[7u8; 32]).unwrap();
        let shown = format!("{sk:?}");
        assert!(!shown.contains("07"), "{shown}");
        assert!(shown.contains("redacted"));
    }
}

#[cfg(test)]
mod encoded_tests {
    use super::*;
    use rand::rngs::OsRng;

    #[test]
    fn encoded_variants_agree_with_the_plain_ones() {
        let (sk, pk) = generate_key_pair(&mut OsRng);
        let inputs: Vec<Vec<u8>> = (0..300u32).map(|i| i.to_be_bytes().to_vec()).collect();
        let blinded: Vec<RistrettoPoint> = inputs
            .iter()
            .map(|i| blind(Mode::Voprf, i, &mut OsRng).unwrap().1)
            .collect();
        let c_enc = compress_batch(&blinded);
        let d_points = blind_evaluate(&sk, &blinded);
        let d_enc = blind_evaluate_encoded(&sk, &blinded);
        assert_eq!(d_enc, compress_batch(&d_points));
        let proof =
            generate_proof_encoded(Mode::Voprf, &sk, &pk, &blinded, &c_enc, &d_enc, &mut OsRng)
                .unwrap();
        verify_proof(Mode::Voprf, &pk, &blinded, &d_points, &proof).unwrap();
        verify_proof_encoded(
            Mode::Voprf,
            &pk,
            &blinded,
            &c_enc,
            &d_points,
            &d_enc,
            &proof,
        )
        .unwrap();
        // Encodings that do not match the points make the proof fail, never pass.
        let mut wrong = d_enc.clone();
        wrong.swap(0, 1);
        assert!(verify_proof_encoded(
            Mode::Voprf,
            &pk,
            &blinded,
            &c_enc,
            &d_points,
            &wrong,
            &proof
        )
        .is_err());
    }
}
