//! Python regular expressions (`re.search`, as the fingerprint, advisory and vendor files are
//! written) run by `fancy_regex`.
//!
//! The pattern is rewritten where the two dialects differ: Python's `\s` also matches U+001C..
//! U+001F; its `\w` is letters, numbers and `_` (no marks), and `\b`/`\B` follow that `\w`;
//! `$` also matches before a final newline; `\Z` is Rust's `\z`; `{,n}` is `{0,n}` and a `{`
//! that starts no repetition is a literal; inside a class `[`, `&&`, `--`, `~~` are literals
//! and `\b` is a backspace; escapes (`\x41`, `\u00e9`, octal, `\.`) become `\x{..}`.
//!
//! Each pattern has two forms: `ascii` for text that is ASCII without a newline, where the
//! dialects agree once `\s` is widened and `$` is the end (no look-around, so the fast engine
//! runs it), compiled when the pattern is loaded; and `exact` with the rewrites above
//! (look-around for `\b`), compiled when first needed (most text is ASCII: start-up stays
//! short).

use fancy_regex::Regex;
use std::sync::OnceLock;

const WORD: &str = r"\p{L}\p{N}_";
const SPACE: &str = r"\s\x{1C}-\x{1F}";

/// A compiled Python pattern (see the module docs).
#[derive(Debug, Clone)]
pub struct PyRegex {
    /// the exact form's text (translated when loaded, so that errors show then)
    exact_text: String,
    exact: OnceLock<Option<Regex>>,
    ascii: Regex,
}

impl PyRegex {
    /// Compiles `pattern` as `re.compile(pattern, re.IGNORECASE if ignorecase else 0)`.
    pub fn new(pattern: &str, ignorecase: bool) -> Result<PyRegex, String> {
        let text = translate(pattern, ignorecase, Mode::Ascii)?;
        let ascii = Regex::new(&text).map_err(|e| format!("pattern {pattern:?}: {e}"))?;
        let exact_text = translate(pattern, ignorecase, Mode::Exact)?;
        Ok(PyRegex {
            exact_text,
            exact: OnceLock::new(),
            ascii,
        })
    }

    /// `pattern.search(text) is not None` (a search that exceeds the backtracking limit finds
    /// nothing, and so does the exact form of a pattern the engine cannot run).
    pub fn search(&self, text: &str) -> bool {
        if text.is_ascii() && !text.contains('\n') {
            return self.ascii.is_match(text).unwrap_or(false);
        }
        match self.exact.get_or_init(|| Regex::new(&self.exact_text).ok()) {
            Some(re) => re.is_match(text).unwrap_or(false),
            None => false,
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Exact,
    Ascii,
}

struct Parser<'a> {
    chars: Vec<char>,
    pos: usize,
    out: String,
    mode: Mode,
    multiline: bool,
    pattern: &'a str,
}

fn hex(c: char) -> String {
    format!("\\x{{{:X}}}", c as u32)
}

impl Parser<'_> {
    fn peek(&self, k: usize) -> Option<char> {
        self.chars.get(self.pos + k).copied()
    }

    fn err<T>(&self, what: &str) -> Result<T, String> {
        Err(format!(
            "pattern {:?}: {what} at {}",
            self.pattern, self.pos
        ))
    }

