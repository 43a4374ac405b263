//! Operational metrics: counters the node keeps while it runs, and gauges read at the moment
//! they are asked for (from a [`GaugeSource`]). [`http`] serves them to Prometheus on `[metrics] listen`; the control
//! channel's `status` gives operators the same figures ([`Operations`]) for `cordon status`.
//!
//! Labels only ever carry names from this node's own configuration (partners, collections),
//! fixed outcome words and protocol error codes: never anything a partner or an investigator
//! typed, so no identifier can reach a label, and the number of series stays bounded.

pub mod http;

use std::net::SocketAddr;
use std::sync::OnceLock;

use prometheus::{IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};

use cordon_protocol::ErrorCode;

use cordon_protocol::control::{FailureCode, Name};

use crate::control::PartnerOutcome;

use crate::error::NodeError;
pub use cordon_protocol::control::{
    BudgetLeft, EpochAge, Operations, PartnerCount, ReasonCount, RefusalCount,
};

/// Metric names, as Prometheus shows them.
pub mod names {
    /// Evaluation requests from partners, by partner and outcome.
    pub const QUERIES_IN: &str = "cordon_queries_in_total";
    /// Queries to partners, by partner and outcome.
    pub const QUERIES_OUT: &str = "cordon_queries_out_total";
    /// Refusals, by direction (`in`: this node refused a partner; `out`: a partner refused
    /// this node), partner and reason (the protocol error code).
    pub const REFUSALS: &str = "cordon_refusals_total";
    /// Failed or refused QUIC handshakes, by reason.
    pub const HANDSHAKE_FAILURES: &str = "cordon_handshake_failures_total";
    /// Items a partner may still have evaluated today, per collection.
    pub const BUDGET_LEFT: &str = "cordon_budget_left_items";
    /// A partner's daily budget, per collection.
    pub const BUDGET_DAILY: &str = "cordon_budget_daily_items";
    /// Age of each held collection's current epoch.
    pub const EPOCH_AGE: &str = "cordon_epoch_age_seconds";
    /// Entries in the audit log (the Merkle tree's size).
    pub const AUDIT_TREE_SIZE: &str = "cordon_audit_tree_size";
    /// When the node started (Unix seconds).
    pub const START_TIME: &str = "cordon_start_time_seconds";
}

/// The node's metrics.
pub struct Metrics {
    registry: Registry,
    queries_in: IntCounterVec,
    queries_out: IntCounterVec,
    refusals: IntCounterVec,
    handshake_failures: IntCounterVec,
    budget_left: IntGaugeVec,
    budget_daily: IntGaugeVec,
    epoch_age: IntGaugeVec,
    audit_size: IntGauge,
    start_time: IntGauge,
    /// Where `/metrics` is served, once bound.
    address: OnceLock<SocketAddr>,
}

fn metric_error(e: prometheus::Error) -> NodeError {
    NodeError::internal(format!("metrics registry: {e}"))
}

