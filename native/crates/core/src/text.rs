//! Python's text conversions, as the parsers use them, and `repr` of floats.

/// `bytes.hex()`: lowercase, no separator.
pub fn hex(data: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(data.len() * 2);
    for &b in data {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

/// `bytes.decode("latin-1")`.
pub fn latin1(data: &[u8]) -> String {
    if data.is_ascii() {
        // ASCII is UTF-8 as it is: one copy, no per-character encoding
        return String::from_utf8_lossy(data).into_owned();
    }
    data.iter().map(|&b| b as char).collect()
}

/// `bytes.decode("utf-8", "replace")`: both replace each maximal invalid subpart with U+FFFD.
pub fn utf8_replace(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// `bytes.decode("ascii", "replace")`: every byte above 0x7F becomes U+FFFD.
pub fn ascii_replace(data: &[u8]) -> String {
    data.iter()
        .map(|&b| if b < 0x80 { b as char } else { '\u{FFFD}' })
        .collect()
}

/// `repr(bytes)`: `b'...'` (or `b"..."` when the bytes hold `'` and no `"`), with `\\t \\n \\r`,
/// `\\\\`, the quote escaped and other bytes outside 0x20-0x7E as `\\xNN`.
pub fn bytes_repr(data: &[u8]) -> String {
    let quote = if data.contains(&b'\'') && !data.contains(&b'"') {
        '"'
    } else {
        '\''
    };
    let mut s = String::with_capacity(data.len() + 3);
    s.push('b');
    s.push(quote);
    for &b in data {
        match b {
            b'\t' => s.push_str("\\t"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\\' => s.push_str("\\\\"),
            _ if b as char == quote => {
                s.push('\\');
                s.push(quote);
            }
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s.push(quote);
    s
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn f(x: f64) -> String {
        let mut s = String::new();
        float_repr(x, &mut s);
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
        assert_eq!(f(3.478953860461099e-05), "3.478953860461099e-05"); // orjson: 0.0000347...
        assert_eq!(f(1.5e-7), "1.5e-07");
        assert_eq!(f(5e-324), "5e-324");
        assert_eq!(f(1.7976931348623157e308), "1.7976931348623157e+308");
        assert_eq!(f(2.5), "2.5");
        assert_eq!(f(1704110400.123456), "1704110400.123456");
        assert_eq!(f(f64::NAN), "nan");
        assert_eq!(f(f64::NEG_INFINITY), "-inf");
    }

    #[test]
    fn conversions() {
        assert_eq!(hex(&[0x01, 0xab]), "01ab");
        assert_eq!(latin1(&[0x41, 0xe9]), "Aé");
        // Python: b"a\xff\xe2\x82b".decode("utf-8", "replace") == "a\ufffd\ufffdb"
        assert_eq!(utf8_replace(b"a\xff\xe2\x82b"), "a\u{fffd}\u{fffd}b");
        assert_eq!(ascii_replace(b"a\xffb"), "a\u{fffd}b");
        // Python: repr(b"a'\\\t\x00\x7f") and repr(b"'\"")
        assert_eq!(bytes_repr(b"a'\\\t\x00\x7f"), r#"b"a'\\\t\x00\x7f""#);
        assert_eq!(bytes_repr(b"'\""), r#"b'\'"'"#);
    }
}