    fn take_hex(&mut self, n: usize) -> Result<char, String> {
        let digits: String = (0..n).filter_map(|k| self.peek(k)).collect();
        if digits.len() != n || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
            return self.err("bad escape");
        }
        self.pos += n;
        match u32::from_str_radix(&digits, 16)
            .ok()
            .and_then(char::from_u32)
        {
            Some(c) => Ok(c),
            None => self.err("bad escape"),
        }
    }

    fn take_octal(&mut self, first: char) -> Result<char, String> {
        let mut value = first.to_digit(8).unwrap_or(0);
        for _ in 0..2 {
            match self.peek(0).and_then(|c| c.to_digit(8)) {
                Some(d) => {
                    value = value * 8 + d;
                    self.pos += 1;
                }
                None => break,
            }
        }
        match char::from_u32(value) {
            Some(c) if value <= 0o377 => Ok(c),
            _ => self.err("octal escape out of range"),
        }
    }

    /// A character escape after `\` (already consumed), shared by classes and the rest:
    /// Some(literal) or None when `c` is not one.
    fn char_escape(&mut self, c: char) -> Result<Option<char>, String> {
        Ok(Some(match c {
            'n' => '\n',
            't' => '\t',
            'r' => '\r',
            'f' => '\u{c}',
            'v' => '\u{b}',
            'a' => '\u{7}',
            'x' => self.take_hex(2)?,
            'u' => self.take_hex(4)?,
            'U' => self.take_hex(8)?,
            '0' => self.take_octal('0')?,
            c if !c.is_ascii_alphanumeric() => c,
            _ => return Ok(None),
        }))
    }

    fn word(&self, negated: bool) -> String {
        match (self.mode, negated) {
            (Mode::Ascii, false) => r"\w".into(),
            (Mode::Ascii, true) => r"\W".into(),
            (Mode::Exact, false) => format!("[{WORD}]"),
            (Mode::Exact, true) => format!("[^{WORD}]"),
        }
    }

    fn boundary(&self, negated: bool) -> String {
        if self.mode == Mode::Ascii {
            return if negated { r"\B".into() } else { r"\b".into() };
        }
        let w = format!("[{WORD}]");
        if negated {
            format!("(?:(?<={w})(?={w})|(?<!{w})(?!{w}))")
        } else {
            format!("(?:(?<={w})(?!{w})|(?<!{w})(?={w}))")
        }
    }

    fn outside(&mut self) -> Result<(), String> {
        while let Some(c) = self.peek(0) {
            self.pos += 1;
            match c {
                '\\' => self.escape()?,
                '[' => self.class()?,
                '$' => {
                    let end = match (self.multiline, self.mode) {
                        (true, _) => "(?m:$)",
                        (false, Mode::Ascii) => r"\z",
                        (false, Mode::Exact) => r"(?=\n?\z)",
                    };
                    self.out.push_str(end);
                }
                '^' if self.multiline => self.out.push_str("(?m:^)"),
                '{' => self.brace(),
                '}' => self.out.push_str(&hex('}')),
                '(' => self.group()?,
                _ => self.out.push(c),
            }
        }
        Ok(())
    }

    fn escape(&mut self) -> Result<(), String> {
        let Some(c) = self.peek(0) else {
            return self.err("trailing backslash");
        };
        self.pos += 1;
        let text = match c {
            'd' | 'D' => format!("\\{c}"),
            's' => format!("[{SPACE}]"),
            'S' => format!("[^{SPACE}]"),
            'w' => self.word(false),
            'W' => self.word(true),
            'b' => self.boundary(false),
            'B' => self.boundary(true),
            'A' => r"\A".into(),
            'Z' => r"\z".into(),
            '1'..='9' => {
                let octal = c <= '7'
                    && matches!(self.peek(0), Some('0'..='7'))
                    && matches!(self.peek(1), Some('0'..='7'));
                if octal {
                    let lit = self.take_octal(c)?;
                    hex(lit)
                } else {
                    let mut n = c.to_string();
                    if let Some(d @ '0'..='9') = self.peek(0) {
                        n.push(d);
                        self.pos += 1;
                    }
                    format!("\\{n}")
                }
            }
            _ => match self.char_escape(c)? {
                Some(lit) => hex(lit),
                None => return self.err("unsupported escape"),
            },
        };
        self.out.push_str(&text);
        Ok(())
    }

    /// `{` (consumed): a repetition `{m}`, `{m,}`, `{,n}`, `{m,n}`, else a literal.
    fn brace(&mut self) {
        let start = self.pos;
        let mut lo = String::new();
        let mut hi = String::new();
        while let Some(d @ '0'..='9') = self.peek(0) {
            lo.push(d);
            self.pos += 1;
        }
        let comma = self.peek(0) == Some(',');
        if comma {
            self.pos += 1;
            while let Some(d @ '0'..='9') = self.peek(0) {
                hi.push(d);
                self.pos += 1;
            }
        }
        if (comma || !lo.is_empty()) && self.peek(0) == Some('}') {
            self.pos += 1;
            let lo = if lo.is_empty() { "0".into() } else { lo };
            let rep = if comma {
                format!("{{{lo},{hi}}}")
            } else {
                format!("{{{lo}}}")
            };
            self.out.push_str(&rep);
        } else {
            self.pos = start;
            self.out.push_str(&hex('{'));
        }
    }

    fn group(&mut self) -> Result<(), String> {
        if self.peek(0) != Some('?') {
            self.out.push('(');
            return Ok(());
        }
        let rest: String = self.chars[self.pos..].iter().take(4).collect();
        if rest.starts_with("?#") {
            while let Some(c) = self.peek(0) {
                self.pos += 1;
                if c == ')' {
                    return Ok(());
                }
            }
            return self.err("unterminated comment");
        }
        if rest.starts_with("?P=") {
            self.pos += 3;
            let mut name = String::new();
            while let Some(c) = self.peek(0) {
                self.pos += 1;
                if c == ')' {
                    self.out.push_str(&format!("\\k<{name}>"));
                    return Ok(());
                }
                name.push(c);
            }
            return self.err("unterminated group reference");
        }
        for prefix in ["?P<", "?:", "?=", "?!", "?<=", "?<!"] {
            if rest.starts_with(prefix) {
                self.pos += prefix.len();
                self.out.push('(');
                self.out.push_str(prefix);
                return Ok(());
            }
        }
        // inline flags: (?i) (?s) (?m) at the start, (?i:...) scoped
        let mut flags = String::new();
        let mut k = 1;
        while let Some(c @ ('a'..='z' | 'A'..='Z' | '-')) = self.peek(k) {
            flags.push(c);
            k += 1;
        }
        let close = self.peek(k);
        if flags.is_empty() || !matches!(close, Some(')' | ':')) {
            return self.err("unsupported group");
        }
        if flags
            .chars()
            .any(|f| !matches!(f, 'i' | 's' | 'm' | 'u' | '-'))
        {
            return self.err("unsupported inline flag");
        }
        if flags.contains('m') {
            if close == Some(':') || flags.contains('-') {
                return self.err("scoped multiline flag");
            }
            self.multiline = true;
        }
        let kept: String = flags
            .chars()
            .filter(|f| matches!(f, 'i' | 's' | '-'))
            .collect();
        self.pos += k + 1;
        let kept = kept.trim_end_matches('-');
        match close {
            Some(':') if kept.is_empty() => self.out.push_str("(?:"),
            Some(':') => self.out.push_str(&format!("(?{kept}:")),
            _ if kept.is_empty() => {}
            _ => self.out.push_str(&format!("(?{kept})")),
        }
        Ok(())
    }

    /// One class item after `[` (consumed): literal or class escape text, and the literal
    /// character when it is one (a range end).
    fn class_item(&mut self) -> Result<(String, Option<char>), String> {
        let Some(c) = self.peek(0) else {
            return self.err("unterminated class");
        };
        self.pos += 1;
        if c != '\\' {
            return Ok((hex(c), Some(c)));
        }
        let Some(e) = self.peek(0) else {
            return self.err("unterminated class");
        };
        self.pos += 1;
        let text = match e {
            'd' | 'D' => format!("\\{e}"),
            's' => SPACE.into(),
            'S' => format!("[^{SPACE}]"),
            'w' if self.mode == Mode::Ascii => r"\w".into(),
            'W' if self.mode == Mode::Ascii => r"\W".into(),
            'w' => WORD.into(),
            'W' => format!("[^{WORD}]"),
            'b' => return Ok((hex('\u{8}'), Some('\u{8}'))),
            '1'..='7' => {
                let lit = self.take_octal(e)?;
                return Ok((hex(lit), Some(lit)));
            }
            _ => match self.char_escape(e)? {
                Some(lit) => return Ok((hex(lit), Some(lit))),
                None => return self.err("unsupported class escape"),
            },
        };
        Ok((text, None))
    }

    fn class(&mut self) -> Result<(), String> {
        self.out.push('[');
        if self.peek(0) == Some('^') {
            self.pos += 1;
            self.out.push('^');
        }
        let mut first = true;
        loop {
            match self.peek(0) {
                None => return self.err("unterminated class"),
                Some(']') if !first => {
                    self.pos += 1;
                    self.out.push(']');
                    return Ok(());
                }
                _ => {}
            }
            first = false;
            let (text, lit) = self.class_item()?;
            if self.peek(0) == Some('-') && self.peek(1).is_some_and(|c| c != ']') {
                self.pos += 1;
                let (end_text, end) = self.class_item()?;
                match (lit, end) {
                    (Some(a), Some(b)) if a <= b => {
                        self.out.push_str(&text);
                        self.out.push('-');
                        self.out.push_str(&end_text);
                    }
                    _ => return self.err("bad character range"),
                }
            } else {
                self.out.push_str(&text);
            }
        }
    }
}

