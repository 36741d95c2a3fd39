//! Python's text and number forms that the asset map's output depends on: `str.strip()` (its
//! whitespace includes U+001C..U+001F, Rust's does not), `str(value)` of identity values,
//! `repr(float)`, `round(x, 3)`, `format(x, "g")`, and dict-key equality (`1 == 1.0`).

use icssa_core::Value;
use std::borrow::Cow;

/// `str.isspace()` of one character: Unicode White_Space plus the information separators.
pub fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// `s.strip()`.
pub fn strip(s: &str) -> &str {
    s.trim_matches(is_space)
}

/// `repr(f)` (`icssa_core::text::float_repr`) as a new string.
pub fn float_repr(f: f64) -> String {
    let mut s = String::new();
    icssa_core::text::float_repr(f, &mut s);
    s
}

/// `str(value)` of an identity value (strings, ints, floats; None for anything else).
pub fn py_str(v: &Value) -> Option<Cow<'_, str>> {
    match v {
        Value::Str(s) => Some(Cow::Borrowed(s)),
        Value::Int(i) => Some(Cow::Owned(i.to_string())),
        Value::UInt(u) => Some(Cow::Owned(u.to_string())),
        Value::Float(f) => Some(Cow::Owned(float_repr(*f))),
        Value::Bool(b) => Some(Cow::Borrowed(if *b { "True" } else { "False" })),
        Value::Null => Some(Cow::Borrowed("None")),
        Value::List(_) | Value::Map(_) => None,
    }
}

fn int_of(v: &Value) -> Option<i128> {
    match *v {
        Value::Int(i) => Some(i.into()),
        Value::UInt(u) => Some(u.into()),
        Value::Bool(b) => Some(b.into()),
        _ => None,
    }
}

/// Python `a == b` for the scalar values an identity holds (ints and floats compare exactly).
pub fn py_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::Float(f), other) | (other, Value::Float(f)) => match int_of(other) {
            Some(i) => f.is_finite() && f.fract() == 0.0 && f.abs() < 1e38 && *f as i128 == i,
            None => false,
        },
        _ => match (int_of(a), int_of(b)) {
            (Some(x), Some(y)) => x == y,
            _ => a == b,
        },
    }
}

/// `round(x, 3)`: the correctly rounded decimal (ties to even on the exact binary value), read
/// back as a float.
pub fn round3(x: f64) -> f64 {
    if !x.is_finite() {
        return x;
    }
    format!("{x:.3}").parse().unwrap_or(x)
}

/// `format(x, "g")`: six significant digits, trailing zeros dropped, exponent form outside
/// 1e-4 <= |x| < 1e6.
pub fn fmt_g(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let sci = format!("{x:.5e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..6).contains(&exp) {
        let decimals = (5 - exp).max(0) as usize;
        let fixed = format!("{x:.decimals$}");
        trim_zeros(&fixed).to_owned()
    } else {
        let m = trim_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{m}e{sign}{:02}", exp.abs())
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_uses_python_whitespace() {
        assert_eq!(strip("\u{1c} a b\u{1f}\u{3000}"), "a b");
        assert_eq!(strip("\u{180e}x"), "\u{180e}x"); // not whitespace since Unicode 6.3
    }

    #[test]
    fn float_forms() {
        // expected: Python 3.11 repr / format(x, "g") / round(x, 3)
        assert_eq!(float_repr(1e-7), "1e-07");
        assert_eq!(float_repr(1e16), "1e+16");
        assert_eq!(float_repr(1e-100), "1e-100");
        assert_eq!(float_repr(3.1), "3.1");
        assert_eq!(float_repr(2.0), "2.0");
        // repr(1.5e-05) in CPython 3.11: exponent form below 1e-4, where orjson writes 0.000015
        assert_eq!(float_repr(1.5e-5), "1.5e-05");
        assert_eq!(fmt_g(1.0), "1");
        assert_eq!(fmt_g(3.5), "3.5");
        assert_eq!(fmt_g(0.0001), "0.0001");
        assert_eq!(fmt_g(0.00001), "1e-05");
        assert_eq!(fmt_g(123456.0), "123456");
        assert_eq!(fmt_g(1234567.0), "1.23457e+06");
        assert_eq!(fmt_g(2.25), "2.25");
        assert_eq!(round3(0.0625), 0.062);
        assert_eq!(round3(0.1875), 0.188);
        assert_eq!(round3(0.95), 0.95);
    }

    #[test]
    fn dict_key_equality() {
        assert!(py_eq(&Value::Int(1), &Value::Float(1.0)));
        assert!(py_eq(&Value::UInt(7), &Value::Int(7)));
        assert!(!py_eq(&Value::Int(1), &Value::Float(1.5)));
        assert!(!py_eq(&Value::Str("1".into()), &Value::Int(1)));
    }
}
