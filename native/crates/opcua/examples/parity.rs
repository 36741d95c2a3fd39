//! Replays `native/tools/dump_streams.py` fixtures through the native OPC UA parser and compares
//! every answer with the Python parser's: `cargo run --release -p icssa-opcua --example parity --
//! /tmp/icssa-streams/opcua.jsonl`.

fn main() {
    icssa_core::parity::main_with(&|proto| (proto == icssa_opcua::NAME).then(icssa_opcua::parser));
}
