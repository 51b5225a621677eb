use serde::{Deserialize, Serialize};
use std::fmt;

/// Index of an instrument in the run's instrument table (symbols sorted by name), so the
/// natural order of ids is the symbol order used for tie-breaking.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct InstrumentId(pub u32);

impl InstrumentId {
    /// The id as an index into per-instrument tables.
    #[inline]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for InstrumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "I{}", self.0)
    }
}

/// Order id assigned by the strategy host in submission order (deterministic). The exit legs of
/// a bracket order carry their entry's number with a leg bit set ([`ClientOrderId::leg`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ClientOrderId(pub u64);

/// Which exit leg of a bracket order an id names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Leg {
    TakeProfit,
    StopLoss,
}

impl Leg {
    const TAKE_PROFIT: u64 = 1 << 63;
    const STOP_LOSS: u64 = 1 << 62;

    /// `tp` or `sl`, as ids print.
    pub fn as_str(self) -> &'static str {
        match self {
            Leg::TakeProfit => "tp",
            Leg::StopLoss => "sl",
        }
    }
}

impl ClientOrderId {
    const ADOPTED: u64 = 1 << 61;

    /// The `k`-th order or position adjustment a session took over from its venue at start
    /// (printed `A{k}`).
    pub fn adopted(k: u64) -> Self {
        Self(Self::ADOPTED | k)
    }
    /// For an adopted id, its number.
    pub fn adopted_number(self) -> Option<u64> {
        (self.0 & Self::ADOPTED != 0).then_some(self.0 & !Self::ADOPTED)
    }
    /// The id of one exit leg of this (entry) order.
    pub fn with_leg(self, leg: Leg) -> Self {
        Self(
            self.0
                | match leg {
                    Leg::TakeProfit => Leg::TAKE_PROFIT,
                    Leg::StopLoss => Leg::STOP_LOSS,
                },
        )
    }
    /// For a leg's id: its entry order and which leg it is.
    pub fn leg(self) -> Option<(ClientOrderId, Leg)> {
        let entry = ClientOrderId(self.0 & !(Leg::TAKE_PROFIT | Leg::STOP_LOSS));
        if self.0 & Leg::TAKE_PROFIT != 0 {
            Some((entry, Leg::TakeProfit))
        } else if self.0 & Leg::STOP_LOSS != 0 {
            Some((entry, Leg::StopLoss))
        } else {
            None
        }
    }
    /// The other leg of the same bracket.
    pub fn sibling(self) -> Option<Self> {
        self.leg().map(|(entry, leg)| {
            entry.with_leg(match leg {
                Leg::TakeProfit => Leg::StopLoss,
                Leg::StopLoss => Leg::TakeProfit,
            })
        })
    }
    /// The id's suffix after the entry's number: `""`, `"-tp"` or `"-sl"`, and that number.
    pub fn parts(self) -> (u64, &'static str) {
        match self.leg() {
            None => (self.0, ""),
            Some((entry, Leg::TakeProfit)) => (entry.0, "-tp"),
            Some((entry, Leg::StopLoss)) => (entry.0, "-sl"),
        }
    }
}

impl fmt::Display for ClientOrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(k) = self.adopted_number() {
            return write!(f, "A{k}");
        }
        let (n, leg) = self.parts();
        write!(f, "O{n}{leg}")
    }
}
