//! The federation: nodes, the network between them, the virtual clock and the seeded RNG,
//! and what a test does to set up and change the nodes' data.

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use cordon_protocol::frame;
use cordon_protocol::ident::Kind;
use cordon_protocol::messages::PartnerRequest;

use crate::clock::Clock;
use crate::epoch::HeldCollection;
use crate::keys::NodeKeys;
use crate::liar::{Lie, Script};
use crate::net::{reply_bytes, Delivery, Inbox, Link, Network, Queue, Reply, StreamId};
use crate::node::SimNode;

/// N nodes in memory, a virtual clock, seeded randomness and lossy links.
pub struct Federation {
    pub(crate) clock: Clock,
    pub(crate) rng: StdRng,
    pub(crate) net: Network,
    pub(crate) nodes: BTreeMap<String, SimNode>,
    pub(crate) liars: BTreeMap<String, (Script, usize)>,
    pub(crate) queue: Queue,
    pub(crate) inboxes: BTreeMap<StreamId, Inbox>,
    next_stream: StreamId,
}

fn unknown(name: &str) -> String {
    format!("no node named {name:?} in the simulation")
}

impl Federation {
    /// An empty federation whose every random draw comes from `seed`.
    pub fn new(seed: u64) -> Self {
        Federation {
            clock: Clock::new(),
            rng: StdRng::seed_from_u64(seed),
            net: Network::default(),
            nodes: BTreeMap::new(),
            liars: BTreeMap::new(),
            queue: Queue::default(),
            inboxes: BTreeMap::new(),
            next_stream: 0,
        }
    }

    /// Adds a node with fresh keys.
    pub fn add_node(&mut self, name: &str) -> Result<&mut SimNode, String> {
        let keys = NodeKeys::generate(name, &mut self.rng)?;
        let node = SimNode::new(name, keys)?;
        Ok(self.nodes.entry(name.to_string()).or_insert(node))
    }

    /// Makes `a` and `b` partners: each pins the other's keys.
    pub fn connect(&mut self, a: &str, b: &str) -> Result<(), String> {
        let ka = self.node(a)?.keys.public()?;
        let kb = self.node(b)?.keys.public()?;
        self.node_mut(a)?.partners.insert(b.to_string(), kb);
        self.node_mut(b)?.partners.insert(a.to_string(), ka);
        Ok(())
    }

    /// A node.
    pub fn node(&self, name: &str) -> Result<&SimNode, String> {
        self.nodes.get(name).ok_or_else(|| unknown(name))
    }

    /// A node, to change it.
    pub fn node_mut(&mut self, name: &str) -> Result<&mut SimNode, String> {
        self.nodes.get_mut(name).ok_or_else(|| unknown(name))
    }

    /// Unix seconds now, as every node's clock reads.
    pub fn now(&self) -> u64 {
        self.clock.unix()
    }

    /// Milliseconds since the start.
    pub fn clock_ms(&self) -> u64 {
        self.clock.ms()
    }

    /// Moves the clock on (deliveries due meanwhile are made).
    pub fn advance(&mut self, ms: u64) {
        let until = self.clock.ms().saturating_add(ms);
        while let Some(at) = self.queue.next_at().filter(|at| *at <= until) {
            self.clock.set(at);
            if let Some((_, d)) = self.queue.pop() {
                self.deliver(d);
            }
        }
        self.clock.set(until);
    }

    /// The links.
    pub fn network_mut(&mut self) -> &mut Network {
        &mut self.net
    }

    /// The simulation's RNG (for a test's own draws, in the same reproducible sequence).
    pub fn rng(&mut self) -> &mut StdRng {
        &mut self.rng
    }

    /// Imports `values` into `collection` of `node` (kind `kind`): builds epoch 1 of a new
    /// collection, or adds to an existing one (delta, or a rebuild past the threshold).
    pub fn import(
        &mut self,
        node: &str,
        collection: &str,
        kind: Kind,
        values: &[String],
    ) -> Result<(), String> {
        let now = self.clock.unix();
        let n = self.nodes.get_mut(node).ok_or_else(|| unknown(node))?;
        match n.collections.get_mut(collection) {
            Some(c) => {
                c.add(values, n.keys.descriptor(), now, &mut self.rng)
                    .map_err(|e| e.to_string())?;
            }
            None => {
                let c = HeldCollection::build(
                    &n.name,
                    collection,
                    kind,
                    values,
                    n.settings.clone(),
                    n.keys.descriptor(),
                    now,
                    &mut self.rng,
                )
                .map_err(|e| e.to_string())?;
                n.collections.insert(collection.to_string(), c);
            }
        }
        Ok(())
    }

