//! A small JSON value, reader and writer for the core module.
//!
//! Why not serde_json: the core wasm is fetched by every page of the host, and serde's generic code
//! (a deserializer and serializer per type, float parsing and printing) was most of its size. The
//! model needs much less: read a few fields out of server answers and request bodies, and hand its
//! verdicts to JS as JSON text. So this module is one `Value` type with serde_json-like accessors,
//! a total parser and a compact writer.
//!
//! * Numbers are kept as the text they were written with ([`Number`]); integers are read exactly,
//!   other numbers approximately ([`Number::as_f64`]), which is all the model needs (counts, ms).
//! * Objects ([`Map`]) keep their keys sorted, as serde_json's default map does, in one `Vec`: a
//!   `BTreeMap` (and collecting into one) costs the wasm a copy of its code per use site.
//! * The writer escapes exactly as serde_json does, so both produce the same text for a value.
//! * The parser never panics: nesting is bounded by [`MAX_DEPTH`], strings must be valid UTF-8 and
//!   every failure is an [`Error`] with the byte offset where it happened.

#[allow(unused_imports)]
use crate::prelude::*;
use alloc::collections::BTreeMap;
use core::fmt;

use crate::sorted::SortedMap;

/// Deepest nesting accepted (serde_json's default limit too).
pub const MAX_DEPTH: usize = 128;

/// A JSON object: entries sorted by key, each key once (a [`SortedMap`]; building one from many entries —
/// the parser, `collect` — sorts once, so a hostile 100 000-key object stays O(n log n)).
pub type Map = SortedMap<String, Value>;

#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Array(Vec<Value>),
    Object(Map),
}

/// A JSON number, as text. Built from Rust numbers it is the shortest exact text for integers;
/// parsed, it is the text as it appeared (already validated as a JSON number).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Number(String);

impl Number {
    /// The number if it is a non-negative integer that fits (`12`, not `12.0` or `1e3`).
    pub fn as_u64(&self) -> Option<u64> {
        self.0.parse().ok()
    }

    /// The number if it is an integer that fits.
    pub fn as_i64(&self) -> Option<i64> {
        self.0.parse().ok()
    }

    /// The number as an `f64`. Integers below 2^53 are exact; fractions and exponents are computed
    /// digit by digit and may differ from the correctly rounded value in the last bits (the model
    /// reads times in ms and counts with it, never money).
    pub fn as_f64(&self) -> Option<f64> {
        let s = self.0.as_bytes();
        let (negative, mut i) = if s.first() == Some(&b'-') { (true, 1) } else { (false, 0) };
        let mut value = 0.0f64;
        let mut digits = 0;
        while i < s.len() && s[i].is_ascii_digit() {
            value = value * 10.0 + f64::from(s[i] - b'0');
            i += 1;
            digits += 1;
        }
        if i < s.len() && s[i] == b'.' {
            i += 1;
            let mut scale = 0.1;
            while i < s.len() && s[i].is_ascii_digit() {
                value += f64::from(s[i] - b'0') * scale;
                scale /= 10.0;
                i += 1;
                digits += 1;
            }
        }
        if i < s.len() && (s[i] == b'e' || s[i] == b'E') {
            i += 1;
            let exp_negative = s.get(i) == Some(&b'-');
            if matches!(s.get(i), Some(b'-' | b'+')) {
                i += 1;
            }
            let mut exp: i32 = 0;
            while i < s.len() && s[i].is_ascii_digit() {
                exp = exp.saturating_mul(10).saturating_add(i32::from(s[i] - b'0'));
                i += 1;
            }
            value *= powi(10.0, if exp_negative { -exp } else { exp });
        }
        if digits == 0 || i != s.len() {
            return None;
        }
        Some(if negative { -value } else { value })
    }

    /// The number's JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// An `f64` as JSON: integral values as integers, others with at most 6 decimals (3 past 10^9,
    /// where an f64 has no more to give: an epoch time in ms keeps µs), non-finite values have no JSON
    /// form (`None`; the writer uses `null`).
    pub fn from_f64(v: f64) -> Option<Number> {
        if !v.is_finite() {
            return None;
        }
        // Printing floats exactly would bring float formatting code into the core. Magnitudes past
        // i64 saturate (no value the guardian writes is that big).
        let whole = trunc(v);
        let (scale, width) = if whole.abs() < 1e9 { (1e6, 6) } else { (1e3, 3) };
        let mut fraction = round_positive((v - whole).abs() * scale) as u64;
        let mut whole = whole.abs() as u64;
        if fraction as f64 >= scale {
            whole += 1;
            fraction = 0;
        }
        let sign = if v < 0.0 && (whole > 0 || fraction > 0) { "-" } else { "" };
        let mut text = [sign, &decimal(whole)].concat();
        if fraction > 0 {
            let digits = decimal(fraction);
            text.push('.');
            text.push_str(&"0".repeat(width - digits.len()));
            text.push_str(digits.trim_end_matches('0'));
        }
        Some(Number(text))
    }
}

