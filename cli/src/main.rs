//! `cordon`: the command line of a Cordon node, for operators, investigators and auditors.
//!
//! Thin by design: it parses arguments, reads files, and calls `cordon-node` (which talks to
//! the running daemon) or `cordon-protocol`. Every error is one sentence on stderr and a
//! non-zero exit status.

mod admin;
mod audit;
mod bench;
mod cert;
mod data;
mod demo;
mod epoch;
mod followup;
use cordon_cli::input;
mod output;
mod policy;
mod query;
mod status;
mod synth;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit status when some partners failed to answer a query (others may have answered).
pub const EXIT_PARTIAL: u8 = 2;
/// Exit status of `cordon status` when a partner was caught presenting inconsistent logs.
pub const EXIT_ALERT: u8 = 3;

#[derive(Parser)]
#[command(
    name = "cordon",
    version,
    about = "Privacy-preserving federated lookups between police agencies.",
    long_about = "Cordon lets agencies find out which identifiers (phones, accounts, e-mails, passports, ...) \
they hold in common without handing each other their databases. Each agency runs a node; investigators \
query partners through their own node; every answer is verifiable.\n\n\
Start with `cordon demo` to see a whole federation at work.",
    after_help = "Commands that talk to a running node find it through a client profile: --profile FILE, \
else $CORDON_PROFILE. `cordon user add` writes one."
)]
struct Cli {
    /// Client profile (node address and your certificate) [default: $CORDON_PROFILE]
    #[arg(long, global = true, value_name = "FILE")]
    profile: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a node: its CA, certificate, signing key, node.toml and partner card.
    Init(admin::InitArgs),
    /// Trust partner agencies, or print this node's card for them.
    #[command(subcommand)]
    Partner(admin::PartnerCmd),
    /// Issue certificates and client profiles to people, or revoke them.
    #[command(subcommand)]
    User(admin::UserCmd),
    /// Revoke one certificate (a person's, or a partner's node certificate) at the handshake.
    #[command(subcommand)]
    Cert(cert::CertCmd),
    /// The federation policy: what is shared with whom ([[grant]] in node.toml).
    #[command(subcommand)]
    Policy(policy::PolicyCmd),
    /// Run the node daemon.
    #[command(subcommand)]
    Node(admin::NodeCmd),
    /// Import data into, or delete it from, a collection of the running node.
    #[command(subcommand)]
    Data(data::DataCmd),
    /// Rotate a collection's key (operators).
    #[command(subcommand)]
    Epoch(epoch::EpochCmd),
    /// Ask partners which of your items they hold.
    Query(query::QueryArgs),
    /// Show the node's collections, partners and audit log; for operators and supervisors also
    /// queries and refusals per partner, budgets left and handshake failures since the start.
    Status(status::StatusArgs),
    /// Follow-up requests: ask a partner for the records behind hits; review partners' requests.
    #[command(subcommand)]
    Followup(followup::FollowupCmd),
    /// Canonical identifier forms.
    #[command(subcommand)]
    Ident(data::IdentCmd),
    /// Run a whole local federation (three agencies) doing the main job, and check the result.
    Demo(demo::DemoArgs),
    /// Measure epoch build and query latency over QUIC on loopback.
    Bench(bench::BenchArgs),
    /// The auditor's tools: export, verify, show, prove, reconcile and report on the audit log.
    #[command(subcommand)]
    Audit(audit::AuditCmd),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Init(a) => admin::init(a),
        Command::Partner(c) => admin::partner(c, cli.profile),
        Command::User(c) => admin::user(c, cli.profile),
        Command::Cert(c) => cert::run(c, cli.profile),
        Command::Policy(c) => policy::policy(c, cli.profile),
        Command::Node(c) => admin::node(c),
        Command::Data(c) => data::run(c, cli.profile),
        Command::Epoch(c) => epoch::run(c, cli.profile),
        Command::Query(a) => query::query(a, cli.profile),
        Command::Status(a) => status::status(a, cli.profile),
        Command::Followup(c) => followup::run(c, cli.profile),
        Command::Ident(c) => data::ident(c),
        Command::Demo(a) => demo::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Audit(c) => audit::run(c, cli.profile),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            output::print_error(&e);
            ExitCode::FAILURE
        }
    }
}

/// A multi-threaded tokio runtime for commands that talk to nodes.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
