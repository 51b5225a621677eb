//! Row validation and the bad-row policy.
//!
//! Checked per row, in this order: the time field parses; each of open, high, low, close,
//! volume is present, not NaN and parses as a decimal; prices are positive and volume is not
//! negative; `high >= low`; open and close lie in `[low, high]`; the timestamp is later than
//! the symbol's previous kept row (equal: duplicate; earlier: out of order).

use super::LoadOptions;
use crate::types::{Decimal, UnixNanos};
use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, TimeZone};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;

/// What to do with a row that fails validation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BadRowPolicy {
    /// Stop with an error naming file, row and field.
    #[default]
    Fail,
    /// Drop the row, count it by reason in the load report, and go on.
    Skip,
}

/// Loading errors. Each names the file; row errors also name the row and the field.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("{file}: {message}")]
    Io { file: PathBuf, message: String },
    #[error("{file}: cannot read table: {message}")]
    Table { file: PathBuf, message: String },
    #[error("{file}: missing column `{column}`")]
    MissingColumn { file: PathBuf, column: String },
    #[error("{file}: empty file (no data row)")]
    EmptyFile { file: PathBuf },
    #[error("{file}: {row}, field `{field}`: {reason}")]
    BadRow {
        file: PathBuf,
        /// `line N` for CSV (the header is line 1), `row N` (1-based) for Parquet.
        row: String,
        field: &'static str,
        reason: String,
    },
    #[error("{path}: {reason}")]
    NoData { path: PathBuf, reason: String },
}

/// The fields of one raw row, as text (`None` for an empty or null field).
pub struct RawRow<'a> {
    pub time: Option<&'a str>,
    pub open: Option<&'a str>,
    pub high: Option<&'a str>,
    pub low: Option<&'a str>,
    pub close: Option<&'a str>,
    pub volume: Option<&'a str>,
}

/// A row that passed every check.
#[derive(Clone, Copy, Debug)]
pub struct ValidatedRow {
    /// Where it came from (see [`RowRef`]).
    pub row: RowRef,
    pub ts: UnixNanos,
    pub open: Decimal,
    pub high: Decimal,
    pub low: Decimal,
    pub close: Decimal,
    pub volume: Decimal,
}

/// Where a row is in its file: `line N` of a CSV file (the header is line 1), `row N`
/// (1-based) of a Parquet file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowRef {
    pub kind: &'static str,
    pub no: u32,
}

impl RowRef {
    pub fn line(no: usize) -> Self {
        Self {
            kind: "line",
            no: no as u32,
        }
    }
    pub fn row(no: usize) -> Self {
        Self {
            kind: "row",
            no: no as u32,
        }
    }
}

impl std::fmt::Display for RowRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind, self.no)
    }
}

/// The kept rows of one symbol, in time order.
#[derive(Debug, Default)]
pub struct SymbolRows {
    pub rows: Vec<ValidatedRow>,
}

/// A row fault: the field and why.
#[derive(Debug, Clone, PartialEq)]
pub struct RowFault {
    pub field: &'static str,
    pub kind: &'static str,
    pub detail: String,
}

impl RowFault {
    pub(crate) fn new(field: &'static str, kind: &'static str, detail: impl Into<String>) -> Self {
        Self {
            field,
            kind,
            detail: detail.into(),
        }
    }
}

/// Shared state of one load: options, a cache of date conversions, the daily flag.
pub struct Context<'o> {
    pub opts: &'o LoadOptions,
    date_cache: HashMap<NaiveDate, UnixNanos>,
    /// True while every time field seen was a plain date.
    pub all_dates: bool,
    /// The name of the time column as messages give it (`date`, `timestamp` or `datetime`).
    pub time_field: &'static str,
}

impl<'o> Context<'o> {
    pub fn new(opts: &'o LoadOptions) -> Self {
        Self {
            opts,
            date_cache: HashMap::new(),
            all_dates: true,
            time_field: "date",
        }
    }

