//! Cryptocurrency addresses → `chain:address`, with the chain part of the canonical form:
//!
//! - `btc:1…` / `btc:3…`: Base58Check P2PKH (version 0x00) or P2SH (0x05), checksum verified,
//!   kept as given (Base58 is case-sensitive);
//! - `btc:bc1…`: segwit v0 (bech32, BIP-173) or v1+ (bech32m, BIP-350), validated, lower case;
//! - `eth:0x` + 40 lower-case hex digits (any EVM chain: one key, one address);
//! - `tron:T…`: Base58Check with version 0x41 (the hex form `41…` is converted to it).
//!
//! Not done: testnets (refused), other chains, BIP-21 parameters (dropped), EIP-681 payment
//! URIs beyond `ethereum:0x…`, no look-up of whether an address was ever used.

use super::{invalid, IdentError, Kind, Options};
use bech32::primitives::decode::{SegwitHrpstring, SegwitHrpstringError};
use sha3::{Digest, Keccak256};

const KIND: Kind = Kind::Crypto;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Chain {
    Btc,
    Eth,
    Tron,
}

impl Chain {
    fn name(self) -> &'static str {
        match self {
            Chain::Btc => "btc",
            Chain::Eth => "eth",
            Chain::Tron => "tron",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Chain::Btc => "a Bitcoin",
            Chain::Eth => "an Ethereum",
            Chain::Tron => "a TRON",
        }
    }
}

/// What the address looks like from its form alone (before any checksum is verified).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Look {
    Chain(Chain),
    /// Bitcoin testnet/regtest (`tb1…`, `bcrt1…`, Base58 `m…`, `n…`, `2…`).
    BtcTestnet,
    /// 40 hex digits without `0x`: an Ethereum address, or a hash.
    BareHex40,
    Unknown,
}

pub(super) fn canonicalize(raw: &str, opts: &Options) -> Result<String, IdentError> {
    let wanted = match opts.chain.as_deref().map(str::trim) {
        None => None,
        Some(c) if c.eq_ignore_ascii_case("auto") => None,
        Some(c) if c.eq_ignore_ascii_case("btc") => Some(Chain::Btc),
        Some(c) if c.eq_ignore_ascii_case("eth") => Some(Chain::Eth),
        Some(c) if c.eq_ignore_ascii_case("tron") => Some(Chain::Tron),
        Some(c) => {
            return Err(invalid(
                KIND,
                raw,
                format!(
                    "the chain {c:?} is not one this version reads; give btc, eth, tron or auto"
                ),
            ))
        }
    };
    let s = raw.trim();
    if let Some(c) = s.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(
            KIND,
            raw,
            format!("it contains {c:?}; an address has no spaces, so give it alone"),
        ));
    }
    let (prefixed, addr) = strip_prefix(s, raw)?;
    let chain = match (wanted, prefixed) {
        (Some(w), Some(p)) if w != p => {
            return Err(invalid(
                KIND,
                raw,
                format!(
                    "it is marked as {} address but chain {} was asked for; fix the prefix or \
                     the chain option",
                    p.noun(),
                    w.name()
                ),
            ))
        }
        (Some(w), _) => Some(w),
        (None, p) => p,
    };
    let look = look(addr);
    if look == Look::BtcTestnet {
        return Err(invalid(
            KIND,
            raw,
            "it is a Bitcoin testnet address, whose coins have no value; only mainnet addresses \
             are accepted",
        ));
    }
    let chain =
        match (chain, look) {
            (Some(c), Look::Chain(l)) if c != l => {
                return Err(invalid(
                    KIND,
                    raw,
                    format!(
                        "it looks like {} address, not {} one; give chain {} (or auto)",
                        l.noun(),
                        c.noun(),
                        l.name()
                    ),
                ))
            }
            (Some(c), _) => c,
            (None, Look::Chain(l)) => l,
            (None, Look::BareHex40) => return Err(invalid(
                KIND,
                raw,
                "40 hexadecimal digits without 0x could be an Ethereum address or a hash; write \
                 it as 0x… or give chain eth",
            )),
            (None, _) => {
                return Err(invalid(
                    KIND,
                    raw,
                    "it does not look like a Bitcoin (1…, 3…, bc1…), Ethereum (0x…) or TRON (T…) \
                 address; check it, or give the chain",
                ))
            }
        };
    let address = match chain {
        Chain::Btc => btc(addr, raw)?,
        Chain::Eth => eth(addr, raw)?,
        Chain::Tron => tron(addr, raw)?,
    };
    Ok(format!("{}:{address}", chain.name()))
}

