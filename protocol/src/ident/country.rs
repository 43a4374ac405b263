//! Country codes: ISO 3166-1 alpha-2 and alpha-3, from the `celes` crate's table.
//!
//! Kinds that carry a country (`national-id`, `bank-account`, person nationality) accept either
//! form in any letter case and write one canonical form. ICAO 9303 codes that are not ISO 3166
//! (`D` for Germany, `XXA` stateless, `UNO`, `GBD`, …) are handled by `passport`, not here.

use celes::Country;

/// The ISO 3166-1 alpha-3 code (`THA`) for an alpha-2 or alpha-3 code in any case, or `None`.
pub(crate) fn alpha3(code: &str) -> Option<&'static str> {
    lookup(code).map(|c| c.alpha3)
}

/// The ISO 3166-1 alpha-2 code (`TH`) for an alpha-2 or alpha-3 code in any case, or `None`.
pub(crate) fn alpha2(code: &str) -> Option<&'static str> {
    lookup(code).map(|c| c.alpha2)
}

fn lookup(code: &str) -> Option<Country> {
    let code = code.trim();
    if !code.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    match code.len() {
        2 => Country::from_alpha2(code).ok(),
        3 => Country::from_alpha3(code).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_any_case() {
        assert_eq!(alpha3("th"), Some("THA"));
        assert_eq!(alpha3("THA"), Some("THA"));
        assert_eq!(alpha3("Mm"), Some("MMR"));
        assert_eq!(alpha2("khm"), Some("KH"));
        assert_eq!(alpha2("VN"), Some("VN"));
        assert_eq!(alpha3("XX"), None);
        assert_eq!(alpha3("TH1"), None);
        assert_eq!(alpha3("ไทย"), None);
        assert_eq!(alpha3(""), None);
    }
}
