//! Lying peers. A lying holder is a script over each request it receives: it sees the
//! request, what the honest holder would answer (computed by the honest holder, whose state
//! moves as usual), and the holder itself (its keys and log, to forge well-signed lies), and
//! says what to send instead ([`Reply`]: other frames, garbage bytes, silence, a closed stream,
//! a delay). A lying querier needs no script: [`crate::Federation::send`] sends any request or
//! bytes to a holder.

use rand::rngs::StdRng;

use cordon_protocol::messages::{PartnerRequest, PartnerResponse};

use crate::net::Reply;
use crate::node::SimNode;

/// One request as a lying holder sees it.
pub struct Lie<'a> {
    /// The querier that sent it.
    pub from: &'a str,
    /// The request (absent if its bytes did not decode).
    pub request: Option<&'a PartnerRequest>,
    /// What the honest holder answers.
    pub honest: Vec<PartnerResponse>,
    /// The holder (its keys, collections and log).
    pub holder: &'a mut SimNode,
    /// The holder's clock (Unix seconds).
    pub now: u64,
    /// Requests this script saw before this one.
    pub seen: usize,
    /// The simulation's RNG.
    pub rng: &'a mut StdRng,
}

impl Lie<'_> {
    /// The honest answer, sent as it is.
    pub fn honest(self) -> Reply {
        Reply::Frames(self.honest)
    }

    /// The honest answer with every frame passed through `f`.
    pub fn map(self, f: impl FnMut(PartnerResponse) -> PartnerResponse) -> Reply {
        Reply::Frames(self.honest.into_iter().map(f).collect())
    }

    /// What the honest holder answers to the same request now (after the script changed it,
    /// say rotated a collection). A request that did not decode gets no answer.
    pub fn serve_again(&mut self) -> Vec<PartnerResponse> {
        match self.request {
            Some(r) => self.holder.serve(self.from, r.clone(), self.now, self.rng),
            None => Vec::new(),
        }
    }

    /// Rotates the holder's `collection` (a new epoch), as its operator would.
    pub fn rotate(&mut self, collection: &str) -> Result<(), String> {
        self.holder.rotate(collection, self.now, self.rng)
    }
}

/// A lying holder's script.
pub type Script = Box<dyn FnMut(Lie<'_>) -> Reply>;

/// A script that lies with `lie` about the requests `which` selects and answers the others
/// (and bytes that are no request) honestly.
pub fn about(
    which: impl Fn(&PartnerRequest) -> bool + 'static,
    mut lie: impl FnMut(Lie<'_>) -> Reply + 'static,
) -> Script {
    Box::new(move |l: Lie<'_>| match l.request {
        Some(r) if which(r) => lie(l),
        _ => l.honest(),
    })
}

/// A script that answers the requests `which` selects with `frames`, always.
pub fn always(
    which: impl Fn(&PartnerRequest) -> bool + 'static,
    frames: Vec<PartnerResponse>,
) -> Script {
    about(which, move |_| Reply::Frames(frames.clone()))
}

/// Whether a request asks for a descriptor.
pub fn descriptor(r: &PartnerRequest) -> bool {
    matches!(r, PartnerRequest::GetDescriptor { .. })
}

/// Whether a request asks for a filter.
pub fn filter(r: &PartnerRequest) -> bool {
    matches!(r, PartnerRequest::GetFilter { .. })
}

/// Whether a request asks for delta tags.
pub fn delta(r: &PartnerRequest) -> bool {
    matches!(r, PartnerRequest::GetDelta { .. })
}

/// Whether a request is an evaluation.
pub fn evaluate(r: &PartnerRequest) -> bool {
    matches!(r, PartnerRequest::Evaluate(_))
}
