//! Domain names → the registrable domain ("eTLD+1") in lower-case ASCII: `example.co.th`.
//!
//! The input may be a bare name (`www.Example.co.th`), a name with a port or path, or a whole
//! `http`/`https` URL (`https://www.Example.co.th/path`): the host is found as a browser finds
//! it, checked with strict IDNA (as for e-mail domains), then cut down to one label under its
//! public suffix (Mozilla's Public Suffix List, ICANN and private sections, via the `psl`
//! crate). So `shop.scam.example`, `www.scam.example` and `https://scam.example/login` all key
//! on `scam.example`, and sites on shared hosting (`x.github.io`, `y.blogspot.com`) stay apart.
//!
//! Not done: IP addresses (refused; use kind `ip`), no DNS look-up, no folding of look-alike
//! names (`examp1e.com`), no keeping of sub-domains (use kind `url` for the exact host).

use super::url::{domain_ascii, parse_web, written_host};
use super::{invalid, IdentError, Kind, Options};

pub(super) fn canonicalize(raw: &str, _opts: &Options) -> Result<String, IdentError> {
    let kind = Kind::Domain;
    let url = parse_web(kind, raw)?;
    let host = match url.host() {
        Some(::url::Host::Domain(d)) => d,
        // Browsers read `12345`, `0x7f.1` and `1.2.3` as IPv4 hosts too (as kind `url` does);
        // every IP host is refused here, and the message says when it was not written as one.
        Some(::url::Host::Ipv4(a)) if written_host(raw) != a.to_string() => {
            return Err(invalid(
                kind,
                raw,
                format!(
                    "its host is read as the IP address {a}, not a domain name; give a domain \
                     name, or use kind ip for an address"
                ),
            ))
        }
        Some(::url::Host::Ipv4(_)) | Some(::url::Host::Ipv6(_)) => {
            return Err(invalid(
                kind,
                raw,
                "it is an IP address, not a domain name; use kind ip",
            ))
        }
        None => return Err(invalid(kind, raw, "it has no host name; check it")),
    };
    let ascii = domain_ascii(kind, raw, host)?;
    // The PSL algorithm: the longest matching rule (exceptions and wildcards included) gives the
    // public suffix; a name matching no rule has its last label as suffix (the default rule
    // "*"), so a top-level domain newer than the list still gives the same answer as a newer
    // list would.
    match psl::domain(ascii.as_bytes()) {
        Some(d) => match std::str::from_utf8(d.as_bytes()) {
            Ok(d) => Ok(d.to_owned()),
            Err(_) => Err(invalid(kind, raw, "its host is not ASCII; check it")),
        },
        None => Err(invalid(
            kind,
            raw,
            format!(
                "{ascii} is a public suffix, under which anyone can register names; give a \
                 domain under it, such as example.{ascii}"
            ),
        )),
    }
}