    /// Parses a time field into nanoseconds (UTC).
    pub fn parse_time(&mut self, text: &str) -> Result<UnixNanos, RowFault> {
        let t = text.trim();
        let field = self.time_field;
        let bad = || {
            RowFault::new(
                field,
                "unparsable timestamp",
                format!("cannot parse {t:?} as a date or timestamp"),
            )
        };
        if t.len() == 10 {
            let d = match plain_date(t.as_bytes()) {
                Some(d) => d,
                None => NaiveDate::parse_from_str(t, "%Y-%m-%d").map_err(|_| bad())?,
            };
            if let Some(ts) = self.date_cache.get(&d) {
                return Ok(*ts);
            }
            let local = d.and_time(self.opts.session_close);
            let ts = self.localize(local, t)?;
            self.date_cache.insert(d, ts);
            return Ok(ts);
        }
        self.all_dates = false;
        if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
            return dt.timestamp_nanos_opt().ok_or_else(|| out_of_range(field, t));
        }
        for fmt in [
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%d %H:%M",
            "%Y-%m-%dT%H:%M",
        ] {
            if let Ok(n) = NaiveDateTime::parse_from_str(t, fmt) {
                return self.localize(n, t);
            }
        }
        Err(bad())
    }

    /// A local time in the exchange time zone as an instant. A time that a DST change skips
    /// does not exist, and one it repeats is ambiguous: both are refused as such (an RFC 3339
    /// time with its offset says which instant is meant).
    fn localize(&self, local: NaiveDateTime, text: &str) -> Result<UnixNanos, RowFault> {
        let tz = self.opts.time_zone;
        match tz.from_local_datetime(&local) {
            LocalResult::Single(dt) => dt.timestamp_nanos_opt().ok_or_else(|| out_of_range(self.time_field, text)),
            LocalResult::None => Err(RowFault::new(
                self.time_field,
                "nonexistent local time",
                format!("{text} does not exist in {tz}: the clocks skip it at a daylight-saving change"),
            )),
            LocalResult::Ambiguous(a, b) => Err(RowFault::new(
                self.time_field,
                "ambiguous local time",
                format!(
                    "{text} occurs twice in {tz} (at {} and {}, a daylight-saving change): give the time with its UTC offset",
                    a.format("%H:%M%:z"),
                    b.format("%H:%M%:z")
                ),
            )),
        }
    }

    /// Checks one raw row (everything but ordering against the previous row).
    pub fn check(&mut self, raw: &RawRow<'_>, row: RowRef) -> Result<ValidatedRow, RowFault> {
        let time = raw
            .time
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| RowFault::new(self.time_field, "empty field", "empty"))?;
        let ts = self.parse_time(time)?;
        check_values(ts, raw, row)
    }
}

/// Checks the prices and volume of a row whose time is already known (`raw.time` is not read):
/// the checks [`Context::check`] makes after the time (live bars come stamped).
///
/// # Errors
/// The first bad field.
pub fn check_values(ts: UnixNanos, raw: &RawRow<'_>, row: RowRef) -> Result<ValidatedRow, RowFault> {
    {
        let open = number("open", raw.open)?;
        let high = number("high", raw.high)?;
        let low = number("low", raw.low)?;
        let close = number("close", raw.close)?;
        let volume = number("volume", raw.volume)?;
        for (field, v) in [("open", open), ("high", high), ("low", low), ("close", close)] {
            // `v <= 0` by its sign and zero bits (a decimal comparison costs more, per row).
            if v.is_zero() || v.is_sign_negative() {
                return Err(RowFault::new(
                    field,
                    "non-positive price",
                    format!("non-positive price {v}"),
                ));
            }
        }
        if volume.is_sign_negative() && !volume.is_zero() {
            return Err(RowFault::new(
                "volume",
                "negative volume",
                format!("negative volume {volume}"),
            ));
        }
        if high < low {
            return Err(RowFault::new(
                "high",
                "high below low",
                format!("high {high} is below low {low}"),
            ));
        }
        for (field, v) in [("open", open), ("close", close)] {
            if v < low || v > high {
                return Err(RowFault::new(
                    field,
                    "outside [low, high]",
                    format!("{field} {v} is outside [low {low}, high {high}]"),
                ));
            }
        }
        Ok(ValidatedRow {
            row,
            ts,
            open,
            high,
            low,
            close,
            volume,
        })
    }
}

/// `[-]digits[.digits]` with at most 18 digits in all, read digit by digit into an exact,
/// normalized decimal (the common case); `None` for anything else, which `Decimal`'s own parser
/// then reads or refuses.
fn plain_decimal(b: &[u8]) -> Option<Decimal> {
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    let mut m: i64 = 0;
    let mut scale = 0u32;
    let mut seen_dot = false;
    let mut n = 0;
    for &c in digits {
        match c {
            b'0'..=b'9' => {
                if n == 18 {
                    return None;
                }
                m = m * 10 + i64::from(c - b'0');
                n += 1;
                if seen_dot {
                    scale += 1;
                }
            }
            b'.' if !seen_dot => seen_dot = true,
            _ => return None,
        }
    }
    if n == 0 || (seen_dot && scale == 0) {
        return None;
    }
    while scale > 0 && m % 10 == 0 {
        m /= 10;
        scale -= 1;
    }
    Some(Decimal::new(if neg { -m } else { m }, scale))
}

