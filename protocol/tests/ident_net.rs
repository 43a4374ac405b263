// Network-ish identifier kinds: `crypto`, `ip` with a time window, `domain` and `url`. Known
// answers (published test vectors where they exist), equivalent spellings, refusals, and
// properties (idempotence, checksums catch typos, no panics).

use cordon_protocol::ident::*;
use proptest::prelude::*;
use sha3::{Digest, Keccak256};
use std::net::Ipv4Addr;

fn opts(chain: Option<&str>, window: Option<&str>) -> Options {
    Options {
        chain: chain.map(str::to_owned),
        window: window.map(str::to_owned),
        ..Options::default()
    }
}

fn canon_with(kind: Kind, raw: &str, o: &Options) -> Result<String, IdentError> {
    let c = canonicalize(kind, raw, o).map(Canonical::into_value)?;
    // Every answer is a fixed point, with the same options.
    assert_eq!(
        canonicalize(kind, &c, o).map(Canonical::into_value),
        Ok(c.clone()),
        "{kind} {raw:?} -> {c:?} is not a fixed point"
    );
    Ok(c)
}

fn canon(kind: Kind, raw: &str) -> Result<String, IdentError> {
    canon_with(kind, raw, &Options::default())
}

fn crypto(raw: &str, chain: Option<&str>) -> Result<String, IdentError> {
    canon_with(Kind::Crypto, raw, &opts(chain, None))
}

fn ip(raw: &str, window: Option<&str>) -> Result<String, IdentError> {
    canon_with(Kind::Ip, raw, &opts(None, window))
}

