//! The test of one (dataset, action) bucket (`compile_bucket` of `correlation/compiler.py`),
//! run as its generated Python function runs.
//!
//! Matchers with identical conditions form one group (one flag of the mask); each group's
//! conjuncts go into a tree of tests sharing their common start, walked depth first in the
//! order the tests were added, each test's fields and zones loaded as `compiler` says. Only
//! the zone lookups show the order (the context is asked on a cache miss). Where the generated
//! code raises (an event without `source`, `destination` or `network`, or without the address
//! and port of an end; a set membership of a list or a dict) the interpreter evaluates every
//! group in order instead (`Cond.test`), each `context.*` read asking the zone cache.

use crate::compiler::{generate, Expr, Node, Step};
use crate::cond::{Cond, CondKey, Fields, Kind};
use crate::context::{Zone, ZoneCache, ZoneContext};
use crate::matching::conjuncts;
use crate::value::Val;
use crate::view::{Ctx, EventView, FieldPath, Obj, Raise};
use smallvec::SmallVec;

fn add(nodes: &mut Vec<Node>, terms: &[Cond], group: usize) {
    let Some((first, rest)) = terms.split_first() else {
        return;
    };
    let key = first.key();
    let i = match nodes.iter().position(|n| n.key == key) {
        Some(i) => i,
        None => {
            nodes.push(Node {
                cond: first.clone(),
                key,
                ends: Vec::new(),
                children: Vec::new(),
            });
            nodes.len() - 1
        }
    };
    if rest.is_empty() {
        nodes[i].ends.push(group);
    } else {
        add(&mut nodes[i].children, rest, group);
    }
}

/// The compiled test of the matchers of one bucket.
#[derive(Debug)]
pub struct Bucket {
    /// matcher numbers per group, in group order
    pub groups: Vec<Vec<usize>>,
    /// each group's condition (what the interpreter tests)
    tests: Vec<Cond>,
    /// groups with no condition left: they hold for every event of the bucket
    always: Vec<usize>,
    steps: Vec<Step>,
    /// shared sub-conditions a run keeps
    shared: usize,
}

impl Bucket {
    /// `compile_bucket(matchers)`: (matcher number, condition) pairs.
    pub fn new(matchers: Vec<(usize, Cond)>, fields: &Fields) -> Bucket {
        let mut keys: Vec<CondKey> = Vec::new();
        let mut groups: Vec<Vec<usize>> = Vec::new();
        let mut tests: Vec<Cond> = Vec::new();
        for (n, cond) in matchers {
            let key = cond.key();
            match keys.iter().position(|k| *k == key) {
                Some(g) => groups[g].push(n),
                None => {
                    keys.push(key);
                    groups.push(vec![n]);
                    tests.push(cond);
                }
            }
        }
        let mut roots = Vec::new();
        let mut always = Vec::new();
        for (g, cond) in tests.iter().enumerate() {
            let terms: Vec<Cond> = conjuncts(cond)
                .into_iter()
                .filter(|t| !matches!(t, Cond::Group(Kind::All, c) if c.is_empty()))
                .collect();
            if terms.is_empty() {
                always.push(g);
            } else {
                add(&mut roots, &terms, g);
            }
        }
        let (steps, shared) = generate(fields, &roots);
        Bucket {
            groups,
            tests,
            always,
            steps,
            shared,
        }
    }

    /// The groups that hold for `e`, into `mask` (one flag per group).
    pub fn test<E: EventView>(&self, r: &mut Reader<'_, '_, E>, mask: &mut Vec<bool>) {
        mask.clear();
        mask.resize(self.groups.len(), false);
        for &g in &self.always {
            mask[g] = true;
        }
        let mut run = Run {
            sides: [None, None],
            shared: SmallVec::new(),
        };
        run.shared.resize(self.shared, None);
        if run.steps(r, &self.steps, mask).is_ok() {
            return;
        }
        mask.iter_mut().for_each(|m| *m = false);
        let fields = r.fields;
        for (g, cond) in self.tests.iter().enumerate() {
            mask[g] = cond.test(&mut |f| {
                let v = r.value(fields.get(f.field));
                f.check(&v)
            });
        }
    }
}

/// The variables of one run of the generated test that show (None: not loaded yet): the
/// zones of the ends and the shared sub-conditions. Fields are read where they are tested
/// (reading is pure); a `context.*` field from the zones of its ends.
struct Run {
    sides: [Option<Zone>; 2],
    shared: SmallVec<[Option<bool>; 8]>,
}

