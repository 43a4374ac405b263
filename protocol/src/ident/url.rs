//! Web addresses → host, port and path without scheme: `www.example.co.th/login`.
//!
//! Read as browsers read them (WHATWG URL, the `url` crate): `http` and `https` are folded
//! (scam sites move between them; the content is the same), input without a scheme is read
//! as `http://`, the host goes through strict IDNA (as e-mail domains do), default ports and
//! `.`/`..` segments go, and percent-escapes are normalised (RFC 3986 §6.2.2: unreserved
//! characters decoded, other escapes in upper-case hex).
//!
//! Not done: the query and the fragment are dropped (they mostly carry per-victim tracking
//! data, so keeping them would stop two reports of one page from matching), userinfo is
//! dropped, `www.` is kept (use kind `domain` to fold sub-domains), path case is kept, no NFC
//! of paths, no redirects followed.

use super::{invalid, IdentError, Kind, Options};

pub(super) fn canonicalize(raw: &str, _opts: &Options) -> Result<String, IdentError> {
    let kind = Kind::Url;
    let url = parse_web(kind, raw)?;
    let mut out = match url.host() {
        Some(::url::Host::Domain(d)) => domain_ascii(kind, raw, d)?,
        // As kind ip writes them (an IPv4-mapped IPv6 host is its IPv4 host), IPv6 in brackets.
        Some(::url::Host::Ipv4(a)) => {
            // Browsers read `12345`, `0x7f.1` and `1.2.3` as IPv4 addresses; an account or phone
            // number in a URL column would become one. Only a strict dotted quad, as kind `ip`
            // requires, is an IP host here.
            let quad = a.to_string();
            if written_host(raw) != quad {
                return Err(invalid(
                    kind,
                    raw,
                    format!(
                        "its host is read as the IP address {quad}, but is not written as one; write an \
                         IP host as four decimal numbers (a.b.c.d), or check that this is a web \
                         address"
                    ),
                ));
            }
            quad
        }
        Some(::url::Host::Ipv6(a)) => match a.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => format!("[{a}]"),
        },
        None => return Err(invalid(kind, raw, "it has no host name; check it")),
    };
    // `port()` is None for the scheme's default port. Since http and https are folded, the
    // default port of either is dropped whatever the scheme: `https://x:80/` written as
    // `x:80/` would read back as http on its default port, so the form would not be a fixed
    // point.
    if let Some(port) = url.port().filter(|p| *p != 80 && *p != 443) {
        out.push(':');
        out.push_str(&port.to_string());
    }
    normalise_escapes(kind, raw, url.path(), &mut out)?;
    Ok(out)
}