impl Metrics {
    /// A registry with every metric at zero; `started` is the node's start time.
    pub fn new(started: u64) -> Result<Metrics, NodeError> {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels).map_err(metric_error)?;
            registry
                .register(Box::new(c.clone()))
                .map_err(metric_error)?;
            Ok::<_, NodeError>(c)
        };
        let gauges = |name: &str, help: &str, labels: &[&str]| {
            let g = IntGaugeVec::new(Opts::new(name, help), labels).map_err(metric_error)?;
            registry
                .register(Box::new(g.clone()))
                .map_err(metric_error)?;
            Ok::<_, NodeError>(g)
        };
        let gauge = |name: &str, help: &str| {
            let g = IntGauge::new(name, help).map_err(metric_error)?;
            registry
                .register(Box::new(g.clone()))
                .map_err(metric_error)?;
            Ok::<_, NodeError>(g)
        };
        let m = Metrics {
            queries_in: counter(
                names::QUERIES_IN,
                "Evaluation requests received from partners, by outcome (answered, refused).",
                &["partner", "outcome"],
            )?,
            queries_out: counter(
                names::QUERIES_OUT,
                "Queries sent to partners, by outcome (answered, refused, timeout, unreachable, invalid_answer, error).",
                &["partner", "outcome"],
            )?,
            refusals: counter(
                names::REFUSALS,
                "Refusals by direction (in: this node refused a partner's request; out: a partner refused this node's), partner and reason (protocol error code).",
                &["direction", "partner", "reason"],
            )?,
            handshake_failures: counter(
                names::HANDSHAKE_FAILURES,
                "Incoming QUIC connections whose handshake failed or whose certificate was refused, by reason.",
                &["reason"],
            )?,
            budget_left: gauges(
                names::BUDGET_LEFT,
                "Items the partner may still have evaluated today in the collection (UTC day).",
                &["partner", "collection"],
            )?,
            budget_daily: gauges(
                names::BUDGET_DAILY,
                "The partner's daily budget of evaluated items in the collection.",
                &["partner", "collection"],
            )?,
            epoch_age: gauges(
                names::EPOCH_AGE,
                "Seconds since the collection's current epoch (key and filter) was built.",
                &["collection"],
            )?,
            audit_size: gauge(
                names::AUDIT_TREE_SIZE,
                "Entries in the audit log (size of its Merkle tree).",
            )?,
            start_time: gauge(names::START_TIME, "When the node started, in Unix seconds.")?,
            registry,
            address: OnceLock::new(),
        };
        m.start_time.set(started as i64);
        Ok(m)
    }

    /// The address `/metrics` is served on, if the endpoint is on.
    pub fn address(&self) -> Option<SocketAddr> {
        self.address.get().copied()
    }

    pub(crate) fn set_address(&self, a: SocketAddr) {
        let _ = self.address.set(a);
    }

    /// A partner's evaluation request was answered.
    pub fn query_answered(&self, partner: &str) {
        self.queries_in
            .with_label_values(&[partner, "answered"])
            .inc();
    }

    /// This node refused a partner's request. `evaluation`: it was an evaluation (a query),
    /// not a descriptor, filter or follow-up request.
    pub fn refused_partner(&self, partner: &str, code: ErrorCode, evaluation: bool) {
        if evaluation {
            self.queries_in
                .with_label_values(&[partner, "refused"])
                .inc();
        }
        self.refusals
            .with_label_values(&["in", partner, code.as_str()])
            .inc();
    }

    /// The outcome of one query this node sent to `partner`.
    pub fn query_sent(&self, partner: &str, outcome: &PartnerOutcome) {
        let (what, reason) = match outcome {
            PartnerOutcome::Answered { .. } => ("answered", None),
            // Labels are fixed words: a code this build does not know counts as `error`.
            PartnerOutcome::Failed { code, .. } => match code.known() {
                Some(FailureCode::Refused(r)) => ("refused", Some(r.as_str())),
                Some(
                    c @ (FailureCode::Timeout
                    | FailureCode::Unreachable
                    | FailureCode::InvalidAnswer),
                ) => (c.as_str(), None),
                _ => ("error", None),
            },
        };
        self.queries_out.with_label_values(&[partner, what]).inc();
        if let Some(r) = reason {
            self.refusals.with_label_values(&["out", partner, r]).inc();
        }
    }

    /// An incoming connection failed its handshake (or was refused right after it).
    pub fn handshake_failed(&self, reason: &str) {
        self.handshake_failures.with_label_values(&[reason]).inc();
    }

    /// Sets the gauges (budgets, epoch ages, audit size) to `g`, read from the node's state
    /// by a [`GaugeSource`].
    pub fn set_gauges(&self, g: &Gauges) {
        let gauge = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        // Reset first: a grant removed by a policy reload, or a collection deleted, must not
        // leave its last value behind.
        self.budget_left.reset();
        self.budget_daily.reset();
        for b in &g.budgets {
            let labels = [b.partner.as_str(), b.collection.as_str()];
            self.budget_left
                .with_label_values(&labels)
                .set(gauge(b.left));
            self.budget_daily
                .with_label_values(&labels)
                .set(gauge(b.daily_items));
        }
        self.epoch_age.reset();
        for e in &g.epoch_ages {
            self.epoch_age
                .with_label_values(&[e.collection.as_str()])
                .set(gauge(e.seconds));
        }
        self.audit_size.set(gauge(g.audit_size));
    }

    /// The metrics in the Prometheus text exposition format, version 0.0.4.
    pub fn encode(&self) -> Result<String, NodeError> {
        use prometheus::Encoder;
        let mut out = Vec::new();
        prometheus::TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .map_err(metric_error)?;
        String::from_utf8(out).map_err(|e| NodeError::internal(format!("metrics text: {e}")))
    }

    /// The counters, and the gauges `refresh` returned, for `cordon status`.
    pub fn operations(&self, gauges: Gauges) -> Operations {
        let mut ops = Operations {
            started_at: self.start_time.get().max(0) as u64,
            metrics_address: self.address().map(|a| a.to_string()),
            budgets: gauges.budgets,
            epoch_ages: gauges.epoch_ages,
            ..Default::default()
        };
        for (counter, rows) in [
            (&self.queries_in, &mut ops.queries_in),
            (&self.queries_out, &mut ops.queries_out),
        ] {
            for ([partner, outcome], count) in series(counter, &["partner", "outcome"]) {
                rows.push(PartnerCount {
                    partner,
                    outcome,
                    count,
                });
            }
        }
        for ([direction, partner, reason], count) in
            series(&self.refusals, &["direction", "partner", "reason"])
        {
            ops.refusals.push(RefusalCount {
                direction,
                partner,
                reason,
                count,
            });
        }
        for ([reason], count) in series(&self.handshake_failures, &["reason"]) {
            ops.handshake_failures.push(ReasonCount { reason, count });
        }
        ops
    }
}

