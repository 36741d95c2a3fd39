//! Every cap of the engine's state, with the Python engine's values as defaults
//! (`correlation.detectors.Limits`, the module caps of `correlation.alerts` and
//! `correlation.engine`).

/// The caps (`tests/test_correlation_bounds.py` drives each of the Python ones).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// groups per stateful rule (and open alerts a match rule keeps at hand)
    pub groups: usize,
    /// first-seen keys per rule (and as many known sub-keys)
    pub learned: usize,
    /// per rule: threshold windows hold at most this many entries in all (groups x count)
    pub window_entries: usize,
    /// evidence ids per alert (`MAX_EVIDENCE`)
    pub evidence: usize,
    /// addresses in related.ip per alert (`MAX_RELATED_IP`)
    pub related_ip: usize,
    /// distinct values kept per alert (`MAX_VALUES`)
    pub values: usize,
    /// open alerts (`MAX_OPEN`)
    pub open: usize,
    /// suppression memory (`MAX_SUPPRESSED`)
    pub suppressed: usize,
    /// organizations whose baseline start is known (`MAX_ORGS`)
    pub orgs: usize,
    /// zone answers kept (`ZONE_CACHE`)
    pub zone_cache: usize,
    /// event seconds after which zone answers are asked again (`ZONE_TTL`)
    pub zone_ttl: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            groups: 10_000,
            learned: 200_000,
            window_entries: 2_000_000,
            evidence: 50,
            related_ip: 50,
            values: 50,
            open: 10_000,
            suppressed: 100_000,
            orgs: 100_000,
            zone_cache: 65_536,
            zone_ttl: 300.0,
        }
    }
}
