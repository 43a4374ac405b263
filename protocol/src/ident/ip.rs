//! IP addresses → dotted-quad IPv4, or RFC 5952 IPv6 (what std's `Display` writes), with
//! IPv4-mapped IPv6 (`::ffff:a.b.c.d`) folded to IPv4.

use super::{invalid, IdentError, Kind};
use std::net::{Ipv4Addr, Ipv6Addr};

pub(super) fn canonicalize(raw: &str) -> Result<String, IdentError> {
    let kind = Kind::Ip;
    let s = raw.trim();
    if s.contains('/') {
        return Err(invalid(
            kind,
            raw,
            "it has a /prefix (CIDR notation); give a single address without /NN",
        ));
    }
    if s.contains('%') {
        return Err(invalid(
            kind,
            raw,
            "it has a %zone (interface) suffix, which means nothing outside one machine; give \
             the address without it",
        ));
    }
    // URLs write IPv6 as [addr] (so a port can follow): take the brackets off, refuse a port.
    let s = match s.strip_prefix('[') {
        None => s,
        Some(rest) => match rest.split_once(']') {
            Some((inner, "")) => inner,
            Some((_, tail)) if tail.starts_with(':') => {
                return Err(invalid(
                    kind,
                    raw,
                    "it has a :port after the address; give the address alone",
                ))
            }
            _ => {
                return Err(invalid(
                    kind,
                    raw,
                    "its brackets are unbalanced; give the address alone",
                ))
            }
        },
    };

    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return ipv4(s, raw).map(|a| a.to_string());
    }
    if let Ok(v6) = s.parse::<Ipv6Addr>() {
        // One IPv4 host, two spellings: the mapped form is how dual-stack sockets and many
        // logs show IPv4 peers. Only ::ffff:0:0/96 is folded (not the deprecated
        // IPv4-compatible ::a.b.c.d, which would turn ::1 into 0.0.0.1).
        return Ok(match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => v6.to_string(),
        });
    }
    // Not an address: find the most useful thing to say.
    if let Some((host, port)) = s.rsplit_once(':') {
        let dotted = !host.is_empty() && host.bytes().all(|b| b.is_ascii_digit() || b == b'.');
        if dotted && !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid(
                kind,
                raw,
                "it has a :port after the address; give the address alone",
            ));
        }
        // IPv6 with an embedded IPv4 tail (::ffff:010.0.0.1): report the tail's problem.
        if port.contains('.') && port.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            ipv4(port, raw)?;
        }
    }
    Err(invalid(
        kind,
        raw,
        "it is neither an IPv4 address (four numbers 0-255 separated by dots) nor an IPv6 \
         address (hexadecimal groups separated by colons); check it",
    ))
}

/// Strict dotted-quad IPv4: exactly four decimal parts 0–255, no leading zeros. std's parser
/// has the same rules; checking here first gives a message that says which rule failed.
fn ipv4(s: &str, raw: &str) -> Result<Ipv4Addr, IdentError> {
    let kind = Kind::Ip;
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() != 4 {
        return Err(invalid(
            kind,
            raw,
            format!(
                "it has {} dot-separated parts, but IPv4 needs exactly four (shorthands such as \
                 127.1 are read differently by different tools); write all four",
                parts.len()
            ),
        ));
    }
    for part in &parts {
        if part.is_empty() {
            return Err(invalid(
                kind,
                raw,
                "one of its four parts is empty; check for a doubled or stray dot",
            ));
        }
        if part.len() > 1 && part.starts_with('0') {
            return Err(invalid(
                kind,
                raw,
                format!(
                    "its part \"{part}\" has a leading zero, which some tools read as octal \
                     (010 is 8); write each part without leading zeros"
                ),
            ));
        }
        if part.len() > 3 || part.parse::<u16>().map_or(true, |n| n > 255) {
            return Err(invalid(
                kind,
                raw,
                format!("its part \"{part}\" is over 255; check the address"),
            ));
        }
    }
    s.parse::<Ipv4Addr>()
        .map_err(|_| invalid(kind, raw, "it is not a dotted-quad IPv4 address; check it"))
}