// The core formats numbers and text itself: `format!` and `to_string` on numbers bring core::fmt's
// machinery (padding, `Formatter`, per-call argument tables) into the wasm every page fetches.

/// `n` in decimal.
pub fn decimal(mut n: u64) -> String {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    digits[at..].iter().map(|&d| d as char).collect()
}

/// `n` as 16 lower-case hex digits.
pub fn hex16(n: u64) -> String {
    (0..16).rev().map(|i| char::from(b"0123456789abcdef"[(n >> (i * 4)) as usize & 15])).collect()
}

// `f64::powi`, `trunc` and `round` are std-only (core has no float math). These give the same results.

/// `x^n` by repeated squaring, as `f64::powi` does (compiler-rt's `__powidf2`).
fn powi(mut x: f64, n: i32) -> f64 {
    let mut e = n.unsigned_abs();
    let mut r = 1.0;
    loop {
        if e & 1 == 1 {
            r *= x;
        }
        e /= 2;
        if e == 0 {
            break;
        }
        x *= x;
    }
    if n < 0 { 1.0 / r } else { r }
}

/// The integer part (finite `v`): past 2^52 every f64 is already an integer.
fn trunc(v: f64) -> f64 {
    if v.abs() < 4_503_599_627_370_496.0 { (v as i64) as f64 } else { v }
}

/// Rounds half away from zero, for finite `v >= 0`.
fn round_positive(v: f64) -> f64 {
    let whole = trunc(v);
    if v - whole >= 0.5 { whole + 1.0 } else { whole }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// ---- accessors (named as serde_json's, so model code reads the same) ----

impl Value {
    /// A field of an object; `None` for a missing field or a non-object.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_object()?.get(key)
    }

    pub fn as_object(&self) -> Option<&Map> {
        match self {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_object_mut(&mut self) -> Option<&mut Map> {
        match self {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&Vec<Value>> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Number(n) => n.as_u64(),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(n) => n.as_i64(),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => n.as_f64(),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn is_object(&self) -> bool {
        matches!(self, Value::Object(_))
    }

    /// Compact JSON text (what `JSON.stringify` would give, keys sorted).
    pub fn to_json_string(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    /// Appends the compact JSON text to `out`.
    pub fn write(&self, out: &mut String) {
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(true) => out.push_str("true"),
            Value::Bool(false) => out.push_str("false"),
            Value::Number(n) => out.push_str(&n.0),
            Value::String(s) => write_string(s, out),
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Value::Object(map) => {
                out.push('{');
                for (i, (k, v)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_string(k, out);
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
        }
    }
}

/// `value["key"]`: the field, or `Null` for a missing key or a non-object (as serde_json).
impl core::ops::Index<&str> for Value {
    type Output = Value;
    fn index(&self, key: &str) -> &Value {
        static NULL: Value = Value::Null;
        self.get(key).unwrap_or(&NULL)
    }
}

/// `value[i]`: the item, or `Null` past the end or for a non-array (as serde_json).
impl core::ops::Index<usize> for Value {
    type Output = Value;
    fn index(&self, i: usize) -> &Value {
        static NULL: Value = Value::Null;
        self.as_array().and_then(|a| a.get(i)).unwrap_or(&NULL)
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_json_string())
    }
}

/// A JSON string literal, escaped as serde_json does: `"` `\` and control characters only.
fn write_string(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if escape.is_empty() {
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

// ---- building values ----

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}
impl From<&String> for Value {
    fn from(s: &String) -> Self {
        Value::String(s.clone())
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Number::from_f64(v).map_or(Value::Null, Value::Number)
    }
}
macro_rules! from_integer {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Self {
                #[allow(unused_comparisons)]
                let negative = v < 0;
                let magnitude = decimal((v as i128).unsigned_abs() as u64);
                Value::Number(Number(if negative { ["-", &magnitude].concat() } else { magnitude }))
            }
        }
    )*};
}
from_integer!(u8, u16, u32, u64, usize, i32, i64);
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}
impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(v: Vec<T>) -> Self {
        Value::Array(v.into_iter().map(Into::into).collect())
    }
}
impl From<Map> for Value {
    fn from(m: Map) -> Self {
        Value::Object(m)
    }
}

/// An object from `(key, value)` pairs: `object([("a", 1u32.into()), ("b", "x".into())])`.
pub fn object<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    let mut entries = Vec::with_capacity(N);
    for (k, v) in pairs {
        entries.push((k.to_owned(), v));
    }
    Value::Object(entries.into_iter().collect())
}

