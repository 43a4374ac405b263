//! Synthetic bench values: distinct e-mail addresses and Thai mobile numbers by index.

use crate::synth::{EMAIL_DOMAINS as DOMAINS, FIRST_NAMES as FIRST};

pub(super) const THAI_MOBILE: &[&str] = &[
    "81", "82", "83", "84", "85", "86", "87", "89", "91", "92", "93", "94", "95", "96", "97", "98",
    "61", "62", "63", "64", "65",
];

/// The `i`-th synthetic e-mail address. Distinct for distinct `i < 2^40` by construction:
/// multiplication by an odd constant is a bijection modulo 2^40, and the number alone makes
/// the address unique, so no set of seen values is needed for a million records.
pub(super) fn email_value(i: u64) -> String {
    let n = i.wrapping_mul(0x9E37_79B9_7F4B) & ((1 << 40) - 1);
    format!(
        "{}{n}@{}",
        FIRST[(i % FIRST.len() as u64) as usize],
        DOMAINS[((i / FIRST.len() as u64) % DOMAINS.len() as u64) as usize]
    )
}

/// The `i`-th synthetic Thai mobile number in +E.164: prefix `i mod 21`, then seven digits that
/// are a bijection of `i / 21` modulo 10^7 (the multiplier is prime to 10).
pub(super) fn phone_value(i: u64) -> String {
    let p = THAI_MOBILE[(i % THAI_MOBILE.len() as u64) as usize];
    let n = ((i / THAI_MOBILE.len() as u64) * 3_141_593) % 10_000_000;
    format!("+66{p}{n:07}")
}
