//! The lower layers of the OPC UA binary parser of icssa's native core, one module per Python
//! module of `parsers/opcua/`:
//!
//! - `scalars`: fixed-width and length-prefixed built-in types (Python's `Cursor`);
//! - `types`: the `Reader`, NodeId family, QualifiedName, LocalizedText, ExtensionObject;
//! - `values`: Variant, DataValue, DiagnosticInfo (depth-bounded) and DateTime text;
//! - `ids`: service and enumeration tables; `statuscodes`: StatusCode names;
//! - `nodes`: View, Attribute and Method service bodies.
//!
//! The `Reader` methods answer `Err(ParseError)` where the Python raises, with the same reason
//! and detail, and values as the Python objects end up in events (`icssa_core::Value`).

pub mod ids;
pub mod nodes;
pub mod scalars;
pub mod statuscodes;
pub mod types;
pub mod values;

pub use icssa_core::parser::{Decoded, ParseError};
pub use types::Reader;
