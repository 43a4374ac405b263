//! E-wallet accounts → `provider:account`: the provider's name from [`PROVIDERS`] (lower-case
//! ASCII) and the account in the canonical form of what it is: a phone number in E.164 (read as
//! the `phone` kind does, in the provider's country), an e-mail address (as the `email` kind,
//! without provider rules), or a provider-specific ID (`promptpay:+66812345678`,
//! `wechat:somchai_88`).
//!
//! Adding a provider: add a row to [`PROVIDERS`] with its canonical name (lower-case ASCII,
//! never changed once used), its aliases (as [`provider_key`] writes them) and its account
//! rule; then add it to the spec's provider table with vectors.
//!
//! Not done: no check that an account exists or that a phone number is a mobile number; a
//! wallet's internal user IDs (other than PromptPay e-wallet IDs and WeChat IDs) are not read.

use super::{email, invalid, national_id, phone, IdentError, Kind, Options};
use unicode_normalization::UnicodeNormalization;

/// What a provider's account is.
#[derive(Clone, Copy)]
enum Rule {
    /// PromptPay: a Thai phone number, a 13-digit Thai ID number (citizen or juristic person,
    /// same check digit) or a 15-digit e-wallet ID.
    PromptPay,
    /// A phone number valid in the given country (`+` and its calling code, or national format).
    Phone {
        region: &'static str,
        calling_code: &'static str,
    },
    /// An e-mail address, or a phone number (national format read in the given region; any
    /// country with `+`).
    EmailOrPhone { region: &'static str },
    /// A WeChat ID (starts with a letter) or a phone number (as `EmailOrPhone`, without e-mail).
    WeChat { region: &'static str },
}

/// Canonical name, aliases (besides the canonical name; already in [`provider_key`] form),
/// account rule.
const PROVIDERS: &[(&str, &[&str], Rule)] = &[
    ("promptpay", &["พร้อมเพย์"], Rule::PromptPay),
    (
        "truemoney",
        &[
            "truemoneywallet",
            "truewallet",
            "tmn",
            "ทรูมันนี่",
            "ทรูมันนี่วอลเล็ท",
        ],
        Rule::Phone {
            region: "TH",
            calling_code: "+66",
        },
    ),
    (
        "gcash",
        &[],
        Rule::Phone {
            region: "PH",
            calling_code: "+63",
        },
    ),
    (
        "maya",
        &["paymaya"],
        Rule::Phone {
            region: "PH",
            calling_code: "+63",
        },
    ),
    (
        "alipay",
        &["支付宝", "支付寶", "zhifubao"],
        Rule::EmailOrPhone { region: "CN" },
    ),
    (
        "wechat",
        &["wechatpay", "weixin", "weixinpay", "微信", "微信支付"],
        Rule::WeChat { region: "CN" },
    ),
    (
        "momo",
        &["momowallet", "vímomo"],
        Rule::Phone {
            region: "VN",
            calling_code: "+84",
        },
    ),
];

pub(super) fn canonicalize(raw: &str, _opts: &Options) -> Result<String, IdentError> {
    let kind = Kind::Ewallet;
    // NFKC folds full-width letters, digits, `：` and `＋` to ASCII.
    // Trimmed again: NFKC can create spaces at either end (U+00A8 is a space and U+0308).
    let s: String = raw.trim().nfkc().collect();
    let s = s.trim();
    let Some((name, rule, account)) = split(s) else {
        if let Some((name, _)) = lookup(s) {
            return Err(invalid(
                kind,
                raw,
                format!("it names {name} but no account; give both, as in {name}:081-234-5678"),
            ));
        }
        return Err(invalid(
            kind,
            raw,
            format!(
                "it does not start with a known e-wallet provider; write the provider, a colon and \
                 the account, as in promptpay:081-234-5678 (providers: {})",
                provider_list()
            ),
        ));
    };
    let account = account.trim();
    if account.is_empty() {
        return Err(invalid(
            kind,
            raw,
            format!("it names {name} but no account; give both, as in {name}:081-234-5678"),
        ));
    }
    let account = match rule {
        Rule::PromptPay => promptpay(account, raw)?,
        Rule::Phone {
            region,
            calling_code,
        } => phone_in(account, region, Some(calling_code), raw)?,
        Rule::EmailOrPhone { .. } if account.contains('@') => {
            email::canonicalize(account).map_err(|e| wrap(raw, "e-mail address", &e))?
        }
        Rule::EmailOrPhone { region } => phone_in(account, region, None, raw)?,
        Rule::WeChat { region } => {
            if account.starts_with(|c: char| c.is_ascii_alphabetic()) {
                wechat_id(account, raw)?
            } else if account.contains(|c: char| c.is_ascii_alphabetic()) {
                return Err(invalid(
                    Kind::Ewallet,
                    raw,
                    "its account has letters but does not start with one, so it is neither a \
                     WeChat ID (which starts with a letter) nor a phone number; check it",
                ));
            } else {
                phone_in(account, region, None, raw)?
            }
        }
    };
    Ok(format!("{name}:{account}"))
}

/// Finds the provider: before the first `:` if there is one; otherwise the longest run of
/// leading words (up to three) that names one. Returns (canonical name, rule, account text).
fn split(s: &str) -> Option<(&'static str, Rule, &str)> {
    if let Some((name, account)) = s.split_once(':') {
        let (canonical, rule) = lookup(name)?;
        return Some((canonical, rule, account));
    }
    // Word boundaries: the byte offsets where each whitespace run ends.
    let mut ends = Vec::new();
    let mut in_space = false;
    for (i, c) in s.char_indices() {
        if c.is_whitespace() && !in_space {
            ends.push(i);
        }
        in_space = c.is_whitespace();
    }
    ends.into_iter().take(3).rev().find_map(|end| {
        let (canonical, rule) = lookup(&s[..end])?;
        Some((canonical, rule, &s[end..]))
    })
}

fn lookup(name: &str) -> Option<(&'static str, Rule)> {
    let key = provider_key(name);
    PROVIDERS
        .iter()
        .find(|(canonical, aliases, _)| *canonical == key || aliases.contains(&key.as_str()))
        .map(|(canonical, _, rule)| (*canonical, *rule))
}

/// A provider name as looked up: lower case (Unicode), without whitespace, `-`, `_` and `.`
/// (`True Money`, `true-money` and `TrueMoney` are one key).
fn provider_key(name: &str) -> String {
    name.chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '_' | '.'))
        .flat_map(char::to_lowercase)
        .collect()
}

