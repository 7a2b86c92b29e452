//! Redaction for everything the guardian writes down (journal entries, the report): no access token,
//! password, recovery key, room key or URL query value may survive.
//!
//! Two layers, both always applied:
//! * **structure** ([`redact_value`]): an object member whose *name* says secret (`access_token`,
//!   `password`, `authorization`, `recovery_key`, `session_key`, …) has its value replaced whole,
//!   whatever the value's type;
//! * **shape** ([`redact_text`]): every string is scanned for secrets that hide in free text — Matrix
//!   tokens (`syt_…`, `syr_…`, `mct_…`), `Bearer …`, URL query values (`?access_token=…&…`),
//!   `name: value` / `"name":"value"` pairs with a secret name, recovery keys (12 groups of 4 base58
//!   characters, or the 48-character unspaced form) and armoured blocks (Megolm key exports).
//!
//! Over-redaction is acceptable; under-redaction is a bug. Public keys (43-character unpadded base64)
//! are deliberately kept: the report needs the conflicting keys, and they are public.
//!
//! [`redact_value`] works on the model's own JSON ([`crate::json::Value`]); the text layer is plain
//! string code.

use serde_json::Value;

/// What replaces a secret.
pub const REDACTED: &str = "[redacted]";

/// Lower-case fragments of member names whose values are secret.
const SECRET_NAME_PARTS: &[&str] = &[
    "token",
    "password",
    "passphrase",
    "secret",
    "recovery_key",
    "recoverykey",
    "authorization",
    "session_key",
    "sessionkey",
    "private",
    "cookie",
    "pickle",
    "room_key",
    "roomkey",
];

/// Token prefixes Synapse and the MAS use (access, refresh, compat tokens).
const TOKEN_PREFIXES: &[&str] = &["syt_", "syr_", "mct_", "mat_", "mar_"];

/// True when a member called `name` holds a secret.
pub fn is_secret_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_NAME_PARTS.iter().any(|p| lower.contains(p))
}