/// A time outside what nanosecond timestamps can hold.
fn out_of_range(field: &'static str, text: &str) -> RowFault {
    RowFault::new(
        field,
        "time out of range",
        format!("{text} is outside the supported range 1677-09-21 to 2262-04-11"),
    )
}

/// `YYYY-MM-DD` read digit by digit (the common case, without chrono's format parser);
/// `None` for anything else, which then goes through chrono.
fn plain_date(b: &[u8]) -> Option<NaiveDate> {
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)
}

/// Parses a numeric field: present, not NaN, a finite decimal.
fn number(field: &'static str, text: Option<&str>) -> Result<Decimal, RowFault> {
    // The common case first: a plain number has no space around it, is not NaN and holds no
    // separator.
    if let Some(d) = text.and_then(|t| plain_decimal(t.as_bytes())) {
        return Ok(d);
    }
    let t = text.map(str::trim).unwrap_or("");
    if t.is_empty() {
        return Err(RowFault::new(field, "empty field", "empty"));
    }
    if let Some(d) = plain_decimal(t.as_bytes()) {
        return Ok(d);
    }
    if t.eq_ignore_ascii_case("nan") || t.eq_ignore_ascii_case("-nan") {
        return Err(RowFault::new(field, "NaN", "NaN"));
    }
    // rust_decimal takes `1_000_000`; a data file's number never has separators.
    if t.contains('_') {
        return Err(RowFault::new(
            field,
            "unparsable value",
            format!("cannot parse {t:?} as a number"),
        ));
    }
    let parsed = Decimal::from_str(t).or_else(|e| {
        if t.contains(['e', 'E']) {
            Decimal::from_scientific(t)
        } else {
            Err(e)
        }
    });
    parsed
        .map(|d| d.normalize())
        .map_err(|_| RowFault::new(field, "unparsable value", format!("cannot parse {t:?} as a number")))
}

impl SymbolRows {
    /// Validates and appends a row, applying the policy.
    ///
    /// # Errors
    /// [`FeedError::BadRow`] under [`BadRowPolicy::Fail`].
    pub fn push(
        &mut self,
        ctx: &mut Context<'_>,
        raw: &RawRow<'_>,
        file: &std::path::Path,
        row: RowRef,
        report: &mut crate::data::LoadReport,
    ) -> Result<(), FeedError> {
        report.rows_read += 1;
        let checked = ctx.check(raw, row).and_then(|r| match self.rows.last() {
            Some(prev) if r.ts == prev.ts => Err(RowFault::new(
                ctx.time_field,
                "duplicate timestamp",
                "duplicate timestamp",
            )),
            Some(prev) if r.ts < prev.ts => Err(RowFault::new(
                ctx.time_field,
                "out-of-order timestamp",
                "timestamp earlier than the previous row's",
            )),
            _ => Ok(r),
        });
        match checked {
            Ok(r) => {
                self.rows.push(r);
                Ok(())
            }
            Err(fault) => reject(ctx, fault, file, row.to_string(), report),
        }
    }
}

