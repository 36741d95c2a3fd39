//! Values as the Python engine sees them: what a field read gives (`Val`, with `MISSING` for an
//! absent field), the hashable form group keys hold (`KV`, `correlation.fields.hashable`), and
//! Python's equality between them (`1 == 1.0 == True`, ints and floats compared exactly).

use icssa_core::json::{Map, Value};
use std::borrow::Cow;
use std::cmp::Ordering;
use std::hash::{Hash, Hasher};
use std::rc::Rc;

/// A value read from an event (`correlation.fields.getter`): borrowed from the event, except
/// zone names (shared text) and envelope objects the native event does not hold as maps.
#[derive(Debug, Clone)]
pub enum Val<'a> {
    /// the field is absent (`MISSING`)
    Missing,
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(&'a str),
    Text(Rc<str>),
    List(&'a [Value]),
    /// the values found through a list (`walk` fans out): a Python list
    Found(Vec<&'a Value>),
    Map(&'a Map),
    OwnedMap(Box<Map>),
}

impl<'a> Val<'a> {
    /// The value of a JSON node.
    pub fn of(v: &'a Value) -> Val<'a> {
        match v {
            Value::Null => Val::Null,
            Value::Bool(b) => Val::Bool(*b),
            Value::Int(i) => Val::Int(i128::from(*i)),
            Value::UInt(u) => Val::Int(i128::from(*u)),
            Value::Float(f) => Val::Float(*f),
            Value::Str(s) => Val::Str(s),
            Value::List(l) => Val::List(l),
            Value::Map(m) => Val::Map(m),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Val::Str(s) => Some(s),
            Val::Text(s) => Some(s),
            _ => None,
        }
    }

    /// A Python list (a list value, or values found through one).
    pub fn is_list(&self) -> bool {
        matches!(self, Val::List(_) | Val::Found(_))
    }

    pub fn is_map(&self) -> bool {
        matches!(self, Val::Map(_) | Val::OwnedMap(_))
    }

    /// The elements of a list value.
    pub fn elements(&self) -> Vec<Val<'_>> {
        match self {
            Val::List(l) => l.iter().map(Val::of).collect(),
            Val::Found(f) => f.iter().map(|v| Val::of(v)).collect(),
            _ => Vec::new(),
        }
    }

    /// `MISSING` or None.
    pub fn is_none(&self) -> bool {
        matches!(self, Val::Missing | Val::Null)
    }

    /// `conditions.present`: not MISSING, not None, not an empty list.
    pub fn present(&self) -> bool {
        match self {
            Val::Missing | Val::Null => false,
            Val::List(l) => !l.is_empty(),
            Val::Found(f) => !f.is_empty(),
            _ => true,
        }
    }

    /// A number of Python's (int or float, bool excluded): `conditions.is_num`.
    pub fn num(&self) -> Option<Num> {
        match *self {
            Val::Int(i) => Some(Num::Int(i)),
            Val::Float(f) => Some(Num::Float(f)),
            _ => None,
        }
    }

    /// `hashable(value)`: the value as a group key holds it (lists as tuples, mappings as
    /// sorted (key, value) pairs, MISSING as None).
    pub fn hashable(&self) -> KV<Cow<'a, str>> {
        match self {
            Val::Missing | Val::Null => KV::None,
            Val::Bool(b) => KV::Bool(*b),
            Val::Int(i) => KV::Int(*i),
            Val::Float(f) => KV::Float(*f),
            Val::Str(s) => KV::Str(Cow::Borrowed(s)),
            Val::Text(s) => KV::Str(Cow::Owned(s.to_string())),
            Val::List(l) => KV::Tuple(l.iter().map(hashable_value).collect()),
            Val::Found(f) => KV::Tuple(f.iter().map(|v| hashable_value(v)).collect()),
            Val::Map(m) => pairs(m),
            Val::OwnedMap(m) => match pairs(m) {
                KV::Tuple(items) => KV::Tuple(items.into_iter().map(KV::into_owned_cow).collect()),
                other => other.into_owned_cow(),
            },
        }
    }
}

fn hashable_value(v: &Value) -> KV<Cow<'_, str>> {
    Val::of(v).hashable()
}

fn pairs(m: &Map) -> KV<Cow<'_, str>> {
    let mut items: Vec<(&str, &Value)> = m.iter().map(|(k, v)| (k.as_ref(), v)).collect();
    items.sort_by(|a, b| a.0.cmp(b.0));
    KV::Tuple(
        items
            .into_iter()
            .map(|(k, v)| KV::Tuple(vec![KV::Str(Cow::Borrowed(k)), hashable_value(v)]))
            .collect(),
    )
}

