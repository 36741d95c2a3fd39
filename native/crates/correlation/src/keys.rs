//! Group keys (`correlation.fields.make_keyfn`): `(organization.id, *values of fields)`, each
//! value as `hashable` makes it (lists as tuples, mappings as sorted pairs, absent as None).

use crate::bucket::Reader;
use crate::cond::Fields;
use crate::linked::Probe;
use crate::value::{base_hash, Val, KV};
use crate::view::EventView;
use smallvec::SmallVec;
use std::borrow::Cow;
use std::rc::Rc;

/// A key built from an event (its text borrowed from the event), with its hash.
#[derive(Debug, Clone)]
pub struct KeyBuf<'e> {
    kvs: SmallVec<[KV<Cow<'e, str>>; 4]>,
    hash: u64,
}

impl<'e> KeyBuf<'e> {
    pub fn new(kvs: SmallVec<[KV<Cow<'e, str>>; 4]>) -> Self {
        let hash = base_hash(&kvs);
        KeyBuf { kvs, hash }
    }
}

impl<'e> std::ops::Deref for KeyBuf<'e> {
    type Target = [KV<Cow<'e, str>>];
    fn deref(&self) -> &Self::Target {
        &self.kvs
    }
}

impl<'e> Probe for KeyBuf<'e> {
    type S = Cow<'e, str>;
    fn kvs(&self) -> &[KV<Cow<'e, str>>] {
        &self.kvs
    }
    fn base(&self) -> u64 {
        self.hash
    }
}

/// A grouping: the organization, then these fields.
#[derive(Debug, Clone)]
pub struct KeySpec {
    pub fields: Vec<u32>,
    /// the field names, for the `group` of alert documents
    pub names: Rc<[Box<str>]>,
    /// some field is a `context.*` one (its key is built only when a detector needs it)
    pub reads_context: bool,
}

/// The engine's groupings, each once (rules grouping by the same fields share one).
#[derive(Debug, Default)]
pub struct KeySpecs {
    pub specs: Vec<KeySpec>,
}

impl KeySpecs {
    pub fn intern(&mut self, fields: &[u32], table: &Fields) -> usize {
        if let Some(i) = self.specs.iter().position(|s| s.fields == fields) {
            return i;
        }
        self.specs.push(KeySpec {
            fields: fields.to_vec(),
            names: fields
                .iter()
                .map(|&f| Box::from(&*table.get(f).text))
                .collect(),
            reads_context: fields.iter().any(|&f| table.get(f).context.is_some()),
        });
        self.specs.len() - 1
    }
}

/// The key of `spec` for the reader's event.
pub fn build<'e, E: EventView>(r: &mut Reader<'e, '_, E>, spec: &KeySpec) -> KeyBuf<'e> {
    let mut key = SmallVec::new();
    key.push(match r.e.organization_id() {
        Some(v) => v.hashable(),
        None => KV::None,
    });
    let fields = r.fields;
    for &f in &spec.fields {
        let v: Val<'e> = r.value(fields.get(f));
        key.push(v.hashable());
    }
    KeyBuf::new(key)
}