/// Every series of counter `c` counted so far (the registry holds exactly those): the values of
/// its `labels`, in that order, and its count, sorted by the label values.
fn series<const N: usize>(c: &IntCounterVec, labels: &[&str; N]) -> Vec<([String; N], u64)> {
    use prometheus::core::Collector;
    let mut rows: Vec<([String; N], u64)> = c
        .collect()
        .iter()
        .flat_map(|family| family.get_metric())
        .map(|m| {
            let value = |name: &str| {
                m.get_label()
                    .iter()
                    .find(|p| p.name() == name)
                    .map(|p| p.value().to_string())
                    .unwrap_or_default()
            };
            (labels.map(value), m.get_counter().get_value() as u64)
        })
        .collect();
    rows.sort();
    rows
}

/// Where the gauges are read from, when they are asked for (the node's components).
pub trait GaugeSource: Send + Sync {
    /// The gauges now. Blocking: it reads the databases.
    fn gauges(&self) -> Result<Gauges, NodeError>;
}

/// The gauges of one reading ([`GaugeSource`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gauges {
    /// Budgets left, per partner and shared collection.
    pub budgets: Vec<BudgetLeft>,
    /// Epoch ages, per held collection.
    pub epoch_ages: Vec<EpochAge>,
    /// Entries in the audit log.
    pub audit_size: u64,
}

/// Why an incoming QUIC connection failed before it could be served: a fixed word, or the
/// name of the TLS alert (`tls_unknown_ca`, `tls_certificate_expired`, …), for the
/// `cordon_handshake_failures_total` label.
pub fn handshake_reason(e: &quinn::ConnectionError) -> String {
    use quinn::ConnectionError as E;
    let code = match e {
        E::TransportError(t) => t.code,
        E::ConnectionClosed(c) => c.error_code,
        E::VersionMismatch => return "version_mismatch".into(),
        E::ApplicationClosed(_) => return "closed_by_peer".into(),
        E::Reset => return "reset".into(),
        E::TimedOut => return "timeout".into(),
        E::LocallyClosed => return "closed".into(),
        E::CidsExhausted => return "cids_exhausted".into(),
    };
    match crate::net::tls_alert(code) {
        Some(alert) => tls_alert_name(alert),
        None => "transport_error".into(),
    }
}

fn tls_alert_name(alert: u8) -> String {
    let name = match alert {
        10 => "unexpected_message",
        40 => "handshake_failure",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        70 => "protocol_version",
        80 => "internal_error",
        109 => "missing_extension",
        112 => "unrecognized_name",
        116 => "certificate_required",
        120 => "no_application_protocol",
        other => return format!("tls_alert_{other}"),
    };
    format!("tls_{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_text_format() {
        let m = Metrics::new(1_700_000_000).unwrap();
        m.query_answered("jp");
        m.query_answered("jp");
        m.refused_partner("jp", ErrorCode::BudgetExhausted, true);
        m.refused_partner("us", ErrorCode::NotShared, false);
        m.query_sent(
            "us",
            &PartnerOutcome::Failed {
                code: FailureCode::Refused(ErrorCode::NotShared).into(),
                message: "no".into(),
            },
        );
        m.query_sent(
            "us",
            &PartnerOutcome::Failed {
                code: cordon_protocol::control::Named::parse("something new"),
                message: "?".into(),
            },
        );
        m.handshake_failed("tls_unknown_ca");
        let text = m.encode().unwrap();
        assert!(
            text.contains("# TYPE cordon_queries_in_total counter"),
            "{text}"
        );
        assert!(text.contains("cordon_queries_in_total{outcome=\"answered\",partner=\"jp\"} 2"));
        assert!(text.contains(
            "cordon_refusals_total{direction=\"in\",partner=\"jp\",reason=\"budget_exhausted\"} 1"
        ));
        assert!(text.contains("cordon_queries_out_total{outcome=\"error\",partner=\"us\"} 1"));
        assert!(text.contains("cordon_start_time_seconds 1700000000"));
        let ops = m.operations(Gauges::default());
        assert_eq!(ops.started_at, 1_700_000_000);
        assert_eq!(
            ops.queries_in,
            vec![
                PartnerCount {
                    partner: "jp".into(),
                    outcome: "answered".into(),
                    count: 2
                },
                PartnerCount {
                    partner: "jp".into(),
                    outcome: "refused".into(),
                    count: 1
                }
            ]
        );
        assert_eq!(ops.refusals.len(), 3);
        assert_eq!(ops.handshake_failures[0].count, 1);
    }

    #[test]
    fn tls_alerts_are_named() {
        let e = quinn::ConnectionError::TransportError(quinn_proto::TransportError {
            code: quinn_proto::TransportErrorCode::crypto(48),
            frame: None,
            reason: "invalid peer certificate: UnknownIssuer".into(),
        });
        assert_eq!(handshake_reason(&e), "tls_unknown_ca");
        assert_eq!(tls_alert_name(45), "tls_certificate_expired");
        assert_eq!(tls_alert_name(200), "tls_alert_200");
        assert_eq!(
            handshake_reason(&quinn::ConnectionError::TimedOut),
            "timeout"
        );
    }
}