/// Like [`object`], leaving out the `None`s (serde's `skip_serializing_if = "Option::is_none"`).
pub fn object_skip_none<const N: usize>(pairs: [(&str, Option<Value>); N]) -> Value {
    let mut entries = Vec::with_capacity(N);
    for (k, v) in pairs {
        if let Some(v) = v {
            entries.push((k.to_owned(), v));
        }
    }
    Value::Object(entries.into_iter().collect())
}

/// What the model hands to JS: its own JSON shape (camelCase fields, as the JS layer reads them).
pub trait ToJson {
    fn to_json(&self) -> Value;
}

impl<T: ToJson> ToJson for Option<T> {
    fn to_json(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToJson::to_json)
    }
}
impl<T: ToJson> ToJson for Vec<T> {
    fn to_json(&self) -> Value {
        Value::Array(self.iter().map(ToJson::to_json).collect())
    }
}
impl<T: ToJson> ToJson for [T] {
    fn to_json(&self) -> Value {
        Value::Array(self.iter().map(ToJson::to_json).collect())
    }
}
impl<T: ToJson> ToJson for BTreeMap<String, T> {
    fn to_json(&self) -> Value {
        let mut entries = Vec::with_capacity(self.len());
        for (k, v) in self {
            entries.push((k.clone(), v.to_json()));
        }
        Value::Object(entries.into_iter().collect())
    }
}
impl ToJson for Value {
    fn to_json(&self) -> Value {
        self.clone()
    }
}

// ---- reading model types back (what serde did for the same fields) ----

/// Member `key` of `v` as serde read an `Option` field: missing or null is `Some(None)`; otherwise it must
/// read (`None` when it does not, which fails the whole value).
pub fn optional<T>(v: &Value, key: &str, read: impl FnOnce(&Value) -> Option<T>) -> Option<Option<T>> {
    match v.get(key) {
        None | Some(Value::Null) => Some(None),
        Some(member) => read(member).map(Some),
    }
}

/// A JSON string as an owned `String`.
pub fn string(v: &Value) -> Option<String> {
    v.as_str().map(str::to_owned)
}

/// A JSON array of strings (any other element fails it).
pub fn strings(v: &Value) -> Option<Vec<String>> {
    v.as_array()?.iter().map(string).collect()
}

// ---- parsing ----

/// Why and where a text is not JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// Byte offset into the input.
    pub offset: usize,
    pub reason: &'static str,
    /// True when the input ended before the value did (a truncated body, not a wrong one).
    pub eof: bool,
}

