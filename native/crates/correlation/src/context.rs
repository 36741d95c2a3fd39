//! Zone context (`correlation/context.py`): where the two ends of an event sit (zone name,
//! Purdue level).
//!
//! `ZoneCache` asks the engine's context (the asset map: `zone_of(ip)`) once per address and
//! keeps the answer for `ttl` seconds of event time (the asset map learns as traffic goes by).
//! `StaticZones` is a fixed zone map for rule tests and simple deployments.

use crate::net::{ip_address, Net};
use std::rc::Rc;

/// (zone name, Purdue level) of one end; (None, None) when nothing is known about it.
pub type Zone = (Option<Rc<str>>, Option<f64>);

/// An answer of `zone_of` as `ZoneCache.miss` keeps it: None when the answer is not a
/// mapping, else (its `zone` when a string, its `level` as a float when a number).
pub type Answer = Option<(Option<String>, Option<f64>)>;

/// What the engine asks about addresses (the asset map implements it).
pub trait ZoneContext {
    fn zone_of(&mut self, ip: &str) -> Answer;
}

/// The context of an engine built without one (never asked).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoContext;

impl ZoneContext for NoContext {
    fn zone_of(&mut self, _ip: &str) -> Answer {
        None
    }
}

/// Answers of `context.zone_of` per address: at most `size` of them, for `ttl` seconds of
/// event time each (the whole cache is asked again after that).
#[derive(Debug)]
pub struct ZoneCache {
    size: usize,
    ttl: f64,
    cache: hashbrown::HashMap<Box<str>, Zone, foldhash::fast::RandomState>,
    since: f64,
}

impl ZoneCache {
    pub fn new(size: usize, ttl: f64) -> Self {
        ZoneCache {
            size,
            ttl,
            cache: hashbrown::HashMap::default(),
            since: 0.0,
        }
    }

    /// The zone of `ip`: cached, else asked (`cache.get(ip) or miss(ip)`).
    pub fn lookup(&mut self, ctx: &mut dyn ZoneContext, ip: &str) -> Zone {
        if let Some(z) = self.cache.get(ip) {
            return z.clone();
        }
        let z: Zone = match ctx.zone_of(ip) {
            Some((name, level)) => (name.map(Rc::from), level),
            None => (None, None),
        };
        if self.cache.len() >= self.size {
            self.cache.clear();
        }
        self.cache.insert(ip.into(), z.clone());
        z
    }

    /// Event time moved on to `t`: forget answers older than the TTL.
    pub fn tick(&mut self, t: f64) {
        if t - self.since > self.ttl {
            self.cache.clear();
            self.since = t;
        }
    }
}

/// A fixed zone map: networks in lookup order (the most specific first, as
/// `StaticZones.__init__` sorts them), each with its zone name and level.
#[derive(Debug, Clone, Default)]
pub struct StaticZones {
    nets: Vec<(Net, Option<String>, f64)>,
}

impl StaticZones {
    pub fn new(nets: Vec<(Net, Option<String>, f64)>) -> Self {
        StaticZones { nets }
    }
}

impl ZoneContext for StaticZones {
    fn zone_of(&mut self, ip: &str) -> Answer {
        let addr = ip_address(ip)?;
        let (_, zone, level) = self.nets.iter().find(|(net, _, _)| net.contains(addr))?;
        Some((zone.clone(), Some(*level)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Counting(usize);

    impl ZoneContext for Counting {
        fn zone_of(&mut self, ip: &str) -> Answer {
            self.0 += 1;
            (ip != "unknown").then(|| (Some(format!("z-{ip}")), Some(2.0)))
        }
    }

    #[test]
    fn cache_asks_once_per_address_until_full_or_stale() {
        let mut ctx = Counting(0);
        let mut zc = ZoneCache::new(2, 300.0);
        assert_eq!(zc.lookup(&mut ctx, "a"), (Some(Rc::from("z-a")), Some(2.0)));
        zc.lookup(&mut ctx, "a");
        assert_eq!(ctx.0, 1);
        assert_eq!(zc.lookup(&mut ctx, "unknown"), (None, None));
        assert_eq!(ctx.0, 2);
        zc.lookup(&mut ctx, "b"); // full: the whole cache goes, b stays
        zc.lookup(&mut ctx, "b");
        zc.lookup(&mut ctx, "a");
        assert_eq!(ctx.0, 4);
        zc.tick(100.0); // within the TTL of the start (0): kept
        zc.lookup(&mut ctx, "a");
        assert_eq!(ctx.0, 4);
        zc.tick(301.0);
        zc.lookup(&mut ctx, "a");
        assert_eq!(ctx.0, 5);
    }

    #[test]
    fn static_zones_answer_the_first_network_holding_the_address() {
        let net = |n: u32, m: u32| Net {
            version: 4,
            network: u128::from(n),
            netmask: u128::from(m),
        };
        let mut z = StaticZones::new(vec![
            (
                net(0x0a0a_0100, 0xffff_ff00),
                Some("supervisory".into()),
                2.0,
            ), // 10.10.1.0/24
            (
                net(0x0a00_0000, 0xff00_0000),
                Some("enterprise".into()),
                4.0,
            ), // 10.0.0.0/8
        ]);
        assert_eq!(
            z.zone_of("10.10.1.7"),
            Some((Some("supervisory".into()), Some(2.0)))
        );
        assert_eq!(
            z.zone_of("10.99.1.7"),
            Some((Some("enterprise".into()), Some(4.0)))
        );
        assert_eq!(z.zone_of("192.168.1.1"), None);
        assert_eq!(z.zone_of("not an address"), None);
    }
}
