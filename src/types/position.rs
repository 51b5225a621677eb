use super::{Decimal, InstrumentId};
use serde::Serialize;

/// A net position in one instrument.
///
/// `avg_entry` is the volume-weighted mean price of the fills that opened or added to the
/// position since it was last flat; fills that reduce it do not change it (SPEC.md), and a
/// fill that crosses through zero starts a new position at its own price.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Position {
    pub instrument_id: InstrumentId,
    pub quantity: Decimal,
    pub avg_entry: Decimal,
    /// Realized PnL of this instrument over the whole run (before commissions).
    pub realized_pnl: Decimal,
}

impl Position {
    /// True when the position is long (quantity above zero).
    pub fn is_long(&self) -> bool {
        self.quantity > Decimal::ZERO
    }
    /// True when flat.
    pub fn is_flat(&self) -> bool {
        self.quantity.is_zero()
    }
    /// Unrealized PnL at `price`.
    pub fn unrealized_pnl(&self, price: Decimal) -> Decimal {
        (price - self.avg_entry) * self.quantity
    }

    /// Applies a signed fill (`qty` > 0 buys) at `price`; returns the realized PnL it produced.
    pub fn apply(&mut self, qty: Decimal, price: Decimal) -> Decimal {
        let old = self.quantity;
        let new = old + qty;
        let mut realized = Decimal::ZERO;
        if old.is_zero() || (old.is_sign_positive() == qty.is_sign_positive()) {
            // Opening or adding: volume-weighted entry price.
            self.avg_entry = (self.avg_entry * old.abs() + price * qty.abs()) / new.abs();
        } else {
            // Reducing, closing or flipping.
            let closed = qty.abs().min(old.abs());
            let direction = if old.is_sign_positive() {
                Decimal::ONE
            } else {
                Decimal::NEGATIVE_ONE
            };
            realized = (price - self.avg_entry) * closed * direction;
            if new.is_zero() {
                self.avg_entry = Decimal::ZERO;
            } else if new.is_sign_positive() != old.is_sign_positive() {
                self.avg_entry = price;
            }
        }
        self.quantity = new;
        self.realized_pnl += realized;
        realized
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn entry_price_is_vwap_of_adds_and_sells_leave_it() {
        let mut p = Position::default();
        p.apply(dec!(100), dec!(10));
        p.apply(dec!(100), dec!(12));
        assert_eq!(p.avg_entry, dec!(11));
        let r = p.apply(dec!(-50), dec!(13));
        assert_eq!(r, dec!(100));
        assert_eq!(p.avg_entry, dec!(11));
        assert_eq!(p.quantity, dec!(150));
    }

    #[test]
    fn flip_through_zero_restarts_entry() {
        let mut p = Position::default();
        p.apply(dec!(10), dec!(5));
        let r = p.apply(dec!(-15), dec!(6));
        assert_eq!(r, dec!(10));
        assert_eq!(p.quantity, dec!(-5));
        assert_eq!(p.avg_entry, dec!(6));
        let r = p.apply(dec!(5), dec!(4));
        assert_eq!(r, dec!(10));
        assert!(p.is_flat());
    }
}