/// A row that cannot be kept (already counted as read): an error under
/// [`BadRowPolicy::Fail`], counted by reason under [`BadRowPolicy::Skip`].
///
/// # Errors
/// [`FeedError::BadRow`] under [`BadRowPolicy::Fail`].
pub fn reject(
    ctx: &Context<'_>,
    fault: RowFault,
    file: &std::path::Path,
    row: String,
    report: &mut crate::data::LoadReport,
) -> Result<(), FeedError> {
    let err = FeedError::BadRow {
        file: file.to_path_buf(),
        row,
        field: fault.field,
        reason: fault.detail,
    };
    match ctx.opts.policy {
        BadRowPolicy::Fail => Err(err),
        BadRowPolicy::Skip => {
            *report.rows_skipped.entry(fault.kind.to_string()).or_default() += 1;
            if report.skipped_examples.len() < 20 {
                report.skipped_examples.push(err.to_string());
            }
            tracing::warn!(%err, "skipped bad row");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw<'a>(f: [&'a str; 6]) -> RawRow<'a> {
        let o = |s: &'a str| if s.is_empty() { None } else { Some(s) };
        RawRow {
            time: o(f[0]),
            open: o(f[1]),
            high: o(f[2]),
            low: o(f[3]),
            close: o(f[4]),
            volume: o(f[5]),
        }
    }

    #[test]
    fn table_of_row_faults() {
        let opts = LoadOptions::default();
        let mut ctx = Context::new(&opts);
        let cases: &[([&str; 6], &str, &str)] = &[
            (["2020-01-0x", "1", "2", "1", "1", "5"], "date", "unparsable timestamp"),
            (["2020-01-02", "abc", "2", "1", "1", "5"], "open", "unparsable value"),
            (["2020-01-02", "1", "", "1", "1", "5"], "high", "empty field"),
            (["2020-01-02", "1", "2", "NaN", "1", "5"], "low", "NaN"),
            (["2020-01-02", "1", "2", "1", "-1", "5"], "close", "non-positive price"),
            (["2020-01-02", "1", "2", "1", "1", "-5"], "volume", "negative volume"),
            (["2020-01-02", "1.5", "1", "2", "1.5", "5"], "high", "high below low"),
            (["2020-01-02", "3", "2", "1", "1.5", "5"], "open", "outside [low, high]"),
            (
                ["2020-01-02", "1.5", "2", "1", "0.5", "5"],
                "close",
                "outside [low, high]",
            ),
        ];
        for (fields, field, kind) in cases {
            let fault = ctx.check(&raw(*fields), RowRef::line(2)).expect_err("must fail");
            assert_eq!((fault.field, fault.kind), (*field, *kind), "{fields:?}");
        }
        assert!(ctx
            .check(&raw(["2020-01-02", "1.5", "2", "1", "1.25", "0"]), RowRef::line(2))
            .is_ok());
    }

    /// `number` with its fast path first: padded values (ASCII and Unicode spaces) are still
    /// read, and NaN, separators, empty and unparsable fields still refused with their reason.
    #[test]
    fn number_reads_and_refuses_as_before() {
        let ok = |t: &str| number("close", Some(t)).map_err(|f| f.kind.to_string());
        for (t, want) in [
            ("17.870", "17.87"),
            (" 17.87 ", "17.87"),
            ("\u{a0}17.87\t", "17.87"),
            ("+4", "4"),
            ("1e2", "100"),
            ("5.", "5"),
        ] {
            assert_eq!(ok(t).map(|d| d.to_string()), Ok(want.to_string()), "{t:?}");
        }
        for (t, reason) in [
            ("", "empty field"),
            ("  ", "empty field"),
            ("NaN", "NaN"),
            (" -nan", "NaN"),
            ("1_000", "unparsable value"),
            ("1.2.3", "unparsable value"),
            ("abc", "unparsable value"),
        ] {
            assert_eq!(ok(t).map(|d| d.to_string()), Err(reason.to_string()), "{t:?}");
        }
        assert_eq!(
            number("close", None).map_err(|f| f.kind.to_string()),
            Err("empty field".to_string())
        );
    }

    #[test]
    fn the_fast_number_path_agrees_with_decimal_parsing() {
        let cases = [
            "0",
            "1",
            "17.87",
            "10.50",
            "0.000",
            "-3.25",
            "+4",
            "007.100",
            ".5",
            "123456789012345678",
            "0.000000000000000001",
            "999999999999999999",
            "1.",
            "1e5",
            "1_000",
            "",
            "-",
            "1.2.3",
            "abc",
            "1234567890123456789",
            "12345678901234567890.5",
        ];
        for t in cases {
            let fast = plain_decimal(t.as_bytes());
            let slow = Decimal::from_str(t).ok().map(|d| d.normalize());
            if let Some(f) = fast {
                assert_eq!(Some(f), slow, "{t}");
                assert_eq!(
                    f.to_string(),
                    slow.map(|d| d.to_string()).unwrap_or_default(),
                    "{t}: same scale"
                );
            }
        }
        // Every two-decimal price up to 100 and some volumes, digit by digit.
        for c in 0..10_000u32 {
            let t = format!("{}.{:02}", c / 100, c % 100);
            assert_eq!(
                plain_decimal(t.as_bytes()),
                Decimal::from_str(&t).ok().map(|d| d.normalize()),
                "{t}"
            );
        }
    }

    #[test]
    fn daily_bar_is_stamped_at_session_close() {
        let opts = LoadOptions::default();
        let mut ctx = Context::new(&opts);
        let ts = ctx.parse_time("2020-01-02").expect("date");
        // 16:00 New York = 21:00 UTC in January.
        assert_eq!(ts, 1_577_998_800_000_000_000);
        assert!(ctx.all_dates);
        let t2 = ctx.parse_time("2020-01-02T21:00:00Z").expect("rfc3339");
        assert_eq!(t2, ts);
        assert!(!ctx.all_dates);
    }
}
