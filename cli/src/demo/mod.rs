//! `cordon demo`: three agencies on loopback doing the main job, checked end to end.
//!
//! Everything goes through the real paths: `init` folders with their own CAs, partner cards,
//! user certificates and profiles, nodes over QUIC with mutual TLS, imports through the
//! operators' control channel, and queries from Thailand's investigator to Japan and the US.
//! The planted overlaps are known, so the demo checks that the hits are exactly them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context};
use clap::Args;

use cordon_node::client;
use cordon_node::control::{ImportHeader, PartnerOutcome, QueryReply, QueryRequest};
use cordon_node::local::LocalFederation;
use cordon_node::profile::Profile;

use crate::synth::Synth;

mod followup;

#[derive(Args)]
pub struct DemoArgs {
    /// Keep the agencies' folders here (created if missing; must not already hold a demo)
    /// [default: a temporary folder, removed at the end]
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// After the demo, keep the three nodes running until Ctrl-C and print the commands to use them
    #[arg(long)]
    serve: bool,
    /// Phone records per agency
    #[arg(long, default_value_t = 20_000)]
    records: usize,
}

struct Planted {
    /// Query items as written in th's file.
    items: Vec<String>,
    /// Line numbers (1-based) expected to hit, per partner.
    expect_jp: BTreeSet<u64>,
    expect_us: BTreeSet<u64>,
}

/// Writes one value per line.
fn write_lines(path: &Path, values: &[String]) -> anyhow::Result<()> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d)?;
    }
    let mut s = values.join("\n");
    s.push('\n');
    std::fs::write(path, s).with_context(|| format!("cannot write {}", path.display()))
}

/// Builds a query of `n` items for th in which `jp_only`, `us_only` and `both` items are planted
/// in the partners' lists (written their own way); the rest are th's own, held by no partner.
fn plant(
    s: &mut Synth,
    n: usize,
    (jp_only, us_only, both): (usize, usize, usize),
    gen: fn(&mut Synth) -> String,
    messy_th: fn(&mut Synth, &str) -> String,
    jp: &mut Vec<String>,
    us: &mut Vec<String>,
) -> Planted {
    let mut items = Vec::with_capacity(n);
    let mut expect_jp = BTreeSet::new();
    let mut expect_us = BTreeSet::new();
    let planted = jp_only + us_only + both;
    let step = (n / planted.max(1)).max(1);
    for i in 0..n {
        let v = gen(s);
        let line = i as u64 + 1;
        // Planted items are spread through the file: every `step`-th line, jp's first, then
        // us's, then those both hold.
        if i % step == 0 && i / step < planted {
            let k = i / step;
            if k < jp_only || k >= jp_only + us_only {
                expect_jp.insert(line);
                jp.push(v.clone());
            }
            if k >= jp_only {
                expect_us.insert(line);
                us.push(v.clone());
            }
        }
        items.push(messy_th(s, &v));
    }
    Planted {
        items,
        expect_jp,
        expect_us,
    }
}

async fn import(
    profile: &Path,
    collection: &str,
    kind: &str,
    values: Vec<String>,
) -> anyhow::Result<(u64, f64)> {
    let header = ImportHeader {
        collection: collection.into(),
        kind: kind.into(),
        read: Default::default(),
        skip_invalid: false,
        source: "demo".into(),
        releasable: Vec::new(),
    };
    let r = client::import_rows(&Profile::load(profile)?, header, client::numbered(values)).await?;
    if r.rejected_count > 0 {
        bail!("demo data rejected: {:?}", r.rejected.first());
    }
    Ok((r.records, r.epoch_seconds))
}

/// Imports jp's phones with the fields of [`followup::jp_fields`], two of them releasable.
async fn import_with_fields(profile: &Path, values: Vec<String>) -> anyhow::Result<(u64, f64)> {
    let header = ImportHeader {
        collection: "phones".into(),
        kind: "phone".into(),
        read: Default::default(),
        skip_invalid: false,
        source: "demo".into(),
        releasable: followup::RELEASABLE.iter().map(|f| f.to_string()).collect(),
    };
    let rows = values
        .into_iter()
        .enumerate()
        .map(|(i, value)| cordon_node::control::ImportRow {
            line: i as u64 + 1,
            value,
            fields: followup::jp_fields(i),
        })
        .collect();
    let r = client::import_records(&Profile::load(profile)?, header, rows).await?;
    if r.rejected_count > 0 {
        bail!("demo data rejected: {:?}", r.rejected.first());
    }
    Ok((r.records, r.epoch_seconds))
}