/// Removes a chain prefix (`btc:`, `bitcoin:`, `eth:`, `ethereum:`, `tron:`; any ASCII case).
/// A BIP-21 `bitcoin:` URI may carry `?amount=…&label=…`: those say nothing about the address
/// and are dropped. Other prefixes take the bare address only.
fn strip_prefix<'a>(s: &'a str, raw: &str) -> Result<(Option<Chain>, &'a str), IdentError> {
    let Some((scheme, rest)) = s.split_once(':') else {
        return Ok((None, s));
    };
    let chain = match scheme.to_ascii_lowercase().as_str() {
        "btc" | "bitcoin" => Chain::Btc,
        "eth" | "ethereum" => Chain::Eth,
        "tron" => Chain::Tron,
        _ => {
            return Err(invalid(
                KIND,
                raw,
                format!(
                    "its prefix {scheme:?} is not a chain this version reads; give btc:, eth:, \
                     tron: or the bare address"
                ),
            ))
        }
    };
    let rest = match rest.split_once('?') {
        Some((addr, _)) if scheme.eq_ignore_ascii_case("bitcoin") => addr,
        _ => rest,
    };
    Ok((Some(chain), rest))
}

fn look(a: &str) -> Look {
    let lower = a.to_ascii_lowercase();
    let hex = |t: &str| t.bytes().all(|b| b.is_ascii_hexdigit());
    // First, because TRON addresses may begin with "TB1", like an upper-case testnet bech32.
    let tron_base58 = || {
        a.starts_with('T')
            && bs58::decode(a)
                .with_check(Some(0x41))
                .into_vec()
                .is_ok_and(|v| v.len() == 21)
    };
    if tron_base58() {
        Look::Chain(Chain::Tron)
    } else if lower.starts_with("0x") {
        Look::Chain(Chain::Eth)
    } else if lower.starts_with("bc1") {
        Look::Chain(Chain::Btc)
    } else if lower.starts_with("tb1") || lower.starts_with("bcrt1") {
        Look::BtcTestnet
    } else if a.len() == 42 && lower.starts_with("41") && hex(a) {
        Look::Chain(Chain::Tron)
    } else if a.len() == 40 && hex(a) {
        Look::BareHex40
    } else if a.starts_with('1') || a.starts_with('3') {
        Look::Chain(Chain::Btc)
    } else if a.starts_with('T') {
        Look::Chain(Chain::Tron)
    } else if a.starts_with(['m', 'n', '2']) && a.len() >= 26 && base58_shaped(a) {
        Look::BtcTestnet
    } else {
        Look::Unknown
    }
}

fn base58_shaped(a: &str) -> bool {
    a.bytes()
        .all(|b| b.is_ascii_alphanumeric() && !matches!(b, b'0' | b'O' | b'I' | b'l'))
}

/// Decodes a 25-byte Base58Check address (version, 20-byte hash, 4-byte double-SHA-256
/// checksum) and returns the version byte.
fn base58check(a: &str, raw: &str, what: &str) -> Result<u8, IdentError> {
    if let Some(c) = a.chars().find(|c| !c.is_ascii_alphanumeric()) {
        return Err(invalid(
            KIND,
            raw,
            format!("it contains {c:?}, which {what} address never has; check it"),
        ));
    }
    let bytes = match bs58::decode(a).with_check(None).into_vec() {
        Ok(b) => b,
        Err(bs58::decode::Error::InvalidCharacter { character, .. }) => {
            return Err(invalid(
                KIND,
                raw,
                format!(
                    "it contains {character:?}, which Base58 does not use (0, O, I and l are \
                     left out); check for a mistyped character"
                ),
            ))
        }
        Err(bs58::decode::Error::InvalidChecksum { .. }) => {
            return Err(invalid(
                KIND,
                raw,
                "its checksum does not match; check for a mistyped or mis-cased character \
                 (Base58 is case-sensitive)",
            ))
        }
        Err(_) => {
            return Err(invalid(
                KIND,
                raw,
                format!("it is too short to be {what} address; check that it is complete"),
            ))
        }
    };
    // `with_check` leaves version + payload: 21 bytes for every address kind read here.
    match bytes.first() {
        Some(&v) if bytes.len() == 21 => Ok(v),
        _ => Err(invalid(
            KIND,
            raw,
            format!(
                "it decodes to {} bytes, but {what} address holds 21; check that it is complete",
                bytes.len()
            ),
        )),
    }
}

fn btc(a: &str, raw: &str) -> Result<String, IdentError> {
    if a.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("bc1")) {
        return segwit(a, raw);
    }
    match base58check(a, raw, "a Bitcoin")? {
        // P2PKH and P2SH. Base58 has one spelling per value, so the input is the canonical form.
        0x00 | 0x05 => Ok(a.to_owned()),
        0x6f | 0xc4 => Err(invalid(
            KIND,
            raw,
            "it is a Bitcoin testnet address, whose coins have no value; only mainnet addresses \
             are accepted",
        )),
        0x41 => Err(invalid(
            KIND,
            raw,
            "it is a TRON address, not a Bitcoin one; give chain tron (or auto)",
        )),
        v => Err(invalid(
            KIND,
            raw,
            format!(
                "its version byte is 0x{v:02x}, not 0x00 (1…) or 0x05 (3…) of a Bitcoin \
                 address; check that it is a Bitcoin address"
            ),
        )),
    }
}