impl Run {
    fn steps<'e, E: EventView>(
        &mut self,
        r: &mut Reader<'e, '_, E>,
        steps: &[Step],
        mask: &mut [bool],
    ) -> Result<(), Raise> {
        for s in steps {
            for &dest in &s.pre {
                self.sides[usize::from(dest)] = Some(r.side_compiled(dest)?);
            }
            if self.eval(r, &s.test)? {
                for &g in &s.ends {
                    mask[g] = true;
                }
                self.steps(r, &s.children, mask)?;
            }
        }
        Ok(())
    }

    fn eval<'e, E: EventView>(
        &mut self,
        r: &mut Reader<'e, '_, E>,
        e: &Expr,
    ) -> Result<bool, Raise> {
        Ok(match e {
            Expr::True => true,
            Expr::Not(x) => !self.eval(r, x)?,
            Expr::All(xs) => {
                for x in xs {
                    if !self.eval(r, x)? {
                        return Ok(false);
                    }
                }
                true
            }
            Expr::Any(xs) => {
                for x in xs {
                    if self.eval(r, x)? {
                        return Ok(true);
                    }
                }
                false
            }
            Expr::Shared(i, x) => match self.shared[*i] {
                Some(b) => b,
                None => {
                    let b = self.eval(r, x)?;
                    self.shared[*i] = Some(b);
                    b
                }
            },
            Expr::Field(cond) => {
                let path = r.fields.get(cond.field);
                let v = match path.context {
                    None => r.e.read_compiled(path)?,
                    Some(ctx) => {
                        let sides: &[bool] = match ctx {
                            Ctx::Zone { dest } | Ctx::Level { dest } => &[dest][..],
                            Ctx::Crossing | Ctx::Gap => &[false, true],
                        };
                        for &dest in sides {
                            if self.sides[usize::from(dest)].is_none() {
                                self.sides[usize::from(dest)] = Some(r.side_compiled(dest)?);
                            }
                        }
                        let zone = |dest: bool| {
                            self.sides[usize::from(dest)]
                                .clone()
                                .unwrap_or((None, None))
                        };
                        context_value(ctx, zone)
                    }
                };
                cond.check_compiled(&v)?
            }
        })
    }
}

/// Reads fields of one event, `context.*` ones from the zone cache.
pub struct Reader<'e, 'z, E: EventView> {
    pub e: &'e E,
    pub fields: &'e Fields,
    /// the engine's zone cache and context (None: an engine without context)
    pub zones: Option<(&'z mut ZoneCache, &'z mut dyn ZoneContext)>,
}

impl<'e, 'z, E: EventView> Reader<'e, 'z, E> {
    pub fn new(
        e: &'e E,
        fields: &'e Fields,
        zones: Option<(&'z mut ZoneCache, &'z mut dyn ZoneContext)>,
    ) -> Self {
        Reader { e, fields, zones }
    }

    /// `getter(path)(e)` (the engine's getters: `context.*` through `ZoneCache.side`).
    pub fn value(&mut self, path: &FieldPath) -> Val<'e> {
        match path.context {
            None => self.e.read(path),
            Some(ctx) => {
                let (a, b) = match ctx {
                    Ctx::Zone { dest } | Ctx::Level { dest } => {
                        let z = self.side(dest);
                        if dest {
                            ((None, None), z)
                        } else {
                            (z, (None, None))
                        }
                    }
                    Ctx::Crossing | Ctx::Gap => {
                        let a = self.side(false);
                        (a, self.side(true))
                    }
                };
                context_value(ctx, |dest| if dest { b.clone() } else { a.clone() })
            }
        }
    }

    /// `ZoneCache.side(e, side)`: the zone of an end's address (unknown without one).
    pub fn side(&mut self, dest: bool) -> Zone {
        let Some((cache, ctx)) = self.zones.as_mut() else {
            return (None, None);
        };
        let end = self.e.end(dest);
        match end.ip.as_ref().and_then(Val::as_str) {
            Some(ip) if end.obj == Obj::Dict => cache.lookup(&mut **ctx, ip),
            _ => (None, None),
        }
    }

    /// The end's zone as the generated test loads it (`_ZC.get(ip) or _ZM(ip)` of
    /// `e[side]['ip']`), raising where its subscripts raise.
    fn side_compiled(&mut self, dest: bool) -> Result<Zone, Raise> {
        let end = self.e.end(dest);
        if end.obj != Obj::Dict || end.ip.is_none() {
            return Err(Raise);
        }
        Ok(
            match (end.ip.as_ref().and_then(Val::as_str), self.zones.as_mut()) {
                (Some(ip), Some((cache, ctx))) => cache.lookup(&mut **ctx, ip),
                _ => (None, None),
            },
        )
    }
}

/// The value of a context field from the zones of the ends (`zone(dest)`).
fn context_value<'v>(ctx: Ctx, zone: impl Fn(bool) -> Zone) -> Val<'v> {
    match ctx {
        Ctx::Zone { dest } => zone(dest).0.map_or(Val::Missing, Val::Text),
        Ctx::Level { dest } => zone(dest).1.map_or(Val::Missing, Val::Float),
        Ctx::Crossing => match (zone(false).0, zone(true).0) {
            (Some(x), Some(y)) => Val::Bool(x != y),
            _ => Val::Missing,
        },
        Ctx::Gap => match (zone(false).1, zone(true).1) {
            (Some(x), Some(y)) => Val::Float((x - y).abs()),
            _ => Val::Missing,
        },
    }
}