async fn query(
    profile: &Path,
    collection: &str,
    items: &[String],
    partners: &[&str],
    case: &str,
    purpose: &str,
) -> anyhow::Result<QueryReply> {
    query_kind(profile, collection, "", items, partners, case, purpose).await
}

/// A query with its kind stated (`""`: the kind of the local or partners' collection).
async fn query_kind(
    profile: &Path,
    collection: &str,
    kind: &str,
    items: &[String],
    partners: &[&str],
    case: &str,
    purpose: &str,
) -> anyhow::Result<QueryReply> {
    let q = QueryRequest {
        collection: collection.into(),
        kind: (!kind.is_empty()).then(|| kind.to_string()),
        read: Default::default(),
        items: client::numbered(items.to_vec()),
        case_ref: case.into(),
        purpose: purpose.into(),
        partners: partners.iter().map(|s| s.to_string()).collect(),
        mode: Default::default(),
    };
    Ok(client::query_once(&Profile::load(profile)?, q).await?)
}

fn hit_lines(r: &QueryReply, partner: &str) -> Option<BTreeSet<u64>> {
    r.partners
        .iter()
        .find(|p| p.partner == partner)
        .and_then(|p| match &p.outcome {
            PartnerOutcome::Answered { hits, .. } => Some(hits.iter().map(|h| h.line).collect()),
            PartnerOutcome::Failed { .. } => None,
        })
}

/// Checks that exactly the planted persons hit, each with the strength it must reach.
fn check_persons(
    r: &QueryReply,
    partner: &str,
    expect: &std::collections::BTreeMap<u64, String>,
    failures: &mut Vec<String>,
) {
    let got: Option<std::collections::BTreeMap<u64, String>> = r
        .partners
        .iter()
        .find(|p| p.partner == partner)
        .and_then(|p| match &p.outcome {
            PartnerOutcome::Answered { matches, .. } => Some(
                matches
                    .iter()
                    .map(|m| (m.line, m.strength.to_string()))
                    .collect(),
            ),
            PartnerOutcome::Failed { .. } => None,
        });
    match got {
        Some(got) if &got == expect => println!(
            "  ok   persons: {partner} hits = the {} planted persons, each at its expected strength ({}); the {} look-alikes of other persons do not hit",
            expect.len(),
            expect.values().cloned().collect::<Vec<_>>().join(", "),
            PERSONS.iter().filter(|p| p.2.is_none()).count()
        ),
        Some(got) => {
            println!("  FAIL persons: {partner} gave {got:?}, expected {expect:?}");
            failures.push(format!("persons {partner}"));
        }
        None => {
            println!("  FAIL persons: {partner} did not answer");
            failures.push(format!("persons {partner}"));
        }
    }
}

fn check(
    label: &str,
    r: &QueryReply,
    partner: &str,
    expect: &BTreeSet<u64>,
    failures: &mut Vec<String>,
) {
    match hit_lines(r, partner) {
        Some(got) if &got == expect => {
            println!("  ok   {label}: {partner} hits = {} planted", expect.len())
        }
        Some(got) => {
            println!(
                "  FAIL {label}: {partner} gave {} hits, {} were planted",
                got.len(),
                expect.len()
            );
            failures.push(format!("{label} {partner}"));
        }
        None => {
            println!("  FAIL {label}: {partner} did not answer");
            failures.push(format!("{label} {partner}"));
        }
    }
}

pub fn run(a: DemoArgs) -> anyhow::Result<ExitCode> {
    if a.records < 1000 {
        bail!(
            "--records {} is too small for the planted overlaps; use at least 1000",
            a.records
        );
    }
    let (_tmp, dir) = match &a.dir {
        Some(d) => {
            if d.join("th").exists() {
                bail!(
                    "{} already holds a demo (th/ exists); choose another --dir or delete it",
                    d.display()
                );
            }
            std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
            (None, d.clone())
        }
        None => {
            let t = tempfile::Builder::new().prefix("cordon-demo-").tempdir()?;
            let p = t.path().to_path_buf();
            (Some(t), p)
        }
    };
    if a.serve {
        crate::admin::init_logging(crate::admin::LogFormat::Text, None)?;
    }
    let rt = crate::runtime()?;
    rt.block_on(demo(a, dir))
}

