//! Python's `repr` of floats and strings (CPython 3.11 `float_repr`, `unicode_repr`): alert ids
//! hash the `repr` of group keys, and messages format values with `str`.

use crate::unicode::{DECIMAL_ZEROS, NOT_PRINTABLE};

/// `repr(f)`: the shortest digits that read back as `f`, in fixed notation when the decimal
/// point falls within 16 digits of them, else as `d.ddde+XX`.
pub fn float_repr(f: f64, out: &mut String) {
    if f.is_nan() {
        out.push_str("nan");
        return;
    }
    if f.is_infinite() {
        out.push_str(if f > 0.0 { "inf" } else { "-inf" });
        return;
    }
    if f.is_sign_negative() {
        out.push('-');
    }
    let mut buf = ryu::Buffer::new();
    let (digits, decpt) = shortest(buf.format_finite(f.abs()));
    let n = digits.len() as i32;
    if decpt <= -4 || decpt > 16 {
        out.push_str(&digits[..1]);
        if n > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let exp = decpt - 1;
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let e = exp.unsigned_abs();
        if e < 10 {
            out.push('0');
        }
        out.push_str(itoa::Buffer::new().format(e));
    } else if decpt <= 0 {
        out.push_str("0.");
        for _ in 0..-decpt {
            out.push('0');
        }
        out.push_str(&digits);
    } else if decpt >= n {
        out.push_str(&digits);
        for _ in 0..decpt - n {
            out.push('0');
        }
        out.push_str(".0");
    } else {
        out.push_str(&digits[..decpt as usize]);
        out.push('.');
        out.push_str(&digits[decpt as usize..]);
    }
}

/// The significant digits of ryu's text and the position of the decimal point before them
/// (`0.d1d2... x 10**decpt`); zero is ("0", 1).
fn shortest(text: &str) -> (String, i32) {
    let (mant, exp) = match text.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (text, 0),
    };
    let (int_part, frac) = mant.split_once('.').unwrap_or((mant, ""));
    let mut decpt = int_part.len() as i32 + exp;
    let all: String = int_part.chars().chain(frac.chars()).collect();
    let lead = all.bytes().take_while(|&c| c == b'0').count();
    decpt -= lead as i32;
    let digits = all[lead..].trim_end_matches('0');
    if digits.is_empty() {
        return ("0".to_owned(), 1);
    }
    (digits.to_owned(), decpt)
}

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

    fn f(x: f64) -> String {
        let mut s = String::new();
        float_repr(x, &mut s);
        s
    }

    fn r(x: &str) -> String {
        let mut s = String::new();
        str_repr(x, &mut s);
        s
    }

    #[test]
    fn floats_as_python_repr() {
        // expected: repr() of the same floats in CPython 3.11
        assert_eq!(f(1.0), "1.0");
        assert_eq!(f(-0.0), "-0.0");
        assert_eq!(f(0.1), "0.1");
        assert_eq!(f(1e16), "1e+16");
        assert_eq!(f(1e15), "1000000000000000.0");
        assert_eq!(f(123456789012345678.0), "1.2345678901234568e+17");
        assert_eq!(f(0.0001), "0.0001");
        assert_eq!(f(0.00001), "1e-05");
        assert_eq!(f(1.5e-7), "1.5e-07");
        assert_eq!(f(5e-324), "5e-324");
        assert_eq!(f(1.7976931348623157e308), "1.7976931348623157e+308");
        assert_eq!(f(2.5), "2.5");
        assert_eq!(f(1704110400.123456), "1704110400.123456");
        assert_eq!(f(f64::NAN), "nan");
        assert_eq!(f(f64::NEG_INFINITY), "-inf");
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
