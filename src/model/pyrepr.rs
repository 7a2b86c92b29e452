//! A small, total parser for Python `repr()` literals, as Synapse prints them.
//!
//! Synapse formats the keys/upload conflict as `"... Old key: %s; new key: %r"`: the old key is the
//! canonical JSON it stored, but the new key is the *Python repr* of the request's dict:
//! `{'key': 'kWIa…', 'signatures': {'@u:hs': {'ed25519:DEV': 'blGC…'}}}`. Replacing `'` with `"`
//! (what matrix-rust-sdk's parser does) breaks on `True`/`None` and on strings that contain quotes,
//! so this is a real, if small, parser.
//!
//! Accepted: dicts, lists, tuples, sets (as JSON arrays), single/double-quoted strings with the
//! `r`/`b`/`u` prefixes and Python's escapes (`\\x`, `\\u`, `\\U`, octal, `\\n`, `\\'`, …), ints,
//! floats (`inf`/`nan` become `null`, JSON has no such numbers), `True`/`False`/`None` and, to be
//! lenient, JSON's `true`/`false`/`null`.
//!
//! Totality: never panics, recursion is bounded by [`MAX_DEPTH`], input by [`MAX_INPUT_BYTES`];
//! every failure is a [`ReprError`] with the byte offset where it happened.

#[allow(unused_imports)]
use crate::prelude::*;

use super::json::{self, Map, Value};

/// Deepest nesting accepted. Signed keys nest 3 levels; 64 leaves room without risking the stack.
pub const MAX_DEPTH: usize = 64;
/// Largest input accepted. A signed key's repr is ~250 bytes; a whole upload's repr ~20 KB.
pub const MAX_INPUT_BYTES: usize = 1 << 20;

/// Why and where a repr literal could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReprError {
    /// Byte offset into the input.
    pub offset: usize,
    pub reason: &'static str,
}

impl core::fmt::Display for ReprError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} at byte {}", self.reason, self.offset)
    }
}

impl core::error::Error for ReprError {}

/// Parses exactly one literal; only whitespace may follow it.
///
/// # Errors
/// A [`ReprError`] for anything that is not one complete, supported literal.
pub fn parse(input: &str) -> Result<Value, ReprError> {
    let (value, end) = parse_prefix(input)?;
    let mut p = Parser {
        s: input.as_bytes(),
        src: input,
        pos: end,
    };
    p.skip_ws();
    if p.pos != input.len() {
        return Err(p.err("trailing characters after the literal"));
    }
    Ok(value)
}

/// Parses one literal at the start of `input` (leading whitespace allowed) and returns it with the
/// byte offset just past it, so callers can continue with whatever text follows.
///
/// # Errors
/// A [`ReprError`] when no complete, supported literal starts the input.
pub fn parse_prefix(input: &str) -> Result<(Value, usize), ReprError> {
    if input.len() > MAX_INPUT_BYTES {
        return Err(ReprError {
            offset: 0,
            reason: "input too large",
        });
    }
    let mut p = Parser {
        s: input.as_bytes(),
        src: input,
        pos: 0,
    };
    p.skip_ws();
    let v = p.value(0)?;
    Ok((v, p.pos))
}

