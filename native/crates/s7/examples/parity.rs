//! Replays stream fixtures of `native/tools/dump_streams.py` through the native S7 parser.
fn main() {
    icssa_core::parity::main_with(&|proto| (proto == icssa_s7::NAME).then(icssa_s7::parser));
}
