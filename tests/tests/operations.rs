//! Operations on real nodes: `/metrics` scraped over loopback (counters and gauges move with
//! queries, refusals, the clock and refused handshakes; the text is valid Prometheus 0.0.4),
//! the HTTP responder's answers to bad requests, and the same figures in `status`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use cordon_node::client::ControlClient;
use cordon_node::control::PartnerOutcome;
use cordon_node::local::LocalFederation;
use cordon_node::profile::Profile;
use cordon_node::ManualClock;
use cordon_tests::{import, outcome, phones, query};

/// Sends `request` as is and returns the whole answer (the server closes after one).
async fn http(addr: SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut out))
        .await
        .expect("the metrics server answers")
        .unwrap();
    String::from_utf8(out).unwrap()
}

/// One series per `name{labels}` (labels sorted), checked line by line against the text
/// format 0.0.4: HELP and TYPE before a family's samples, counters named `_total`, label
/// values quoted with `\\`, `\"` and `\n` escapes, numeric values.
fn parse_exposition(text: &str) -> Result<BTreeMap<String, f64>, String> {
    let is_name = |n: &str| {
        let mut c = n.chars();
        c.next()
            .is_some_and(|f| f.is_ascii_alphabetic() || f == '_' || f == ':')
            && c.all(|x| x.is_ascii_alphanumeric() || x == '_' || x == ':')
    };
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut helps = std::collections::BTreeSet::new();
    let mut series = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let at = |m: &str| format!("line {}: {m}: {line:?}", i + 1);
        if line.trim().is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap_or("");
            if !is_name(name) {
                return Err(at("bad HELP name"));
            }
            helps.insert(name.to_string());
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut p = rest.split(' ');
            let (Some(name), Some(t), None) = (p.next(), p.next(), p.next()) else {
                return Err(at("bad TYPE line"));
            };
            if !is_name(name)
                || !["counter", "gauge", "histogram", "summary", "untyped"].contains(&t)
            {
                return Err(at("bad TYPE"));
            }
            if t == "counter" && !name.ends_with("_total") {
                return Err(at("counter not named _total"));
            }
            if types.insert(name.to_string(), t.to_string()).is_some() {
                return Err(at("TYPE given twice"));
            }
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let name_end = line.find(['{', ' ']).ok_or_else(|| at("no value"))?;
        let name = &line[..name_end];
        if !is_name(name) {
            return Err(at("bad metric name"));
        }
        if !types.contains_key(name) || !helps.contains(name) {
            return Err(at("sample before its HELP and TYPE"));
        }
        let mut rest = &line[name_end..];
        let mut labels = BTreeMap::new();
        if let Some(r) = rest.strip_prefix('{') {
            let mut chars = r.char_indices().peekable();
            loop {
                // label name
                let start = chars
                    .peek()
                    .map(|(i, _)| *i)
                    .ok_or_else(|| at("open labels"))?;
                if r[start..].starts_with('}') {
                    chars.next();
                    break;
                }
                let eq = r[start..]
                    .find("=\"")
                    .ok_or_else(|| at("label without value"))?
                    + start;
                let lname = &r[start..eq];
                if !is_name(lname) {
                    return Err(at("bad label name"));
                }
                while chars.peek().is_some_and(|(i, _)| *i < eq + 2) {
                    chars.next();
                }
                let mut value = String::new();
                loop {
                    match chars.next() {
                        Some((_, '\\')) => match chars.next() {
                            Some((_, 'n')) => value.push('\n'),
                            Some((_, '\\')) => value.push('\\'),
                            Some((_, '"')) => value.push('"'),
                            _ => return Err(at("bad escape")),
                        },
                        Some((_, '"')) => break,
                        Some((_, '\n')) | None => return Err(at("unterminated label value")),
                        Some((_, c)) => value.push(c),
                    }
                }
                labels.insert(lname.to_string(), value);
                match chars.next() {
                    Some((_, ',')) => continue,
                    Some((_, '}')) => break,
                    _ => return Err(at("labels not separated")),
                }
            }
            let end = chars.peek().map(|(i, _)| *i).unwrap_or(r.len());
            rest = &r[end..];
        }
        let mut parts = rest.trim_start_matches(' ').split(' ');
        let value = parts.next().ok_or_else(|| at("no value"))?;
        let v: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            v => v.parse().map_err(|_| at("value is not a number"))?,
        };
        if let Some(ts) = parts.next() {
            ts.parse::<i64>().map_err(|_| at("bad timestamp"))?;
        }
        let key = format!(
            "{name}{{{}}}",
            labels
                .iter()
                .map(|(k, v)| format!("{k}={v:?}"))
                .collect::<Vec<_>>()
                .join(",")
        );
        if series.insert(key, v).is_some() {
            return Err(at("series given twice"));
        }
    }
    Ok(series)
}

