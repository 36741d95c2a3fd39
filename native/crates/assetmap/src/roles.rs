//! Roles from behaviour, and the Purdue level they imply (a port of `assetmap/roles.py`).
//!
//! | role | evidence | confidence |
//! |---|---|---|
//! | plc | answers Modbus, S7comm or S7comm-plus requests (0.9 on 502/102, 0.8 elsewhere) | 0.8-0.9 |
//! | opcua_server | answers OPC UA requests (0.9 on 4840) | 0.8-0.9 |
//! | engineering_workstation | program transfer, CPU start/stop, protection or forcing | 0.9 |
//! |  | or at least `EWS_MIN_WRITES` writes and more writes than reads | 0.6 |
//! | scada_server | reads from at least `SCADA_MIN_CONTROLLERS` controllers | 0.8 |
//! | hmi | reads a controller cyclically | 0.7 |
//! |  | or reads a controller without a steadier pattern | 0.5 |
//! | engineering_workstation | reads only identity, diagnostics or block lists of a controller | 0.4 |
//!
//! Client roles are exclusive, in the order of the table. A fingerprint's device type adds its
//! role. Levels (lowest wins): plc 1, opcua_server / hmi / scada_server /
//! engineering_workstation 2, historian 3.

use crate::ops::ENGINEERING_OPS;

pub const SERVER_ROLE: &[(&str, &str)] = &[
    ("modbus", "plc"),
    ("s7comm", "plc"),
    ("s7comm_plus", "plc"),
    ("opcua", "opcua_server"),
];
const STANDARD_PORT: &[(&str, u16)] = &[
    ("modbus", 502),
    ("s7comm", 102),
    ("s7comm_plus", 102),
    ("opcua", 4840),
];
pub const CONTROLLER_ROLES: &[&str] = &["plc", "rtu", "opcua_server"];
const ROLE_LEVEL: &[(&str, f64)] = &[
    ("plc", 1.0),
    ("rtu", 1.0),
    ("opcua_server", 2.0),
    ("hmi", 2.0),
    ("scada_server", 2.0),
    ("engineering_workstation", 2.0),
    ("historian", 3.0),
];

const EWS_MIN_WRITES: u64 = 20;
const SCADA_MIN_CONTROLLERS: usize = 3;
const CYCLIC_MIN_READS: u64 = 4;
const CYCLIC_MAX_CV: f64 = 0.5;
const MAX_ROLE_IDS: usize = 5;

/// role -> (confidence, event ids), in insertion order.
pub type Roles = Vec<(&'static str, f64, Vec<Box<str>>)>;

/// The role a server of `protocol` has (`SERVER_ROLE`).
pub fn server_role(protocol: &str) -> Option<&'static str> {
    SERVER_ROLE
        .iter()
        .find(|(p, _)| *p == protocol)
        .map(|(_, r)| *r)
}

pub fn is_controller_role(role: &str) -> bool {
    CONTROLLER_ROLES.contains(&role)
}

/// The role a fingerprint's device type adds (`DEVICE_TYPE_ROLES`), as a static name.
pub fn device_type_role(device_type: &str) -> Option<&'static str> {
    if device_type == "gateway" {
        return Some("gateway");
    }
    ROLE_LEVEL
        .iter()
        .find(|(r, _)| *r == device_type)
        .map(|(r, _)| *r)
}

/// Reads at a steady pace: enough of them, gaps with a coefficient of variation <= the limit.
pub fn cyclic(read_n: u64, mean: f64, m2: f64) -> bool {
    if read_n < CYCLIC_MIN_READS || mean <= 0.0 {
        return false;
    }
    let gaps = read_n - 1;
    // Python's `** 0.5` is libm's pow: an opaque exponent keeps the compiler from using sqrt
    let std = if gaps > 1 {
        (m2 / (gaps - 1) as f64).powf(std::hint::black_box(0.5))
    } else {
        0.0
    };
    std / mean <= CYCLIC_MAX_CV
}

pub fn add(roles: &mut Roles, role: &'static str, confidence: f64, ids: &[Box<str>]) {
    let slot = match roles.iter().position(|(r, _, _)| *r == role) {
        Some(i) => {
            let prior = &mut roles[i];
            prior.1 = confidence.max(prior.1);
            i
        }
        None => {
            roles.push((role, confidence, Vec::new()));
            roles.len() - 1
        }
    };
    let merged = &mut roles[slot].2;
    for id in ids {
        if merged.len() < MAX_ROLE_IDS && !merged.contains(id) {
            merged.push(id.clone());
        }
    }
}

