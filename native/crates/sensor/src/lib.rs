//! icssa's native sensor: a port of the Python packet path (`sensors/`), byte for byte.
//!
//! - `capture`: pcap and pcapng readers streamed in 1 MiB blocks (`sensors/capture.py`);
//! - `decode`: link types, VLAN tags, IPv6 extension headers (`sensors/decode.py`);
//! - `ipfrag`: IPv4/IPv6 fragment reassembly (`sensors/ipfrag.py`);
//! - `flows`: flows and TCP reassembly (`sensors/flows.py`);
//! - `engine`, `table`, `deliver`: the `Sensor` (`sensors/engine.py`);
//! - `output`: events, Community ID, address texts (`sensors/output.py`);
//! - `time`: ISO 8601 timestamps (`Timestamps` of `icssa/events.py`);
//! - `registry`: the protocols compiled in (`parsers.registry()`);
//! - `pipeline`: `capture_id`, `expand`, `run_capture` and the replay summary
//!   (`icssa/pipeline.py`).
//!
//! Use: `Sensor::new(observer, organization, capture_id, max_flows)`, then
//! `sensor.packet(ts_ns, linktype, data)` per packet and `sensor.finish()` at the end; events
//! collect inside the sensor in emission order and are taken with `take_events` or
//! `drain_events` (after each packet, or in batches: nothing else reads them). `stats`,
//! `actions`, `messages`, `parse_errors` give Python's counters in their insertion order,
//! `take_log` the warnings Python logs (logger `icssa.sensor`, level WARNING, same text).

pub mod capture;
pub mod decode;
mod deliver;
pub mod engine;
pub mod flows;
pub mod ipfrag;
pub mod output;
pub mod pipeline;
pub mod registry;
pub mod stats;
mod table;
pub mod time;

pub use capture::{open_capture, Capture, CaptureError, Packet};
pub use engine::Sensor;
pub use pipeline::{capture_id, expand, run_capture, Summary};
pub use registry::{registry, ProtocolSpec};
