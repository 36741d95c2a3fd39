//! What the generated bucket test of `correlation/compiler.py` does at run time, without
//! generating it: the decisions of its code generator (`_Gen`) that show in what it reads.
//!
//! The generated function loads the first field of each test by a statement just before the
//! test (always executed when control reaches it), any other field lazily (once per event),
//! and uses a variable as it is where an enclosing test has loaded it; the zone of an end is a
//! variable of its own, loaded the same ways. A sub-condition met more than once in the tree is
//! evaluated once per event. Fields read the same whatever way they are loaded, and a lazy
//! load of an end's zone happens once per event; but a statement loads a zone again where the
//! generator made one, and that asks the zone cache again, which asks the context on a miss.
//! So the generator's decisions are made here as it makes them, and the zone statements kept
//! (`Step::pre`); `bucket` runs the steps.

use crate::cond::{Cond, CondKey, FieldCond, Fields, Kind};
use crate::view::Ctx;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

/// A test as generated: groups short-circuit, shared sub-conditions are evaluated once; a
/// `context.*` field reads the zones of its ends, each loaded (lazily) unless it is already.
#[derive(Debug, Clone)]
pub enum Expr {
    True,
    Not(Box<Expr>),
    All(Vec<Expr>),
    Any(Vec<Expr>),
    Shared(usize, Box<Expr>),
    Field(Rc<FieldCond>),
}

/// A node of the test tree: the zones its statements load (`dest` flags, in order, always
/// asked again), its test, the groups that hold when it holds, the tests after it.
#[derive(Debug)]
pub struct Step {
    pub pre: Vec<bool>,
    pub test: Expr,
    pub ends: Vec<usize>,
    pub children: Vec<Step>,
}

/// A test tree node as the bucket builds it (before generation).
pub struct Node {
    pub cond: Cond,
    pub key: CondKey,
    pub ends: Vec<usize>,
    pub children: Vec<Node>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Var {
    Field(usize),
    Side(bool),
}

/// The generator's state (`compiler._Gen`): variables, what is loaded where code is being
/// made (`scope`), what is loaded lazily somewhere (`lazy`), statements to put before a test.
pub struct Gen<'f> {
    fields: &'f Fields,
    field_vars: HashMap<u32, usize>,
    counts: HashMap<CondKey, usize>,
    shared: HashMap<CondKey, usize>,
    scope: HashSet<Var>,
    lazy: HashSet<Var>,
    pending: Vec<bool>,
}

/// The generated test of a tree: its steps, and how many shared sub-conditions an event's run
/// keeps.
pub fn generate(fields: &Fields, roots: &[Node]) -> (Vec<Step>, usize) {
    let mut g = Gen {
        fields,
        field_vars: HashMap::new(),
        counts: HashMap::new(),
        shared: HashMap::new(),
        scope: HashSet::new(),
        lazy: HashSet::new(),
        pending: Vec::new(),
    };
    count_tree(&mut g.counts, roots);
    let steps = g.block(roots);
    (steps, g.shared.len())
}

fn count(counts: &mut HashMap<CondKey, usize>, cond: &Cond) {
    *counts.entry(cond.key()).or_insert(0) += 1;
    if let Cond::Group(_, children) = cond {
        for c in children.iter() {
            count(counts, c);
        }
    }
}

fn count_tree(counts: &mut HashMap<CondKey, usize>, nodes: &[Node]) {
    for n in nodes {
        count(counts, &n.cond);
        count_tree(counts, &n.children);
    }
}

/// The field any evaluation of `cond` reads first.
fn first_field(cond: &Cond) -> Option<&Rc<FieldCond>> {
    match cond {
        Cond::Field(f) => Some(f),
        Cond::Group(_, children) => children.first().and_then(first_field),
    }
}

impl Gen<'_> {
    fn block(&mut self, nodes: &[Node]) -> Vec<Step> {
        let outer = self.scope.clone();
        let mut steps = Vec::with_capacity(nodes.len());
        for node in nodes {
            let test = self.expr(&node.cond, true);
            let pre = std::mem::take(&mut self.pending);
            let mut children = Vec::new();
            if !node.children.is_empty() {
                let here = self.scope.clone();
                let loaded = self.loaded_by(&node.cond);
                self.scope.extend(loaded);
                children = self.block(&node.children);
                self.scope = here;
            }
            steps.push(Step {
                pre,
                test,
                ends: node.ends.clone(),
                children,
            });
        }
        self.scope = outer;
        steps
    }

    /// The variables any evaluation of `cond` has loaded once it is done.
    fn loaded_by(&self, cond: &Cond) -> Vec<Var> {
        let Some(f) = first_field(cond) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if let Some(&v) = self.field_vars.get(&f.field) {
            out.push(Var::Field(v));
        }
        match self.fields.get(f.field).context {
            Some(Ctx::Zone { dest } | Ctx::Level { dest }) => out.push(Var::Side(dest)),
            Some(Ctx::Crossing | Ctx::Gap) => out.extend([Var::Side(false), Var::Side(true)]),
            None => {}
        }
        out
    }

    fn expr(&mut self, cond: &Cond, first: bool) -> Expr {
        let key = cond.key();
        let empty = matches!(cond, Cond::Group(_, c) if c.is_empty());
        if self.counts.get(&key).copied().unwrap_or(0) > 1 && !empty {
            let next = self.shared.len();
            let idx = *self.shared.entry(key).or_insert(next);
            return Expr::Shared(idx, Box::new(self.inner(cond, false)));
        }
        self.inner(cond, first)
    }

    fn inner(&mut self, cond: &Cond, first: bool) -> Expr {
        match cond {
            Cond::Group(_, children) if children.is_empty() => Expr::True,
            Cond::Group(Kind::Not, children) => Expr::Not(Box::new(self.expr(&children[0], first))),
            Cond::Group(kind, children) => {
                let parts = children
                    .iter()
                    .enumerate()
                    .map(|(i, c)| self.expr(c, first && i == 0))
                    .collect();
                if *kind == Kind::All {
                    Expr::All(parts)
                } else {
                    Expr::Any(parts)
                }
            }
            Cond::Field(f) => {
                self.var(f.field, first);
                Expr::Field(f.clone())
            }
        }
    }

    /// `_Gen.var` / `ref`: the field's variable as the test reads it: already loaded, or
    /// loaded by a statement before the test, or lazily; the last two load the zones of a
    /// `context.*` field's ends (`_Gen.load`).
    fn var(&mut self, field: u32, first: bool) {
        let next = self.field_vars.len();
        let v = *self.field_vars.entry(field).or_insert(next);
        let var = Var::Field(v);
        if self.scope.contains(&var) {
            return;
        }
        let statement = first && !self.lazy.contains(&var);
        if !statement {
            self.lazy.insert(var);
        }
        match self.fields.get(field).context {
            Some(Ctx::Zone { dest } | Ctx::Level { dest }) => self.side(dest, first),
            Some(Ctx::Crossing | Ctx::Gap) => {
                self.side(false, first);
                self.side(true, first);
            }
            None => {}
        }
        if statement {
            self.scope.insert(var);
        }
    }

    /// `_Gen.side`: an end's zone variable, loaded by a statement before the test when it is
    /// the test's first read and neither loaded nor referenced lazily before.
    fn side(&mut self, dest: bool, first: bool) {
        let var = Var::Side(dest);
        if self.scope.contains(&var) {
            return;
        }
        if first && !self.lazy.contains(&var) {
            self.pending.push(dest);
            self.scope.insert(var);
            return;
        }
        self.lazy.insert(var);
    }
}