fn segwit(a: &str, raw: &str) -> Result<String, IdentError> {
    // BIP-173: a bech32 string is all lower case or all upper case; mixed case is invalid.
    if a.bytes().any(|b| b.is_ascii_lowercase()) && a.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(invalid(
            KIND,
            raw,
            "it mixes upper and lower case, which BIP-173 forbids for bc1 addresses; write it \
             all in one case",
        ));
    }
    let parsed = SegwitHrpstring::new(a).map_err(|e| {
        let why = match e {
            SegwitHrpstringError::Checksum(_) => {
                "its checksum does not match (bech32 for v0 bc1q…, bech32m for v1+ such as \
                 bc1p…); check for a mistyped character"
            }
            SegwitHrpstringError::InvalidWitnessVersion(_)
            | SegwitHrpstringError::WitnessLength(_)
            | SegwitHrpstringError::Padding(_)
            | SegwitHrpstringError::NoData => {
                "its witness version or program length is not allowed by BIP-173/BIP-350; check \
                 that it is complete"
            }
            SegwitHrpstringError::TooLong(_) => {
                "it is longer than the 90 characters a segwit address may have; check it"
            }
            _ => {
                "it is not a well-formed bc1 address (bech32 has no 1, b, i or o after the \
                 bc1); check for a mistyped character"
            }
        };
        invalid(KIND, raw, why)
    })?;
    if parsed.hrp() != bech32::hrp::BC {
        return Err(invalid(
            KIND,
            raw,
            "only Bitcoin mainnet (bc1…) segwit addresses are accepted",
        ));
    }
    let program: Vec<u8> = parsed.byte_iter().collect();
    // Re-encoding writes lower case (BIP-173's preferred form) and re-checks every rule.
    bech32::segwit::encode(bech32::hrp::BC, parsed.witness_version(), &program)
        .map_err(|_| invalid(KIND, raw, "its segwit program is not valid; check it"))
}

fn eth(a: &str, raw: &str) -> Result<String, IdentError> {
    let hex = a
        .strip_prefix("0x")
        .or_else(|| a.strip_prefix("0X"))
        .unwrap_or(a);
    if let Some(c) = hex.chars().find(|c| !c.is_ascii_hexdigit()) {
        return Err(invalid(
            KIND,
            raw,
            format!(
                "it contains {c:?}; an Ethereum address is 0x and 40 hexadecimal digits, so \
                 check it"
            ),
        ));
    }
    if hex.len() != 40 {
        return Err(invalid(
            KIND,
            raw,
            format!(
                "it has {} hexadecimal digits, but an Ethereum address has 40 after 0x; check \
                 that it is complete",
                hex.len()
            ),
        ));
    }
    let lower = hex.to_ascii_lowercase();
    let mixed =
        hex.bytes().any(|b| b.is_ascii_lowercase()) && hex.bytes().any(|b| b.is_ascii_uppercase());
    // EIP-55: in a mixed-case address, letter i is upper case iff nibble i of
    // Keccak-256(lower-case hex, as ASCII) is 8 or more. (Keccak-256, not NIST SHA3-256.)
    if mixed && eip55(&lower) != hex {
        return Err(invalid(
            KIND,
            raw,
            "its upper/lower-case pattern fails the EIP-55 checksum, so a character is \
             probably mistyped; check it (an all-lower-case address carries no checksum)",
        ));
    }
    Ok(format!("0x{lower}"))
}

/// The EIP-55 mixed-case spelling of a lower-case 40-digit hex address (without `0x`).
fn eip55(lower: &str) -> String {
    let hash = Keccak256::digest(lower.as_bytes());
    lower
        .chars()
        .enumerate()
        .map(|(i, c)| {
            let byte = hash[i / 2];
            let nibble = if i % 2 == 0 { byte >> 4 } else { byte & 0x0f };
            if nibble >= 8 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect()
}

fn tron(a: &str, raw: &str) -> Result<String, IdentError> {
    // Hex form (as TRON's APIs return it): 0x41 then the 20-byte account hash.
    if a.len() == 42 && a.bytes().all(|b| b.is_ascii_hexdigit()) {
        let bytes = hex::decode(a).map_err(|_| invalid(KIND, raw, "its hex form is not valid"))?;
        if bytes.first() != Some(&0x41) {
            return Err(invalid(
                KIND,
                raw,
                "a TRON address in hex form starts with 41; check it",
            ));
        }
        return Ok(bs58::encode(bytes).with_check().into_string());
    }
    match base58check(a, raw, "a TRON")? {
        0x41 => Ok(a.to_owned()),
        0x00 | 0x05 => Err(invalid(
            KIND,
            raw,
            "it is a Bitcoin address, not a TRON one; give chain btc (or auto)",
        )),
        v => Err(invalid(
            KIND,
            raw,
            format!(
                "its version byte is 0x{v:02x}, not the 0x41 of a TRON address (T…); check that \
                 it is a TRON address"
            ),
        )),
    }
}
