//! Shared types of icssa's native core.
//!
//! - `json`: ordered JSON values written byte for byte as orjson writes the Python path's objects;
//! - `parser`: the `Protocol` contract and the `StreamParser` driver (a port of `parsers/base.py`);
//! - `text`: Python's text conversions the parsers rely on (bytes.hex, decode with replacement).

pub mod event;
pub mod json;
pub mod parser;
pub mod text;

pub use json::{Map, Text, Value};
pub use parser::{
    Decoded, Errors, Message, ParseError, Parser, Protocol, StreamParser, NEED_MORE, NOT_PROTOCOL,
};
#[cfg(feature = "parity")]
pub mod parity;
