//! The asset map of icssa's native core: a port of `assetmap/` (inventory, identity, roles,
//! communication graph, zones and exposure from ICS protocol events), byte for byte the same
//! outputs as the Python asset map.
//!
//! `AssetMap::from_config` takes what Python reads from files (site, advisories, fingerprint,
//! vendor and OUI tables: `native/tools/assetmap_config.py`); `observe` takes each event;
//! `assets_json` / `graph_json` give `assets.json` and `graph.json` as the replay writes them;
//! `zone_of` answers the correlation engine's zone questions.
//!
//! Layers, one module each, as in Python: `ingest` (per event) with `links` (what is kept per
//! flow), `store` (bounded records and edges: `units`, in a `slab`) with `lru`, `clock` (event time), `identity`
//! (claims), `ops`, `evidence`; `snapshot` (records folded into assets, `grouping`), `record`,
//! `roles`, `exposure`; `levels` (the zone of one address without a snapshot); data: `site`,
//! `fingerprints`, `advisories` and `versions`, `vendors`, `oui`; `pyre` runs Python regexes,
//! `pytext` Python's text forms, `pretty` writes orjson's indented JSON.

mod advisories;
mod clock;
mod config;
mod evidence;
mod exposure;
mod fingerprints;
mod grouping;
mod identity;
mod ingest;
mod inventory;
mod levels;
mod links;
mod lru;
mod ops;
mod oui;
mod pretty;
mod pyre;
mod pytext;
mod record;
mod roles;
mod site;
mod slab;
mod snapshot;
mod store;
mod units;
mod vendors;
mod versions;

pub use config::value_from_json;
pub use inventory::{AssetMap, Stats};
pub use pretty::write_pretty;
pub use site::ZoneInfo;
