//! Vendor names to one canonical spelling (a port of `assetmap/vendors.py`): the name is
//! normalised (lower case, punctuation to spaces, legal-form words dropped), then matched
//! against the alias patterns of `data/vendors.yaml`, which come with the configuration.

use crate::pyre::PyRegex;
use crate::pytext;
use std::cell::RefCell;
use std::collections::HashMap;

const LEGAL: &[&str] = &[
    "ag",
    "gmbh",
    "mbh",
    "co",
    "kg",
    "kgaa",
    "inc",
    "incorporated",
    "corp",
    "corporation",
    "ltd",
    "limited",
    "llc",
    "lp",
    "plc",
    "sa",
    "sas",
    "se",
    "spa",
    "s",
    "p",
    "a",
    "bv",
    "b",
    "v",
    "nv",
    "n",
    "oy",
    "ab",
    "as",
    "pty",
    "srl",
    "sarl",
    "oyj",
    "company",
];
/// `Vendors._cache` bound
const CACHE: usize = 4096;

/// Lower case, runs of anything but `[0-9a-z]` as one space, legal-form words dropped.
pub fn normalize(name: &str) -> String {
    let lower = name.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !(c.is_ascii_digit() || c.is_ascii_lowercase()))
        .filter(|w| !w.is_empty())
        .collect();
    let kept: Vec<&str> = words
        .iter()
        .copied()
        .filter(|w| !LEGAL.contains(w))
        .collect();
    if kept.is_empty() {
        words.join(" ")
    } else {
        kept.join(" ")
    }
}

/// Canonical vendor names from alias patterns (in the file's order, each canonical name's own
/// prefix pattern first).
#[derive(Debug, Default)]
pub struct Vendors {
    pub patterns: Vec<(PyRegex, String)>,
    cache: RefCell<HashMap<String, String>>,
}

impl Vendors {
    pub fn new(patterns: Vec<(PyRegex, String)>) -> Self {
        Vendors {
            patterns,
            cache: RefCell::default(),
        }
    }

    /// The canonical name, or the normalised name when no alias matches; None for empty text.
    /// `text` is `str(name)`.
    pub fn canonical(&self, text: &str) -> Option<String> {
        let text = pytext::strip(text);
        if text.is_empty() {
            return None;
        }
        if let Some(hit) = self.cache.borrow().get(text) {
            return Some(hit.clone());
        }
        let norm = normalize(text);
        let result = match self.patterns.iter().find(|(p, _)| p.search(&norm)) {
            Some((_, canonical)) => canonical.clone(),
            None => norm,
        };
        let mut cache = self.cache.borrow_mut();
        if cache.len() < CACHE {
            cache.insert(text.to_owned(), result.clone());
        }
        Some(result)
    }

    /// A comparison key, equal for all aliases of one vendor (None for no name).
    pub fn key(&self, text: &str) -> Option<String> {
        self.canonical(text)
            .filter(|c| !c.is_empty())
            .map(|c| normalize(&c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_as_python() {
        // expected: assetmap.vendors.normalize
        assert_eq!(normalize("Siemens AG"), "siemens");
        assert_eq!(normalize("Co., Ltd."), "co ltd");
        assert_eq!(normalize("Schneider-Electric, Inc."), "schneider electric");
        assert_eq!(normalize("\u{212a}UKA"), "kuka"); // the Kelvin sign lowers to k
        assert_eq!(normalize("!!!"), "");
    }

    #[test]
    fn canonical_names() {
        let v = Vendors::new(vec![
            (
                PyRegex::new(r"^siemens\b", false).unwrap(),
                "Siemens".into(),
            ),
            (
                PyRegex::new(r"^modicon\b", false).unwrap(),
                "Schneider Electric".into(),
            ),
        ]);
        assert_eq!(v.canonical(" SIEMENS AG ").as_deref(), Some("Siemens"));
        assert_eq!(
            v.canonical("Modicon").as_deref(),
            Some("Schneider Electric")
        );
        assert_eq!(v.canonical("Acme GmbH").as_deref(), Some("acme"));
        assert_eq!(v.canonical("  "), None);
        assert_eq!(v.key("Siemens AG").as_deref(), Some("siemens"));
    }
}