fn translate(pattern: &str, ignorecase: bool, mode: Mode) -> Result<String, String> {
    let mut p = Parser {
        chars: pattern.chars().collect(),
        pos: 0,
        out: String::new(),
        mode,
        multiline: false,
        pattern,
    };
    p.outside()?;
    Ok(if ignorecase {
        format!("(?i){}", p.out)
    } else {
        p.out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn search(p: &str, i: bool, t: &str) -> bool {
        PyRegex::new(p, i).unwrap().search(t)
    }

    #[test]
    fn python_semantics() {
        // expected values: Python 3.11 re.search on the same pattern, flags and text
        let cases: &[(&str, bool, &str, bool)] = &[
            (r"^CPU\s*31[2-9]", true, "cpu\u{1c}315", true), // \s includes U+001C
            (r"^pymodbus\b", false, "pymodbus\u{301}", true), // a mark is no word character
            (r"^pymodbus\b", false, "pymodbus\u{b2}", false), // a number is one
            (
                r"^Original Siemens Equipment$",
                false,
                "Original Siemens Equipment\n",
                true,
            ),
            (r"^a\Z", false, "a\n", false),
            (r"^CPU\s*31[2-9](?!.*\bPN\b)", true, "CPU 315-2 DP", true),
            (
                r"^CPU\s*31[2-9](?!.*\bPN\b)",
                true,
                "CPU 315-2 PN/DP",
                false,
            ),
            (r"a{,2}b", false, "aab", true),
            (r"x{y", false, "x{y", true),
            (r"[[&~-]", false, "~", true),
            (r"^\ a\.b", false, " a.b", true),
            (r"^(?P<x>ab)(?P=x)$", false, "abab", true),
            (r"(?i)^moxa", false, "MOXA", true),
            (r"^[a-c-e]$", false, "-", true),
            (r"^x\b", false, "x\u{e9}", false),
            (r"^x\b", false, "x\u{301}", true),
            (r"^x\B", false, "x\u{301}", false),
            (r"(?m)^b$", false, "a\nb\nc", true),
            (
                r"^endress\s*(?:\+|and)?\s*hauser\b",
                false,
                "endress hauser",
                true,
            ),
        ];
        for &(pattern, ignorecase, text, want) in cases {
            assert_eq!(
                search(pattern, ignorecase, text),
                want,
                "{pattern:?} on {text:?}"
            );
        }
    }

    #[test]
    fn rejects_what_it_cannot_run() {
        assert!(PyRegex::new(r"\q", false).is_err());
        assert!(Regex::new(&translate(r"^x\b(?<!y)", true, Mode::Exact).unwrap()).is_ok());
        assert!(PyRegex::new(r"[z-a]", false).is_err());
        assert!(PyRegex::new(r"(?x) a", false).is_err());
    }
}