fn provider_list() -> String {
    PROVIDERS
        .iter()
        .map(|(name, _, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// PromptPay: 13 digits is a Thai ID number (check digit verified), 15 digits an e-wallet ID,
/// anything else a Thai phone number.
fn promptpay(account: &str, raw: &str) -> Result<String, IdentError> {
    let mut digits = String::new();
    let mut only_digits_and_seps = !account.starts_with('+');
    for c in account.chars() {
        match c {
            '0'..='9' => digits.push(c),
            '-' | '.' => {}
            c if c.is_whitespace() => {}
            _ => only_digits_and_seps = false,
        }
    }
    if only_digits_and_seps && digits.len() == 13 {
        return match national_id::thai_id(&digits) {
            Ok(()) => Ok(digits),
            Err(reason) => Err(invalid(
                Kind::Ewallet,
                raw,
                format!("its 13 digits are read as a Thai ID number, and {reason}"),
            )),
        };
    }
    if only_digits_and_seps && digits.len() == 15 {
        return Ok(digits);
    }
    phone_in(account, "TH", Some("+66"), raw)
}

/// The account as a phone number read with `region`; if `calling_code` is given, the number
/// must belong to that country.
fn phone_in(
    account: &str,
    region: &str,
    calling_code: Option<&str>,
    raw: &str,
) -> Result<String, IdentError> {
    let e164 = phone::canonicalize(account, &Options::with_region(region))
        .map_err(|e| wrap(raw, "phone number", &e))?;
    if let Some(code) = calling_code {
        // Calling codes are prefix-free (ITU-T E.164), so a prefix match is exact.
        if !e164.starts_with(code) {
            return Err(invalid(
                Kind::Ewallet,
                raw,
                format!(
                    "its phone number {e164} is not a number of {region} ({code}), where this \
                     wallet's accounts are registered; check the number and the provider"
                ),
            ));
        }
    }
    Ok(e164)
}

/// WeChat ID, as WeChat states the rule: 6 to 20 letters, digits, `_` and `-`, starting with a
/// letter. Case-insensitive (WeChat finds `Somchai_88` as `somchai_88`), so lower-cased.
fn wechat_id(account: &str, raw: &str) -> Result<String, IdentError> {
    let kind = Kind::Ewallet;
    if let Some(c) = account
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        return Err(invalid(
            kind,
            raw,
            format!(
                "its WeChat ID contains {c:?}; a WeChat ID has only letters, digits, _ and - \
                 (give a phone number with + if it is one)"
            ),
        ));
    }
    if !(6..=20).contains(&account.len()) {
        return Err(invalid(
            kind,
            raw,
            format!(
                "its WeChat ID has {} character{}, but WeChat IDs have 6 to 20; check it",
                account.len(),
                if account.len() == 1 { "" } else { "s" }
            ),
        ));
    }
    Ok(account.to_ascii_lowercase())
}

/// A phone or e-mail refusal, restated for the e-wallet input.
fn wrap(raw: &str, what: &str, e: &IdentError) -> IdentError {
    let reason = match e {
        IdentError::Invalid { reason, .. } => {
            // The phone kind's hints about --region do not apply: the provider sets the region.
            let reason = reason.replace(" and that --region is right", "").replace(
                " and --region, or write it in +E.164 form",
                " or write it in +E.164 form",
            );
            format!("its account is not a valid {what}: {reason}")
        }
        IdentError::NeedRegion { .. } => {
            format!("its account is not a valid {what}; write it in +E.164 form")
        }
        _ => format!("its account is not a valid {what}; check it"),
    };
    invalid(Kind::Ewallet, raw, reason)
}