impl Error {
    /// `"<reason> at byte <offset>"` (also its `Display`).
    pub fn describe(&self) -> String {
        [self.reason, " at byte ", &decimal(self.offset as u64)].concat()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl core::error::Error for Error {}

/// Parses a whole text: one value, whitespace around it only.
///
/// # Errors
/// An [`Error`] for anything else (including invalid UTF-8 inside strings).
pub fn from_slice(input: &[u8]) -> Result<Value, Error> {
    let mut p = Parser { s: input, pos: 0 };
    let value = p.value(0)?;
    p.skip_ws();
    if p.pos != input.len() {
        return Err(p.err("trailing characters"));
    }
    Ok(value)
}

/// [`from_slice`] for text.
///
/// # Errors
/// As [`from_slice`].
pub fn from_str(input: &str) -> Result<Value, Error> {
    from_slice(input.as_bytes())
}

/// Parses one value at the start of `input` (leading whitespace allowed) and returns it with the
/// byte offset just past it, so callers can go on with whatever text follows.
///
/// # Errors
/// An [`Error`] when no complete value starts there.
pub fn parse_prefix(input: &str) -> Result<(Value, usize), Error> {
    let mut p = Parser { s: input.as_bytes(), pos: 0 };
    let value = p.value(0)?;
    Ok((value, p.pos))
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn err(&self, reason: &'static str) -> Error {
        Error { offset: self.pos, reason, eof: self.pos >= self.s.len() }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.pos += 1;
        }
    }

    fn literal(&mut self, word: &'static [u8], value: Value) -> Result<Value, Error> {
        for &expected in word {
            match self.peek() {
                Some(b) if b == expected => self.pos += 1,
                _ => return Err(self.err("expected a value")),
            }
        }
        Ok(value)
    }

    fn value(&mut self, depth: usize) -> Result<Value, Error> {
        if depth >= MAX_DEPTH {
            return Err(self.err("nested too deeply"));
        }
        self.skip_ws();
        match self.peek() {
            None => Err(self.err("unexpected end of input")),
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => self.string().map(Value::String),
            Some(b't') => self.literal(b"true", Value::Bool(true)),
            Some(b'f') => self.literal(b"false", Value::Bool(false)),
            Some(b'n') => self.literal(b"null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.err("expected a value")),
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, Error> {
        self.pos += 1; // [
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Value::Array(items));
        }
        loop {
            items.push(self.value(depth + 1)?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(self.err("expected `,` or `]`")),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, Error> {
        self.pos += 1; // {
        let mut entries = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Value::Object(Map::new()));
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(self.err("expected a string key"));
            }
            let key = self.string()?;
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(self.err("expected `:`"));
            }
            self.pos += 1;
            let value = self.value(depth + 1)?;
            // Sorted once at the end; a repeated key keeps the last value, as JSON.parse does.
            entries.push((key, value));
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Object(entries.into_iter().collect()));
                }
                _ => return Err(self.err("expected `,` or `}`")),
            }
        }
    }

    fn number(&mut self) -> Result<Value, Error> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.err("invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.err("invalid number"));
            }
            self.digits();
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.err("invalid number"));
            }
            self.digits();
        }
        // Only ASCII digits and signs were consumed, so this is valid UTF-8.
        let text = core::str::from_utf8(&self.s[start..self.pos]).unwrap_or("0");
        Ok(Value::Number(Number(text.to_owned())))
    }

    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
    }

    fn hex4(&mut self) -> Result<u32, Error> {
        let mut v = 0;
        for _ in 0..4 {
            let d = match self.peek() {
                Some(b @ b'0'..=b'9') => b - b'0',
                Some(b @ b'a'..=b'f') => b - b'a' + 10,
                Some(b @ b'A'..=b'F') => b - b'A' + 10,
                _ => return Err(self.err("invalid \\u escape")),
            };
            v = v * 16 + u32::from(d);
            self.pos += 1;
        }
        Ok(v)
    }

    fn string(&mut self) -> Result<String, Error> {
        self.pos += 1; // opening quote
        let mut out = Vec::new();
        loop {
            let start = self.pos;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            out.extend_from_slice(&self.s[start..self.pos]);
            match self.peek() {
                None => return Err(self.err("unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return String::from_utf8(out).map_err(|_| Error {
                        offset: self.pos - 1,
                        reason: "invalid UTF-8 in a string",
                        eof: false,
                    });
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let c = match self.peek() {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.pos += 1;
                            let c = self.unicode_escape()?;
                            let mut buf = [0; 4];
                            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                            continue;
                        }
                        _ => return Err(self.err("invalid escape")),
                    };
                    self.pos += 1;
                    out.push(c as u8);
                }
                Some(_) => return Err(self.err("control character in a string")),
            }
        }
    }

    /// The character of a `\uXXXX` escape (after the `u`), joining surrogate pairs. A lone
    /// surrogate becomes U+FFFD, as JSON.parse-then-encode would in practice.
    fn unicode_escape(&mut self) -> Result<char, Error> {
        let first = self.hex4()?;
        if (0xD800..0xDC00).contains(&first) && self.s.get(self.pos..self.pos + 2) == Some(b"\\u") {
            let save = self.pos;
            self.pos += 2;
            let second = self.hex4()?;
            if (0xDC00..0xE000).contains(&second) {
                let c = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
                return Ok(char::from_u32(c).unwrap_or('\u{FFFD}'));
            }
            self.pos = save;
        }
        Ok(char::from_u32(first).unwrap_or('\u{FFFD}'))
    }
}

