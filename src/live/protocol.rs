//! The venues' wire formats (see `shared/LIVE.md` and the venues' references): stream URLs and
//! frames, REST history URLs and replies, parsed into [`VenueBar`]s stamped at their close.
//! Pure functions, no I/O, so every message shape is unit-tested here.
//!
//! Numbers: Binance sends prices and volumes as strings, kept as they are; Alpaca sends JSON
//! numbers, taken through their shortest round-trip text (`177.94` stays `177.94`).

use super::{Interval, VenueBar};
use crate::types::{Decimal, UnixNanos};
use serde_json::Value;
use std::str::FromStr;

/// One item of a stream frame.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamItem {
    /// A closed bar.
    Bar(VenueBar),
    /// A corrected bar (Alpaca `u`): recorded, never acted on.
    Correction(VenueBar),
    /// A kline still open (`x: false`): it will be repainted.
    Unclosed,
    /// `success`, `subscription`, a subscribe reply, ...
    Control(String),
    /// The venue reports an error.
    Error { code: i64, msg: String },
    /// A message of a type this client does not know.
    Unknown(String),
}

const NS_PER_MS: i64 = 1_000_000;

/// The decimal text of a JSON number or numeric string, or `None`.
pub fn decimal_text(v: &Value) -> Option<String> {
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    let d = Decimal::from_str(&text)
        .or_else(|_| Decimal::from_scientific(&text))
        .ok()?;
    // Strings are kept as sent (they parse); numbers through their shortest text.
    Some(if v.is_string() { text } else { d.to_string() })
}

/// RFC 3339 text to nanoseconds.
pub fn parse_rfc3339(s: &str) -> Option<UnixNanos> {
    chrono::DateTime::parse_from_rfc3339(s).ok()?.timestamp_nanos_opt()
}

/// Nanoseconds to RFC 3339 UTC text (`2024-01-02T15:30:00Z`).
pub fn rfc3339(ts: UnixNanos) -> String {
    chrono::DateTime::from_timestamp_nanos(ts).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

// ---------------------------------------------------------------------------------- Binance

/// The combined kline stream of `symbols`: `{base}/stream?streams=btcusdt@kline_1m/...`.
pub fn binance_stream_url(base: &str, symbols: &[String], interval: Interval) -> String {
    let streams: Vec<String> = symbols
        .iter()
        .map(|s| format!("{}@kline_{}", s.to_ascii_lowercase(), interval.name))
        .collect();
    format!("{base}/stream?streams={}", streams.join("/"))
}

/// `GET /api/v3/klines`: at most `limit` klines of `symbol` opening at or after `start_ms`, or
/// the latest `limit` without a start.
pub fn binance_klines_url(base: &str, symbol: &str, interval: Interval, start_ms: Option<i64>, limit: usize) -> String {
    let mut url = format!(
        "{base}/api/v3/klines?symbol={symbol}&interval={}&limit={limit}",
        interval.name
    );
    if let Some(s) = start_ms {
        url.push_str(&format!("&startTime={s}"));
    }
    url
}

/// One frame of a Binance combined stream.
///
/// # Errors
/// Text that is not JSON, or a kline without its fields (the message says which).
pub fn parse_binance_frame(text: &str) -> Result<Vec<StreamItem>, String> {
    if let Some(item) = fast_kline(text) {
        return Ok(vec![item]);
    }
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    if v.get("result").is_some() && v.get("id").is_some() {
        return Ok(vec![StreamItem::Control(format!("reply to request {}", v["id"]))]);
    }
    if let (Some(code), Some(msg)) = (v.get("code").and_then(Value::as_i64), v.get("msg")) {
        return Ok(vec![StreamItem::Error {
            code,
            msg: msg.as_str().unwrap_or_default().to_string(),
        }]);
    }
    // Combined streams wrap the payload; raw streams do not.
    let data = v.get("data").unwrap_or(&v);
    match data.get("e").and_then(Value::as_str) {
        Some("kline") => {}
        Some(other) => return Ok(vec![StreamItem::Unknown(other.to_string())]),
        None => return Ok(vec![StreamItem::Unknown(short(text))]),
    }
    let k = data.get("k").ok_or("kline without \"k\"")?;
    let closed = k.get("x").and_then(Value::as_bool).ok_or("kline without \"x\"")?;
    if !closed {
        return Ok(vec![StreamItem::Unclosed]);
    }
    let close_ms = k.get("T").and_then(Value::as_i64).ok_or("kline without \"T\"")?;
    let symbol = k
        .get("s")
        .or_else(|| data.get("s"))
        .and_then(Value::as_str)
        .ok_or("kline without \"s\"")?;
    let field = |name: &str| decimal_text(&k[name]).ok_or_else(|| format!("kline field {name:?} is not a number"));
    Ok(vec![StreamItem::Bar(VenueBar {
        symbol: symbol.to_string(),
        ts: (close_ms + 1) * NS_PER_MS,
        open: field("o")?,
        high: field("h")?,
        low: field("l")?,
        close: field("c")?,
        volume: field("v")?,
    })])
}

/// The common case, a combined-stream kline frame, read into borrowed fields without building a
/// JSON tree; `None` for anything else (which the general path then reads or refuses).
fn fast_kline(text: &str) -> Option<StreamItem> {
    #[derive(serde::Deserialize)]
    struct Frame<'a> {
        #[serde(borrow)]
        data: Data<'a>,
    }
    #[derive(serde::Deserialize)]
    struct Data<'a> {
        e: &'a str,
        #[serde(borrow)]
        k: K<'a>,
    }
    #[derive(serde::Deserialize)]
    #[allow(non_snake_case)]
    struct K<'a> {
        T: i64,
        s: &'a str,
        o: &'a str,
        h: &'a str,
        l: &'a str,
        c: &'a str,
        v: &'a str,
        x: bool,
    }
    let f: Frame<'_> = serde_json::from_str(text).ok()?;
    if f.data.e != "kline" {
        return None;
    }
    let k = f.data.k;
    if !k.x {
        return Some(StreamItem::Unclosed);
    }
    // Each field must be a number, as the general path requires.
    for t in [k.o, k.h, k.l, k.c, k.v] {
        Decimal::from_str(t).ok()?;
    }
    Some(StreamItem::Bar(VenueBar {
        symbol: k.s.to_string(),
        ts: (k.T + 1) * NS_PER_MS,
        open: k.o.to_string(),
        high: k.h.to_string(),
        low: k.l.to_string(),
        close: k.c.to_string(),
        volume: k.v.to_string(),
    }))
}