/// Redacts a JSON value in place: secret-named members by structure, every string by shape.
pub fn redact_value(value: &mut Value) {
    match value {
        Value::String(s) => {
            let red = redact_text(s);
            if red != *s {
                *s = red;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_value),
        Value::Object(map) => {
            // Rebuilt member by member; the entries stay in key order, so collecting them back is linear.
            *map = core::mem::take(map)
                .into_iter()
                .map(|(name, mut member)| {
                    // A boolean cannot carry a secret (`cookieEnabled`, `hasPassword`): kept, so the report says it.
                    if is_secret_name(&name) && !matches!(member, Value::Null | Value::Bool(_)) {
                        member = Value::String(REDACTED.into());
                    } else {
                        redact_value(&mut member);
                    }
                    (name, member)
                })
                .collect();
        }
        _ => {}
    }
}

/// Redacts secrets found by their shape in free text.
pub fn redact_text(text: &str) -> String {
    let text = redact_armoured_blocks(text);
    let text = redact_bearer(&text);
    let text = redact_named_values(&text);
    let text = redact_query_values(&text);
    let text = redact_token_prefixes(&text);
    redact_recovery_keys(&text)
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.' || c == '~' || c == '+' || c == '/' || c == '='
}

/// `-----BEGIN …-----` … `-----END …-----` (Megolm session data, PGP, PEM): the whole block goes.
fn redact_armoured_blocks(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN") {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        match after.find("-----END") {
            Some(end) => {
                // Skip to the end of the END line's closing dashes.
                let tail = &after[end + 8..];
                let close = tail.find("-----").map(|i| i + 5).unwrap_or(tail.len());
                out.push_str("[redacted armoured block]");
                rest = &tail[close..];
            }
            None => {
                // An unterminated block (truncated log line): everything after BEGIN goes.
                out.push_str("[redacted armoured block]");
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// `Bearer <anything up to whitespace or quote>` (case-insensitive).
fn redact_bearer(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    if !lower.contains("bearer") {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while let Some(found) = lower[i..].find("bearer") {
        let at = i + found;
        let word_end = at + 6;
        out.push_str(&text[i..word_end]);
        let ws: usize = text[word_end..].chars().take_while(|c| *c == ' ' || *c == '\t').map(char::len_utf8).sum();
        let value: usize = text[word_end + ws..].chars().take_while(|c| is_token_char(*c)).map(char::len_utf8).sum();
        out.push_str(&text[word_end..word_end + ws]);
        if ws > 0 && value > 0 {
            out.push_str(REDACTED);
        } else {
            out.push_str(&text[word_end + ws..word_end + ws + value]);
        }
        i = word_end + ws + value;
    }
    out.push_str(&text[i..]);
    out
}

/// `name=value`, `name: value`, `"name":"value"`, `'name': 'value'` where `name` is secret.
fn redact_named_values(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if !(bytes[i].is_ascii_alphabetic() || bytes[i] == b'_') || (i > 0 && is_name_byte(bytes[i - 1])) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && is_name_byte(bytes[i]) {
            i += 1;
        }
        let name = &text[start..i];
        if !is_secret_name(name) {
            continue;
        }
        // Optional closing quote of a quoted name, spaces, then `:` or `=`.
        let mut j = i;
        if j < bytes.len() && (bytes[j] == b'"' || bytes[j] == b'\'') {
            j += 1;
        }
        while j < bytes.len() && bytes[j] == b' ' {
            j += 1;
        }
        if j >= bytes.len() || !(bytes[j] == b':' || bytes[j] == b'=') {
            continue;
        }
        j += 1;
        while j < bytes.len() && bytes[j] == b' ' {
            j += 1;
        }
        let value_start = j;
        let value_end = if j < bytes.len() && (bytes[j] == b'"' || bytes[j] == b'\'') {
            let quote = bytes[j];
            let mut k = j + 1;
            while k < bytes.len() && bytes[k] != quote {
                if bytes[k] == b'\\' {
                    k += 1;
                }
                k += 1;
            }
            (k + 1).min(bytes.len())
        } else {
            let mut k = j;
            while k < bytes.len() && !matches!(bytes[k], b' ' | b'&' | b',' | b'}' | b')' | b']' | b'\n' | b'\t' | b'#' | b';') {
                k += 1;
            }
            k
        };
        if value_end > value_start {
            out.push_str(&text[copied..value_start]);
            out.push_str(if bytes[value_start] == b'"' { "\"[redacted]\"" } else { REDACTED });
            copied = value_end;
        }
        i = value_end.max(i);
    }
    out.push_str(&text[copied..]);
    out
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Every URL query value: `?a=1&b=2` → `?a=[redacted]&b=[redacted]` (names stay: they help a reader).
fn redact_query_values(text: &str) -> String {
    if !text.contains('?') {
        return text.to_owned();
    }
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    let mut in_query = false;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'?' || (in_query && b == b'&') {
            // A query parameter starts if a name and `=` follow.
            let mut j = i + 1;
            while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || matches!(bytes[j], b'_' | b'-' | b'.' | b'%' | b'[' | b']')) {
                j += 1;
            }
            if j > i + 1 && j < bytes.len() && bytes[j] == b'=' {
                in_query = true;
                let value_start = j + 1;
                let mut k = value_start;
                while k < bytes.len() && !matches!(bytes[k], b'&' | b'#' | b' ' | b'"' | b'\'' | b'\n' | b'\t' | b'<' | b'>' | b')') {
                    k += 1;
                }
                if k > value_start {
                    out.push_str(&text[copied..value_start]);
                    out.push_str(REDACTED);
                    copied = k;
                }
                i = k;
                continue;
            }
        } else if matches!(b, b' ' | b'\n' | b'"' | b'\'') {
            in_query = false;
        }
        i += 1;
    }
    out.push_str(&text[copied..]);
    out
}

/// `syt_…`, `syr_…`, `mct_…` tokens anywhere (also glued to other text).
fn redact_token_prefixes(text: &str) -> String {
    let mut out = text.to_owned();
    for prefix in TOKEN_PREFIXES {
        let mut searched = 0;
        while let Some(found) = out[searched..].find(prefix) {
            let at = searched + found;
            let end = at
                + prefix.len()
                + out[at + prefix.len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
                    .map(char::len_utf8)
                    .sum::<usize>();
            // `syt_` alone (e.g. inside this sentence) is no token; a real one has a body.
            if end - at >= prefix.len() + 8 {
                out.replace_range(at..end, REDACTED);
                searched = at + REDACTED.len();
            } else {
                searched = end.max(at + 1);
            }
        }
    }
    out
}

fn is_base58(c: char) -> bool {
    c.is_ascii_alphanumeric() && !matches!(c, '0' | 'O' | 'I' | 'l')
}

/// A Matrix recovery key: 48 base58 characters, shown as 12 groups of 4 separated by spaces
/// (≥ 8 such groups in a row are taken as one), or unspaced starting with `Es`.
fn redact_recovery_keys(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let word_start = i == 0 || !is_base58(chars[i - 1]);
        if word_start && is_base58(chars[i]) {
            // Spaced form.
            let mut groups = 0;
            let mut j = i;
            loop {
                let g = (0..4).all(|k| j + k < chars.len() && is_base58(chars[j + k]));
                let ends = j + 4 >= chars.len() || !is_base58(chars[j + 4]);
                if !(g && ends) {
                    break;
                }
                groups += 1;
                j += 4;
                if j < chars.len() && chars[j] == ' ' && j + 1 < chars.len() && is_base58(chars[j + 1]) {
                    j += 1;
                } else {
                    break;
                }
            }
            if groups >= 8 {
                out.push_str(REDACTED);
                i = j;
                continue;
            }
            // Unspaced form.
            let run = chars[i..].iter().take_while(|c| is_base58(**c)).count();
            if run == 48 && chars[i] == 'E' && chars.get(i + 1) == Some(&'s') {
                out.push_str(REDACTED);
                i += run;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TOKEN: &str = "syt_YWxpY2U_qTfMzKvUXcPNbEzpWtLD_0wUfZR";
    const RECOVERY: &str = "EsTc 8XhG 6bGy QhUh 3nHv Pm7f Q5pS 4xVb 2cRa kJ9d Nq3T wYzB";

    fn assert_clean(s: &str) {
        assert!(!s.contains("qTfMzKvUXcPNbEzpWtLD"), "token survived: {s}");
        assert!(!s.contains("hunter2"), "password survived: {s}");
        assert!(!s.contains("8XhG 6bGy"), "recovery key survived: {s}");
        assert!(!s.contains("AwgAEhAw"), "export survived: {s}");
    }

    #[test]
    fn tokens_in_free_text_and_urls() {
        let lines = [
            format!("GET https://hs.example/_matrix/client/v3/sync?access_token={TOKEN}&timeout=30000 failed"),
            format!("Authorization: Bearer {TOKEN}"),
            format!("headers {{\"authorization\":\"Bearer {TOKEN}\"}}"),
            format!("token was{TOKEN}"),
            format!("{{\"access_token\": \"{TOKEN}\", \"device_id\": \"ABC\"}}"),
            "login with password=hunter2 ok".into(),
            "{'password': 'hunter2', 'user': 'alice'}".into(),
            format!("recovery key: {RECOVERY}"),
            "recovery EsTc8XhG6bGyQhUh3nHvPm7fQ5pS4xVb2cRakJ9dNq3TwYzB end".into(),
            "-----BEGIN MEGOLM SESSION DATA-----\nAwgAEhAwAAAA\n-----END MEGOLM SESSION DATA-----".into(),
            "cut -----BEGIN MEGOLM SESSION DATA----- AwgAEhAwAAAA".into(),
        ];
        for line in &lines {
            let red = redact_text(line);
            assert_clean(&red);
            assert!(red.contains(REDACTED) || red.contains("[redacted armoured block]"), "{line} → {red}");
        }
        // Query names and the rest of the text stay readable.
        let red = redact_text(&lines[0]);
        assert!(red.contains("/sync?access_token=[redacted]&timeout=[redacted] failed"), "{red}");
    }

    #[test]
    fn public_material_and_ordinary_text_stay() {
        for text in [
            "One time key signed_curve25519:AAAAAAAAAA0 already exists. Old key: {'key': 'mQ4cWt7tXnSjr/Pq5ZJs1hC3sVhnnqxOgF9hQL6yU1U'}",
            "Failed to process outgoing request 0: M_UNKNOWN",
            "MissingKey: missing key at index 3 for participant @bob:localhost",
            "device ABCDEFGHIJ of @alice:example.org",
            "sync token s72594_4483_1934 is not secret in this sense", // a sync batch, not an access token
        ] {
            assert_eq!(redact_text(text), text);
        }
    }

    #[test]
    fn structure_redacts_secret_members_of_any_type_but_boolean() {
        let mut v = serde_json::from_str::<Value>(&json!({
            "session": {"userId": "@a:b", "accessToken": TOKEN, "password": {"nested": "hunter2"}},
            "headers": [{"Authorization": "Bearer x"}],
            "room_key": {"session_key": "AQID"},
            "recoveryKey": RECOVERY,
            "note": format!("copy of {TOKEN}"),
            "url": "https://hs/_matrix/media?user=alice",
            "nothing": null,
            "browser": {"cookieEnabled": true, "hasPassword": false, "tokenCount": 3},
        })
        .to_string())
        .unwrap();
        redact_value(&mut v);
        let s = v.to_string();
        let v = serde_json::to_value(&v).unwrap();
        assert_clean(&s);
        assert_eq!(v["session"]["userId"], "@a:b");
        assert_eq!(v["session"]["accessToken"], REDACTED);
        assert_eq!(v["url"], "https://hs/_matrix/media?user=[redacted]");
        assert!(v["nothing"].is_null());
        assert!(!s.contains("AQID"));
        // Booleans carry no secret and stay; a number under a secret name is still redacted.
        assert_eq!(v["browser"]["cookieEnabled"], true);
        assert_eq!(v["browser"]["hasPassword"], false);
        assert_eq!(v["browser"]["tokenCount"], REDACTED);
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        for text in ["?", "?=", "&&?a=", "Bearer", "bearer ", "password", "password=", "-----BEGIN", "syt_", "é?é=é&ü=ü", "\u{0}syt_\u{ffff}"] {
            let _ = redact_text(text);
        }
        let long = "syt_".repeat(10_000);
        let _ = redact_text(&long);
    }
}
