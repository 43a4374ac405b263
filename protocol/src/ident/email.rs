//! E-mail addresses → `local@domain`: the local part as given (NFC only), the domain in
//! lower-case ASCII (IDNA / UTS #46 ToASCII).
//!
//! With [`Options::provider_rules`], addresses at Gmail (`gmail.com`, `googlemail.com`) are
//! also reduced to the mailbox Google delivers them to: `googlemail.com` becomes `gmail.com`,
//! and the local part loses its `+tag`, its dots and its upper case, as Google documents.
//!
//! Not done: no rules for other providers (their published behaviour either varies by account
//! or is not documented as an equivalence), nor for Google Workspace domains (whether dots are
//! ignored there is not knowable from the address); no DNS look-up.

use super::{invalid, IdentError, Kind, Options};
use unicode_normalization::UnicodeNormalization;

/// Domains Google documents as one mailbox space; the first is the canonical one.
const GMAIL_DOMAINS: [&str; 2] = ["gmail.com", "googlemail.com"];

/// RFC 5321 §4.5.3.1 limits, in octets.
const MAX_LOCAL: usize = 64;
const MAX_DOMAIN: usize = 253;
const MAX_TOTAL: usize = 254;

/// The canonical form without provider rules (what `ewallet` uses for Alipay accounts).
pub(super) fn canonicalize(raw: &str) -> Result<String, IdentError> {
    canonicalize_with(raw, &Options::default())
}

/// The canonical form, with Gmail's rules when `opts.provider_rules` is set.
pub(super) fn canonicalize_with(raw: &str, opts: &Options) -> Result<String, IdentError> {
    let kind = Kind::Email;
    let s = raw.trim();
    if let Some(c) = s.chars().find(|c| c.is_whitespace()) {
        return Err(invalid(
            kind,
            raw,
            format!(
                "it contains whitespace ({c:?}); an address has none, so give the address alone"
            ),
        ));
    }
    if s.chars().any(char::is_control) {
        return Err(invalid(
            kind,
            raw,
            "it contains a control character; remove it",
        ));
    }
    let Some((local, domain)) = s.split_once('@') else {
        return Err(invalid(
            kind,
            raw,
            "it has no @; write it as local-part@domain",
        ));
    };
    if domain.contains('@') {
        return Err(invalid(
            kind,
            raw,
            "it has more than one @; give one address per entry (quoted local parts are not accepted)",
        ));
    }
    if local.is_empty() {
        return Err(invalid(
            kind,
            raw,
            "nothing comes before the @; give the whole address",
        ));
    }
    // Unquoted local parts (RFC 5322 dot-atom, RFC 6531 for non-ASCII) cannot hold these;
    // they come from "mailto:", "<…>" or a display name around the address. Dots are not
    // policed: Japanese carriers issued addresses with leading, trailing and doubled dots.
    if let Some(c) = local.chars().find(|c| "()<>[]:;,\\\"".contains(*c)) {
        return Err(invalid(
            kind,
            raw,
            format!(
                "its part before the @ contains {c:?}; give the bare address (no mailto:, no \
                 <...>, no display name; quoted local parts are not accepted)"
            ),
        ));
    }
    // The local part keeps its case (RFC 5321 leaves its meaning to the receiving server) and
    // its dots; only NFC is applied, so canonically equivalent non-ASCII spellings (RFC 6531
    // addresses) give the same bytes. ASCII is unchanged by NFC.
    let local: String = local.nfc().collect();
    if local.len() > MAX_LOCAL {
        return Err(invalid(
            kind,
            raw,
            format!(
                "the part before the @ is {} bytes, more than the {MAX_LOCAL} that RFC 5321 allows; \
                 check that it is one address",
                local.len()
            ),
        ));
    }
    // A fully qualified domain may end in a root dot; it names the same domain. The dots that
    // UTS #46 maps to `.` (ideographic, full-width, half-width ideographic) count too, so that
    // `example.com。` is read as `example.com.` is (and as kind `domain` reads it).
    let domain = domain
        .strip_suffix(['.', '\u{3002}', '\u{FF0E}', '\u{FF61}'])
        .unwrap_or(domain);
    if domain.is_empty() {
        return Err(invalid(
            kind,
            raw,
            "nothing comes after the @; give the whole address",
        ));
    }
    if domain.starts_with('[') {
        return Err(invalid(
            kind,
            raw,
            "address literals such as [192.0.2.1] are not accepted; give a domain name, or use \
             kind ip for the address",
        ));
    }
    // Strict UTS #46: STD3 rules (letters, digits, hyphens), hyphen checks, DNS lengths, and
    // the Bidi and joiner rules. Mail domains are host names, so nothing laxer is needed.
    let ascii = idna::domain_to_ascii_strict(domain).map_err(|_| {
        invalid(
            kind,
            raw,
            "the part after the @ is not a valid domain name (only letters, digits and hyphens \
             in dot-separated labels of at most 63 bytes); check for typos or stray characters",
        )
    })?;
    if ascii.is_empty() || ascii.len() > MAX_DOMAIN {
        return Err(invalid(
            kind,
            raw,
            format!(
                "the domain is {} bytes in ASCII form, more than the {MAX_DOMAIN} allowed; check it",
                ascii.len()
            ),
        ));
    }
    let tld = ascii.rsplit('.').next().unwrap_or("");
    if !ascii.contains('.') {
        return Err(invalid(
            kind,
            raw,
            "the domain has a single label; give the full domain, such as example.com",
        ));
    }
    if tld.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(
            kind,
            raw,
            "the domain is numeric, like an IP address; give a domain name, or use kind ip for \
             the address",
        ));
    }
    let total = local.len() + 1 + ascii.len();
    if total > MAX_TOTAL {
        return Err(invalid(
            kind,
            raw,
            format!(
                "it is {total} bytes long, more than the {MAX_TOTAL} that RFC 5321 allows; check \
                 that it is one address"
            ),
        ));
    }
    if opts.provider_rules && GMAIL_DOMAINS.contains(&ascii.as_str()) {
        return gmail(&local, raw);
    }
    Ok(format!("{local}@{ascii}"))
}

/// Gmail: Google's help pages state that dots in the user name do not matter, that anything
/// after a `+` is delivered to the same mailbox, that `googlemail.com` and `gmail.com` are the
/// same, and that addresses are not case-sensitive. Gmail user names are ASCII letters, digits
/// and dots, so ASCII lower-casing is all the case folding needed.
fn gmail(local: &str, raw: &str) -> Result<String, IdentError> {
    let user = local.split_once('+').map_or(local, |(user, _tag)| user);
    let user: String = user
        .chars()
        .filter(|c| *c != '.')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if user.is_empty() {
        return Err(invalid(
            Kind::Email,
            raw,
            "its Gmail user name is empty once dots and the +tag are removed; check the address",
        ));
    }
    Ok(format!("{user}@{}", GMAIL_DOMAINS[0]))
}