/// A `/api/v3/klines` reply: `(open_time_ms, bar)` per kline.
///
/// # Errors
/// A reply that is not an array of klines.
pub fn parse_binance_klines(symbol: &str, text: &str) -> Result<Vec<(i64, VenueBar)>, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let rows = v
        .as_array()
        .ok_or_else(|| format!("expected an array of klines, got {}", short(text)))?;
    rows.iter()
        .enumerate()
        .map(|(i, r)| {
            let a = r
                .as_array()
                .filter(|a| a.len() >= 7)
                .ok_or(format!("kline {i}: not an array of 7+"))?;
            let open_ms = a[0].as_i64().ok_or(format!("kline {i}: open time"))?;
            let close_ms = a[6].as_i64().ok_or(format!("kline {i}: close time"))?;
            let f = |k: usize| decimal_text(&a[k]).ok_or(format!("kline {i}: field {k} is not a number"));
            Ok((
                open_ms,
                VenueBar {
                    symbol: symbol.to_string(),
                    ts: (close_ms + 1) * NS_PER_MS,
                    open: f(1)?,
                    high: f(2)?,
                    low: f(3)?,
                    close: f(4)?,
                    volume: f(5)?,
                },
            ))
        })
        .collect()
}

// ----------------------------------------------------------------------------------- Alpaca

/// `{"action":"auth",...}`.
pub fn alpaca_auth(key: &str, secret: &str) -> String {
    serde_json::json!({"action": "auth", "key": key, "secret": secret}).to_string()
}

/// `{"action":"subscribe","bars":[...],"updatedBars":[...]}`.
pub fn alpaca_subscribe(symbols: &[String]) -> String {
    serde_json::json!({"action": "subscribe", "bars": symbols, "updatedBars": symbols}).to_string()
}

/// `GET /v2/stocks/bars` with the given query.
pub struct AlpacaBarsQuery<'a> {
    pub symbols: &'a [String],
    pub timeframe: &'a str,
    pub start: Option<UnixNanos>,
    pub limit: usize,
    pub feed: &'a str,
    pub page_token: Option<&'a str>,
    /// Newest first (for warm-up: the latest `limit` bars).
    pub desc: bool,
}

