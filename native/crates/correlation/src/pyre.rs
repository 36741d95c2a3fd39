//! Python `re` patterns for `fancy_regex`: `re.search` semantics where the syntaxes differ.
//!
//! - `$` (outside a class, without the `m` flag) matches at the end or before a final newline
//!   in Python: it becomes `(?=\n?\z)`; `\Z` (the very end) becomes `\z`;
//! - a `{` that does not start a quantifier is a literal in Python (`\{`); `{,n}` is `{0,n}`;
//! - in a class, `[` and the set operators `&&` `~~` `--` of the Rust syntax are literals.
//!
//! Character classes such as `\w` follow Unicode in both (their tables may differ at the edges).

use fancy_regex::Regex;

/// The pattern compiled with Python's meaning, or the compiler's complaint.
pub fn compile(pattern: &str) -> Result<Regex, String> {
    Regex::new(&translate(pattern)).map_err(|e| format!("regex {pattern:?}: {e}"))
}

/// `pattern` in the syntax of `fancy_regex`.
pub fn translate(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let multiline = leading_flags(&chars).contains('m');
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut i = 0;
    let mut in_class = false;
    let mut class_start = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' {
            match chars.get(i + 1) {
                Some('Z') if !in_class => out.push_str("\\z"),
                Some(&n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => out.push('\\'),
            }
            i += 2;
            continue;
        }
        if in_class {
            match c {
                ']' if i > class_start => in_class = false,
                '[' | '&' | '~' => out.push('\\'),
                '-' if i > class_start && chars[i - 1] == '-' => out.push('\\'),
                _ => {}
            }
            out.push(c);
            i += 1;
            continue;
        }
        match c {
            '[' => {
                in_class = true;
                out.push('[');
                i += 1;
                if chars.get(i) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                // a `]` right at the start is a member
                class_start = i + 1;
                if chars.get(i) == Some(&']') {
                    out.push_str("\\]");
                    i += 1;
                }
                continue;
            }
            '$' if !multiline => out.push_str("(?=\\n?\\z)"),
            '{' => match quantifier(&chars[i..]) {
                Some((text, len)) => {
                    out.push_str(&text);
                    i += len;
                    continue;
                }
                None => out.push_str("\\{"),
            },
            '}' => out.push_str("\\}"),
            _ => out.push(c),
        }
        i += 1;
    }
    out
}

/// The flags of `(?flags)` groups at the start of the pattern.
fn leading_flags(chars: &[char]) -> String {
    let mut flags = String::new();
    let mut i = 0;
    while chars.get(i) == Some(&'(') && chars.get(i + 1) == Some(&'?') {
        let mut j = i + 2;
        while chars.get(j).is_some_and(|c| c.is_ascii_alphabetic()) {
            flags.push(chars[j]);
            j += 1;
        }
        if chars.get(j) != Some(&')') || j == i + 2 {
            break;
        }
        i = j + 1;
    }
    flags
}

/// A Python quantifier `{m}`, `{m,}`, `{,n}`, `{m,n}` at the start of `chars`: its Rust text
/// and length (`{}` and anything else are literals).
fn quantifier(chars: &[char]) -> Option<(String, usize)> {
    let mut i = 1;
    let lo: String = chars[i..]
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    i += lo.len();
    let (hi, comma) = if chars.get(i) == Some(&',') {
        i += 1;
        let hi: String = chars[i..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .collect();
        i += hi.len();
        (hi, true)
    } else {
        (lo.clone(), false)
    };
    if chars.get(i) != Some(&'}') || (lo.is_empty() && !comma) {
        return None;
    }
    let lo = if lo.is_empty() { "0".to_owned() } else { lo };
    let text = if !comma {
        format!("{{{lo}}}")
    } else {
        format!("{{{lo},{hi}}}")
    };
    Some((text, i + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn search(p: &str, s: &str) -> bool {
        compile(p).unwrap().is_match(s).unwrap()
    }

    #[test]
    fn patterns_mean_what_python_means() {
        // expected: bool(re.search(p, s)) in CPython 3.11
        assert!(search("^(?!pending_requests_bound_hit$)", "bad_length"));
        assert!(!search(
            "^(?!pending_requests_bound_hit$)",
            "pending_requests_bound_hit"
        ));
        assert!(!search(
            "^(?!pending_requests_bound_hit$)",
            "pending_requests_bound_hit\n"
        ));
        assert!(search(
            "^(?!pending_requests_bound_hit$)",
            "pending_requests_bound_hit\n\n"
        ));
        assert!(search("(?i)^(admin|root)$", "Admin"));
        assert!(search("(?i)^(admin|root)$", "ROOT\n"));
        assert!(!search("(?i)^(admin|root)$", "administrators-group"));
        assert!(search("a\\Z", "a"));
        assert!(!search("a\\Z", "a\n"));
        assert!(search("x{", "x{"));
        assert!(search("^a{,2}$", "aa"));
        assert!(!search("^a{,2}$", "aaa"));
        assert!(search("{}", "{}"));
        assert!(search("[[]", "["));
        assert!(search("[]a]", "]"));
        assert!(search("[a&&b]", "&"));
        assert!(search("(?m)^b$", "a\nb\nc"));
    }
}
