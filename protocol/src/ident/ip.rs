//! IP addresses → dotted-quad IPv4, or RFC 5952 IPv6 (what std's `Display` writes), with
//! IPv4-mapped IPv6 (`::ffff:a.b.c.d`) folded to IPv4; optionally followed by `@` and a UTC
//! time window (`203.0.113.7@2025-08-23T14`).
//!
//! Why a window: behind carrier-grade NAT (RFC 6598) thousands of mobile subscribers share one
//! public IPv4 address, each for minutes to hours, so an address alone links unrelated people.
//! An address *with* the hour (or day) it was seen is a far narrower identifier. The window is
//! a bucket, not a range: both sides must pick the same granularity, and an event at 14:59 and
//! one at 15:01 fall in different hour buckets (submit both when near an edge).
//!
//! Not done: minute or second buckets, time zones other than UTC (refused, not converted),
//! ports (CGNAT logs key on address + port + time; the port is not part of this form).

use super::{invalid, IdentError, Kind, Options};
use std::net::{Ipv4Addr, Ipv6Addr};

/// With [`Options::window`], every address gets that window (and a window written in the
/// input must agree with it).
pub(super) fn canonicalize(raw: &str, opts: &Options) -> Result<String, IdentError> {
    let kind = Kind::Ip;
    let s = raw.trim();
    // The address never contains `@`, so the first one starts the window.
    let (s, in_input) = match s.split_once('@') {
        Some((a, w)) => (a.trim_end(), Some(w.trim_start())),
        None => (s, None),
    };
    let addr = address(s, raw)?;
    let from_input = in_input.map(|w| window(w, "its window", raw)).transpose()?;
    // The option is trimmed as the input is (a value read from a form or a CSV cell may carry
    // spaces); a bad option is reported as the option's fault, not the address's.
    let from_opts = opts
        .window
        .as_deref()
        .map(|w| window(w.trim(), "the window option", raw))
        .transpose()?;
    match (from_input, from_opts) {
        (Some(a), Some(b)) if a != b => Err(invalid(
            kind,
            raw,
            format!(
                "its window {a} differs from the window option {b}; give one window, or make \
                 them the same"
            ),
        )),
        (Some(w), _) | (None, Some(w)) => Ok(format!("{addr}@{w}")),
        (None, None) => Ok(addr),
    }
}

/// A UTC time bucket: `YYYY-MM-DD` (a day) or `YYYY-MM-DDTHH` (an hour), optionally followed by
/// `Z` or a zero offset. The written precision is the granularity. Returns the canonical form:
/// the same without the zone marker, with an upper-case `T`. `src` names the window in
/// messages ("its window" or "the window option").
fn window(w: &str, src: &str, raw: &str) -> Result<String, IdentError> {
    let kind = Kind::Ip;
    let format = "write the window as a UTC day (2025-08-23) or hour (2025-08-23T14)";
    if w.is_empty() {
        return Err(invalid(kind, raw, format!("{src} is empty; {format}")));
    }
    if !w.is_ascii() {
        return Err(invalid(
            kind,
            raw,
            format!("{src} {w:?} has non-ASCII characters; {format}"),
        ));
    }
    let b = w.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        let t = w.get(r)?;
        if t.bytes().all(|c| c.is_ascii_digit()) {
            t.parse().ok()
        } else {
            None
        }
    };
    let (Some(year), Some(month), Some(day)) = (digits(0..4), digits(5..7), digits(8..10)) else {
        return Err(invalid(
            kind,
            raw,
            format!("{src} {w:?} does not start with a date; {format}"),
        ));
    };
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return Err(invalid(
            kind,
            raw,
            format!("{src} {w:?} does not start with a date; {format}"),
        ));
    }
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return Err(invalid(
            kind,
            raw,
            format!("{src} {w:?} is not a calendar date; check the month and day"),
        ));
    }
    let mut out = w[..10].to_owned();
    let mut rest = &w[10..];
    if let Some(r) = rest.strip_prefix(['T', 't']) {
        let Some(hour) = digits(11..13) else {
            return Err(invalid(
                kind,
                raw,
                format!("{src} {w:?} has no two-digit hour after T; {format}"),
            ));
        };
        if hour > 23 {
            return Err(invalid(
                kind,
                raw,
                format!("{src} {w:?} has hour {hour}; hours run 00 to 23"),
            ));
        }
        out.push('T');
        out.push_str(&w[11..13]);
        rest = &r[2..];
        if rest.starts_with(':') {
            return Err(invalid(
                kind,
                raw,
                format!(
                    "{src} {w:?} has minutes, but windows are whole hours or days; truncate \
                     it to the hour (14:30 belongs to T14)"
                ),
            ));
        }
    }
    match rest {
        "" | "Z" | "z" | "+00:00" | "+0000" | "+00" => Ok(out),
        r if r.starts_with(['+', '-']) => Err(invalid(
            kind,
            raw,
            format!(
                "{src} {w:?} has the time-zone offset {r}; convert it to UTC and write it \
                 with Z or no offset (14:00+07:00 is 07:00 UTC)"
            ),
        )),
        _ => Err(invalid(
            kind,
            raw,
            format!(
                "{src} {w:?} has {rest:?} after the {}; {format}",
                if out.len() > 10 { "hour" } else { "date" }
            ),
        )),
    }
}

/// Days in a month of the proleptic Gregorian calendar.
fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The address part, canonical.
fn address(s: &str, raw: &str) -> Result<String, IdentError> {
    let kind = Kind::Ip;
    if s.is_empty() {
        return Err(invalid(
            kind,
            raw,
            "nothing comes before the @; give the address, then @ and the window",
        ));
    }
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