pub fn alpaca_bars_url(base: &str, q: &AlpacaBarsQuery<'_>) -> String {
    let mut url = format!(
        "{base}/v2/stocks/bars?symbols={}&timeframe={}&limit={}&adjustment=raw&feed={}",
        q.symbols.join(","),
        q.timeframe,
        q.limit,
        q.feed
    );
    if let Some(s) = q.start {
        url.push_str(&format!("&start={}", rfc3339(s)));
    }
    if q.desc {
        url.push_str("&sort=desc");
    }
    if let Some(t) = q.page_token {
        url.push_str(&format!("&page_token={t}"));
    }
    url
}

fn alpaca_bar(o: &Value, symbol: &str, interval: Interval) -> Result<VenueBar, String> {
    let t = o.get("t").and_then(Value::as_str).ok_or("bar without \"t\"")?;
    let start = parse_rfc3339(t).ok_or_else(|| format!("bar time {t:?} is not RFC 3339"))?;
    let field = |name: &str| decimal_text(&o[name]).ok_or_else(|| format!("bar field {name:?} is not a number"));
    Ok(VenueBar {
        symbol: symbol.to_string(),
        ts: start + interval.nanos,
        open: field("o")?,
        high: field("h")?,
        low: field("l")?,
        close: field("c")?,
        volume: field("v")?,
    })
}

/// One frame of Alpaca's market-data stream (a JSON array of messages).
///
/// # Errors
/// Text that is not a JSON array, or a bar without its fields.
pub fn parse_alpaca_frame(text: &str, interval: Interval) -> Result<Vec<StreamItem>, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let msgs = v
        .as_array()
        .ok_or_else(|| format!("expected a JSON array, got {}", short(text)))?;
    msgs.iter()
        .map(|m| {
            let kind = m.get("T").and_then(Value::as_str).unwrap_or("");
            Ok(match kind {
                "b" | "u" => {
                    let symbol = m.get("S").and_then(Value::as_str).ok_or("bar without \"S\"")?;
                    let bar = alpaca_bar(m, symbol, interval)?;
                    if kind == "b" {
                        StreamItem::Bar(bar)
                    } else {
                        StreamItem::Correction(bar)
                    }
                }
                "success" | "subscription" => {
                    StreamItem::Control(m.get("msg").and_then(Value::as_str).unwrap_or(kind).to_string())
                }
                "error" => StreamItem::Error {
                    code: m.get("code").and_then(Value::as_i64).unwrap_or(0),
                    msg: m.get("msg").and_then(Value::as_str).unwrap_or_default().to_string(),
                },
                other => StreamItem::Unknown(if other.is_empty() {
                    short(&m.to_string())
                } else {
                    other.to_string()
                }),
            })
        })
        .collect()
}

/// A `/v2/stocks/bars` reply: the bars and the next page's token.
///
/// # Errors
/// A reply without `bars`, or a bar without its fields.
pub fn parse_alpaca_bars(text: &str, interval: Interval) -> Result<(Vec<VenueBar>, Option<String>), String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let bars = v
        .get("bars")
        .ok_or_else(|| format!("reply without \"bars\": {}", short(text)))?;
    let mut out = Vec::new();
    if let Some(map) = bars.as_object() {
        for (symbol, list) in map {
            for o in list.as_array().ok_or("bars of a symbol are not an array")? {
                out.push(alpaca_bar(o, symbol, interval)?);
            }
        }
    } else if !bars.is_null() {
        return Err("\"bars\" is not an object".into());
    }
    let token = v.get("next_page_token").and_then(Value::as_str).map(str::to_string);
    Ok((out, token))
}

