//! `AssetMap`: the asset inventory and communication graph, fed one event at a time (a port of
//! `assetmap/inventory.py`).
//!
//! `observe(event)` does the per-event work (`ingest`). Everything else (assets from records,
//! roles, Purdue levels, fingerprints, advisories, exposure findings, the graph) is computed when
//! read (`assets`, `graph_node_link`, `findings`) and kept until the next event. `zone_of(ip)`,
//! asked per event by correlation, looks only at the asset at that address and its peers
//! (`levels`), never at the whole inventory.

use crate::advisories::AdvisoryStore;
use crate::clock::EventClock;
use crate::fingerprints::Fingerprints;
use crate::oui::OuiTable;
use crate::pretty::write_pretty;
use crate::site::{zone_info, Site, ZoneInfo};
use crate::snapshot::{self, Context, Snapshot};
use crate::store::Store;
use crate::vendors::Vendors;
use icssa_core::{Map, Value};

/// The counters of `AssetMap.stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub events: u64,
    pub skipped: u64,
    pub records: usize,
    pub edges: usize,
    pub evicted_records: u64,
    pub evicted_edges: u64,
    pub capped_unit_edges: u64,
    pub capped_units_per_ip: u64,
    pub capped_protocols: u64,
}

/// What an asset map is made of (`AssetMap.__init__`'s arguments, and its data tables).
pub struct Config {
    pub site: Option<Site>,
    pub advisories: Option<AdvisoryStore>,
    pub max_assets: usize,
    pub max_edges: usize,
    pub fingerprints: Fingerprints,
    pub vendors: Vendors,
    pub oui: OuiTable,
}

/// Inventory, communication graph, zones and exposure from ICS protocol events.
pub struct AssetMap {
    pub(crate) store: Store,
    pub(crate) oui: OuiTable,
    pub(crate) events: u64,
    pub(crate) skipped: u64,
    pub(crate) clock: EventClock,
    site: Option<Site>,
    advisories: Option<AdvisoryStore>,
    fingerprints: Fingerprints,
    vendors: Vendors,
    /// the read-out, and `events` when it was made (valid until the next event)
    snapshot: Option<(u64, Snapshot)>,
}

impl AssetMap {
    /// Errors as Python's constructor raises them (`max_assets` below 2, `max_edges` below 1).
    pub(crate) fn new(config: Config) -> Result<AssetMap, String> {
        if config.max_assets < 2 {
            return Err("max_assets must be at least 2 (one message names two hosts)".into());
        }
        if config.max_edges < 1 {
            return Err("max_units and max_edges must be positive".into());
        }
        Ok(AssetMap {
            store: Store::new(config.max_assets, config.max_edges),
            oui: config.oui,
            events: 0,
            skipped: 0,
            clock: EventClock::default(),
            site: config.site,
            advisories: config.advisories,
            fingerprints: config.fingerprints,
            vendors: config.vendors,
            snapshot: None,
        })
    }

    fn context(&self) -> Context<'_> {
        Context {
            site: self.site.as_ref(),
            fingerprints: &self.fingerprints,
            advisories: self.advisories.as_ref(),
            vendors: &self.vendors,
        }
    }

    fn snapshot(&mut self) -> &Snapshot {
        if self
            .snapshot
            .as_ref()
            .is_none_or(|(at, _)| *at != self.events)
        {
            self.snapshot = None; // no two read-outs in memory at once
            let snap = snapshot::build(&self.store, &self.context());
            self.snapshot = Some((self.events, snap));
        }
        &self.snapshot.as_ref().expect("just built").1
    }

    /// The inventory: asset records sorted by id.
    pub fn assets(&mut self) -> &[Map] {
        &self.snapshot().records
    }

    /// Exposure findings, each with kind, asset, description and evidence event ids.
    pub fn findings(&mut self) -> &[Map] {
        &self.snapshot().findings
    }

    /// The graph in networkx node-link form (`edges` key).
    pub fn graph_node_link(&mut self) -> Value {
        self.snapshot().node_link()
    }

    /// `assets.json` as the replay writes it: `{"assets": [...]}`, indented.
    pub fn assets_json(&mut self) -> Vec<u8> {
        let assets = Value::List(self.assets().iter().cloned().map(Value::Map).collect());
        let doc = Value::Map(icssa_core::map! {"assets" => assets});
        let mut out = Vec::with_capacity(1 << 16);
        write_pretty(&mut out, &doc, 0);
        out
    }

    /// `graph.json` as the replay writes it, indented.
    pub fn graph_json(&mut self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 << 16);
        write_pretty(&mut out, &self.graph_node_link(), 0);
        out
    }

    /// `{"zone", "level"}` from the site file (or internet for public addresses); else the
    /// Purdue level inferred from the roles of the asset at `ip` (zone None); else None.
    pub fn zone_of(&self, ip: &str) -> Option<ZoneInfo> {
        if let Some(info) = zone_info(self.site.as_ref(), ip) {
            return Some(info);
        }
        match &self.snapshot {
            Some((at, snap)) if *at == self.events => snap.inferred_zone(ip),
            _ => crate::levels::inferred_zone(&self.store, &self.context(), ip),
        }
    }

    pub fn stats(&self) -> Stats {
        Stats {
            events: self.events,
            skipped: self.skipped,
            records: self.store.units.len(),
            edges: self.store.edges.len(),
            evicted_records: self.store.evicted_units,
            evicted_edges: self.store.evicted_edges,
            capped_unit_edges: self.store.capped.unit_edges,
            capped_units_per_ip: self.store.capped.units_per_ip,
            capped_protocols: self.store.capped.protocols,
        }
    }
}
