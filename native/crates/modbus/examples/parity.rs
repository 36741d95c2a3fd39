//! Replays `native/tools/dump_streams.py` fixtures through the native Modbus parser and
//! compares every answer with the Python parser's: `cargo run --release -p icssa-modbus
//! --example parity -- /tmp/icssa-streams/modbus.jsonl`.

fn main() {
    icssa_core::parity::main_with(&|proto| (proto == "modbus").then(icssa_modbus::parser));
}