/// The host as written in `raw`: after any scheme and `//` (or `\\`), before the first `/`,
/// `\\`, `?` or `#`, after any userinfo (`…@`) and before any `:port`. Only used to check how
/// an IPv4 host was written, so IPv6 brackets need no care.
pub(super) fn written_host(raw: &str) -> &str {
    let s = raw.trim();
    let s = match scheme(s) {
        Some(sch) => &s[sch.len() + 1..],
        None => s,
    };
    let s = s.trim_start_matches(['/', '\\']);
    let authority = s.split(['/', '\\', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    host_port.split(':').next().unwrap_or("")
}

/// Appends `path` with each `%XX` escape of an unreserved character (`A-Z a-z 0-9 - . _ ~`)
/// decoded and every other escape in upper-case hex. A `%` not followed by two hex digits is
/// refused: its meaning differs between servers.
fn normalise_escapes(
    kind: Kind,
    raw: &str,
    path: &str,
    out: &mut String,
) -> Result<(), IdentError> {
    let b = path.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'%' {
            // The URL parser has already percent-encoded everything non-ASCII.
            out.push(char::from(b[i]));
            i += 1;
            continue;
        }
        let hex = |j: usize| b.get(j).and_then(|c| char::from(*c).to_digit(16));
        let (Some(hi), Some(lo)) = (hex(i + 1), hex(i + 2)) else {
            return Err(invalid(
                kind,
                raw,
                "its path has a % not followed by two hexadecimal digits; write a literal % as \
                 %25",
            ));
        };
        let byte = (hi * 16 + lo) as u8;
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
        i += 3;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Reading a web address, shared with kind `domain` (spec: "Reading a web address").
//
// The URL parser (as browsers read URLs) finds host, port and path in whatever shape a URL is
// pasted, but its IDNA step is lax (no STD3 rules, hyphen checks or DNS lengths). So a domain
// host is then re-checked with the strict UTS #46 ToASCII that e-mail domains use
// (`idna::domain_to_ascii_strict`). Both steps map every character the same way and differ
// only in what they allow, so the result is strict ToASCII of the host as typed.
// ---------------------------------------------------------------------------------------------

/// Longest domain name in ASCII form (RFC 1035, without the root dot).
const MAX_DOMAIN: usize = 253;

/// Parses `raw` as an `http`/`https` URL. Input without a scheme is read as `http://` + input.
pub(super) fn parse_web(kind: Kind, raw: &str) -> Result<::url::Url, IdentError> {
    let s = raw.trim();
    // The URL parser silently removes tabs and newlines anywhere; an identifier with one in
    // the middle is more likely two identifiers, so refuse instead.
    if let Some(c) = s.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(
            kind,
            raw,
            format!("it contains {c:?}; give one {} without spaces", kind.noun()),
        ));
    }
    let full = match scheme(s) {
        Some(sch) if sch.eq_ignore_ascii_case("http") || sch.eq_ignore_ascii_case("https") => {
            s.to_owned()
        }
        // `example.com:` and `example.com:/x` are a host with an empty port far more often than
        // a scheme, but a private-use scheme (RFC 8252 §7.1: `com.example.app:/cb`) has the same
        // shape. Both readings are refused (no guessing); the message names the likely one.
        Some(sch)
            if sch.contains('.') && s[sch.len() + 1..].chars().next().is_none_or(|c| c == '/') =>
        {
            return Err(invalid(
                kind,
                raw,
                format!(
                    "its host {sch:?} is followed by a colon but no port; remove the colon or \
                     give the port (if {sch:?} is an app's URL scheme instead, it is not read: \
                     only http and https addresses are)"
                ),
            ))
        }
        Some(sch) => {
            return Err(invalid(
                kind,
                raw,
                format!("its scheme {sch:?} is not http or https; only web addresses are read"),
            ))
        }
        None if s.starts_with("//") => format!("http:{s}"),
        None => {
            // Without a scheme, `user@host` is an e-mail address far more often than userinfo.
            let authority = s.split(['/', '?', '#']).next().unwrap_or("");
            if authority.contains('@') {
                return Err(invalid(
                    kind,
                    raw,
                    "it looks like an e-mail address; use kind email, or give the web address \
                     with http:// or https://",
                ));
            }
            format!("http://{s}")
        }
    };
    let url = ::url::Url::parse(&full).map_err(|e| {
        invalid(
            kind,
            raw,
            format!("it cannot be read as a web address ({e}); check it"),
        )
    })?;
    if url.host().is_none() {
        return Err(invalid(kind, raw, "it has no host name; check it"));
    }
    Ok(url)
}

/// The scheme of `s`, if it starts with one: RFC 3986 `ALPHA *( ALPHA / DIGIT / "+" / "-" /
/// "." )` then `:`, where what follows the `:` is not a digit (`example.com:8080` is a host and
/// a port, not the scheme `example.com`). [`parse_web`] refuses a dotted one followed by
/// nothing or `/` as ambiguous.
fn scheme(s: &str) -> Option<&str> {
    let (head, tail) = s.split_once(':')?;
    let mut chars = head.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    let port_like = tail.starts_with(|c: char| c.is_ascii_digit());
    (first_ok && rest_ok && !port_like).then_some(head)
}

/// A domain host in canonical form: one trailing `.` removed, strict UTS #46 ToASCII
/// (lower-case, A-labels), at least two labels, at most 253 bytes.
pub(super) fn domain_ascii(kind: Kind, raw: &str, host: &str) -> Result<String, IdentError> {
    let host = host.strip_suffix('.').unwrap_or(host);
    // Same settings as the e-mail domain: STD3 rules, hyphen checks, Bidi and joiner rules,
    // non-transitional, DNS lengths.
    let ascii = idna::domain_to_ascii_strict(host).map_err(|_| {
        invalid(
            kind,
            raw,
            "its host is not a valid domain name (letters, digits and hyphens in dot-separated \
             labels of at most 63 bytes, no _); check for typos or stray characters",
        )
    })?;
    if ascii.is_empty() || !ascii.contains('.') {
        return Err(invalid(
            kind,
            raw,
            "its host has a single label; give the full domain, such as example.com",
        ));
    }
    if ascii.len() > MAX_DOMAIN {
        return Err(invalid(
            kind,
            raw,
            format!(
                "its host is {} bytes in ASCII form, more than the {MAX_DOMAIN} allowed; check it",
                ascii.len()
            ),
        ));
    }
    if ascii
        .rsplit('.')
        .next()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(invalid(
            kind,
            raw,
            "its host ends in a number, like an IP address; check it",
        ));
    }
    Ok(ascii)
}
