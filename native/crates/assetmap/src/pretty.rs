//! JSON as `orjson.dumps(obj, option=OPT_INDENT_2)` writes it (`icssa.sinks.write_json`): two
//! spaces per level, `": "` between key and value, empty lists and objects as `[]` and `{}`,
//! no newline at the end; scalars as `icssa_core::json::write` writes them.

use icssa_core::json::{write, write_str};
use icssa_core::Value;

fn newline(out: &mut Vec<u8>, depth: usize) {
    out.push(b'\n');
    out.resize(out.len() + 2 * depth, b' ');
}

/// Appends the indented JSON of `v` (at nesting `depth`) to `out`.
pub fn write_pretty(out: &mut Vec<u8>, v: &Value, depth: usize) {
    match v {
        Value::List(items) if !items.is_empty() => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                newline(out, depth + 1);
                write_pretty(out, item, depth + 1);
            }
            newline(out, depth);
            out.push(b']');
        }
        Value::Map(map) if !map.is_empty() => {
            out.push(b'{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                newline(out, depth + 1);
                write_str(out, k);
                out.extend_from_slice(b": ");
                write_pretty(out, item, depth + 1);
            }
            newline(out, depth);
            out.push(b'}');
        }
        scalar => write(out, scalar),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use icssa_core::{map, Map};

    #[test]
    fn indent_2_as_orjson() {
        // expected: orjson.dumps(obj, option=orjson.OPT_INDENT_2) of the same Python object
        let v = Value::Map(map! {
            "a" => Value::List(vec![Value::Int(1), Value::Map(map! {"b" => Value::Null})]),
            "e" => Value::List(vec![]),
            "f" => Map::new(),
            "g" => 1.5,
        });
        let mut out = Vec::new();
        write_pretty(&mut out, &v, 0);
        let want = "{\n  \"a\": [\n    1,\n    {\n      \"b\": null\n    }\n  ],\n  \"e\": [],\n  \
                    \"f\": {},\n  \"g\": 1.5\n}";
        assert_eq!(String::from_utf8(out).unwrap(), want);
    }
}
