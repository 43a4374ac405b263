//! A node's keys, drawn from the simulation's seeded RNG, and the public half its partners pin.

use rand::RngCore;
use ring::signature::{Ed25519KeyPair, KeyPair};

use cordon_protocol::audit::note::{KeyType, Signer, VerifierKey};
use cordon_protocol::session::witness::PartnerLogKeys;

/// A node's signing keys.
pub struct NodeKeys {
    name: String,
    descriptor_seed: [u8; 32],
    log_seed: [u8; 32],
    descriptor: Ed25519KeyPair,
    /// Receipts: the descriptor key, named after the node.
    pub receipt: Signer,
    /// The audit log's checkpoints, named `<node>/audit`.
    pub log: Signer,
    /// Cosignatures of partners' checkpoints, named after the node.
    pub witness: Signer,
}

/// What a partner pins of a node.
#[derive(Debug, Clone)]
pub struct PartnerKeys {
    /// The descriptor key.
    pub descriptor: [u8; 32],
    /// The log, cosignature and receipt keys.
    pub log: PartnerLogKeys,
}

fn seed(rng: &mut impl RngCore) -> [u8; 32] {
    let mut s = [0u8; 32];
    rng.fill_bytes(&mut s);
    s
}

fn keys_error(name: &str, e: impl std::fmt::Display) -> String {
    format!("keys of node {name:?}: {e}")
}

impl NodeKeys {
    /// Fresh keys for node `name` (a valid key name: no spaces or `+`).
    pub fn generate(name: &str, rng: &mut impl RngCore) -> Result<Self, String> {
        let descriptor_seed = seed(rng);
        let descriptor = Ed25519KeyPair::from_seed_unchecked(&descriptor_seed)
            .map_err(|e| keys_error(name, e))?;
        let receipt = Signer::from_seed(name, &descriptor_seed).map_err(|e| keys_error(name, e))?;
        let log_seed = seed(rng);
        let log = Signer::from_seed(&format!("{name}/audit"), &log_seed)
            .map_err(|e| keys_error(name, e))?;
        let witness = Signer::from_seed(name, &seed(rng)).map_err(|e| keys_error(name, e))?;
        Ok(NodeKeys {
            name: name.to_string(),
            descriptor_seed,
            log_seed,
            descriptor,
            receipt,
            log,
            witness,
        })
    }

    /// The descriptor signing key.
    pub fn descriptor(&self) -> &Ed25519KeyPair {
        &self.descriptor
    }

    /// Its public key.
    pub fn descriptor_public(&self) -> [u8; 32] {
        let mut k = [0u8; 32];
        k.copy_from_slice(self.descriptor.public_key().as_ref());
        k
    }

    /// What partners pin.
    pub fn public(&self) -> Result<PartnerKeys, String> {
        let vkey = |n: &str, t: KeyType, k: [u8; 32]| {
            VerifierKey::new(n, t, k).map_err(|e| keys_error(&self.name, e))
        };
        Ok(PartnerKeys {
            descriptor: self.descriptor_public(),
            log: PartnerLogKeys {
                log: self.log.verifier_key(),
                witness: self.witness.cosignature_verifier_key(),
                receipt: vkey(&self.name, KeyType::Ed25519, self.descriptor_public())?,
            },
        })
    }

    /// Another handle on the log key (for the log itself).
    pub fn log_signer(&self) -> Result<Signer, String> {
        Signer::from_seed(self.log.name(), &self.log_seed).map_err(|e| keys_error(&self.name, e))
    }

    /// A receipt signer with this node's descriptor key under another name (a holder that
    /// signs receipts as someone else).
    pub fn receipt_as(&self, name: &str) -> Result<Signer, String> {
        Signer::from_seed(name, &self.descriptor_seed).map_err(|e| keys_error(name, e))
    }
}