fn reason(r: Result<String, IdentError>) -> String {
    match r {
        Err(IdentError::Invalid { reason, .. }) => reason,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// crypto
// ---------------------------------------------------------------------------------------------

#[test]
fn crypto_bitcoin_base58() {
    // The genesis block's coinbase address, and the P2SH example of the Bitcoin wiki.
    let genesis = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa";
    let want = format!("btc:{genesis}");
    for s in [
        genesis,
        " 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa\t",
        "btc:1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
        "BTC:1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
        "bitcoin:1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
        "bitcoin:1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa?amount=50&label=Genesis",
    ] {
        assert_eq!(crypto(s, None), Ok(want.clone()), "{s}");
    }
    assert_eq!(crypto(genesis, Some("btc")), Ok(want.clone()));
    assert_eq!(crypto(genesis, Some("AUTO")), Ok(want));
    assert_eq!(
        crypto("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", None),
        Ok("btc:3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy".into())
    );
    // Base58 is case-sensitive: a changed case is a different (here invalid) address.
    assert!(reason(crypto("1a1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", None)).contains("checksum"));
    assert!(reason(crypto("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb", None)).contains("checksum"));
    assert!(reason(crypto("1A1zP1eP5QGefi2DMPTfTL5SLmv7Div0Na", None)).contains("Base58"));
    // Testnet (version 0x6f).
    assert!(reason(crypto("mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn", None)).contains("testnet"));
}

#[test]
fn crypto_bitcoin_segwit_bip173_bip350() {
    // BIP-350's valid mainnet vectors (v0 with bech32, v1+ with bech32m), in lower case.
    for (input, want) in [
        (
            "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
        ),
        (
            "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y",
            "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y",
        ),
        ("BC1SW50QGDZ25J", "bc1sw50qgdz25j"),
        (
            "bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs",
            "bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs",
        ),
        (
            "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
            "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
        ),
    ] {
        assert_eq!(crypto(input, None), Ok(format!("btc:{want}")), "{input}");
        assert_eq!(crypto(input, Some("btc")), Ok(format!("btc:{want}")));
        assert_eq!(
            crypto(&format!("bitcoin:{input}"), None),
            Ok(format!("btc:{want}"))
        );
    }
    // BIP-173/BIP-350 invalid vectors.
    for bad in [
        "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", // checksum
        "BC13W508D6QEJXTDG4Y5R3ZARVARY0C5XW7KN40WF2", // witness version 17
        "bc1rw5uspcuh",                               // program too short
        "BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P",       // v0 program of 16 bytes
        "bc1zw508d6qejxtdg4y5r3zarvaryvqyzf3du",      // padding
        "bc1gmk9yu",                                  // empty data
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd", // v1 with bech32
        "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh", // v0 with bech32m
        "bc1pw5dgrnzv",                               // v1 program of 1 byte
    ] {
        assert!(crypto(bad, None).is_err(), "{bad} accepted");
    }
    assert!(reason(crypto("bc1qw508d6qejxtdg4y5r3zarvaRy0c5xw7kv8f3t4", None)).contains("mixes"));
    assert!(reason(crypto(
        "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
        None
    ))
    .contains("testnet"));
}

#[test]
fn crypto_ethereum_eip55() {
    // EIP-55's own examples: all four checksummed spellings are accepted.
    for a in [
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
        "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
    ] {
        let want = format!("eth:{}", a.to_ascii_lowercase());
        assert_eq!(crypto(a, None), Ok(want.clone()));
        assert_eq!(crypto(&a.to_ascii_lowercase(), None), Ok(want.clone()));
        assert_eq!(
            crypto(&format!("0x{}", a[2..].to_ascii_uppercase()), None),
            Ok(want.clone())
        );
        assert_eq!(
            crypto(&format!("ethereum:{a}"), Some("eth")),
            Ok(want.clone())
        );
        assert_eq!(crypto(&a[2..], Some("eth")), Ok(want));
        assert_eq!(eip55(&a[2..].to_ascii_lowercase()), a[2..]);
    }
    assert!(reason(crypto("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD", None)).contains("EIP-55"));
    assert!(reason(crypto("5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", None)).contains("0x"));
    assert!(crypto("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beae", None).is_err());
    assert!(crypto("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaedd", None).is_err());
    assert!(crypto("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaeg", None).is_err());
    // The chain option refuses an address of another chain and says which.
    assert!(reason(crypto(
        "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",
        Some("btc")
    ))
    .contains("Ethereum"));
    assert!(reason(crypto(
        "eth:0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",
        Some("tron")
    ))
    .contains("prefix"));
}

#[test]
fn crypto_tron() {
    // USDT's TRC-20 contract; its hex form is what TRON's APIs return.
    let want = "tron:TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t";
    for s in [
        "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t",
        "tron:TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t",
        "41a614f803b6fd780986a42c78ec9c7f77e6ded13c",
        "41A614F803B6FD780986A42C78EC9C7F77E6DED13C",
    ] {
        assert_eq!(crypto(s, None), Ok(want.into()), "{s}");
        assert_eq!(crypto(s, Some("tron")), Ok(want.into()), "{s}");
    }
    assert!(reason(crypto("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", Some("eth"))).contains("TRON"));
    assert!(reason(crypto("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", Some("tron"))).contains("Bitcoin"));
    assert!(crypto("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6T", None).is_err());
    assert!(crypto("42a614f803b6fd780986a42c78ec9c7f77e6ded13c", Some("tron")).is_err());
    assert!(reason(crypto("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", Some("trx"))).contains("chain"));
    assert!(crypto("hello", None).is_err());
    assert!(crypto("doge:DH5yaieqoZN36fDVciNyRueRGvGLR3mr7L", None).is_err());
}

/// EIP-55, written from the EIP.
fn eip55(lower: &str) -> String {
    let h = Keccak256::digest(lower.as_bytes());
    lower
        .char_indices()
        .map(|(i, c)| {
            let n = (h[i / 2] >> (4 * (1 - i % 2))) & 0xf;
            if n >= 8 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// ip with a window
// ---------------------------------------------------------------------------------------------

#[test]
fn ip_window() {
    let want = "203.0.113.7@2025-08-23T14";
    for (raw, w) in [
        ("203.0.113.7@2025-08-23T14", None),
        ("203.0.113.7", Some("2025-08-23T14")),
        ("203.0.113.7", Some("2025-08-23T14Z")),
        (" 203.0.113.7 @ 2025-08-23t14z ", None),
        ("203.0.113.7@2025-08-23T14+00:00", Some("2025-08-23T14")),
        ("::ffff:203.0.113.7@2025-08-23T14", None),
    ] {
        assert_eq!(ip(raw, w), Ok(want.into()), "{raw} {w:?}");
    }
    assert_eq!(
        ip("2001:DB8::1", Some("2024-02-29")),
        Ok("2001:db8::1@2024-02-29".into())
    );
    assert_eq!(
        ip("[2001:db8::1]@2000-02-29Z", None),
        Ok("2001:db8::1@2000-02-29".into())
    );
    // Without a window, unchanged.
    assert_eq!(ip("203.0.113.7", None), Ok("203.0.113.7".into()));
    for (raw, w, why) in [
        (
            "203.0.113.7@2025-08-23T14",
            Some("2025-08-23T15"),
            "differs",
        ),
        ("203.0.113.7@2025-08-23", Some("2025-08-23T14"), "differs"),
        ("203.0.113.7@2025-02-29", None, "calendar"),
        ("203.0.113.7@1900-02-29", None, "calendar"),
        ("203.0.113.7@2025-04-31", None, "calendar"),
        ("203.0.113.7@2025-13-01", None, "calendar"),
        ("203.0.113.7@2025-08-23T24", None, "hour"),
        ("203.0.113.7@2025-08-23T14:30", None, "minutes"),
        ("203.0.113.7@2025-08-23T14+07:00", None, "UTC"),
        ("203.0.113.7@2025-08-23-05:00", None, "UTC"),
        ("203.0.113.7", Some("2025-08-23T14+07"), "UTC"),
        ("203.0.113.7@2025-8-23", None, "date"),
        ("203.0.113.7@", None, "empty"),
        ("@2025-08-23", None, "address"),
        ("203.0.113.7@2025-08-23@2025-08-23", None, "after the date"),
        ("010.0.113.7@2025-08-23", None, "leading zero"),
        ("203.0.113.7@2025-08-23T14 Z", None, "\" Z\" after the hour"),
        ("203.0.113.7@2025-08-23 Z", None, "\" Z\" after the date"),
        // A bad option is reported as the option's fault.
        (
            "203.0.113.7",
            Some("2025-8-23"),
            "the window option \"2025-8-23\"",
        ),
        ("203.0.113.7", Some("  "), "the window option is empty"),
        ("203.0.113.7", Some("2025-02-29"), "the window option"),
        ("203.0.113.7@2025-02-29", None, "its window"),
    ] {
        let r = reason(ip(raw, w));
        assert!(r.contains(why), "{raw} {w:?}: {r}");
    }
    // The option is trimmed, as the input is.
    for w in [" 2025-08-23", "2025-08-23 ", "\t2025-08-23\n"] {
        assert_eq!(
            ip("203.0.113.7", Some(w)),
            Ok("203.0.113.7@2025-08-23".into()),
            "{w:?}"
        );
    }
    assert_eq!(
        ip("203.0.113.7@2025-08-23T14", Some(" 2025-08-23t14Z ")),
        Ok(want.into())
    );
}

/// RFC 4291 §2.2 text forms as `Ipv6Addr::from_str` reads them; `::` may stand for one group.
#[test]
fn ipv6_text_forms() {
    for (raw, want) in [
        ("1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"),
        ("::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"),
        ("1::3:4:5:6:7:8", "1:0:3:4:5:6:7:8"),
        ("1:0:0:4:5:0:0:0", "1:0:0:4:5::"),
        ("::", "::"),
        ("0:0:0:0:0:ffff:c000:201", "192.0.2.1"),
        ("::FFFF:192.0.2.1", "192.0.2.1"),
        ("64:ff9b::192.0.2.1", "64:ff9b::c000:201"),
    ] {
        assert_eq!(ip(raw, None), Ok(want.into()), "{raw}");
    }
    for raw in [
        "1:2:3:4:5:6:7:8:9",
        "1::2::3",
        "12345::1",
        "1:2:3:4:5:6:7:8::",
        ":1:2:3:4:5:6:7",
        "::ffff:192.0.2",
        "g::1",
    ] {
        assert!(ip(raw, None).is_err(), "{raw}");
    }
}

// ---------------------------------------------------------------------------------------------
// domain and url
// ---------------------------------------------------------------------------------------------

#[test]
fn domain_registrable() {
    for (raw, want) in [
        ("example.co.th", "example.co.th"),
        ("www.Example.CO.TH.", "example.co.th"),
        ("https://www.Example.co.th/path?q=1#f", "example.co.th"),
        ("HTTP://user:pw@shop.example.co.th:8080/", "example.co.th"),
        ("shop.example.co.th/login", "example.co.th"),
        ("//example.co.th", "example.co.th"),
        ("www.ตัวอย่าง.ไทย", "xn--72c1a1bt4awk9o.xn--o3cw4h"),
        ("a.b.ทหาร.ไทย", "b.xn--o3cyx2a.xn--o3cw4h"),
        ("ＥＸＡＭＰＬＥ。ｃｏｍ", "example.com"),
        ("www.example.com。", "example.com"),
        ("exa%6Dple.com", "example.com"),
        ("straße.de", "xn--strae-oqa.de"),
        ("scam.github.io", "scam.github.io"),
        ("x.y.scam.github.io", "scam.github.io"),
        ("foo.bar.kawasaki.jp", "foo.bar.kawasaki.jp"),
        ("www.city.kawasaki.jp", "city.kawasaki.jp"),
        ("a.example.notatld", "example.notatld"),
    ] {
        assert_eq!(canon(Kind::Domain, raw), Ok(want.into()), "{raw}");
    }
    for (raw, why) in [
        ("co.th", "public suffix"),
        ("github.io", "public suffix"),
        ("localhost", "single label"),
        ("192.0.2.1", "kind ip"),
        ("http://[2001:db8::1]/", "kind ip"),
        ("user@example.com", "e-mail"),
        ("ftp://example.com", "scheme"),
        ("exa_mple.com", "not a valid domain"),
        ("-example.com", "not a valid domain"),
        ("example..com", "not a valid domain"),
        ("exa mple.com", "' '"),
        // Hosts the URL parser reads as IPv4 leniently are refused, saying so.
        ("12345", "read as the IP address 0.0.48.57"),
        ("0x7f.1", "read as the IP address 127.0.0.1"),
        ("1.2.3", "read as the IP address 1.2.0.3"),
        // A dotted "scheme" with nothing or / after the colon: an empty port, most likely.
        ("example.com:", "followed by a colon but no port"),
        ("example.com:/x", "followed by a colon but no port"),
        ("com.example.app://cb", "scheme"),
        ("example.com。。", "not a valid domain"),
    ] {
        let r = reason(canon(Kind::Domain, raw));
        assert!(r.contains(why), "{raw}: {r}");
    }
}

#[test]
fn url_host_and_path() {
    for (raw, want) in [
        (
            "https://www.Example.co.th/login?utm_source=x#top",
            "www.example.co.th/login",
        ),
        ("http://www.example.co.th/login", "www.example.co.th/login"),
        ("www.example.co.th/login", "www.example.co.th/login"),
        ("HTTPS://WWW.EXAMPLE.CO.TH:443", "www.example.co.th/"),
        ("http://example.com:80/a/./b/../c", "example.com/a/c"),
        ("https://example.com:8443/", "example.com:8443/"),
        ("http://example.com:443/", "example.com/"),
        ("https://example.com:80/", "example.com/"),
        (
            "example.com/%7euser/%2fx%41%e0%b8",
            "example.com/~user/%2FxA%E0%B8",
        ),
        ("example.com/a/%2e%2E/b", "example.com/b"),
        ("https://user:pw@example.com/", "example.com/"),
        ("http://192.0.2.1:8080/admin", "192.0.2.1:8080/admin"),
        ("http://[2001:DB8::1]/", "[2001:db8::1]/"),
        ("http://[::ffff:192.0.2.1]/", "192.0.2.1/"),
        ("https://bücher.de/straße", "xn--bcher-kva.de/stra%C3%9Fe"),
        ("example.com./", "example.com/"),
        ("example.com。/x", "example.com/x"),
        ("exa%6Dple.com/", "example.com/"),
        ("example.com\\a\\b", "example.com/a/b"),
    ] {
        assert_eq!(canon(Kind::Url, raw), Ok(want.into()), "{raw}");
    }
    for (raw, why) in [
        ("javascript:alert(1)", "scheme"),
        ("ftp://example.com/", "scheme"),
        ("localhost/", "single label"),
        ("example.com/a%zz", "%"),
        ("example.com/a b", "' '"),
        ("user@example.com/", "e-mail"),
        ("http://exa_mple.com/", "not a valid domain"),
        ("http://example.com:99999/", "web address"),
        ("example.com:", "followed by a colon but no port"),
        ("example.com:/x", "followed by a colon but no port"),
        (
            "com.example.app:/oauth2redirect",
            "followed by a colon but no port",
        ),
        ("a.b:x", "scheme"),
    ] {
        let r = reason(canon(Kind::Url, raw));
        assert!(r.contains(why), "{raw}: {r}");
    }
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

/// 512 cases per property, unless PROPTEST_CASES asks for another number.
fn config() -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = 512;
    }
    config.failure_persistence = None;
    config
}

fn net_kind() -> impl Strategy<Value = Kind> {
    proptest::sample::select(vec![Kind::Crypto, Kind::Ip, Kind::Domain, Kind::Url])
}

fn noisy() -> impl Strategy<Value = String> {
    let pool: Vec<char> = "0123456789abcdefxX:./@?#%[]-_~\\ TtZz+bc1qpBC13mn\u{a0}ไทยü\u{200b}ß。"
        .chars()
        .collect();
    proptest::collection::vec(proptest::sample::select(pool), 0..60)
        .prop_map(|v| v.into_iter().collect())
}

fn any_opts() -> impl Strategy<Value = Options> {
    (
        proptest::option::of(proptest::sample::select(vec![
            "btc", "eth", "tron", "auto", "x",
        ])),
        proptest::option::of(proptest::sample::select(vec![
            "2025-08-23",
            "2025-08-23T14",
            "2025-02-30",
            "",
        ])),
    )
        .prop_map(|(c, w)| opts(c, w))
}

fn date() -> impl Strategy<Value = (u32, u32, u32)> {
    (1970u32..2100, 1u32..13, 1u32..32)
}

fn leap(y: u32) -> bool {
    y.is_multiple_of(4) && (!y.is_multiple_of(100) || y.is_multiple_of(400))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn never_panics_and_fixed_point(kind in net_kind(), raw in any::<String>(), o in any_opts()) {
        if let Ok(c) = canonicalize(kind, &raw, &o) {
            prop_assert_eq!(canonicalize(kind, c.value(), &o), Ok(c));
        }
    }

    #[test]
    fn noisy_never_panics_and_fixed_point(kind in net_kind(), raw in noisy(), o in any_opts()) {
        if let Ok(c) = canonicalize(kind, &raw, &o) {
            prop_assert_eq!(canonicalize(kind, c.value(), &o), Ok(c));
        }
    }

    #[test]
    fn base58check_addresses(version in proptest::sample::select(vec![0x00u8, 0x05, 0x41]),
                             hash in any::<[u8; 20]>(), pos in 0usize..34, sub in 0usize..58) {
        let mut payload = vec![version];
        payload.extend_from_slice(&hash);
        let addr = bs58::encode(&payload).with_check().into_string();
        let chain = if version == 0x41 { "tron" } else { "btc" };
        let want = format!("{chain}:{addr}");
        prop_assert_eq!(crypto(&addr, None), Ok(want.clone()));
        prop_assert_eq!(crypto(&addr, Some(chain)), Ok(want.clone()));
        if version == 0x41 {
            prop_assert_eq!(crypto(&hex::encode(&payload), None), Ok(want.clone()));
        }
        // One substituted character: the 32-bit checksum catches it (or the form is refused).
        let alphabet = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
        let mut b = addr.clone().into_bytes();
        if pos < b.len() && b[pos] != alphabet[sub] {
            b[pos] = alphabet[sub];
            let typo = String::from_utf8(b).unwrap();
            prop_assert!(crypto(&typo, None).is_err(), "{} accepted", typo);
        }
    }

    #[test]
    fn segwit_addresses(v1 in any::<bool>(), long in any::<bool>(), prog in any::<[u8; 32]>(),
                        pos in 4usize..40, sub in 0usize..32) {
        let hrp = bech32::hrp::BC;
        let (ver, len) = if v1 { (bech32::segwit::VERSION_1, 32) } else { (bech32::segwit::VERSION_0, if long { 32 } else { 20 }) };
        let addr = bech32::segwit::encode(hrp, ver, &prog[..len]).unwrap();
        let want = format!("btc:{addr}");
        prop_assert_eq!(crypto(&addr, None), Ok(want.clone()));
        prop_assert_eq!(crypto(&addr.to_ascii_uppercase(), Some("btc")), Ok(want.clone()));
        let charset = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";
        let mut b = addr.clone().into_bytes();
        if b[pos] != charset[sub] {
            b[pos] = charset[sub];
            let typo = String::from_utf8(b).unwrap();
            prop_assert!(crypto(&typo, None).is_err(), "{} accepted", typo);
        }
    }

    #[test]
    fn ethereum_addresses(bytes in any::<[u8; 20]>(), flip in 0usize..40) {
        let lower = hex::encode(bytes);
        let want = format!("eth:0x{lower}");
        let checksummed = eip55(&lower);
        for s in [format!("0x{lower}"), format!("0x{checksummed}"), format!("0X{}", lower.to_ascii_uppercase()), format!("eth:0x{checksummed}")] {
            prop_assert_eq!(crypto(&s, None), Ok(want.clone()), "{}", s);
        }
        // Changing the case of one letter breaks EIP-55, unless no mixed case is left.
        let mut b = checksummed.clone().into_bytes();
        if b[flip].is_ascii_alphabetic() {
            b[flip] ^= 0x20;
            let t = String::from_utf8(b).unwrap();
            let mixed = t.bytes().any(|c| c.is_ascii_lowercase()) && t.bytes().any(|c| c.is_ascii_uppercase());
            if mixed {
                prop_assert!(crypto(&format!("0x{t}"), None).is_err(), "{} accepted", t);
            }
        }
    }

    #[test]
    fn ip_window_spellings_agree(a in any::<Ipv4Addr>(), (y, m, d) in date(), hour in proptest::option::of(0u32..24)) {
        let dim = match m { 2 if leap(y) => 29, 2 => 28, 4 | 6 | 9 | 11 => 30, _ => 31 };
        let bucket = match hour {
            Some(h) => format!("{y:04}-{m:02}-{d:02}T{h:02}"),
            None => format!("{y:04}-{m:02}-{d:02}"),
        };
        let spellings = [
            (format!("{a}@{bucket}"), None),
            (format!("{a}@{bucket}Z"), None),
            (format!("{a}@{}", bucket.to_ascii_lowercase()), Some(bucket.clone())),
            (a.to_string(), Some(format!("{bucket}+00:00"))),
            (format!("::ffff:{a}"), Some(bucket.clone())),
        ];
        for (raw, w) in spellings {
            let got = ip(&raw, w.as_deref());
            if d <= dim {
                prop_assert_eq!(got, Ok(format!("{a}@{bucket}")), "{} {:?}", raw, w);
            } else {
                prop_assert!(got.is_err(), "{} {:?} accepted", raw, w);
            }
        }
    }

    #[test]
    fn domain_keys_on_registrable(
        subs in proptest::collection::vec("[a-z0-9]{1,8}", 0..3),
        name in "[a-z0-9]{1,10}(-[a-z0-9]{1,5})?",
        suffix in proptest::sample::select(vec!["com", "co.th", "in.th", "ac.jp", "com.vn", "org.kh", "gov.ph", "co.uk", "github.io"]),
        path in "(/[a-zA-Z0-9._~-]{0,6}){0,3}",
        upper in any::<bool>(),
    ) {
        let reg = format!("{name}.{suffix}");
        // A few such names are public suffixes themselves (the list's private section has
        // `x0.com`-like entries); they are refused, rightly, and tested elsewhere.
        prop_assume!(psl::domain(reg.as_bytes()).map(|d| d.as_bytes()) == Some(reg.as_bytes()));
        let host = if subs.is_empty() { reg.clone() } else { format!("{}.{reg}", subs.join(".")) };
        let host = if upper { host.to_ascii_uppercase() } else { host };
        for s in [host.clone(), format!("{host}."), format!("https://{host}{path}"), format!("{host}:8080{path}")] {
            prop_assert_eq!(canon(Kind::Domain, &s), Ok(reg.clone()), "{}", s);
        }
        // url keeps the whole host and folds the scheme.
        let url = canon(Kind::Url, &format!("https://{host}{path}?x=1")).unwrap();
        prop_assert_eq!(canon(Kind::Url, &format!("http://{host}{path}")), Ok(url.clone()));
        prop_assert!(url.starts_with(&host.to_ascii_lowercase()));
    }

    #[test]
    fn url_escapes_are_normalised(segs in proptest::collection::vec("[a-zA-Z0-9._~!$&'()*+,;=:@-]{0,6}", 0..4)) {
        let path: String = segs.iter().map(|s| format!("/{s}")).collect();
        let plain = canon(Kind::Url, &format!("example.com{path}")).unwrap();
        // Percent-encoding every unreserved character, in either hex case, changes nothing.
        let encoded: String = path.chars().map(|c| {
            if c.is_ascii_alphanumeric() || "-._~".contains(c) { format!("%{:x}", c as u32) } else { c.to_string() }
        }).collect();
        prop_assert_eq!(canon(Kind::Url, &format!("example.com{encoded}")), Ok(plain.clone()));
        prop_assert_eq!(canon(Kind::Url, &format!("example.com{}", encoded.to_ascii_uppercase())), Ok(plain));
    }
}