/// A Python number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Num {
    Int(i128),
    Float(f64),
}

impl Num {
    /// Python's comparison of two numbers (exact between ints and floats; None with a NaN).
    pub fn py_cmp(self, other: Num) -> Option<Ordering> {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => Some(a.cmp(&b)),
            (Num::Float(a), Num::Float(b)) => a.partial_cmp(&b),
            (Num::Int(a), Num::Float(b)) => int_float_cmp(a, b),
            (Num::Float(a), Num::Int(b)) => int_float_cmp(b, a).map(Ordering::reverse),
        }
    }

    pub fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }
}

/// `i` compared with `f` exactly, as Python compares an int with a float.
pub fn int_float_cmp(i: i128, f: f64) -> Option<Ordering> {
    if f.is_nan() {
        return None;
    }
    const LIMIT: f64 = 170_141_183_460_469_231_731_687_303_715_884_105_728.0; // 2**127
    let fl = f.floor();
    if fl >= LIMIT {
        return Some(Ordering::Less);
    }
    if fl < -LIMIT {
        return Some(Ordering::Greater);
    }
    match i.cmp(&(fl as i128)) {
        Ordering::Equal if f != fl => Some(Ordering::Less),
        o => Some(o),
    }
}

/// A hashable value as group keys and distinct-value sets hold it; `S` is its text (borrowed
/// from an event while looking up, owned once stored).
#[derive(Debug, Clone)]
pub enum KV<S> {
    None,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(S),
    Tuple(Vec<KV<S>>),
}

/// A key value as stored.
pub type Owned = KV<Box<str>>;

impl<S: AsRef<str>> KV<S> {
    /// Python's `==` (numbers across int, float and bool; NaN equal to itself here, as the
    /// same object is to itself in a Python dict).
    pub fn py_eq<T: AsRef<str>>(&self, other: &KV<T>) -> bool {
        match (self, other) {
            (KV::None, KV::None) => true,
            (KV::Str(a), KV::Str(b)) => a.as_ref() == b.as_ref(),
            (KV::Tuple(a), KV::Tuple(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.py_eq(y))
            }
            _ => match (self.number(), other.number()) {
                (Some(Num::Float(a)), Some(Num::Float(b))) if a.is_nan() && b.is_nan() => true,
                (Some(a), Some(b)) => a.py_cmp(b) == Some(Ordering::Equal),
                _ => false,
            },
        }
    }

    fn number(&self) -> Option<Num> {
        match *self {
            KV::Bool(b) => Some(Num::Int(i128::from(b))),
            KV::Int(i) => Some(Num::Int(i)),
            KV::Float(f) => Some(Num::Float(f)),
            _ => None,
        }
    }

    /// Hashes consistently with `py_eq` (equal numbers hash alike whatever their type).
    pub fn py_hash<H: Hasher>(&self, h: &mut H) {
        match self {
            KV::None => h.write_u8(0),
            KV::Str(s) => {
                h.write_u8(1);
                s.as_ref().hash(h);
            }
            KV::Tuple(items) => {
                h.write_u8(2);
                h.write_usize(items.len());
                for x in items {
                    x.py_hash(h);
                }
            }
            _ => match self.number() {
                Some(Num::Int(i)) => {
                    h.write_u8(3);
                    h.write_i128(i);
                }
                Some(Num::Float(f)) => {
                    if f.is_finite() && f == f.floor() && f.abs() < 1.0e38 {
                        h.write_u8(3);
                        h.write_i128(f as i128);
                    } else {
                        h.write_u8(4);
                        h.write_u64(if f.is_nan() { 0 } else { f.to_bits() });
                    }
                }
                None => h.write_u8(5),
            },
        }
    }

    pub fn to_owned_kv(&self) -> Owned {
        match self {
            KV::None => KV::None,
            KV::Bool(b) => KV::Bool(*b),
            KV::Int(i) => KV::Int(*i),
            KV::Float(f) => KV::Float(*f),
            KV::Str(s) => KV::Str(s.as_ref().into()),
            KV::Tuple(items) => KV::Tuple(items.iter().map(KV::to_owned_kv).collect()),
        }
    }

    /// The value in an alert document (`document._plain`: tuples as lists).
    pub fn to_value(&self) -> Value {
        match self {
            KV::None => Value::Null,
            KV::Bool(b) => Value::Bool(*b),
            KV::Int(i) => int_value(*i),
            KV::Float(f) => Value::Float(*f),
            KV::Str(s) => Value::Str(s.as_ref().to_owned().into()),
            KV::Tuple(items) => Value::List(items.iter().map(KV::to_value).collect()),
        }
    }