async fn demo(a: DemoArgs, dir: PathBuf) -> anyhow::Result<ExitCode> {
    let t0 = Instant::now();
    println!(
        "Cordon demo: three agencies on loopback, in {}\n",
        dir.display()
    );
    let mut fed = LocalFederation::create(&dir, &["th", "jp", "us"], Some("TH"))?;
    println!(
        "[1/7] Created agencies th, jp and us: each its own CA, node certificate, descriptor-signing key, \
operator and investigator certificates, and the other two as partners ({:.1} s).",
        t0.elapsed().as_secs_f64()
    );
    fed.start_all()?;
    for ag in &fed.agencies {
        println!(
            "      node {:<3} listening on {} (QUIC, mutual TLS 1.3)",
            ag.name, ag.addr
        );
    }

    // Synthetic watch-lists with planted overlaps.
    let mut s = Synth::new(2026);
    let n = a.records;
    let th_phones: Vec<String> = (0..n).map(|_| s.phone()).collect();
    let mut jp_phones: Vec<String> = (0..n).map(|_| s.phone()).collect();
    let mut us_phones: Vec<String> = (0..n).map(|_| s.phone()).collect();
    let phones = plant(
        &mut s,
        1000,
        (30, 18, 6),
        Synth::phone,
        Synth::messy_phone,
        &mut jp_phones,
        &mut us_phones,
    );
    let jp_phones: Vec<String> = jp_phones.iter().map(|p| s.messy_phone(p)).collect();
    let mut jp_emails: Vec<String> = (0..n / 2).map(|_| s.email()).collect();
    let mut none = Vec::new();
    let emails = plant(
        &mut s,
        300,
        (12, 0, 0),
        Synth::email,
        Synth::messy_email,
        &mut jp_emails,
        &mut none,
    );
    let mut jp_ibans: Vec<String> = (0..n / 2).map(|_| s.iban()).collect();
    let mut us_ibans: Vec<String> = (0..n / 2).map(|_| s.iban()).collect();
    let ibans = plant(
        &mut s,
        200,
        (5, 7, 2),
        Synth::iban,
        Synth::messy_iban,
        &mut jp_ibans,
        &mut us_ibans,
    );

    let mut us_wallets: Vec<String> = (0..n / 4).map(|_| s.eth_address()).collect();
    let wallets = plant(
        &mut s,
        150,
        (0, 9, 0),
        Synth::eth_address,
        Synth::messy_eth,
        &mut none,
        &mut us_wallets,
    );

    // Persons: jp's wanted list, and th's list of suspects in which the planted persons of
    // `PERSONS` are written th's way and jp's way. Their keys are reserved first, so that no
    // synthetic person can share one.
    for (th_way, jp_way, _) in PERSONS {
        s.plant_person(th_way);
        s.plant_person(jp_way);
    }
    let mut jp_persons: Vec<String> = (0..n / 10).map(|_| s.person()).collect();
    let mut th_persons: Vec<String> = (0..100).map(|_| s.person()).collect();
    let mut expect_persons = std::collections::BTreeMap::new();
    for (i, (th_way, jp_way, strength)) in PERSONS.iter().enumerate() {
        let at = i * 13 + 5;
        th_persons.insert(at, th_way.to_string());
        jp_persons.push(jp_way.to_string());
        if let Some(st) = strength {
            expect_persons.insert(at as u64 + 1, st.to_string());
        }
    }

    let th = fed.agency("th")?.clone();
    let jp = fed.agency("jp")?.clone();
    let us = fed.agency("us")?.clone();
    let qdir = th.dir.join("queries");
    write_lines(&qdir.join("phones.txt"), &phones.items)?;
    write_lines(&qdir.join("emails.txt"), &emails.items)?;
    write_lines(&qdir.join("accounts.txt"), &ibans.items)?;
    write_lines(&qdir.join("wallets.txt"), &wallets.items)?;
    write_lines(&qdir.join("persons.jsonl"), &th_persons)?;

    println!("\n[2/7] Operators import their watch-lists through their own nodes (canonicalised, stored, epoch built):");
    let t1 = Instant::now();
    let imports: Vec<(&str, &PathBuf, &str, &str, Vec<String>)> = vec![
        ("th", &th.operator, "phones", "phone", th_phones),
        ("jp", &jp.operator, "phones", "phone", jp_phones),
        ("jp", &jp.operator, "emails", "email", jp_emails),
        ("jp", &jp.operator, "accounts", "iban", jp_ibans),
        ("us", &us.operator, "phones", "phone", us_phones),
        ("us", &us.operator, "accounts", "iban", us_ibans),
        ("us", &us.operator, "wallets", "crypto", us_wallets),
        ("jp", &jp.operator, "persons", "person", jp_persons),
    ];
    for (who, profile, coll, kind, values) in imports {
        let count = values.len();
        let (records, secs) = if (who, coll) == ("jp", "phones") {
            import_with_fields(profile, values).await?
        } else {
            import(profile, coll, kind, values).await?
        };
        println!("      {who:<3} {coll:<9} {count:>7} rows -> {records:>7} records, epoch built in {secs:.2} s");
    }
    println!("      (all imports {:.1} s)", t1.elapsed().as_secs_f64());

    println!("\n[3/7] th's investigator asks every partner about 1,000 phone numbers (case TH-2026-0142):\n");
    let case = "TH-2026-0142";
    let purpose = "Call-centre fraud ring: numbers seen in victim reports";
    let r1 = query(
        &th.investigator,
        "phones",
        &phones.items,
        &[],
        case,
        purpose,
    )
    .await?;
    let items: Vec<(u64, String)> = phones
        .items
        .iter()
        .enumerate()
        .map(|(i, v)| (i as u64 + 1, v.clone()))
        .collect();
    print!("{}", indent(&crate::query::render(&r1, &items)));
    println!("\n      The same query again: the partners' filters are cached, only blinded items travel.\n");
    let r2 = query(
        &th.investigator,
        "phones",
        &phones.items,
        &[],
        case,
        purpose,
    )
    .await?;
    print!("{}", indent(&summary(&r2)));

    println!("\n[4/7] E-mail addresses (jp only), mule-account IBANs (jp and us), crypto wallets (us) and persons (jp):\n");
    let r3 = query(
        &th.investigator,
        "emails",
        &emails.items,
        &["jp"],
        case,
        "Phishing mailboxes linked to the ring",
    )
    .await?;
    print!("{}", indent(&summary(&r3)));
    let r4 = query(
        &th.investigator,
        "accounts",
        &ibans.items,
        &[],
        case,
        "Accounts receiving victims' transfers",
    )
    .await?;
    print!("{}", indent(&summary(&r4)));

    let r6 = query(
        &th.investigator,
        "wallets",
        &wallets.items,
        &["us"],
        case,
        "Wallets the ring's victims paid into",
    )
    .await?;
    println!("\n      Crypto wallets (us; th writes them upper-case with a chain prefix, us as explorers print them):\n");
    print!("{}", indent(&summary(&r6)));

    println!("\n      Persons (jp): names written differently by each agency, matched on derived keys:\n");
    let r5 = query_kind(
        &th.investigator,
        "persons",
        "person",
        &th_persons,
        &["jp"],
        case,
        "Recruiters named by rescued victims",
    )
    .await?;
    let person_items: Vec<(u64, String)> = client::numbered(th_persons.clone());
    print!("{}", indent(&crate::query::render(&r5, &person_items)));

    println!("\n[5/7] Checks against the planted overlaps:");
    let mut failures = Vec::new();
    check("phones", &r1, "jp", &phones.expect_jp, &mut failures);
    check("phones", &r1, "us", &phones.expect_us, &mut failures);
    check(
        "phones (repeat)",
        &r2,
        "jp",
        &phones.expect_jp,
        &mut failures,
    );
    check(
        "phones (repeat)",
        &r2,
        "us",
        &phones.expect_us,
        &mut failures,
    );
    check("emails", &r3, "jp", &emails.expect_jp, &mut failures);
    check("accounts", &r4, "jp", &ibans.expect_jp, &mut failures);
    check("accounts", &r4, "us", &ibans.expect_us, &mut failures);
    check("wallets", &r6, "us", &wallets.expect_us, &mut failures);
    check_persons(&r5, "jp", &expect_persons, &mut failures);
    let cached = r2.partners.iter().all(
        |p| matches!(&p.outcome, PartnerOutcome::Answered { filter, .. } if filter == "cached"),
    );
    if cached {
        println!("  ok   repeat query reused every cached filter");
    } else {
        println!("  FAIL repeat query fetched a filter again");
        failures.push("cache".into());
    }
    println!("\n[6/7] Follow-up on a hit (the Prüm two-step): th asks jp for the record behind one phone hit:\n");
    followup::step(&fed, &r1, case, &mut failures).await?;
    println!("\n[7/7] Each agency's auditor exports its node's audit log and verifies it with the node's log key:");
    audit_step(&fed, &mut failures).await?;
    println!("\nDemo finished in {:.1} s.", t0.elapsed().as_secs_f64());

    if a.serve && failures.is_empty() {
        print_serve_help(&dir, &fed);
        crate::admin::shutdown_signal().await;
        println!("\nStopping the three nodes...");
    }
    fed.shutdown().await?;
    if failures.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        bail!(
            "the demo's hits differ from the planted overlaps: {}",
            failures.join(", ")
        )
    }
}

