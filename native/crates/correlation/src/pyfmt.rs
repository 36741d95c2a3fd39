//! Python's `repr` of strings (CPython 3.11 `unicode_repr`; floats: `icssa_core::text::float_repr`):
//! alert ids hash the `repr` of group keys, and messages format values with `str`.

use crate::unicode::{DECIMAL_ZEROS, NOT_PRINTABLE};

/// `str.isprintable()` for one character.
pub fn printable(c: char) -> bool {
    let c = c as u32;
    if c < 0x80 {
        return (0x20..0x7f).contains(&c);
    }
    NOT_PRINTABLE
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_err()
}

/// The value of a decimal digit (`str.isdecimal`: any Unicode decimal digit), else None.
pub fn decimal(c: char) -> Option<u32> {
    let c = c as u32;
    if c < 0x80 {
        return (0x30..0x3a).contains(&c).then(|| c - 0x30);
    }
    let i = DECIMAL_ZEROS.partition_point(|&z| z <= c);
    let zero = *DECIMAL_ZEROS.get(i.checked_sub(1)?)?;
    (c - zero < 10).then(|| c - zero)
}

/// `repr(s)`: single quotes unless the text holds `'` and no `"`; `\\`, the quote, `\t \n \r`
/// escaped; other characters that are not printable as `\xNN`, `\uNNNN` or `\UNNNNNNNN`.
pub fn str_repr(s: &str, out: &mut String) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            _ if c == quote => {
                out.push('\\');
                out.push(c);
            }
            _ if printable(c) => out.push(c),
            _ => {
                let v = c as u32;
                let (prefix, width) = if v <= 0xff {
                    ("\\x", 2)
                } else if v <= 0xffff {
                    ("\\u", 4)
                } else {
                    ("\\U", 8)
                };
                out.push_str(prefix);
                out.push_str(&format!("{v:0width$x}"));
            }
        }
    }
    out.push(quote);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(x: &str) -> String {
        let mut s = String::new();
        str_repr(x, &mut s);
        s
    }

    #[test]
    fn strings_as_python_repr() {
        // expected: repr() of the same strings in CPython 3.11 (Unicode 14)
        assert_eq!(r("10.1.0.5"), "'10.1.0.5'");
        assert_eq!(r("it's"), "\"it's\"");
        assert_eq!(r("'\""), "'\\'\"'");
        assert_eq!(r("a\\b\t\n\r\x00\x7f"), "'a\\\\b\\t\\n\\r\\x00\\x7f'");
        assert_eq!(r("é\u{a0}\u{ad}"), "'é\\xa0\\xad'");
        assert_eq!(r("\u{2028}\u{200b}€"), "'\\u2028\\u200b€'");
        assert_eq!(r("\u{e000}\u{10ffff}😀"), "'\\ue000\\U0010ffff😀'");
        assert_eq!(r("\u{378}"), "'\\u0378'");
    }

    #[test]
    fn decimal_digits_as_python() {
        // str.isdecimal / int(): ASCII, Arabic-Indic (U+0660..), fullwidth (U+FF10..)
        assert_eq!(decimal('7'), Some(7));
        assert_eq!(decimal('\u{0669}'), Some(9));
        assert_eq!(decimal('\u{ff10}'), Some(0));
        assert_eq!(decimal('a'), None);
        assert_eq!(decimal('\u{b2}'), None); // superscript two: a digit, not a decimal
        assert_eq!(decimal('\u{66a}'), None);
    }
}
