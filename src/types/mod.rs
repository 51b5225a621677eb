//! Domain types: identifiers, instruments, bars, orders, order events, fills and positions.
//!
//! Money and quantities are [`Decimal`]; timestamps are integer nanoseconds since the Unix
//! epoch (UTC). Conversion to `f64` happens only at the boundary into indicators and tensors.

mod bar;
pub mod decimal_text;
mod ids;
mod instrument;
mod order;
mod position;

pub use bar::{find_bar, Bar};
pub use ids::{ClientOrderId, InstrumentId, Leg};
pub use instrument::Instrument;
pub use order::{
    Bracket, Fill, OrderAccepted, OrderCanceled, OrderEvent, OrderRejected, OrderRequest, OrderSubmitted, OrderType,
    Side, TimeInForce,
};
pub use position::Position;
pub use rust_decimal::Decimal;

/// Nanoseconds since the Unix epoch, UTC.
pub type UnixNanos = i64;

/// Powers of ten as `f64`, for exact-as-possible decimal to float conversion.
const POW10: [f64; 19] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18,
];

/// Converts a decimal to the nearest `f64` when its mantissa fits 53 bits (the common case for
/// prices), which gives the same value as parsing its decimal text; falls back otherwise.
#[inline]
pub fn dec_to_f64(d: Decimal) -> f64 {
    let m = d.mantissa();
    let s = d.scale() as usize;
    if m.unsigned_abs() < (1u128 << 53) && s < POW10.len() {
        // Through i64 (exact below 2^53): an i128 to f64 conversion is a software routine.
        (m as i64) as f64 / POW10[s]
    } else {
        use rust_decimal::prelude::ToPrimitive;
        d.to_f64().unwrap_or(f64::NAN)
    }
}
