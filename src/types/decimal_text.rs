//! Decimals printed by hand, byte for byte as `Display` prints them: the writers that print
//! many of them (the output files, the journal, the loopback venue's frames) skip the
//! formatting machinery, which was a large part of their time.

use rust_decimal::Decimal;

/// The longest text: sign, 29 digits, point, and leading zeros up to scale 28.
const MAX_LEN: usize = 64;

/// `d` as `Display` prints it (its scale kept: `94.40`; `-0` for a negative zero), written
/// into `buf`; returns the text.
pub fn decimal_str(d: Decimal, buf: &mut [u8; MAX_LEN]) -> &str {
    let n = write_text(
        d.is_sign_negative(),
        d.mantissa().unsigned_abs(),
        d.scale() as usize,
        buf,
    );
    // ASCII by construction; the check never fails.
    std::str::from_utf8(&buf[..n]).unwrap_or("0")
}

/// The text of `[-]m / 10^scale` with `scale` digits after the point, written into `buf`;
/// returns its length. Mantissas within 64 bits (nearly all) are formatted as `u64`, which is
/// much cheaper than `u128`.
fn write_text(negative: bool, m: u128, scale: usize, buf: &mut [u8; MAX_LEN]) -> usize {
    let mut ibuf = itoa::Buffer::new();
    let digits = match u64::try_from(m) {
        Ok(v) => ibuf.format(v),
        Err(_) => ibuf.format(m),
    }
    .as_bytes();
    let mut n = 0;
    let mut put = |b: &[u8]| {
        buf[n..n + b.len()].copy_from_slice(b);
        n += b.len();
    };
    if negative {
        put(b"-");
    }
    if scale == 0 {
        put(digits);
    } else if digits.len() > scale {
        let (int, frac) = digits.split_at(digits.len() - scale);
        put(int);
        put(b".");
        put(frac);
    } else {
        put(b"0.");
        for _ in digits.len()..scale {
            put(b"0");
        }
        put(digits);
    }
    n
}

/// Appends `d` as `Display` prints it.
pub fn push_decimal(out: &mut String, d: Decimal) {
    out.push_str(decimal_str(d, &mut [0; MAX_LEN]));
}

/// Appends `d` as `Display` prints it normalized (no trailing zeros, `0` for a negative zero):
/// trailing zeros stripped in `u64` arithmetic when the mantissa fits, by `Decimal::normalize`
/// otherwise.
pub fn push_normalized(out: &mut Vec<u8>, d: Decimal) {
    let (m, scale) = match u64::try_from(d.mantissa().unsigned_abs()) {
        Ok(mut v) => {
            let mut scale = d.scale();
            while scale > 0 && v % 10 == 0 {
                v /= 10;
                scale -= 1;
            }
            (u128::from(v), scale)
        }
        Err(_) => {
            let n = d.normalize();
            (n.mantissa().unsigned_abs(), n.scale())
        }
    };
    let mut buf = [0; MAX_LEN];
    let n = write_text(d.is_sign_negative() && m != 0, m, scale as usize, &mut buf);
    out.extend_from_slice(&buf[..n]);
}

/// Decimals for tests of printers: signs (negative zeros included), zero at every scale,
/// integers, values below one, trailing zeros, the extremes, and 20,000 drawn from `seed` over
/// every scale with mantissas of 32 to 96 bits.
#[cfg(test)]
pub(crate) fn sample_decimals(seed: u64) -> Vec<Decimal> {
    use rust_decimal_macros::dec;
    let mut rng = crate::data::synth::Rng::new(seed);
    let mut cases = vec![
        Decimal::ZERO,
        -Decimal::ZERO,
        Decimal::new(0, 5),
        -Decimal::new(0, 5),
        Decimal::MAX,
        Decimal::MIN,
        dec!(0.001),
        dec!(-0.0010),
        dec!(100),
        dec!(94.40),
        dec!(12.500),
        dec!(-7),
        Decimal::new(1, 28),
        Decimal::new(-123_456_789, 28),
    ];
    for _ in 0..20_000 {
        let bits = rng.next_u64();
        let (lo, mid, hi) = (
            bits as u32,
            (bits >> 32) as u32,
            (rng.next_u64() as u32).checked_shr((bits % 33) as u32).unwrap_or(0),
        );
        let wide = bits % 3 == 0;
        cases.push(Decimal::from_parts(
            if bits % 7 == 0 { 0 } else { lo },
            if wide { mid } else { 0 },
            if wide { hi } else { 0 },
            bits & 1 == 1,
            (rng.next_u64() % 29) as u32,
        ));
    }
    cases
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same text as `Display`, as is and normalized, over [`sample_decimals`].
    #[test]
    fn prints_what_display_prints() {
        for d in sample_decimals(12) {
            let mut s = String::new();
            push_decimal(&mut s, d);
            assert_eq!(s, d.to_string(), "{d:?}");
            let mut v = Vec::new();
            push_normalized(&mut v, d);
            assert_eq!(String::from_utf8(v).unwrap(), d.normalize().to_string(), "{d:?}");
        }
    }
}
