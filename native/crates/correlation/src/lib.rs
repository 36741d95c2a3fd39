//! The correlation engine of icssa's native core: a port of `correlation/` (rules over the
//! event stream, stateful detectors, alert aggregation and suppression, ATT&CK tags).
//!
//! Rules stay Python's to load and check: `native/tools/correlation_rules.py` dumps what the
//! engine is built from as one JSON document, read by `Engine::from_rules`. Then, as
//! `icssa/pipeline.py` does: `engine.process(&event, &mut context)` for every event (after the
//! asset map has seen it), writing the alerts it returns in order, and `engine.flush()` at the
//! end. Alerts are `Map`s written with `icssa_core::json::write_map`, as orjson writes the
//! Python engine's documents.
//!
//! | module | Python |
//! |---|---|
//! | `engine`, `dispatch` | `correlation/engine.py`, `plans.py` |
//! | `bucket`, `compiler`, `matching`, `cond`, `parse`, `pyre`, `net` | `compiler.py` (what its code does), `matching.py`, `conditions.py` |
//! | `detectors`, `threshold`, `sequence`, `baselines`, `keys`, `linked` | `detectors.py`, `baselines.py`, `fields.make_keyfn`, dict order |
//! | `alerts`, `document`, `limits` | `alerts.py`, `document.py`, the caps of each module |
//! | `context`, `view`, `sensor`, `clock`, `isoformat`, `value`, `pyfmt` | `context.py`, `fields.py`, Python's `datetime`, values and `repr` |

pub mod alerts;
pub mod baselines;
pub mod bucket;
pub mod clock;
pub mod compiler;
pub mod cond;
pub mod context;
pub mod detectors;
pub mod dispatch;
pub mod document;
pub mod engine;
pub mod isoformat;
pub mod keys;
pub mod limits;
pub mod linked;
pub mod matching;
pub mod net;
pub mod parse;
pub mod pyfmt;
pub mod pyre;
pub mod rules;
pub mod sensor;
pub mod sequence;
pub mod threshold;
mod unicode;
pub mod value;
pub mod view;

pub use context::{Answer, NoContext, StaticZones, ZoneContext};
pub use engine::{Engine, Stats, DEFAULT_BASELINE_SECONDS};
pub use limits::Limits;
pub use view::{EventView, JsonEvent};