/// Test helper: the same value as a `serde_json::Value`, to compare with `json!(…)` or with what a
/// serde derive of the same type writes.
#[cfg(test)]
pub fn to_serde(v: &impl ToJson) -> serde_json::Value {
    serde_json::from_str(&v.to_json().to_json_string()).expect("our writer writes JSON")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        // The core has no std float math; its stand-ins must agree with std's.
        #[test]
        fn float_stand_ins_agree_with_std(v in proptest::num::f64::NORMAL | proptest::num::f64::ZERO | proptest::num::f64::SUBNORMAL, n in -400i32..400) {
            prop_assert_eq!(trunc(v), v.trunc());
            prop_assert_eq!(round_positive(v.abs()), v.abs().round());
            prop_assert_eq!(powi(10.0, n).to_bits(), 10f64.powi(n).to_bits());
        }

        // …and its number printing must agree with core::fmt's.
        #[test]
        fn number_printing_agrees_with_fmt(n: u64, i: i64, u: usize) {
            prop_assert_eq!(decimal(n), n.to_string());
            prop_assert_eq!(hex16(n), format!("{n:016x}"));
            prop_assert_eq!(Value::from(i).to_json_string(), i.to_string());
            prop_assert_eq!(Value::from(u).to_json_string(), u.to_string());
        }
    }

    #[test]
    fn number_printing_edges() {
        assert_eq!(decimal(0), "0");
        assert_eq!(decimal(u64::MAX), u64::MAX.to_string());
        assert_eq!(Value::from(i64::MIN).to_json_string(), i64::MIN.to_string());
        assert_eq!(hex16(0), "0000000000000000");
        assert_eq!(Number::from_f64(-0.25).unwrap().as_str(), "-0.25");
        assert_eq!(Number::from_f64(1.000_001).unwrap().as_str(), "1.000001");
        assert_eq!(Number::from_f64(1e9 + 0.5).unwrap().as_str(), "1000000000.5");
    }

    fn round_trip(text: &str) -> String {
        from_str(text).unwrap().to_json_string()
    }

    #[test]
    fn reads_and_writes_what_serde_json_does() {
        let text = r#" {"b": [1, -2.5e3, true, null, "x\"\\\n\u00e9\ud83d\ude00"], "a": {"c": {}} , "d": []} "#;
        let ours = round_trip(text);
        let theirs = serde_json::from_str::<serde_json::Value>(text).unwrap().to_string();
        assert_eq!(ours, theirs.replace("-2500.0", "-2.5e3"));
    }

    #[test]
    fn accessors_match_serde_json_names() {
        let v = from_str(r#"{"n": 12, "s": "x", "b": false, "f": 1.5, "neg": -3, "big": 18446744073709551615}"#).unwrap();
        assert_eq!(v.get("n").and_then(Value::as_u64), Some(12));
        assert_eq!(v.get("f").and_then(Value::as_u64), None);
        assert_eq!(v.get("f").and_then(Value::as_f64), Some(1.5));
        assert_eq!(v.get("neg").and_then(Value::as_i64), Some(-3));
        assert_eq!(v.get("big").and_then(Value::as_u64), Some(u64::MAX));
        assert_eq!(v.get("s").and_then(Value::as_str), Some("x"));
        assert_eq!(v.get("b").and_then(Value::as_bool), Some(false));
        assert!(v.get("missing").is_none());
        assert!(Value::from("x").get("n").is_none());
    }

    #[test]
    fn indexing_gives_null_for_what_is_not_there_as_serde_json() {
        let v = from_str(r#"{"a": {"b": [1, "x"]}, "n": null}"#).unwrap();
        assert_eq!(v["a"]["b"][1], Value::from("x"));
        assert_eq!(v["a"]["b"][0].as_u64(), Some(1));
        assert!(v["a"]["b"][2].is_null());
        assert!(v["missing"].is_null());
        assert!(v["missing"]["deeper"][0].is_null());
        assert!(v["n"].is_null());
        assert!(v[0].is_null());
        assert!(v["a"]["b"]["b"].is_null());
        assert!(Value::from("x")["k"].is_null());
        let s = serde_json::json!({"a": {"b": [1, "x"]}});
        assert_eq!(v["a"]["b"][1].as_str(), s["a"]["b"][1].as_str());
        assert_eq!(v["zz"][3].is_null(), s["zz"][3].is_null());
    }

    #[test]
    fn errors_say_where_and_whether_the_text_was_cut() {
        let e = from_str(r#"{"a": [1, 2"#).unwrap_err();
        assert!(e.eof, "{e}");
        let e = from_str(r#"{"a" 1}"#).unwrap_err();
        assert_eq!((e.offset, e.eof), (5, false));
        assert_eq!(e.to_string(), "expected `:` at byte 5");
        assert!(from_str("<html>").is_err());
        assert!(from_str("").unwrap_err().eof);
        assert!(from_str("{} x").is_err());
        assert!(from_str("01").is_err());
        assert!(from_str("1.").is_err());
        assert!(from_str("\"a\tb\"").is_err());
        assert!(from_slice(b"\"\xff\"").is_err());
    }

    #[test]
    fn nesting_is_bounded_not_a_stack_overflow() {
        let deep = "[".repeat(100_000);
        assert_eq!(from_str(&deep).unwrap_err().reason, "nested too deeply");
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH - 1), "]".repeat(MAX_DEPTH - 1));
        assert!(from_str(&ok).is_ok());
    }

    #[test]
    fn prefix_parse_returns_where_the_value_ended() {
        let (v, end) = parse_prefix(r#" {"k": "v"}; new key: {...}"#).unwrap();
        assert_eq!(v.get("k").and_then(Value::as_str), Some("v"));
        assert_eq!(end, 11);
    }

    #[test]
    fn floats_are_written_without_float_formatting() {
        assert_eq!(Value::from(1_700_000_000_123.0).to_json_string(), "1700000000123");
        assert_eq!(Value::from(-0.25).to_json_string(), "-0.25");
        assert_eq!(Value::from(12.5).to_json_string(), "12.5");
        assert_eq!(Value::from(1_700_000_000_123.5).to_json_string(), "1700000000123.5");
        assert_eq!(Value::from(f64::NAN).to_json_string(), "null");
        assert_eq!(Value::from(f64::INFINITY).to_json_string(), "null");
        assert_eq!(Value::from(0.1 + 0.2).to_json_string(), "0.3");
    }

    #[test]
    fn objects_keep_sorted_unique_keys_and_the_last_repeat() {
        let v = from_str(r#"{"b": 1, "a": 2, "b": 3}"#).unwrap();
        assert_eq!(v.to_json_string(), r#"{"a":2,"b":3}"#);
        let mut m = Map::new();
        assert_eq!(m.insert("z".into(), Value::from(1u32)), None);
        assert_eq!(m.insert("a".into(), Value::from(2u32)), None);
        assert_eq!(m.insert("z".into(), Value::from(3u32)), Some(Value::from(1u32)));
        assert_eq!(m.keys().cloned().collect::<Vec<_>>(), ["a", "z"]);
        assert_eq!(m.remove("a"), Some(Value::from(2u32)));
        assert!(!m.contains_key("a") && m.len() == 1);
        // 200 000 keys in reverse order: one sort, not 200 000 shifting inserts.
        let n = 200_000;
        let text = format!("{{{}}}", (0..n).rev().map(|i| format!(r#""k{i:06}":{i}"#)).collect::<Vec<_>>().join(","));
        let big = from_str(&text).unwrap();
        assert_eq!(big.as_object().unwrap().len(), n);
        assert_eq!(big.get("k000007").and_then(Value::as_u64), Some(7));
    }

    #[test]
    fn lone_surrogates_become_replacement_characters() {
        assert_eq!(from_str(r#""\ud800x""#).unwrap(), Value::from("\u{FFFD}x"));
    }

    fn arb_json() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::Bool),
            any::<i64>().prop_map(|n| serde_json::json!(n)),
            any::<u64>().prop_map(|n| serde_json::json!(n)),
            ".*".prop_map(serde_json::Value::String),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(serde_json::Value::Array),
                prop::collection::btree_map(".*", inner, 0..8)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Any value serde_json writes, we read and write back byte for byte.
        #[test]
        fn same_text_as_serde_json(v in arb_json()) {
            let text = v.to_string();
            prop_assert_eq!(round_trip(&text), text);
        }

        /// Arbitrary bytes: an answer or an error, never a panic.
        #[test]
        fn total_on_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            let ours = from_slice(&bytes);
            // serde_json is stricter in two corners (lone surrogates, numbers past f64), never laxer.
            if serde_json::from_slice::<serde_json::Value>(&bytes).is_ok() {
                prop_assert!(ours.is_ok());
            }
        }
    }
}