struct Parser<'a> {
    s: &'a [u8],
    src: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn err(&self, reason: &'static str) -> ReprError {
        ReprError {
            offset: self.pos,
            reason,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, ReprError> {
        if depth > MAX_DEPTH {
            return Err(self.err("nesting too deep"));
        }
        match self.peek() {
            None => Err(self.err("unexpected end of input")),
            Some(b'{') => self.dict_or_set(depth),
            Some(b'[') => {
                self.pos += 1;
                self.sequence(b']', depth).map(Value::Array)
            }
            Some(b'(') => {
                self.pos += 1;
                self.sequence(b')', depth).map(Value::Array)
            }
            Some(b'\'' | b'"') => self.string(false, false).map(Value::String),
            Some(b'-' | b'+' | b'0'..=b'9' | b'.') => self.number(),
            Some(c) if c.is_ascii_alphabetic() || c == b'_' => self.word(depth),
            Some(_) => Err(self.err("unexpected character")),
        }
    }

    /// Comma-separated values up to `close`; a trailing comma is allowed (`(1,)`).
    fn sequence(&mut self, close: u8, depth: usize) -> Result<Vec<Value>, ReprError> {
        let mut out = Vec::new();
        loop {
            self.skip_ws();
            if self.eat(close) {
                return Ok(out);
            }
            out.push(self.value(depth + 1)?);
            self.skip_ws();
            if self.eat(close) {
                return Ok(out);
            }
            if !self.eat(b',') {
                return Err(self.err("expected ',' or a closing bracket"));
            }
        }
    }

    fn dict_or_set(&mut self, depth: usize) -> Result<Value, ReprError> {
        self.pos += 1; // '{'
        self.skip_ws();
        if self.eat(b'}') {
            return Ok(Value::Object(Map::new()));
        }
        let first = self.value(depth + 1)?;
        self.skip_ws();
        if self.peek() != Some(b':') {
            // A set literal: `{1, 2}`.
            let mut items = vec![first];
            loop {
                self.skip_ws();
                if self.eat(b'}') {
                    return Ok(Value::Array(items));
                }
                if !self.eat(b',') {
                    return Err(self.err("expected ',' or '}' in a set"));
                }
                self.skip_ws();
                if self.eat(b'}') {
                    return Ok(Value::Array(items));
                }
                items.push(self.value(depth + 1)?);
            }
        }
        let mut map = Map::new();
        let mut key = first;
        loop {
            let k = dict_key(&key).ok_or_else(|| self.err("unsupported dict key type"))?;
            self.skip_ws();
            if !self.eat(b':') {
                return Err(self.err("expected ':' in a dict"));
            }
            self.skip_ws();
            let v = self.value(depth + 1)?;
            map.insert(k, v);
            self.skip_ws();
            if self.eat(b'}') {
                return Ok(Value::Object(map));
            }
            if !self.eat(b',') {
                return Err(self.err("expected ',' or '}' in a dict"));
            }
            self.skip_ws();
            if self.eat(b'}') {
                return Ok(Value::Object(map));
            }
            key = self.value(depth + 1)?;
        }
    }

    /// Identifiers: keywords, string prefixes (`b'..'`, `r'..'`, `u'..'`), `set()`.
    fn word(&mut self, depth: usize) -> Result<Value, ReprError> {
        let start = self.pos;
        while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == b'_') {
            self.pos += 1;
        }
        let word = &self.src[start..self.pos];
        if matches!(self.peek(), Some(b'\'' | b'"')) {
            let lower = word.to_ascii_lowercase();
            let (raw, bytes) = match lower.as_str() {
                "r" => (true, false),
                "b" => (false, true),
                "u" => (false, false),
                "rb" | "br" => (true, true),
                _ => {
                    self.pos = start;
                    return Err(self.err("unknown string prefix"));
                }
            };
            return self.string(raw, bytes).map(Value::String);
        }
        match word {
            "True" | "true" => Ok(Value::Bool(true)),
            "False" | "false" => Ok(Value::Bool(false)),
            // JSON has no inf/nan: null is the honest rendering.
            "None" | "null" | "inf" | "nan" => Ok(Value::Null),
            "set" | "frozenset" | "tuple" | "list" | "dict" => {
                // `set()`, `frozenset({1})`: the constructor around a literal.
                self.skip_ws();
                if !self.eat(b'(') {
                    self.pos = start;
                    return Err(self.err("unknown identifier"));
                }
                let mut items = self.sequence(b')', depth)?;
                Ok(match items.len() {
                    0 if word == "dict" => Value::Object(Map::new()),
                    0 => Value::Array(Vec::new()),
                    1 => items.pop().unwrap_or(Value::Null),
                    _ => Value::Array(items),
                })
            }
            _ => {
                self.pos = start;
                Err(self.err("unknown identifier"))
            }
        }
    }

    fn number(&mut self) -> Result<Value, ReprError> {
        let start = self.pos;
        let negative = self.peek() == Some(b'-');
        if matches!(self.peek(), Some(b'-' | b'+')) {
            self.pos += 1;
            // `-inf` / `-nan`
            if self.s[self.pos..].starts_with(b"inf") || self.s[self.pos..].starts_with(b"nan") {
                self.pos += 3;
                return Ok(Value::Null);
            }
        }
        let mut is_float = false;
        while let Some(c) = self.peek() {
            match c {
                b'0'..=b'9' | b'_' => {}
                b'.' | b'e' | b'E' => is_float = true,
                b'+' | b'-'
                    if matches!(
                        self.pos.checked_sub(1).and_then(|i| self.s.get(i)),
                        Some(b'e' | b'E')
                    ) => {}
                _ => break,
            }
            self.pos += 1;
        }
        if matches!(self.peek(), Some(b'j' | b'J')) {
            return Err(self.err("complex numbers are not supported"));
        }
        let text: String = self.src[start..self.pos]
            .chars()
            .filter(|&c| c != '_')
            .collect();
        if !is_float {
            if let Ok(i) = text.parse::<i64>() {
                return Ok(Value::from(i));
            }
            if let Ok(u) = text.parse::<u64>() {
                return Ok(Value::from(u));
            }
        }
        // Floats, and ints beyond 64 bits: kept as their (JSON-normalised) text.
        match float_literal(&text) {
            Some(v) => Ok(v),
            None => {
                self.pos = start;
                Err(self.err(if negative {
                    "invalid negative number"
                } else {
                    "invalid number"
                }))
            }
        }
    }

    /// A quoted string starting at the quote. `bytes` maps `\xHH` to U+00HH (Latin-1, lossless
    /// for display); lone surrogates become U+FFFD (a Rust `String` cannot hold them).
    fn string(&mut self, raw: bool, bytes: bool) -> Result<String, ReprError> {
        let quote = match self.peek() {
            Some(q @ (b'\'' | b'"')) => q,
            _ => return Err(self.err("expected a quote")),
        };
        // Triple-quoted strings never come out of repr(); treat `''` as the empty string.
        self.pos += 1;
        let mut out = String::new();
        loop {
            let rest = &self.src[self.pos..];
            // Copy the run of plain characters in one go.
            let run = rest
                .bytes()
                .position(|b| b == quote || b == b'\\' || b == b'\n')
                .unwrap_or(rest.len());
            out.push_str(&rest[..run]);
            self.pos += run;
            match self.peek() {
                None => return Err(self.err("unterminated string")),
                Some(b'\n') => return Err(self.err("newline inside a string")),
                Some(q) if q == quote => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(_) => {
                    // backslash
                    self.pos += 1;
                    if raw {
                        // In raw strings the backslash stays, and it only protects the next char.
                        out.push('\\');
                        if let Some(c) = self.next_char() {
                            out.push(c);
                        }
                        continue;
                    }
                    self.escape(&mut out, bytes)?;
                }
            }
        }
    }

    fn next_char(&mut self) -> Option<char> {
        let c = self.src[self.pos..].chars().next()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn escape(&mut self, out: &mut String, bytes: bool) -> Result<(), ReprError> {
        let Some(c) = self.next_char() else {
            return Err(self.err("unterminated escape"));
        };
        match c {
            '\\' => out.push('\\'),
            '\'' => out.push('\''),
            '"' => out.push('"'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'a' => out.push('\u{07}'),
            'b' => out.push('\u{08}'),
            'f' => out.push('\u{0C}'),
            'v' => out.push('\u{0B}'),
            '\n' => {} // line continuation
            '0'..='7' => {
                let mut v = c as u32 - '0' as u32;
                for _ in 0..2 {
                    match self.peek() {
                        Some(d @ b'0'..=b'7') => {
                            v = v * 8 + u32::from(d - b'0');
                            self.pos += 1;
                        }
                        _ => break,
                    }
                }
                out.push(char::from_u32(v).unwrap_or('\u{FFFD}'));
            }
            'x' => out.push(self.hex_escape(2)?),
            'u' if !bytes => {
                let hi = self.hex_value(4)?;
                // JSON-style surrogate pairs are not Python, but accept them rather than mangle.
                if (0xD800..0xDC00).contains(&hi) && self.s[self.pos..].starts_with(b"\\u") {
                    let save = self.pos;
                    self.pos += 2;
                    match self.hex_value(4) {
                        Ok(lo) if (0xDC00..0xE000).contains(&lo) => {
                            let cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                            out.push(char::from_u32(cp).unwrap_or('\u{FFFD}'));
                            return Ok(());
                        }
                        _ => self.pos = save,
                    }
                }
                out.push(char::from_u32(hi).unwrap_or('\u{FFFD}'));
            }
            'U' if !bytes => out.push(self.hex_escape(8)?),
            other => {
                // Python keeps unknown escapes verbatim (`'\d'` is backslash + d).
                out.push('\\');
                out.push(other);
            }
        }
        Ok(())
    }

    fn hex_value(&mut self, digits: usize) -> Result<u32, ReprError> {
        let end = self.pos + digits;
        let Some(hex) = self.src.get(self.pos..end) else {
            return Err(self.err("truncated hex escape"));
        };
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(self.err("invalid hex escape"));
        }
        let v = u32::from_str_radix(hex, 16).map_err(|_| self.err("invalid hex escape"))?;
        self.pos = end;
        Ok(v)
    }

    fn hex_escape(&mut self, digits: usize) -> Result<char, ReprError> {
        let v = self.hex_value(digits)?;
        if v > 0x0010_FFFF {
            return Err(self.err("code point out of range"));
        }
        Ok(char::from_u32(v).unwrap_or('\u{FFFD}'))
    }
}

/// A Python float (or an int too big for 64 bits) as a JSON number, written as its own digits, not
/// through an `f64`: `[+-]digits[.digits][(e|E)[+-]digits]` (`1.`, `.5` and `+1` as Python
/// accepts them), normalised to JSON's grammar (`1.` → `1.0`, `.5` → `0.5`, `1e+100` → `1e100`).
/// Values too large for a double (Python's repr would say `inf`) become `null`, as `inf` does.
/// `None` when the text is no number at all.
fn float_literal(text: &str) -> Option<Value> {
    let s = text.as_bytes();
    let mut i = 0;
    let negative = match s.first() {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < s.len() && s[*i].is_ascii_digit() {
            *i += 1;
        }
        &text[start..*i]
    };
    let int = digits(&mut i);
    let had_dot = s.get(i) == Some(&b'.');
    let frac = if had_dot {
        i += 1;
        digits(&mut i)
    } else {
        ""
    };
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut exp_negative = false;
    let mut exp = "";
    if matches!(s.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(s.get(i), Some(b'+' | b'-')) {
            exp_negative = s[i] == b'-';
            i += 1;
        }
        exp = digits(&mut i);
        if exp.is_empty() {
            return None;
        }
    }
    if i != s.len() {
        return None;
    }
    let int = int.trim_start_matches('0');
    // Order of magnitude: a non-zero value lies in [10^(mag-1), 10^mag). Exponents of more than 6
    // digits only matter through their sign.
    let exp = exp.trim_start_matches('0');
    let exp_value = if exp.len() > 6 { 10_000_000 } else { exp.parse::<i64>().unwrap_or(0) };
    let lead = if int.is_empty() {
        let zeros = frac.len() - frac.trim_start_matches('0').len();
        -i64::try_from(zeros).unwrap_or(i64::MAX)
    } else {
        i64::try_from(int.len()).unwrap_or(i64::MAX)
    };
    let is_zero = int.is_empty() && frac.bytes().all(|b| b == b'0');
    let mag = lead.saturating_add(if exp_negative { -exp_value } else { exp_value });
    if !is_zero && mag > 309 {
        return Some(Value::Null);
    }
    let mut out = String::with_capacity(text.len() + 2);
    if negative {
        out.push('-');
    }
    out.push_str(if int.is_empty() { "0" } else { int });
    if had_dot {
        out.push('.');
        out.push_str(if frac.is_empty() { "0" } else { frac });
    }
    if !exp.is_empty() {
        out.push('e');
        if exp_negative {
            out.push('-');
        }
        out.push_str(exp);
    }
    let v = number(&out)?;
    // At the very top of the range, ask the double itself (1.7e308 fits, 1.8e308 does not).
    if !is_zero && mag == 309 && !v.as_f64().is_some_and(f64::is_finite) {
        return Some(Value::Null);
    }
    Some(v)
}

/// A number value from JSON number text.
fn number(text: &str) -> Option<Value> {
    json::from_str(text).ok().filter(|v| matches!(v, Value::Number(_)))
}

/// JSON object keys are strings; Python dict keys may also be numbers, bools or None.
fn dict_key(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(true) => Some("True".into()),
        Value::Bool(false) => Some("False".into()),
        Value::Null => Some("None".into()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The parsed literal as a `serde_json::Value`, to compare with `json!`.
    fn p(s: &str) -> serde_json::Value {
        json::to_serde(&parse(s).unwrap())
    }

    #[test]
    fn synapse_new_key_repr() {
        let s = "{'key': 'kWIaCcaBOSvx9yGrCajty0L29TrXPbXob+84M3QETwU', 'signatures': {'@guardian:localhost': {'ed25519:GUARDIANDEV': 'blGC4yP9/A'}}}";
        assert_eq!(
            p(s),
            json!({"key": "kWIaCcaBOSvx9yGrCajty0L29TrXPbXob+84M3QETwU",
                   "signatures": {"@guardian:localhost": {"ed25519:GUARDIANDEV": "blGC4yP9/A"}}})
        );
    }

    #[test]
    fn fallback_flag_and_keywords() {
        assert_eq!(
            p("{'key': 'abc', 'fallback': True, 'x': None, 'y': False}"),
            json!({"key": "abc", "fallback": true, "x": null, "y": false})
        );
        assert_eq!(
            p("[true, false, null]"),
            json!([true, false, null])
        );
    }

    #[test]
    fn quotes_and_escapes() {
        // repr() switches to double quotes when the string holds a single quote
        assert_eq!(p(r#""it's""#), json!("it's"));
        assert_eq!(
            p(r#"'both \' and \"'"#),
            json!("both ' and \"")
        );
        assert_eq!(p(r"'a\nb\tc\\d'"), json!("a\nb\tc\\d"));
        assert_eq!(p(r"'\x41\u00e9\U0001F600'"), json!("Aé😀"));
        assert_eq!(p(r"'\101\0'"), json!("A\u{0}"));
        assert_eq!(p(r"'\d'"), json!("\\d"));
        assert_eq!(p(r"'\ud800'"), json!("\u{FFFD}"));
        assert_eq!(p(r"'\ud83d\ude00'"), json!("😀"));
        assert_eq!(p("'héllo ☃'"), json!("héllo ☃"));
        assert_eq!(p(r"b'\xff\x00'"), json!("\u{ff}\u{0}"));
        assert_eq!(p(r"r'\n'"), json!("\\n"));
        assert_eq!(p(r"u'x'"), json!("x"));
    }

    #[test]
    fn numbers() {
        assert_eq!(
            p("[1, -2, 3.5, 1e+100, -0.5, 18446744073709551615]"),
            json!([1, -2, 3.5, 1e100, -0.5, 18446744073709551615u64])
        );
        assert_eq!(
            p("[inf, -inf, nan]"),
            json!([null, null, null])
        );
        assert_eq!(
            parse("123456789012345678901234567890")
                .unwrap()
                .as_f64()
                .map(|f| f > 1e29),
            Some(true)
        );
        assert!(parse("1j").is_err());
        assert!(parse("-").is_err());
    }

    #[test]
    fn numbers_keep_their_text() {
        // Written as read (normalised to JSON's grammar), never through an f64.
        let v = parse("[1.50, 1e+100, 1E5, 1_000, 1_0.2_5, 007, .5, 1., +3, -0.0, 0e999, 1e-400, -1.7e308, 123456789012345678901234567890]").unwrap();
        assert_eq!(
            v.to_json_string(),
            "[1.50,1e100,1e5,1000,10.25,7,0.5,1.0,3,-0.0,0e999,1e-400,-1.7e308,123456789012345678901234567890]"
        );
        // Beyond a double, as Python would print inf: null.
        assert_eq!(p("[1e400, -1.8e308, 1e99999999999, 1.5e308]"), json!([null, null, null, 1.5e308]));
        for bad in ["1e", "1e+", ".", "+.", "1.2.3", "1e5e5", "--1", "1__e"] {
            assert!(parse(bad).is_err(), "{bad:?} should not parse");
        }
        assert_eq!(p("{1.5: 'a', 1_0: 'b'}"), json!({"1.5": "a", "10": "b"}));
    }

    #[test]
    fn containers() {
        assert_eq!(p("(1,)"), json!([1]));
        assert_eq!(p("()"), json!([]));
        assert_eq!(p("{1, 2}"), json!([1, 2]));
        assert_eq!(p("set()"), json!([]));
        assert_eq!(p("{}"), json!({}));
        assert_eq!(
            p("{1: 'a', None: 'b'}"),
            json!({"1": "a", "None": "b"})
        );
        assert_eq!(
            p(" [ 1 , [ 2 , ( 3 , ) ] , ] "),
            json!([1, [2, [3]]])
        );
    }

    #[test]
    fn prefix_reports_the_end() {
        let (v, end) = parse_prefix("{'a': 1}; rest").unwrap();
        assert_eq!(json::to_serde(&v), json!({"a": 1}));
        assert_eq!(end, 8);
    }

    #[test]
    fn errors_not_panics() {
        for bad in [
            "",
            "{",
            "{'a'",
            "{'a':",
            "{'a': 1",
            "'abc",
            "'a\\",
            "'\\x4'",
            "'\\xzz'",
            "[1 2]",
            "{'a' 1}",
            "Ellipsis",
            "{[1]: 2}",
            "'\\U11111111'",
            "zz'x'",
            "'a\nb'",
            "{1, 2: 3}",
            "@",
            "1)",
            "set",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn depth_is_bounded() {
        let deep = "[".repeat(100_000) + &"]".repeat(100_000);
        let e = parse(&deep).unwrap_err();
        assert_eq!(e.reason, "nesting too deep");
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(parse(&ok).is_ok());
        let deep_dict = "{'a': ".repeat(10_000);
        assert!(parse(&deep_dict).is_err());
    }

    #[test]
    fn size_is_bounded() {
        let big = format!("'{}'", "a".repeat(MAX_INPUT_BYTES));
        assert_eq!(parse(&big).unwrap_err().reason, "input too large");
    }

    #[test]
    fn every_prefix_of_a_real_repr_is_handled() {
        let s = "{'key': 'zqVNmqfYi6SO1RchNXie7Brajsh/bzt7X4o0aBbsGTg', 'fallback': True, 'signatures': {'@guardian:localhost': {'ed25519:GUARDIANDEV': '//kgiUtPaKC7'}}}";
        for end in 0..s.len() {
            if s.is_char_boundary(end) {
                assert!(parse(&s[..end]).is_err(), "prefix {end} parsed");
            }
        }
        assert!(parse(s).is_ok());
    }

    proptest::proptest! {
        /// Any text: a value or an error inside the input, never a panic.
        #[test]
        fn total_on_any_text(s in "\\PC{0,48}|[-+.0-9_eE\\[\\]{}(),:' ]{0,48}") {
            match parse(&s) {
                Ok(v) => { json::from_str(&v.to_json_string()).unwrap(); }
                Err(e) => proptest::prop_assert!(e.offset <= s.len()),
            }
            if let Ok((_, end)) = parse_prefix(&s) {
                proptest::prop_assert!(end <= s.len() && s.is_char_boundary(end));
            }
        }

        /// Number literals become JSON numbers of the same value (as far as an f64 tells).
        #[test]
        fn numbers_are_json_of_the_same_value(
            s in "[-+]?([0-9][0-9_]{0,29})?(\\.[0-9_]{0,30})?([eE][-+]?[0-9]{1,2})?"
        ) {
            let expected = s.replace('_', "").parse::<f64>();
            match parse(&s) {
                Ok(v) => {
                    let theirs: serde_json::Value = serde_json::from_str(&v.to_json_string()).unwrap();
                    let (theirs, std) = (theirs.as_f64().unwrap(), expected.unwrap());
                    proptest::prop_assert!((theirs - std).abs() <= std.abs() * 1e-12, "{s}: {theirs} vs {std}");
                }
                // Only what Rust's float grammar refuses too.
                Err(_) => proptest::prop_assert!(expected.is_err(), "{s} refused"),
            }
        }
    }
}
