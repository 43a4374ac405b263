//! Client profiles: where a person's CLI finds its node and its certificate.
//!
//! Like a kubeconfig: one small TOML file per person and node, written by `cordon user add`,
//! chosen with `--profile FILE` or `$CORDON_PROFILE`. Paths inside are relative to the
//! profile's own folder.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::NodeError;

/// Environment variable naming the profile when `--profile` is not given.
pub const PROFILE_ENV: &str = "CORDON_PROFILE";

/// A client profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// The node's name (its certificate's name).
    pub node: String,
    /// The node's address.
    pub address: SocketAddr,
    /// The agency CA certificate that issued the node's certificate.
    pub ca_cert: PathBuf,
    /// The person's certificate.
    pub cert: PathBuf,
    /// The person's private key.
    pub key: PathBuf,
    /// The person's name (informational; the certificate is what counts).
    pub user: String,
    /// The person's role (informational; the certificate is what counts).
    pub role: String,
    /// Folder of the profile file; not in the file.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

impl Profile {
    /// Reads a profile.
    pub fn load(path: &Path) -> Result<Profile, NodeError> {
        let text = std::fs::read_to_string(path).map_err(|e| NodeError::request(format!(
            "cannot read profile {}: {e}; pass --profile with the file `cordon user add` wrote, or set {PROFILE_ENV}",
            path.display()
        )))?;
        let mut p: Profile = toml::from_str(&text).map_err(|e| {
            NodeError::config(
                path.to_path_buf(),
                crate::config::describe_toml_error(&text, &e),
            )
        })?;
        p.base_dir = path
            .parent()
            .map(Path::to_path_buf)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."));
        Ok(p)
    }

    /// Finds the profile: the explicit path, else `$CORDON_PROFILE`.
    pub fn locate(explicit: Option<&Path>) -> Result<Profile, NodeError> {
        if let Some(p) = explicit {
            return Profile::load(p);
        }
        match std::env::var_os(PROFILE_ENV) {
            Some(p) if !p.is_empty() => Profile::load(Path::new(&p)),
            _ => Err(NodeError::request(format!(
                "no client profile given; pass --profile FILE (written by `cordon user add`) or set {PROFILE_ENV}"
            ))),
        }
    }

    /// Resolves a path from the profile.
    pub fn path(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }

    /// The file's text, with a comment header.
    pub fn to_toml(&self) -> Result<String, NodeError> {
        let body = toml::to_string(self).map_err(|e| NodeError::storage(e.to_string()))?;
        Ok(format!(
            "# Cordon client profile: {} ({}) at node {}.\n# Use with `cordon --profile THIS_FILE ...` or `export {PROFILE_ENV}=THIS_FILE`.\n# Paths are relative to this file's folder. Keep the key file private.\n{body}",
            self.user, self.role, self.node
        ))
    }
}