    /// Rotates the key of `collection` at `node` (a new epoch over the same records).
    pub fn rotate(&mut self, node: &str, collection: &str) -> Result<(), String> {
        let now = self.clock.unix();
        let n = self.nodes.get_mut(node).ok_or_else(|| unknown(node))?;
        n.rotate(collection, now, &mut self.rng)
    }

    /// Deletes `values` from `collection` at `node` (rotating if any was held).
    pub fn delete(
        &mut self,
        node: &str,
        collection: &str,
        values: &[String],
    ) -> Result<usize, String> {
        let now = self.clock.unix();
        let n = self.nodes.get_mut(node).ok_or_else(|| unknown(node))?;
        let c = n
            .collections
            .get_mut(collection)
            .ok_or_else(|| format!("{node} holds no collection {collection:?}"))?;
        c.delete(values, n.keys.descriptor(), now, &mut self.rng)
            .map_err(|e| e.to_string())
    }

    /// Makes `holder` lie by `script` from now on.
    pub fn lie(&mut self, holder: &str, script: Script) {
        self.liars.insert(holder.to_string(), (script, 0));
    }

    /// Makes `holder` honest again.
    pub fn stop_lying(&mut self, holder: &str) {
        self.liars.remove(holder);
    }

    /// Opens a stream from `from` to `to` carrying one request frame.
    pub(crate) fn open(&mut self, from: &str, to: &str, frame: Vec<u8>) -> StreamId {
        self.next_stream += 1;
        let stream = self.next_stream;
        self.inboxes.insert(stream, Inbox::default());
        let link = self.net.link(from, to);
        if !self.lost(link) {
            let at = self.clock.ms() + link.latency_ms;
            let d = Delivery::Request {
                stream,
                from: from.to_string(),
                to: to.to_string(),
                frame,
            };
            self.queue.push(at, d);
        }
        stream
    }

    fn lost(&mut self, link: Link) -> bool {
        link.loss > 0.0 && self.rng.gen::<f64>() < link.loss
    }

    /// Makes one delivery, at the clock's time.
    pub(crate) fn deliver(&mut self, d: Delivery) {
        match d {
            Delivery::Request {
                stream,
                from,
                to,
                frame: bytes,
            } => {
                let reply = self.answer(&from, &to, &bytes);
                let (delay, sent) = reply_bytes(reply);
                let link = self.net.link(&to, &from);
                if let Some((bytes, finish)) = sent {
                    if !self.lost(link) {
                        let at = self.clock.ms() + delay + link.latency_ms;
                        let d = Delivery::Response {
                            stream,
                            bytes,
                            finish,
                        };
                        self.queue.push(at, d);
                    }
                }
            }
            Delivery::Response {
                stream,
                bytes,
                finish,
            } => {
                if let Some(inbox) = self.inboxes.get_mut(&stream) {
                    inbox.receive(&bytes, finish);
                }
            }
        }
    }

    /// What `to` answers to `from`'s request frame: the honest holder's answer, or its
    /// script's lie about it.
    fn answer(&mut self, from: &str, to: &str, bytes: &[u8]) -> Reply {
        let now = self.clock.unix();
        let Some(node) = self.nodes.get_mut(to) else {
            // Nobody there: as a closed port, the stream never ends.
            return Reply::Silence;
        };
        if bytes.is_empty() {
            // A stream ended before its request: nothing to answer.
            return Reply::Close;
        }
        let honest = node.serve_frame(from, bytes, now, &mut self.rng);
        let Some((script, seen)) = self.liars.get_mut(to) else {
            return Reply::Frames(honest);
        };
        let request = frame::decode_frame::<PartnerRequest>(bytes).ok();
        let lie = Lie {
            from,
            request: request.as_ref(),
            honest,
            holder: node,
            now,
            seen: *seen,
            rng: &mut self.rng,
        };
        *seen += 1;
        script(lie)
    }
}