fn short(text: &str) -> String {
    let mut s: String = text.chars().take(80).collect();
    if text.len() > s.len() {
        s.push_str("...");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m1() -> Interval {
        Interval::parse("1m").unwrap()
    }

    #[test]
    fn binance_closed_kline_is_stamped_at_its_close() {
        let f = r#"{"stream":"btcusdt@kline_1m","data":{"e":"kline","E":1672515782136,"s":"BTCUSDT","k":{"t":1672515720000,"T":1672515779999,"s":"BTCUSDT","i":"1m","f":100,"L":200,"o":"0.0010","c":"0.0020","h":"0.0025","l":"0.0015","v":"1000","n":100,"x":true,"q":"1.0000","V":"500","Q":"0.500","B":"0"}}}"#;
        let items = parse_binance_frame(f).unwrap();
        let StreamItem::Bar(b) = &items[0] else {
            panic!("{items:?}")
        };
        assert_eq!(b.ts, 1_672_515_780_000 * NS_PER_MS);
        assert_eq!(
            (b.open.as_str(), b.close.as_str(), b.volume.as_str()),
            ("0.0010", "0.0020", "1000")
        );
        let open = f.replace("\"x\":true", "\"x\":false");
        assert_eq!(parse_binance_frame(&open).unwrap(), vec![StreamItem::Unclosed]);
    }

    #[test]
    fn binance_frames_that_are_not_klines() {
        assert!(parse_binance_frame("{not json").is_err());
        assert_eq!(
            parse_binance_frame(r#"{"stream":"x","data":{"e":"trade"}}"#).unwrap(),
            vec![StreamItem::Unknown("trade".into())]
        );
        assert!(matches!(
            parse_binance_frame(r#"{"result":null,"id":1}"#).unwrap()[0],
            StreamItem::Control(_)
        ));
        assert!(parse_binance_frame(r#"{"data":{"e":"kline","k":{"x":true,"T":5,"s":"A","o":"x"}}}"#).is_err());
    }

    #[test]
    fn binance_rest_klines() {
        let r = r#"[[1499040000000,"0.01634790","0.80000000","0.01575800","0.01577100","148976.11427815",1499644799999,"2434.19055334",308,"1756.87402397","28.46694368","0"]]"#;
        let k = parse_binance_klines("BTCUSDT", r).unwrap();
        assert_eq!(k[0].0, 1_499_040_000_000);
        assert_eq!(k[0].1.ts, 1_499_644_800_000 * NS_PER_MS);
        assert_eq!(k[0].1.high, "0.80000000");
        assert!(parse_binance_klines("X", r#"{"code":-1121,"msg":"Invalid symbol."}"#).is_err());
    }

    #[test]
    fn alpaca_bars_corrections_and_controls() {
        let f = r#"[{"T":"b","S":"AAPL","o":177.94,"h":178.005,"l":177.94,"c":178.005,"v":8547,"t":"2024-01-02T15:30:00Z","n":66,"vw":177.987562},{"T":"u","S":"AAPL","o":177.94,"h":178.1,"l":177.94,"c":178.1,"v":9000,"t":"2024-01-02T15:30:00Z"}]"#;
        let items = parse_alpaca_frame(f, m1()).unwrap();
        let StreamItem::Bar(b) = &items[0] else { panic!() };
        assert_eq!(b.ts, parse_rfc3339("2024-01-02T15:31:00Z").unwrap());
        assert_eq!((b.high.as_str(), b.volume.as_str()), ("178.005", "8547"));
        assert!(matches!(items[1], StreamItem::Correction(_)));
        let e = parse_alpaca_frame(r#"[{"T":"error","code":402,"msg":"auth failed"}]"#, m1()).unwrap();
        assert_eq!(
            e,
            vec![StreamItem::Error {
                code: 402,
                msg: "auth failed".into()
            }]
        );
        assert_eq!(
            parse_alpaca_frame(r#"[{"T":"zz"}]"#, m1()).unwrap(),
            vec![StreamItem::Unknown("zz".into())]
        );
        assert!(parse_alpaca_frame(r#"{"T":"b"}"#, m1()).is_err());
    }

    #[test]
    fn alpaca_rest_bars_with_pages() {
        let r = r#"{"bars":{"AAPL":[{"t":"2024-01-02T15:30:00Z","o":1.5,"h":2,"l":1,"c":1.25,"v":10,"n":1,"vw":1.3}]},"next_page_token":"abc"}"#;
        let (bars, token) = parse_alpaca_bars(r, m1()).unwrap();
        assert_eq!(bars[0].close, "1.25");
        assert_eq!(token.as_deref(), Some("abc"));
        let url = alpaca_bars_url(
            "http://h",
            &AlpacaBarsQuery {
                symbols: &["A".into(), "B".into()],
                timeframe: "1Min",
                start: Some(0),
                limit: 5,
                feed: "iex",
                page_token: Some("abc"),
                desc: false,
            },
        );
        assert_eq!(
            url,
            "http://h/v2/stocks/bars?symbols=A,B&timeframe=1Min&limit=5&adjustment=raw&feed=iex&start=1970-01-01T00:00:00Z&page_token=abc"
        );
    }

    #[test]
    fn stream_url_names_lowercase_streams() {
        let u = binance_stream_url("ws://h", &["BTCUSDT".into(), "ETHUSDT".into()], m1());
        assert_eq!(u, "ws://h/stream?streams=btcusdt@kline_1m/ethusdt@kline_1m");
    }
}