/// Exports, verifies and reconciles the three nodes' audit logs.
async fn audit_step(fed: &LocalFederation, failures: &mut Vec<String>) -> anyhow::Result<()> {
    use cordon_protocol::audit::bundle::{self, Bundle, BundleKeys};
    let mut bundles = Vec::new();
    for ag in &fed.agencies {
        let client = client::ControlClient::connect(&Profile::load(&ag.auditor)?).await?;
        let bytes = client.audit_export(None, None).await;
        client.close().await;
        let b = Bundle::parse(&bytes?)?;
        let cfg = cordon_node::Config::load(&ag.config_path)?;
        let kp = cordon_node::admin::load_signing_key(&cfg.path(&cfg.tls.log_key))?;
        let key = cordon_protocol::audit::note::Signer::new(
            &cordon_node::audit::origin_of(&ag.name),
            kp,
        )?
        .verifier_key();
        match bundle::verify(&b, &key, &BundleKeys::default()) {
            Ok(r) => {
                let cosigners: Vec<&str> = r.cosigned_by.iter().map(|(p, _)| p.as_str()).collect();
                println!(
                    "  ok   {:<3} {} entries ({}), {} receipts verified, cosigned by {}",
                    ag.name,
                    r.count,
                    r.kinds
                        .iter()
                        .filter(|(k, _)| k.as_str().starts_with("query"))
                        .map(|(k, n)| format!("{n} {k}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    r.receipts,
                    if cosigners.is_empty() {
                        "nobody yet".to_string()
                    } else {
                        cosigners.join(", ")
                    }
                );
            }
            Err(e) => {
                println!("  FAIL {} log does not verify: {e}", ag.name);
                failures.push(format!("audit {}", ag.name));
            }
        }
        bundles.push(b);
    }
    for i in 0..bundles.len() {
        for j in i + 1..bundles.len() {
            let (a, b) = (&bundles[i], &bundles[j]);
            let r = crate::audit::reconcile::reconcile(
                (&a.header.node, &a.parsed_entries()?),
                (&b.header.node, &b.parsed_entries()?),
                a.header.exported_at.min(b.header.exported_at),
            );
            if r.compared == 0 {
                println!(
                    "  ok   {} and {} exchanged no queries; neither log claims one",
                    a.header.node, b.header.node
                );
            } else if r.differences.is_empty() {
                println!(
                    "  ok   {} and {} logged the same {} exchanges (paired by exchange id, receipts equal)",
                    a.header.node, b.header.node, r.compared
                );
            } else {
                println!(
                    "  FAIL {} and {} disagree on {} exchanges: {}",
                    a.header.node,
                    b.header.node,
                    r.differences.len(),
                    r.differences[0].problem
                );
                failures.push(format!("reconcile {} {}", a.header.node, b.header.node));
            }
        }
    }
    Ok(())
}

/// Persons written by two agencies: how th wrote each, how jp wrote the same (or a different)
/// person, and the strongest key class the match must reach (`None`: must not match).
const PERSONS: &[(&str, &str, Option<&str>)] = &[
    (
        r#"{"name":"Somchai Jaidee","dob":"1985-03-02","nationality":"TH","passport":"THA:AA1234567"}"#,
        r#"{"name":"JAIDEE SOMCHAI","nationality":"THA","passport":"tha aa 123 4567"}"#,
        Some("document"),
    ),
    (
        r#"{"name":"Nguyễn Văn Hùng","dob":"1990-07-15","nationality":"VN"}"#,
        r#"{"name":"NGUYEN VAN HUNG","dob":"1990-07-15","nationality":"VNM"}"#,
        Some("name+dob"),
    ),
    (
        r#"{"name":"Thatchai Phitanilabut","dob":"1988-11-20","nationality":"TH"}"#,
        r#"{"name":"Tatchai Pitaneelaboot","dob":"1988-11-20","nationality":"TH"}"#,
        Some("fuzzy-name+dob"),
    ),
    (
        r#"{"name":"Zhang Xiaoming","dob":"1979-02-11","nationality":"CN"}"#,
        r#"{"name":"Chang Hsiao-ming","dob":"1979-02-11","nationality":"CN"}"#,
        Some("fuzzy-name+dob"),
    ),
    (
        r#"{"name":"Aung Kyaw Htun","dob":"1982","nationality":"MM"}"#,
        r#"{"name":"U Aung Kyaw Tun","dob":"1982-05-01","nationality":"MMR"}"#,
        Some("fuzzy-name+year+nationality"),
    ),
    (
        r#"{"name":"Nguyen Van An","dob":"1992-01-01","nationality":"VN"}"#,
        r#"{"name":"Nguyen Van Anh","dob":"1992-01-01","nationality":"VN"}"#,
        None,
    ),
    (
        r#"{"name":"Wang Wei","dob":"1986-06-06","nationality":"CN"}"#,
        r#"{"name":"Wang Lei","dob":"1986-06-06","nationality":"CN"}"#,
        None,
    ),
];

fn summary(r: &QueryReply) -> String {
    let mut out = String::new();
    for p in &r.partners {
        match &p.outcome {
            PartnerOutcome::Answered { hits, filter, bytes_sent, bytes_received, .. } => out.push_str(&format!(
                "{:<3} {:>3} hits of {} items  ·  filter {:<6}  ·  {} B sent, {} B received  ·  {}\n",
                p.partner,
                hits.len(),
                r.items,
                filter,
                bytes_sent,
                bytes_received,
                crate::output::ms(p.elapsed_ms)
            )),
            PartnerOutcome::Failed { message, .. } => out.push_str(&format!("{:<3} FAILED: {message}\n", p.partner)),
        }
    }
    out
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("      {l}\n")).collect()
}

fn print_serve_help(dir: &Path, fed: &LocalFederation) {
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "cordon".into());
    println!("\nThe three nodes keep running. Folders: {}", dir.display());
    for ag in &fed.agencies {
        println!("\n== {} ({}) ==", ag.name, ag.addr);
        println!("  operator profile:     {}", ag.operator.display());
        println!("  investigator profile: {}", ag.investigator.display());
        println!(
            "  status:   {exe} --profile {} status",
            ag.operator.display()
        );
        println!(
            "  import:   {exe} --profile {} data import --collection phones --kind phone --region TH FILE",
            ag.operator.display()
        );
        let qfile = if ag.name == "th" {
            ag.dir.join("queries/phones.txt")
        } else {
            PathBuf::from("FILE")
        };
        println!(
            "  query:    {exe} --profile {} query --collection phones --file {} --case CASE-ID --purpose \"...\"",
            ag.investigator.display(),
            qfile.display()
        );
        println!("  auditor profile:      {}", ag.auditor.display());
        println!(
            "  audit:    {exe} --profile {} audit export --out {n}.bundle && {exe} audit verify {n}.bundle --key \"$({exe} audit key --config {})\"",
            ag.auditor.display(),
            ag.config_path.display(),
            n = ag.name
        );
    }
    println!("\nPress Ctrl-C to stop the nodes.");
}
