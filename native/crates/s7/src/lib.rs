//! Siemens S7 on ISO-on-TCP (port 102) for icssa's native core: TPKT + COTP + S7comm (0x32) or
//! S7comm-plus (0x72), a port of `parsers/s7comm.py` and the modules it builds on, message for
//! message and error for error.
//!
//! Layers, as in the Python: `cotp` (TPKT framing, COTP, DT reassembly), `job` (job / ack_data
//! functions), `userdata` (userdata groups), `szl` (identity from SZL answers), `plus`
//! (S7comm-plus), `probe` (payload signature), `names` (value tables, generated), `s7comm` (the
//! per-flow parser and its messages), `pending` (requests awaiting answers), `fragments`
//! (userdata reassembly).

mod cotp;
mod fragments;
mod job;
mod names;
mod ordered;
mod pending;
mod plus;
mod probe;
mod py;
mod s7comm;
mod szl;
mod userdata;

pub use probe::probe;
pub use s7comm::S7Protocol;

/// `ProtocolSpec.name`.
pub const NAME: &str = "s7comm";
/// `ProtocolSpec.ports`.
pub const PORTS: &[u16] = &[102];

/// `ProtocolSpec.parser()`: one instance per TCP flow.
pub fn parser() -> Box<dyn icssa_core::Parser> {
    Box::new(icssa_core::StreamParser::new(S7Protocol::new()))
}