/// What `server_roles` and `client_roles` read of an edge (raw or folded).
pub trait RoleEdge {
    fn protocol(&self) -> &str;
    fn ports(&self) -> &[u16];
    fn responses(&self) -> u64;
    fn reads(&self) -> u64;
    fn writes(&self) -> u64;
    fn identity_reads(&self) -> u64;
    fn control_ops(&self) -> &[(&'static str, u64)];
    fn event_ids(&self) -> &[Box<str>];
    fn change_ids(&self) -> &[Box<str>];
    fn is_cyclic(&self) -> bool;
    /// the server's asset
    fn server(&self) -> &str;
}

pub fn server_roles<'a, E: RoleEdge + 'a>(in_edges: impl Iterator<Item = &'a E>) -> Roles {
    let mut roles = Roles::new();
    for e in in_edges {
        let Some(role) = server_role(e.protocol()) else {
            continue;
        };
        if e.responses() == 0 {
            continue;
        }
        let standard = STANDARD_PORT
            .iter()
            .find(|(p, _)| *p == e.protocol())
            .map(|(_, port)| *port);
        let confidence = if standard.is_some_and(|p| e.ports().contains(&p)) {
            0.9
        } else {
            0.8
        };
        add(&mut roles, role, confidence, e.event_ids());
    }
    roles
}

pub fn client_roles<'a, E: RoleEdge + 'a>(
    out_edges: impl Iterator<Item = &'a E>,
    is_controller: &dyn Fn(&str) -> bool,
) -> Roles {
    let mut engineering_ids: Vec<Box<str>> = Vec::new();
    let (mut engineering, mut writes, mut reads) = (0u64, 0u64, 0u64);
    let mut write_ids = Vec::new();
    let mut polled: Vec<(&str, &[Box<str>])> = Vec::new();
    let mut cyclic_ids = Vec::new();
    let mut read_ids = Vec::new();
    let mut identity_ids = Vec::new();
    for e in out_edges {
        if server_role(e.protocol()).is_none() {
            continue;
        }
        let n: u64 = e
            .control_ops()
            .iter()
            .filter(|(op, _)| ENGINEERING_OPS.contains(op))
            .map(|(_, c)| c)
            .sum();
        if n > 0 {
            engineering += n;
            engineering_ids.extend_from_slice(e.change_ids());
        }
        writes += e.writes();
        reads += e.reads();
        if e.writes() > 0 {
            write_ids.extend_from_slice(e.change_ids());
        }
        if e.identity_reads() > 0 && is_controller(e.server()) {
            identity_ids.extend_from_slice(e.event_ids());
        }
        if e.reads() > 0 && is_controller(e.server()) {
            match polled.iter_mut().find(|(s, _)| *s == e.server()) {
                Some(slot) => slot.1 = e.event_ids(),
                None => polled.push((e.server(), e.event_ids())),
            }
            read_ids.extend_from_slice(e.event_ids());
            if e.is_cyclic() {
                cyclic_ids.extend_from_slice(e.event_ids());
            }
        }
    }
    let mut roles = Roles::new();
    if engineering > 0 {
        add(&mut roles, "engineering_workstation", 0.9, &engineering_ids);
    } else if writes >= EWS_MIN_WRITES && writes >= reads {
        add(&mut roles, "engineering_workstation", 0.6, &write_ids);
    } else if polled.len() >= SCADA_MIN_CONTROLLERS {
        let firsts: Vec<Box<str>> = polled
            .iter()
            .filter_map(|(_, ids)| ids.first().cloned())
            .collect();
        add(&mut roles, "scada_server", 0.8, &firsts);
    } else if !cyclic_ids.is_empty() {
        add(&mut roles, "hmi", 0.7, &cyclic_ids);
    } else if !polled.is_empty() {
        add(&mut roles, "hmi", 0.5, &read_ids);
    } else if !identity_ids.is_empty() {
        add(&mut roles, "engineering_workstation", 0.4, &identity_ids);
    }
    roles
}

pub fn merge(parts: &[&Roles]) -> Roles {
    let mut out = Roles::new();
    for part in parts {
        for (role, confidence, ids) in part.iter() {
            add(&mut out, role, *confidence, ids);
        }
    }
    out
}

/// The Purdue level the roles imply (the lowest), or None.
pub fn level(roles: &Roles) -> Option<f64> {
    roles
        .iter()
        .filter_map(|(r, _, _)| ROLE_LEVEL.iter().find(|(x, _)| x == r).map(|(_, l)| *l))
        .reduce(f64::min)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cyclic_reads() {
        // 4 reads 1 s apart: gaps 1, 1, 1 -> no spread
        assert!(cyclic(4, 1.0, 0.0));
        assert!(!cyclic(3, 1.0, 0.0));
        assert!(!cyclic(10, 0.0, 0.0));
        // gaps with variance 1 (m2 = 2 over 3 gaps) and mean 1: cv 1 > 0.5
        assert!(!cyclic(4, 1.0, 2.0));
    }

    #[test]
    fn ids_merge_capped_and_levels() {
        let ids: Vec<Box<str>> = ["a", "b", "a", "c", "d", "e", "f"]
            .iter()
            .map(|s| Box::from(*s))
            .collect();
        let mut r = Roles::new();
        add(&mut r, "hmi", 0.5, &ids);
        add(&mut r, "hmi", 0.7, &[]);
        add(&mut r, "plc", 0.9, &[]);
        assert_eq!(r[0].1, 0.7);
        assert_eq!(r[0].2.len(), 5);
        assert_eq!(level(&r), Some(1.0));
        assert_eq!(level(&Roles::new()), None);
    }
}
