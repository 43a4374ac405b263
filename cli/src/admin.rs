//! `cordon init`, `cordon partner …`, `cordon user …`, `cordon node run`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, Subcommand, ValueEnum};

use cordon_node::admin::{self, Card, InitOptions};
use cordon_node::pki::Role;
use cordon_node::Config;

#[derive(Args)]
pub struct InitArgs {
    /// Node name, as partners will know it (lower-case, e.g. `th` or `th.rtp`)
    #[arg(long)]
    name: String,
    /// Folder to create the node in
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
    /// UDP address to listen on
    #[arg(long, default_value = "0.0.0.0:7400")]
    listen: SocketAddr,
    /// Address partners use to reach this node [default: the listen address]
    #[arg(long, value_name = "HOST:PORT")]
    public_address: Option<String>,
    /// Region for national-format phone numbers (ISO 3166 alpha-2, e.g. TH)
    #[arg(long)]
    region: Option<String>,
}

pub fn init(a: InitArgs) -> anyhow::Result<ExitCode> {
    let path = admin::init_node(
        &InitOptions {
            name: a.name.clone(),
            dir: a.dir.clone(),
            listen: a.listen,
            public_address: a.public_address,
            region: a.region,
        },
        time::OffsetDateTime::now_utc(),
    )?;
    let dir = a.dir.display();
    println!("Created node `{}` in {dir}", a.name);
    println!("  configuration   {}", path.display());
    println!("  partner card    {dir}/card.toml   (give this to partner agencies)");
    println!();
    println!("Next:");
    println!(
        "  cordon user add --config {} --name NAME --role operator",
        path.display()
    );
    println!(
        "  cordon partner add --config {} --card THEIR_CARD.toml",
        path.display()
    );
    println!("  cordon node run --config {}", path.display());
    Ok(ExitCode::SUCCESS)
}

