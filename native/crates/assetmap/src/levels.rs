//! The inferred zone of one address, computed from the records around it, without a snapshot
//! (a port of `assetmap/levels.py`).
//!
//! `inferred_zone` answers what a snapshot taken now would answer, at a cost that depends on
//! the asset at the address and its peers: it finds the asset the snapshot would put there
//! (`grouping`), folds only that asset's edges, and runs the snapshot's role and placement code
//! on it. Whether a peer is a controller comes from `Unit.served`.

use crate::grouping::Grouper;
use crate::roles::{self as R};
use crate::site::{zone_info, ZoneInfo};
use crate::snapshot::{assign_roles, place, AssetView, Context, FoldedEdge};
use crate::store::Store;
use std::collections::HashMap;
use std::sync::Arc;

/// The asset id the snapshot maps `ip` to, or None.
fn asset_at(grouper: &mut Grouper<'_>, ip: &str) -> Option<Arc<str>> {
    let store = grouper.store;
    let units = store.by_ip.get(ip)?;
    match units.as_slice() {
        [] => return None,
        [one] => return Some(grouper.gid(*one)),
        _ => {}
    }
    // the snapshot walks assets in the order their first record is held, each asset's records
    // in the store's order, and keeps the asset whose latest record is older than this one's
    let mut order = Vec::with_capacity(units.len());
    let mut latest: HashMap<Arc<str>, &str> = HashMap::new();
    for &u in units {
        let gid = grouper.gid(u);
        let members = grouper.members(&gid);
        let first = members.first().map_or(0, |&m| store.units[m].seq);
        let last = members
            .iter()
            .map(|&m| &*store.units[m].last_seen)
            .max()
            .unwrap_or("");
        latest.insert(gid.clone(), last);
        order.push((first, store.units[u].seq, gid, u));
    }
    order.sort_by_key(|a| (a.0, a.1));
    let mut prior: Option<Arc<str>> = None;
    for (_, _, gid, u) in order {
        if prior
            .as_ref()
            .is_none_or(|p| latest[p] < &*store.units[u].last_seen)
        {
            prior = Some(gid);
        }
    }
    prior
}

/// The asset's edges, folded by (peer asset, protocol) into its in and out edges.
fn fold(
    gid: &Arc<str>,
    members: &[u32],
    grouper: &mut Grouper<'_>,
    view: &mut AssetView<'_>,
) -> Vec<FoldedEdge> {
    let store = grouper.store;
    let mut raw: Vec<u32> = members
        .iter()
        .flat_map(|&u| store.units[u].edges.iter().copied())
        .collect();
    raw.sort_unstable();
    raw.dedup();
    let mut folded: Vec<FoldedEdge> = Vec::new();
    let mut index: HashMap<(Arc<str>, Arc<str>, &'static str), usize> = HashMap::new();
    for e in raw {
        let edge = &store.edges[e];
        let client = if members.contains(&edge.client) {
            gid.clone()
        } else {
            grouper.gid(edge.client)
        };
        let server = if members.contains(&edge.server) {
            gid.clone()
        } else {
            grouper.gid(edge.server)
        };
        let key = (client.clone(), server.clone(), edge.protocol);
        let i = match index.get(&key) {
            Some(&i) => i,
            None => {
                folded.push(FoldedEdge::new(client.clone(), server.clone(), edge));
                let i = folded.len() - 1;
                if client == *gid {
                    view.out_edges.push(i);
                }
                if server == *gid {
                    view.in_edges.push(i);
                }
                index.insert(key, i);
                i
            }
        };
        folded[i].add(edge);
    }
    folded
}

/// `{"zone", "level"}` of the asset at `ip`, or None (see the module docs).
pub fn inferred_zone(store: &Store, cx: &Context<'_>, ip: &str) -> Option<ZoneInfo> {
    let mut grouper = Grouper::new(store);
    let gid = asset_at(&mut grouper, ip)?;
    let members = grouper.members(&gid);
    let mut view = AssetView::new(store, gid.clone(), &members);
    if zone_info(cx.site, &view.ip).is_none() {
        let edges = fold(&gid, &members, &mut grouper, &mut view);
        let served = R::server_roles(view.in_edges.iter().map(|&i| &edges[i]));
        let own = served.iter().any(|(r, _, _)| R::is_controller_role(r));
        let mut peers: HashMap<Arc<str>, bool> = HashMap::new();
        for &i in &view.out_edges {
            let server = &edges[i].server;
            if *server != gid && !peers.contains_key(server) {
                let served = grouper.is_served(server);
                peers.insert(server.clone(), served);
            }
        }
        let is_controller = |peer: &str| {
            if *peer == *gid {
                own
            } else {
                peers.get(peer).copied().unwrap_or(false)
            }
        };
        assign_roles(
            &mut view,
            &edges,
            &served,
            &is_controller,
            cx.fingerprints,
            cx.vendors,
        );
    }
    place(&mut view, cx.site);
    view.level.map(|level| ZoneInfo {
        zone: view.zone.clone(),
        level,
    })
}