    /// Python's `repr`.
    pub fn repr(&self, out: &mut String) {
        match self {
            KV::None => out.push_str("None"),
            KV::Bool(true) => out.push_str("True"),
            KV::Bool(false) => out.push_str("False"),
            KV::Int(i) => out.push_str(itoa::Buffer::new().format(*i)),
            KV::Float(f) => icssa_core::text::float_repr(*f, out),
            KV::Str(s) => crate::pyfmt::str_repr(s.as_ref(), out),
            KV::Tuple(items) => tuple_repr(items, out),
        }
    }
}

impl<'a> KV<Cow<'a, str>> {
    fn into_owned_cow(self) -> KV<Cow<'static, str>> {
        match self {
            KV::None => KV::None,
            KV::Bool(b) => KV::Bool(b),
            KV::Int(i) => KV::Int(i),
            KV::Float(f) => KV::Float(f),
            KV::Str(s) => KV::Str(Cow::Owned(s.into_owned())),
            KV::Tuple(items) => KV::Tuple(items.into_iter().map(KV::into_owned_cow).collect()),
        }
    }
}

/// Python's `repr` of a tuple of these values.
pub fn tuple_repr<S: AsRef<str>>(items: &[KV<S>], out: &mut String) {
    out.push('(');
    for (i, x) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        x.repr(out);
    }
    if items.len() == 1 {
        out.push(',');
    }
    out.push(')');
}

/// An int as the JSON writer takes it.
pub fn int_value(i: i128) -> Value {
    match i64::try_from(i) {
        Ok(v) => Value::Int(v),
        Err(_) => match u64::try_from(i) {
            Ok(u) => Value::UInt(u),
            Err(_) => Value::Float(i as f64),
        },
    }
}

/// Python's `str(value)` of a value read from an event (f-strings, `str(eid)`).
pub fn py_str(v: &Val, out: &mut String) {
    match v {
        Val::Str(s) => out.push_str(s),
        Val::Text(s) => out.push_str(s),
        other => py_repr(other, out),
    }
}

/// Python's `repr` of a value read from an event.
pub fn py_repr(v: &Val, out: &mut String) {
    match v {
        Val::Missing => out.push_str("MISSING"),
        Val::Null => out.push_str("None"),
        Val::Bool(true) => out.push_str("True"),
        Val::Bool(false) => out.push_str("False"),
        Val::Int(i) => out.push_str(itoa::Buffer::new().format(*i)),
        Val::Float(f) => icssa_core::text::float_repr(*f, out),
        Val::Str(s) => crate::pyfmt::str_repr(s, out),
        Val::Text(s) => crate::pyfmt::str_repr(s, out),
        Val::List(_) | Val::Found(_) => {
            out.push('[');
            for (i, x) in v.elements().iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                py_repr(x, out);
            }
            out.push(']');
        }
        Val::Map(m) => map_repr(m, out),
        Val::OwnedMap(m) => map_repr(m, out),
    }
}

fn map_repr(m: &Map, out: &mut String) {
    out.push('{');
    for (i, (k, x)) in m.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        crate::pyfmt::str_repr(k, out);
        out.push_str(": ");
        py_repr(&Val::of(x), out);
    }
    out.push('}');
}

/// Python truthiness.
pub fn truthy(v: &Val) -> bool {
    match v {
        Val::Missing | Val::Null => false,
        Val::Bool(b) => *b,
        Val::Int(i) => *i != 0,
        Val::Float(f) => *f != 0.0,
        Val::Str(s) => !s.is_empty(),
        Val::Text(s) => !s.is_empty(),
        Val::List(l) => !l.is_empty(),
        Val::Found(f) => !f.is_empty(),
        Val::Map(m) => !m.is_empty(),
        Val::OwnedMap(m) => !m.is_empty(),
    }
}

/// The JSON value of a value read from an event (alert documents copy some).
pub fn to_json(v: &Val) -> Value {
    match v {
        Val::Missing | Val::Null => Value::Null,
        Val::Bool(b) => Value::Bool(*b),
        Val::Int(i) => int_value(*i),
        Val::Float(f) => Value::Float(*f),
        Val::Str(s) => Value::Str((*s).to_owned().into()),
        Val::Text(s) => Value::Str(s.to_string().into()),
        Val::List(l) => Value::List(l.to_vec()),
        Val::Found(f) => Value::List(f.iter().map(|v| (*v).clone()).collect()),
        Val::Map(m) => Value::Map((*m).clone()),
        Val::OwnedMap(m) => Value::Map((**m).clone()),
    }
}

/// A group key: `(organization.id, *values)`, owned.
pub type Key = Box<[Owned]>;