#[derive(Subcommand)]
pub enum PartnerCmd {
    /// Trust a partner agency (from its card, or from its parts).
    Add(PartnerAddArgs),
    /// Print (or write) this node's card for partners.
    Card {
        /// This node's configuration
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Write the card here instead of printing it
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// List trusted partners.
    List {
        /// This node's configuration
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// What each partner may ask of the running node, and how much of today's budget it used
    /// (operators and supervisors).
    Status(crate::policy::StatusArgs),
}

#[derive(Args)]
pub struct PartnerAddArgs {
    /// This node's configuration (node.toml)
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// The partner's card (card.toml from its `cordon init`)
    #[arg(long, value_name = "FILE", conflicts_with_all = ["name", "address", "ca_cert", "signing_key", "log_key", "witness_key"])]
    card: Option<PathBuf>,
    /// The partner's node name (without --card)
    #[arg(long, requires_all = ["address", "ca_cert", "signing_key", "log_key", "witness_key"])]
    name: Option<String>,
    /// The partner's address, HOST:PORT (without --card)
    #[arg(long)]
    address: Option<String>,
    /// The partner's CA certificate, PEM file (without --card)
    #[arg(long, value_name = "FILE")]
    ca_cert: Option<PathBuf>,
    /// The partner's descriptor-signing public key, base64 (without --card)
    #[arg(long)]
    signing_key: Option<String>,
    /// The partner's audit-log public key, base64 (without --card)
    #[arg(long)]
    log_key: Option<String>,
    /// The partner's cosigning public key, base64 (without --card)
    #[arg(long)]
    witness_key: Option<String>,
}

pub fn partner(c: PartnerCmd, profile: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    match c {
        PartnerCmd::Status(a) => crate::policy::partner_status(a, profile),
        PartnerCmd::Add(a) => {
            let card = match (a.card, a.name) {
                (Some(path), _) => admin::read_card(&path)?,
                (None, Some(name)) => {
                    let ca_path = a.ca_cert.context("--ca-cert is required with --name")?;
                    let ca_cert = std::fs::read_to_string(&ca_path)
                        .with_context(|| format!("cannot read partner CA certificate {}", ca_path.display()))?;
                    let (der, _) = cordon_node::pki::parse_cert_pem(&ca_cert)?;
                    let signing_key = a.signing_key.unwrap_or_default();
                    cordon_node::parse_signing_public_key(&signing_key).map_err(|m| anyhow::anyhow!("--signing-key {m}"))?;
                    let log_key = a.log_key.unwrap_or_default();
                    cordon_node::parse_signing_public_key(&log_key).map_err(|m| anyhow::anyhow!("--log-key {m}"))?;
                    let witness_key = a.witness_key.unwrap_or_default();
                    cordon_node::parse_signing_public_key(&witness_key).map_err(|m| anyhow::anyhow!("--witness-key {m}"))?;
                    Card {
                        name,
                        address: a.address.unwrap_or_default(),
                        ca_fingerprint: hex::encode(cordon_node::pki::fingerprint(&der)),
                        ca_cert,
                        signing_key,
                        log_key,
                        witness_key,
                    }
                }
                (None, None) => bail!("give the partner's card with --card FILE (or --name, --address, --ca-cert, --signing-key, --log-key and --witness-key)"),
            };
            admin::add_partner(&a.config, &card)?;
            println!(
                "Trusted partner `{}` at {} (CA fingerprint {}).",
                card.name, card.address, card.ca_fingerprint
            );
            println!(
                "Granted `{}` every collection in match and count mode, {} items a day, follow-ups allowed: narrow its [[grant]] in {} (nothing is shared without one).",
                card.name,
                cordon_node::policy::DEFAULT_DAILY_ITEMS,
                a.config.display()
            );
            println!("Restart the node for the new partner to take effect.");
            Ok(ExitCode::SUCCESS)
        }
        PartnerCmd::Card { config, out } => {
            let cfg = Config::load(&config)?;
            match out {
                Some(p) => {
                    let c = admin::write_card(&cfg, &p)?;
                    println!("Wrote the card of `{}` to {}.", c.name, p.display());
                }
                None => {
                    let c = admin::card(&cfg)?;
                    print!("{}", toml::to_string(&c)?);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        PartnerCmd::List { config } => {
            let cfg = Config::load(&config)?;
            if cfg.partners.is_empty() {
                println!(
                    "`{}` has no partners yet; add one with `cordon partner add`.",
                    cfg.node.name
                );
            }
            let rows: Vec<Vec<String>> = cfg
                .partners
                .iter()
                .map(|p| {
                    vec![
                        p.name.clone(),
                        p.address.clone(),
                        p.ca_cert.display().to_string(),
                    ]
                })
                .collect();
            if !rows.is_empty() {
                print!(
                    "{}",
                    crate::output::table(&["PARTNER", "ADDRESS", "CA CERTIFICATE"], &rows)
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum RoleArg {
    Investigator,
    Operator,
    Supervisor,
    Auditor,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Role {
        match r {
            RoleArg::Investigator => Role::Investigator,
            RoleArg::Operator => Role::Operator,
            RoleArg::Supervisor => Role::Supervisor,
            RoleArg::Auditor => Role::Auditor,
        }
    }
}

#[derive(Subcommand)]
pub enum UserCmd {
    /// Issue a person's certificate from the agency CA and write their client profile.
    Add {
        /// This node's configuration (node.toml)
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// The person's user name
        #[arg(long)]
        name: String,
        /// What they may do: investigators query partners, operators import data and manage the node
        #[arg(long, value_enum)]
        role: RoleArg,
    },
    /// Revoke every certificate of a person on the running node, effective on their next
    /// request (operators only).
    Revoke(crate::policy::RevokeArgs),
}

pub fn user(c: UserCmd, profile: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    match c {
        UserCmd::Revoke(a) => crate::policy::revoke(a, profile),
        UserCmd::Add { config, name, role } => {
            let role: Role = role.into();
            let profile = admin::add_user(&config, &name, role, time::OffsetDateTime::now_utc())?;
            let article = if role.as_str().starts_with(['a', 'e', 'i', 'o', 'u']) {
                "an"
            } else {
                "a"
            };
            println!("Issued {article} {role} certificate to `{name}`.");
            println!("Client profile: {}", profile.display());
            println!("Use it with:  export CORDON_PROFILE={}", profile.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[derive(Subcommand)]
pub enum NodeCmd {
    /// Run the node in the foreground until SIGINT or SIGTERM (SIGHUP reloads the policy).
    Run {
        /// The node's configuration (node.toml)
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Log format on stderr: `text` (for people) or `json` (one object per line, for
        /// journald and log collectors)
        #[arg(long, value_enum, env = "CORDON_LOG_FORMAT", default_value_t = LogFormat::Text)]
        log_format: LogFormat,
        /// What to log: a level (`error`, `warn`, `info`, `debug`, `trace`) or filter
        /// directives (`info,cordon_node=debug`) [default: $RUST_LOG, else
        /// `info,quinn=warn,rustls=warn`]
        #[arg(long, value_name = "FILTER")]
        log_level: Option<String>,
    },
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines
    Text,
    /// One JSON object per line
    Json,
}

/// The filter when neither --log-level nor `RUST_LOG` says otherwise: QUIC and TLS internals
/// only when something is wrong.
const DEFAULT_LOG_FILTER: &str = "info,quinn=warn,rustls=warn";

/// Sets up `tracing` output on stderr. `level` (from --log-level) wins over `RUST_LOG`, which
/// wins over [`DEFAULT_LOG_FILTER`]. No level logs identifiers: the node never passes one to
/// `tracing` (tests/tests/privacy.rs checks at `trace`).
pub fn init_logging(format: LogFormat, level: Option<&str>) -> anyhow::Result<()> {
    use tracing_subscriber::EnvFilter;
    let filter = match level {
        Some(l) => EnvFilter::try_new(l).map_err(|e| {
            anyhow::anyhow!(
                "--log-level {l:?} is not a log filter ({e}); use e.g. `info`, `debug` or `info,cordon_node=trace`"
            )
        })?,
        None => match std::env::var("RUST_LOG") {
            Ok(v) if !v.trim().is_empty() => EnvFilter::try_new(&v).map_err(|e| {
                anyhow::anyhow!(
                    "RUST_LOG={v:?} is not a log filter ({e}); use e.g. `info` or `debug`, or unset it"
                )
            })?,
            _ => EnvFilter::new(DEFAULT_LOG_FILTER),
        },
    };
    use std::io::IsTerminal;
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        // Colours only for a person at a terminal; files and journald get plain text.
        LogFormat::Text => b.with_ansi(std::io::stderr().is_terminal()).try_init(),
        // Fields at the top level of each object, so collectors index them directly.
        LogFormat::Json => b.json().flatten_event(true).with_ansi(false).try_init(),
    };
    Ok(())
}

pub fn node(c: NodeCmd) -> anyhow::Result<ExitCode> {
    match c {
        NodeCmd::Run {
            config,
            log_format,
            log_level,
        } => {
            init_logging(log_format, log_level.as_deref())?;
            let cfg = Config::load(&config)?;
            let rt = crate::runtime()?;
            rt.block_on(async move {
                let node = cordon_node::Node::bind(cfg)?;
                eprintln!(
                    "cordon node listening on {} (Ctrl-C to stop, SIGHUP to reload the policy)",
                    node.local_addr()?
                );
                if let Some(m) = node.metrics_addr() {
                    eprintln!("metrics at http://{m}/metrics");
                }
                reload_on_sighup(node.handle());
                node.run(shutdown_signal()).await
            })?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Reloads the federation policy from node.toml on every SIGHUP (as `cordon policy reload`).
fn reload_on_sighup(node: cordon_node::NodeHandle) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            tracing::warn!("cannot listen for SIGHUP; use `cordon policy reload`");
            return;
        };
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                let n = node.clone();
                let actor = cordon_protocol::audit::entry::Actor::node(n.name());
                match tokio::task::spawn_blocking(move || n.reload_policy(&actor)).await {
                    Ok(Ok(r)) if r.changed => {
                        tracing::info!(grants = r.grants.len(), "SIGHUP: policy reloaded")
                    }
                    Ok(Ok(_)) => tracing::info!("SIGHUP: grants unchanged"),
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, "SIGHUP: policy not reloaded; the previous one stays in force")
                    }
                    Err(e) => tracing::error!(error = %e, "SIGHUP: reload failed"),
                }
            }
        });
    }
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
