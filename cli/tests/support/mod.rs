//! What the CLI's test binaries share: running the `cordon` binary as a user would, and reading
//! what it printed. Each binary includes this with `mod support;` and uses some of it.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// The `cordon` binary Cargo built for these tests.
pub fn exe() -> &'static str {
    env!("CARGO_BIN_EXE_cordon")
}

/// Output bytes as text (lossy: a test reports what it got, whatever it is).
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs `cordon [--profile PROFILE] ARGS` to the end, with no stdin and no `$CORDON_PROFILE`
/// from the environment running the tests.
pub fn cordon(profile: Option<&Path>, args: &[&str]) -> Output {
    let mut c = Command::new(exe());
    if let Some(p) = profile {
        c.arg("--profile").arg(p);
    }
    c.args(args)
        .env_remove("CORDON_PROFILE")
        .stdin(Stdio::null())
        .output()
        .expect("run cordon")
}

/// The standard output of a command that must have succeeded; otherwise fails the test showing
/// the exit code and both streams.
#[track_caller]
pub fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        text(&o.stdout),
        text(&o.stderr)
    );
    text(&o.stdout)
}

/// Asserts that a command failed with exit code 1 and a message containing `what`.
#[track_caller]
pub fn fails_saying(o: &Output, what: &str) {
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains(what), "expected `{what}` in: {err}");
}
