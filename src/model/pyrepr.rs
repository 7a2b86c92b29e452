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

use serde_json::{Map, Number, Value};

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

impl std::fmt::Display for ReprError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at byte {}", self.reason, self.offset)
    }
}

impl std::error::Error for ReprError {}

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
                return Ok(Value::Number(i.into()));
            }
            if let Ok(u) = text.parse::<u64>() {
                return Ok(Value::Number(u.into()));
            }
        }
        // Floats, and ints beyond 64 bits (approximated: JSON numbers are doubles in JS anyway).
        match text.parse::<f64>() {
            Ok(f) => Ok(Number::from_f64(f).map_or(Value::Null, Value::Number)),
            Err(_) => {
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

    #[test]
    fn synapse_new_key_repr() {
        let s = "{'key': 'kWIaCcaBOSvx9yGrCajty0L29TrXPbXob+84M3QETwU', 'signatures': {'@guardian:localhost': {'ed25519:GUARDIANDEV': 'blGC4yP9/A'}}}";
        assert_eq!(
            parse(s).unwrap(),
            json!({"key": "kWIaCcaBOSvx9yGrCajty0L29TrXPbXob+84M3QETwU",
                   "signatures": {"@guardian:localhost": {"ed25519:GUARDIANDEV": "blGC4yP9/A"}}})
        );
    }

    #[test]
    fn fallback_flag_and_keywords() {
        assert_eq!(
            parse("{'key': 'abc', 'fallback': True, 'x': None, 'y': False}").unwrap(),
            json!({"key": "abc", "fallback": true, "x": null, "y": false})
        );
        assert_eq!(
            parse("[true, false, null]").unwrap(),
            json!([true, false, null])
        );
    }

    #[test]
    fn quotes_and_escapes() {
        // repr() switches to double quotes when the string holds a single quote
        assert_eq!(parse(r#""it's""#).unwrap(), json!("it's"));
        assert_eq!(
            parse(r#"'both \' and \"'"#).unwrap(),
            json!("both ' and \"")
        );
        assert_eq!(parse(r"'a\nb\tc\\d'").unwrap(), json!("a\nb\tc\\d"));
        assert_eq!(parse(r"'\x41\u00e9\U0001F600'").unwrap(), json!("Aé😀"));
        assert_eq!(parse(r"'\101\0'").unwrap(), json!("A\u{0}"));
        assert_eq!(parse(r"'\d'").unwrap(), json!("\\d"));
        assert_eq!(parse(r"'\ud800'").unwrap(), json!("\u{FFFD}"));
        assert_eq!(parse(r"'\ud83d\ude00'").unwrap(), json!("😀"));
        assert_eq!(parse("'héllo ☃'").unwrap(), json!("héllo ☃"));
        assert_eq!(parse(r"b'\xff\x00'").unwrap(), json!("\u{ff}\u{0}"));
        assert_eq!(parse(r"r'\n'").unwrap(), json!("\\n"));
        assert_eq!(parse(r"u'x'").unwrap(), json!("x"));
    }

    #[test]
    fn numbers() {
        assert_eq!(
            parse("[1, -2, 3.5, 1e+100, -0.5, 18446744073709551615]").unwrap(),
            json!([1, -2, 3.5, 1e100, -0.5, 18446744073709551615u64])
        );
        assert_eq!(
            parse("[inf, -inf, nan]").unwrap(),
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
    fn containers() {
        assert_eq!(parse("(1,)").unwrap(), json!([1]));
        assert_eq!(parse("()").unwrap(), json!([]));
        assert_eq!(parse("{1, 2}").unwrap(), json!([1, 2]));
        assert_eq!(parse("set()").unwrap(), json!([]));
        assert_eq!(parse("{}").unwrap(), json!({}));
        assert_eq!(
            parse("{1: 'a', None: 'b'}").unwrap(),
            json!({"1": "a", "None": "b"})
        );
        assert_eq!(
            parse(" [ 1 , [ 2 , ( 3 , ) ] , ] ").unwrap(),
            json!([1, [2, [3]]])
        );
    }

    #[test]
    fn prefix_reports_the_end() {
        let (v, end) = parse_prefix("{'a': 1}; rest").unwrap();
        assert_eq!(v, json!({"a": 1}));
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
}