#[test]
fn the_parser_rejects_what_prometheus_would() {
    let ok = "# HELP a_total x\n# TYPE a_total counter\na_total{p=\"j\\\"p\",q=\"\"} 3\n";
    let s = parse_exposition(ok).unwrap();
    assert_eq!(s["a_total{p=\"j\\\"p\",q=\"\"}"], 3.0);
    for bad in [
        "a_total 1\n",
        "# HELP a x\n# TYPE a counter\na 1\n",
        "# HELP a x\n# TYPE a gauge\na{p=\"x} 1\n",
        "# HELP a x\n# TYPE a gauge\na{p=\"x\"} one\n",
        "# HELP a x\n# TYPE a gauge\na{p=\"\\x\"} 1\n",
    ] {
        assert!(parse_exposition(bad).is_err(), "{bad}");
    }
}

async fn scrape(addr: SocketAddr) -> BTreeMap<String, f64> {
    let answer = http(addr, b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n").await;
    let (head, body) = answer.split_once("\r\n\r\n").expect("head and body");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(
        head.contains("Content-Type: text/plain; version=0.0.4; charset=utf-8"),
        "{head}"
    );
    parse_exposition(body).unwrap_or_else(|e| panic!("{e}\n{body}"))
}

fn value(m: &BTreeMap<String, f64>, key: &str) -> f64 {
    m.get(key).copied().unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_follow_queries_refusals_clock_and_handshakes() {
    let dir = tempfile::tempdir().unwrap();
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let clock = Arc::new(ManualClock::new(start));
    let mut fed =
        LocalFederation::create_with_clock(dir.path(), &["th", "jp"], Some("TH"), clock.clone())
            .unwrap();
    for a in &fed.agencies {
        let text = std::fs::read_to_string(&a.config_path).unwrap();
        // The template's commented key, switched on: port 0 lets the OS choose.
        assert!(text.contains("# listen = \"127.0.0.1:9464\""));
        let text = text
            .replace("# listen = \"127.0.0.1:9464\"", "listen = \"127.0.0.1:0\"")
            .replace("daily_items = 1000000", "daily_items = 30");
        std::fs::write(&a.config_path, text).unwrap();
    }
    fed.start_all().unwrap();
    let th = fed.agency("th").unwrap().clone();
    let jp = fed.agency("jp").unwrap().clone();
    let jp_metrics = fed.shared("jp").unwrap().metrics.address().unwrap();
    let th_metrics = fed.shared("th").unwrap().metrics.address().unwrap();
    assert!(jp_metrics.ip().is_loopback() && jp_metrics.port() != 0);

    import(&jp.operator, "phones", "phone", &phones(0..100))
        .await
        .unwrap();
    let m0 = scrape(jp_metrics).await;
    let budget = "cordon_budget_left_items{collection=\"phones\",partner=\"th\"}";
    let age = "cordon_epoch_age_seconds{collection=\"phones\"}";
    assert_eq!(value(&m0, budget), 30.0);
    assert_eq!(
        value(
            &m0,
            "cordon_budget_daily_items{collection=\"phones\",partner=\"th\"}"
        ),
        30.0
    );
    assert_eq!(value(&m0, age), 0.0);
    assert_eq!(value(&m0, "cordon_start_time_seconds{}"), start as f64);
    let size0 = value(&m0, "cordon_audit_tree_size{}");
    assert!(size0 > 0.0);

    // The epoch ages with the node's clock, not the wall clock.
    clock.advance(120);
    assert_eq!(value(&scrape(jp_metrics).await, age), 120.0);

    // One query answered (20 of 30 items), the next refused: the budget is spent.
    let r = query(&th.investigator, "phones", &phones(90..110), &["jp"])
        .await
        .unwrap();
    assert!(matches!(outcome(&r, "jp"), PartnerOutcome::Answered { .. }));
    let r = query(&th.investigator, "phones", &phones(0..20), &["jp"])
        .await
        .unwrap();
    match outcome(&r, "jp") {
        PartnerOutcome::Failed { code, .. } => assert_eq!(code, "refused:budget_exhausted"),
        o => panic!("{o:?}"),
    }

    let m1 = scrape(jp_metrics).await;
    assert_eq!(
        value(
            &m1,
            "cordon_queries_in_total{outcome=\"answered\",partner=\"th\"}"
        ),
        1.0
    );
    assert_eq!(
        value(
            &m1,
            "cordon_queries_in_total{outcome=\"refused\",partner=\"th\"}"
        ),
        1.0
    );
    assert_eq!(
        value(
            &m1,
            "cordon_refusals_total{direction=\"in\",partner=\"th\",reason=\"budget_exhausted\"}"
        ),
        1.0
    );
    assert_eq!(value(&m1, budget), 10.0);
    assert!(value(&m1, "cordon_audit_tree_size{}") >= size0 + 2.0);

    let t1 = scrape(th_metrics).await;
    assert_eq!(
        value(
            &t1,
            "cordon_queries_out_total{outcome=\"answered\",partner=\"jp\"}"
        ),
        1.0
    );
    assert_eq!(
        value(
            &t1,
            "cordon_queries_out_total{outcome=\"refused\",partner=\"jp\"}"
        ),
        1.0
    );
    assert_eq!(
        value(
            &t1,
            "cordon_refusals_total{direction=\"out\",partner=\"jp\",reason=\"budget_exhausted\"}"
        ),
        1.0
    );
    // Nothing th asked about is in a label or anywhere in the text.
    let text = http(th_metrics, b"GET /metrics HTTP/1.0\r\n\r\n").await;
    for p in phones(0..20) {
        assert!(
            !text.contains(&p) && !text.contains(&p[1..]),
            "{p} in the metrics"
        );
    }

    // A user certificate of th's CA, presented to jp's control channel, is refused.
    let handshake_failures = |m: &BTreeMap<String, f64>| -> f64 {
        m.iter()
            .filter(|(k, _)| k.starts_with("cordon_handshake_failures_total{"))
            .map(|(_, v)| v)
            .sum()
    };
    assert_eq!(handshake_failures(&m1), 0.0);
    let mut stranger = Profile::load(&th.investigator).unwrap();
    stranger.address = jp.addr;
    stranger.node = "jp".into();
    stranger.ca_cert = jp.dir.join("ca.pem");
    if let Ok(c) = ControlClient::connect(&stranger).await {
        assert!(c.status().await.is_err(), "jp served a stranger");
    }
    // The server counts the failure on its own schedule: poll, with a generous bound.
    let mut counted = 0.0;
    for _ in 0..200 {
        counted = handshake_failures(&scrape(jp_metrics).await);
        if counted > 0.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(counted >= 1.0, "the refused handshake was not counted");

    // The operator's status shows the same figures; an investigator's does not.
    let status = |p: std::path::PathBuf| async move {
        let c = ControlClient::connect(&Profile::load(&p).unwrap())
            .await
            .unwrap();
        let s = c.status().await.unwrap();
        c.close().await;
        s
    };
    let ops = status(jp.operator.clone()).await.operations.unwrap();
    assert_eq!(ops.metrics_address, Some(jp_metrics.to_string()));
    assert_eq!(ops.started_at, start);
    let answered = ops
        .queries_in
        .iter()
        .find(|c| c.partner == "th" && c.outcome == "answered")
        .unwrap();
    assert_eq!(answered.count, 1);
    let b = ops
        .budgets
        .iter()
        .find(|b| b.partner == "th" && b.collection == "phones")
        .unwrap();
    assert_eq!((b.left, b.daily_items), (10, 30));
    assert_eq!(ops.epoch_ages[0].seconds, 120);
    assert!(ops.handshake_failures.iter().map(|f| f.count).sum::<u64>() >= 1);
    assert!(status(jp.investigator.clone()).await.operations.is_none());

    fed.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_server_answers_bad_requests_and_ignores_silent_clients() {
    let f = cordon_tests::Fed::start(&["th"], |c| {
        c.replace("# listen = \"127.0.0.1:9464\"", "listen = \"127.0.0.1:0\"")
    });
    let addr = f.fed.shared("th").unwrap().metrics.address().unwrap();
    // A client that connects and says nothing does not hold up anyone else.
    let _silent = TcpStream::connect(addr).await.unwrap();
    let status_line = |a: &str| a.lines().next().unwrap_or("").to_string();
    for (req, want) in [
        (&b"GET /metrics HTTP/1.1\r\n\r\n"[..], "HTTP/1.1 200 OK"),
        (b"GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 404 Not Found"),
        (
            b"POST /metrics HTTP/1.1\r\n\r\n",
            "HTTP/1.1 405 Method Not Allowed",
        ),
        (b"hello\r\n\r\n", "HTTP/1.1 400 Bad Request"),
        (
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
            "HTTP/1.1 400 Bad Request",
        ),
    ] {
        let a = http(addr, req).await;
        assert_eq!(status_line(&a), want, "{:?}", String::from_utf8_lossy(req));
    }
    // A head that never ends is cut off at 8 KiB.
    let a = http(addr, &vec![b'A'; cordon_node::metrics::http::MAX_HEAD + 1]).await;
    assert_eq!(
        status_line(&a),
        "HTTP/1.1 431 Request Header Fields Too Large"
    );
    // HEAD: the headers only.
    let a = http(addr, b"HEAD /metrics HTTP/1.1\r\n\r\n").await;
    assert!(
        a.starts_with("HTTP/1.1 200 OK") && a.ends_with("\r\n\r\n"),
        "{a}"
    );
    f.fed.shutdown().await.unwrap();
}