/// Hash of a key's values, consistent between owned and borrowed text.
pub fn base_hash<S: AsRef<str>>(key: &[KV<S>]) -> u64 {
    let mut h =
        std::hash::BuildHasher::build_hasher(&foldhash::fast::FixedState::with_seed(0x1c55a));
    h.write_usize(key.len());
    for x in key {
        x.py_hash(&mut h);
    }
    h.finish()
}

/// The hash of a key under a tag (a rule number, or 0), from the hash of its values.
pub fn tagged(base: u64, tag: u32) -> u64 {
    base ^ u64::from(tag).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// `a == b` for keys.
pub fn key_eq<A: AsRef<str>, B: AsRef<str>>(a: &[KV<A>], b: &[KV<B>]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.py_eq(y))
}

impl Hash for KV<Box<str>> {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.py_hash(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use icssa_core::map;

    fn kv(v: &Val) -> KV<Cow<'static, str>> {
        match v.hashable() {
            KV::Str(s) => KV::Str(Cow::Owned(s.into_owned())),
            other => other.to_owned_kv().into_cow(),
        }
    }

    impl KV<Box<str>> {
        fn into_cow(self) -> KV<Cow<'static, str>> {
            match self {
                KV::None => KV::None,
                KV::Bool(b) => KV::Bool(b),
                KV::Int(i) => KV::Int(i),
                KV::Float(f) => KV::Float(f),
                KV::Str(s) => KV::Str(Cow::Owned(s.into())),
                KV::Tuple(t) => KV::Tuple(t.into_iter().map(KV::into_cow).collect()),
            }
        }
    }

    fn hash(k: &KV<Cow<str>>) -> u64 {
        base_hash(std::slice::from_ref(k))
    }

    #[test]
    fn numbers_compare_as_in_python() {
        // Python: True == 1 == 1.0; 2**53 + 1 != float(2**53); "1" != 1
        let (t, one, onef) = (kv(&Val::Bool(true)), kv(&Val::Int(1)), kv(&Val::Float(1.0)));
        assert!(t.py_eq(&one) && one.py_eq(&onef) && t.py_eq(&onef));
        assert_eq!(hash(&t), hash(&one));
        assert_eq!(hash(&one), hash(&onef));
        assert_eq!(hash(&kv(&Val::Float(-0.0))), hash(&kv(&Val::Int(0))));
        let big = (1i128 << 53) + 1;
        assert!(!kv(&Val::Int(big)).py_eq(&kv(&Val::Float(9007199254740992.0))));
        assert!(!kv(&Val::Str("1")).py_eq(&one));
        assert_eq!(
            int_float_cmp(big, 9007199254740992.0),
            Some(Ordering::Greater)
        );
        assert_eq!(int_float_cmp(3, 3.5), Some(Ordering::Less));
        assert_eq!(int_float_cmp(-4, -3.5), Some(Ordering::Less));
        assert_eq!(int_float_cmp(i128::MAX, 1e40), Some(Ordering::Less));
        assert_eq!(
            int_float_cmp(-5, f64::NEG_INFINITY),
            Some(Ordering::Greater)
        );
        assert_eq!(int_float_cmp(0, f64::NAN), None);
    }

    #[test]
    fn hashable_values_and_their_repr() {
        // Python: repr(hashable({"b": 1, "a": [1, 2.5, None, True]})) and repr(("default",))
        let m = map! {"b" => 1u8, "a" => Value::List(vec![1u8.into(), 2.5.into(), Value::Null, true.into()])};
        let mut s = String::new();
        Val::Map(&m).hashable().repr(&mut s);
        assert_eq!(s, "(('a', (1, 2.5, None, True)), ('b', 1))");
        let mut s = String::new();
        tuple_repr(&[KV::Str("default")], &mut s);
        assert_eq!(s, "('default',)");
        assert!(matches!(Val::Missing.hashable(), KV::None));
    }

    #[test]
    fn str_and_repr_of_event_values() {
        // Python: str() of the same values
        let l = Value::List(vec![
            1u8.into(),
            "a".into(),
            Value::Null,
            true.into(),
            1.5.into(),
            Value::Map(map! {"k" => "v"}),
        ]);
        let mut s = String::new();
        py_str(&Val::of(&l), &mut s);
        assert_eq!(s, "[1, 'a', None, True, 1.5, {'k': 'v'}]");
        let mut s = String::new();
        py_str(&Val::Str("x'y"), &mut s);
        assert_eq!(s, "x'y");
        let mut s = String::new();
        py_str(&Val::Float(1e16), &mut s);
        assert_eq!(s, "1e+16");
        assert!(
            !truthy(&Val::Float(0.0)) && truthy(&Val::Str("0")) && !truthy(&Val::Found(Vec::new()))
        );
    }
}
