//! Firmware and software version comparison for advisory matching (a port of
//! `assetmap/versions.py`).
//!
//! A version is a release (the leading numeric components, trailing zeros dropped when
//! compared) and a suffix (each following word with its number, ranked pre-release below the
//! plain release and post-release above it). Advisory bounds may carry `X` wildcards
//! (`V3.X.16`): a wildcard takes the compared version's own component. Numbers are compared as
//! Python's unbounded ints, and digits are any Unicode decimal digits, as `\d` and `int()` read
//! them.

use crate::pytext;
use fancy_regex::Regex;
use std::cmp::Ordering;
use std::sync::OnceLock;

/// A non-negative integer of any size (its decimal digits, no leading zeros).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Num(String);

impl Num {
    fn zero() -> Num {
        Num("0".into())
    }

    fn is_zero(&self) -> bool {
        self.0 == "0"
    }
}

impl Ord for Num {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.cmp(&other.0))
    }
}

impl PartialOrd for Num {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Comp {
    Num(Num),
    Wildcard,
}

/// A parsed version (`versions.Version`).
#[derive(Debug, Clone, PartialEq)]
pub struct Version {
    pub raw: String,
    release: Vec<Comp>,
    suffix: Vec<(i8, Num)>,
}

type Key = (Vec<Num>, Vec<(i8, Num)>);

impl Version {
    fn key(&self) -> Key {
        let mut release: Vec<Num> = self
            .release
            .iter()
            .map(|c| match c {
                Comp::Num(n) => n.clone(),
                Comp::Wildcard => Num::zero(), // resolved before comparing
            })
            .collect();
        while release.last().is_some_and(Num::is_zero) {
            release.pop();
        }
        (release, self.suffix.clone())
    }

    /// This bound with each X wildcard replaced by `other`'s component at that place.
    fn resolve(&self, other: &Version) -> Version {
        let release = self
            .release
            .iter()
            .enumerate()
            .map(|(i, c)| match c {
                Comp::Wildcard => other
                    .release
                    .get(i)
                    .cloned()
                    .unwrap_or(Comp::Num(Num::zero())),
                num => num.clone(),
            })
            .collect();
        Version {
            raw: self.raw.clone(),
            release,
            suffix: self.suffix.clone(),
        }
    }
}

fn suffix_rank(word: &str) -> Option<i8> {
    Some(match word {
        "dev" => -4,
        "alpha" | "a" => -3,
        "beta" | "b" => -2,
        "pre" | "rc" | "c" => -1,
        "p" | "patch" | "post" | "sp" | "hf" | "update" | "upd" | "u" | "rev" | "r" | "fix" => 1,
        _ => return None,
    })
}

fn decimal_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"\A\d\z").expect("valid pattern"))
}

/// Unicode category Nd (Python's `\d`).
fn is_decimal(c: char) -> bool {
    c.is_ascii_digit()
        || (!c.is_ascii()
            && decimal_re()
                .is_match(c.encode_utf8(&mut [0; 4]))
                .unwrap_or(false))
}

/// The value of a decimal digit: Nd characters come in runs of ten, 0 to 9.
fn digit_value(c: char) -> u32 {
    if let Some(d) = c.to_digit(10) {
        return d;
    }
    let mut start = c as u32;
    while let Some(prev) = start.checked_sub(1).and_then(char::from_u32) {
        if !is_decimal(prev) {
            break;
        }
        start -= 1;
    }
    (c as u32 - start) % 10
}

fn number(digits: &str) -> Num {
    let text: String = digits
        .chars()
        .map(|c| char::from_digit(digit_value(c), 10).unwrap_or('0'))
        .collect();
    let trimmed = text.trim_start_matches('0');
    if trimmed.is_empty() {
        Num::zero()
    } else {
        Num(trimmed.to_owned())
    }
}

/// Python's IGNORECASE match of one lower-case ASCII letter of the prefix words.
fn letter_matches(p: char, c: char) -> bool {
    c == p
        || c == p.to_ascii_uppercase()
        || (p == 'i' && matches!(c, '\u{130}' | '\u{131}'))
        || (p == 's' && c == '\u{17f}')
}

/// `_PREFIX.sub("", raw)`: `^\s*(?:version|ver|v|r)\s*(?=\d)` removed.
fn drop_prefix(raw: &str) -> &str {
    let lead = raw.trim_start_matches(pytext::is_space);
    for word in ["version", "ver", "v", "r"] {
        let mut rest = lead.chars();
        if !word
            .chars()
            .all(|p| rest.next().is_some_and(|c| letter_matches(p, c)))
        {
            continue;
        }
        let after = rest.as_str().trim_start_matches(pytext::is_space);
        if after.chars().next().is_some_and(is_decimal) {
            return after;
        }
    }
    raw
}

enum Token {
    Digits(String),
    Word(String),
}

