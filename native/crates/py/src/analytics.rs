//! What runs on the event stream besides writing it (`icssa/pipeline.py`): every event goes to
//! the asset map, then to the correlation engine, whose alerts are written as they come; at
//! the end the engine is flushed and the map writes `assets.json` and `graph.json`.

use crate::lines::{named, Lines};
use icssa_assetmap::AssetMap;
use icssa_core::event::Event;
use icssa_core::json::write_map;
use icssa_correlation::context::{Answer, ZoneContext};
use icssa_correlation::{Engine, DEFAULT_BASELINE_SECONDS};
use std::path::Path;

pub enum Error {
    /// a configuration or rules document the native core cannot run
    Config(String),
    Io(std::io::Error),
}

pub struct Analytics {
    amap: AssetMap,
    engine: Engine,
    alerts: Lines,
    assets: usize,
}

/// The engine's zone context: the asset map as it stands (Python: `context=asset_map`).
struct Zones<'a>(&'a AssetMap);

impl ZoneContext for Zones<'_> {
    fn zone_of(&mut self, ip: &str) -> Answer {
        self.0
            .zone_of(ip)
            .map(|z| (z.zone.map(|name| name.to_string()), Some(z.level)))
    }
}

impl Analytics {
    /// From the asset map's configuration and the rules document (JSON texts); opens
    /// `out_dir/alerts.jsonl`.
    pub fn new(config: &str, rules: &str, out_dir: &Path) -> Result<Self, Error> {
        let (amap, engine) = Self::parts(config, rules).map_err(Error::Config)?;
        let alerts = Lines::create(&out_dir.join("alerts.jsonl")).map_err(Error::Io)?;
        Ok(Analytics {
            amap,
            engine,
            alerts,
            assets: 0,
        })
    }

    /// The asset map and the engine the two documents describe, or why they cannot be made.
    pub fn parts(config: &str, rules: &str) -> Result<(AssetMap, Engine), String> {
        let amap = AssetMap::from_config_json(config)?;
        let engine =
            Engine::from_rules_json(rules, true, DEFAULT_BASELINE_SECONDS, Default::default())?;
        Ok((amap, engine))
    }

    pub fn event(&mut self, event: &Event) {
        self.amap.observe(event);
        let alerts = self.engine.process(event, &mut Zones(&self.amap));
        for alert in &alerts {
            self.write_alert(alert);
        }
    }

    fn write_alert(&mut self, alert: &icssa_core::json::Map) {
        write_map(&mut self.alerts.buf, alert);
        self.alerts.buf.push(b'\n');
        self.alerts.added();
    }

    /// Flushes the engine, closes `alerts.jsonl`, writes `assets.json` and `graph.json`.
    pub fn finish(&mut self, out_dir: &Path) -> Result<(), std::io::Error> {
        for alert in self.engine.flush() {
            self.write_alert(&alert);
        }
        self.alerts.spill();
        if let Some(e) = self.alerts.take_error() {
            return Err(e);
        }
        let assets = self.amap.assets_json();
        self.assets = self.amap.assets().len();
        let write = |name: &str, data: &[u8]| {
            let path = out_dir.join(name);
            std::fs::write(&path, data).map_err(|e| named(&path, &e))
        };
        write("assets.json", &assets)?;
        write("graph.json", &self.amap.graph_json())
    }

    pub fn alerts(&self) -> u64 {
        self.alerts.count
    }

    pub fn assets(&self) -> usize {
        self.assets
    }
}
