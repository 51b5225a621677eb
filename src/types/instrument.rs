use super::{Decimal, InstrumentId};
use chrono_tz::Tz;
use serde::Serialize;

/// A tradable (or reference-only) instrument.
#[derive(Clone, Debug, Serialize)]
pub struct Instrument {
    pub id: InstrumentId,
    pub symbol: String,
    /// Exchange time zone: session dates and DAY orders are reckoned in it.
    #[serde(serialize_with = "ser_tz")]
    pub time_zone: Tz,
    /// Orders must be whole multiples of the lot size.
    pub lot_size: Decimal,
    /// Limit and stop prices must be whole multiples of the tick size.
    pub tick_size: Decimal,
    /// False for the benchmark: its bars are visible to strategies, orders on it are rejected.
    pub tradable: bool,
}

fn ser_tz<S: serde::Serializer>(tz: &Tz, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(tz.name())
}

impl Instrument {
    /// True when `qty` is a positive whole number of lots.
    pub fn valid_quantity(&self, qty: Decimal) -> bool {
        qty > Decimal::ZERO && (qty % self.lot_size).is_zero()
    }

    /// True when `price` is positive and on the tick grid.
    pub fn valid_price(&self, price: Decimal) -> bool {
        price > Decimal::ZERO && (price % self.tick_size).is_zero()
    }
}