/// `\d+|[a-z]+` found in order.
fn tokens(s: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        if is_decimal(c) {
            let mut t = String::new();
            while let Some(&d) = chars.peek().filter(|d| is_decimal(**d)) {
                t.push(d);
                chars.next();
            }
            out.push(Token::Digits(t));
        } else if c.is_ascii_lowercase() {
            let mut t = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_lowercase()) {
                t.push(d);
                chars.next();
            }
            out.push(Token::Word(t));
        } else {
            chars.next();
        }
    }
    out
}

/// A Version, or None when `text` (`str(value)`) has no numeric release.
pub fn parse(text: &str, wildcards: bool) -> Option<Version> {
    let raw = pytext::strip(text);
    let s = drop_prefix(raw).to_lowercase();
    let toks = tokens(&s);
    let mut release = Vec::new();
    let mut i = 0;
    while let Some(tok) = toks.get(i) {
        match tok {
            Token::Digits(d) => release.push(Comp::Num(number(d))),
            Token::Word(w) if wildcards && w == "x" && !release.is_empty() => {
                release.push(Comp::Wildcard)
            }
            Token::Word(_) => break,
        }
        i += 1;
    }
    if release.is_empty() {
        return None;
    }
    let mut suffix = Vec::new();
    while let Some(tok) = toks.get(i) {
        i += 1;
        let word = match tok {
            Token::Digits(d) => {
                suffix.push((0, number(d)));
                continue;
            }
            Token::Word(w) => w,
        };
        let mut num = Num::zero();
        if let Some(Token::Digits(d)) = toks.get(i) {
            num = number(d);
            i += 1;
        }
        if let Some(rank) = suffix_rank(word) {
            suffix.push((rank, num));
        }
    }
    suffix.push((0, Num::zero()));
    Some(Version {
        raw: raw.to_owned(),
        release,
        suffix,
    })
}

/// `compare(a, b)` of a version and a bound (parsed with wildcards).
pub fn compare(a: &Version, bound: &Version) -> Ordering {
    a.key().cmp(&bound.resolve(a).key())
}

/// A version range: bounds (`eq ge gt le lt`) as written, in order, parsed with wildcards.
#[derive(Debug, Clone)]
pub struct Range {
    pub bounds: Vec<(String, String, Version)>,
}

impl Range {
    /// Every bound holds (`in_range`).
    pub fn contains(&self, v: &Version) -> bool {
        self.bounds.iter().all(|(op, _, bound)| {
            let c = compare(v, bound);
            match op.as_str() {
                "eq" => c.is_eq(),
                "ge" => c.is_ge(),
                "gt" => c.is_gt(),
                "le" => c.is_le(),
                _ => c.is_lt(),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(a: &str, b: &str) -> Ordering {
        compare(&parse(a, false).unwrap(), &parse(b, true).unwrap())
    }

    #[test]
    fn order_as_python() {
        // expected: assetmap.versions.compare
        assert_eq!(cmp("3.2.10", "3.2.9"), Ordering::Greater);
        assert_eq!(cmp("2.6", "2.6.0"), Ordering::Equal);
        assert_eq!(cmp("1.3-rc1", "1.3"), Ordering::Less);
        assert_eq!(cmp("1.3 SP1", "1.3"), Ordering::Greater);
        assert_eq!(cmp("1.3 SP1 HF2", "1.3 SP2"), Ordering::Less);
        assert_eq!(cmp("V3.2.6", "V3.X.16"), Ordering::Less);
        assert_eq!(cmp("V3.3.17", "V3.X.16"), Ordering::Greater);
        assert_eq!(cmp("v3.10", "V3.2.12"), Ordering::Greater);
        assert_eq!(
            cmp("Version 99999999999999999999999", "1e5"),
            Ordering::Greater
        );
        assert_eq!(cmp("\u{663}.\u{661}", "3.1"), Ordering::Equal); // Arabic-Indic digits
        assert_eq!(cmp("\u{1d7d9}", "1"), Ordering::Equal); // MATHEMATICAL DOUBLE-STRUCK ONE
        assert_eq!(cmp("1.0+build5", "1"), Ordering::Equal);
        assert_eq!(cmp("r5", "5"), Ordering::Equal);
        assert_eq!(cmp("VER\u{17f}ION 5", "5"), Ordering::Equal); // long s matches s
        assert_eq!(cmp("veR 7", "7"), Ordering::Equal);
    }

    #[test]
    fn no_release() {
        assert!(parse("unknown", false).is_none());
        assert!(parse("", false).is_none());
        assert!(parse("x.1", true).is_none());
        assert!(parse("\u{130}r5", false).is_none()); // no prefix; "i̇r5" lowered starts with a word
        assert_eq!(parse(" V3.2.6 ", false).unwrap().raw, "V3.2.6");
    }
}
