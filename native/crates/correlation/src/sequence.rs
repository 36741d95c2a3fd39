//! Sequence detectors (`SequenceDetector` of `correlation/detectors.py`): ordered steps by the
//! same group within a window; one partial sequence per group (a new first step restarts it).

use crate::detectors::{make_room, Common, Cx, Entry};
use crate::keys::KeyBuf;
use crate::linked::LinkedMap;
use crate::view::EventView;
use std::rc::Rc;

/// Per group: last seen, the next step, when the sequence started, the evidence so far.
struct SequenceState {
    last: f64,
    next: usize,
    started: f64,
    evidence: Vec<(Entry, usize)>,
}

pub struct SequenceDetector {
    window: f64,
    names: Vec<Rc<str>>,
    groups: LinkedMap<SequenceState>,
}

impl SequenceDetector {
    pub fn new(window: f64, names: Vec<Rc<str>>) -> Self {
        SequenceDetector {
            window,
            names,
            groups: LinkedMap::default(),
        }
    }

    pub(crate) fn handle_steps<'e, E: EventView>(
        &mut self,
        c: &Common,
        cx: &mut Cx<'_, 'e, '_, E>,
        key: Option<&KeyBuf<'e>>,
        steps: &[usize],
    ) {
        let key = c.primary_key(cx, key);
        let mut found = self.groups.find(0, &*key);
        if let Some(slot) = found {
            if self
                .groups
                .at(slot)
                .is_some_and(|st| cx.t - st.started > self.window)
            {
                self.groups.remove_at(slot);
                found = None;
            }
        }
        let next = found
            .and_then(|slot| self.groups.at(slot))
            .map(|st| st.next);
        if let (Some(slot), Some(next)) = (found, next.filter(|n| steps.contains(n))) {
            let entry = cx.entry();
            let st = self
                .groups
                .at_mut(slot)
                .expect("a found slot holds a state");
            st.last = cx.t;
            st.evidence.push((entry, next));
            st.next += 1;
            if st.next < self.names.len() {
                return;
            }
            let Some((_, _, st)) = self.groups.remove_at(slot) else {
                return;
            };
            let Some(alert) = c.open(cx, &key) else {
                return;
            };
            for ((et, ets, eeid), _) in &st.evidence {
                cx.book.add(&alert, eeid.as_ref(), *et, ets, None);
            }
            let names: Vec<Rc<str>> = st
                .evidence
                .iter()
                .map(|(_, step)| self.names[*step].clone())
                .collect();
            cx.book.add_steps(&alert, &names);
            let ends = cx.ends();
            cx.book.related(&alert, ends);
            cx.book.emit_now(&alert);
        } else if steps.contains(&0) {
            if found.is_none() {
                make_room(
                    &mut self.groups,
                    cx.limits.groups,
                    cx.t,
                    self.window,
                    |s| s.last,
                    cx.evicted,
                );
            }
            let entry = cx.entry();
            let st = SequenceState {
                last: cx.t,
                next: 1,
                started: cx.t,
                evidence: vec![(entry, 0)],
            };
            self.groups.set(0, &*key, st);
        }
    }
}
