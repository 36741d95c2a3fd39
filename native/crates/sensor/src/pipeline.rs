//! Offline replay wiring (port of the sensor side of `icssa/pipeline.py`): capture ids, the
//! expansion of command-line paths into capture files, one capture through a fresh sensor, and
//! the summary counters of a replay.

use crate::capture::{open_capture, strerror};
use crate::engine::Sensor;
use crate::output::Tally;
use crate::stats::Stat;
use blake2::digest::{Update, VariableOutput};
use blake2::Blake2bVar;
use icssa_core::event::Event;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

pub const CAPTURE_SUFFIXES: [&str; 4] = [".pcap", ".pcapng", ".cap", ".dmp"];
/// `Sensor`'s default table size in Python.
pub const MAX_FLOWS: usize = 100_000;

/// A short deterministic id of a capture's content: BLAKE2b (6-byte digest) of its first MiB
/// and its size in decimal.
pub fn capture_id(path: &Path) -> io::Result<String> {
    let mut head = Vec::with_capacity(1 << 20);
    File::open(path)?.take(1 << 20).read_to_end(&mut head)?;
    let size = std::fs::metadata(path)?.len();
    let mut h = Blake2bVar::new(6).map_err(|_| io::Error::other("blake2b digest size"))?;
    h.update(&head);
    h.update(size.to_string().as_bytes());
    let mut digest = [0u8; 6];
    h.finalize_variable(&mut digest)
        .map_err(|_| io::Error::other("blake2b digest size"))?;
    Ok(icssa_core::text::hex(&digest))
}

/// `str(Path(text))`: repeated and trailing slashes and `.` parts dropped (two leading slashes
/// kept, as POSIX allows), `.` for nothing.
pub fn py_path(text: &str) -> String {
    let (root, rest) = if text.starts_with("//") && !text.starts_with("///") {
        ("//", &text[2..])
    } else if text.starts_with('/') {
        ("/", text.trim_start_matches('/'))
    } else {
        ("", text)
    };
    let parts: Vec<&str> = rest
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    let out = format!("{root}{}", parts.join("/"));
    if out.is_empty() {
        ".".to_owned()
    } else {
        out
    }
}

/// `Path.suffix`: from the last dot of the name, unless the name starts or ends with it.
fn suffix(name: &str) -> &str {
    match name.rfind('.') {
        Some(i) if i > 0 && i < name.len() - 1 => &name[i..],
        _ => "",
    }
}

/// Files as given; folders become the captures inside them (by suffix), sorted. Paths come
/// back as Python writes them (`py_path`).
pub fn expand(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in paths {
        let base = py_path(&p.to_string_lossy());
        if !p.is_dir() {
            out.push(PathBuf::from(base));
            continue;
        }
        let mut found: Vec<String> = std::fs::read_dir(p)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|name| CAPTURE_SUFFIXES.contains(&suffix(name).to_lowercase().as_str()))
                    .collect()
            })
            .unwrap_or_default();
        found.sort();
        for name in found {
            out.push(PathBuf::from(match base.as_str() {
                "." => name,
                b if b.ends_with('/') => format!("{b}{name}"),
                b => format!("{b}/{name}"),
            }));
        }
    }
    out
}

/// Streams one capture through a fresh sensor, handing each event to `emit` in order; returns
/// the (finished) sensor and the error line, if any. Everything before a bad or truncated
/// record has been emitted when an error is returned. `progress`, when given, is called every
/// 1024 packets with the bytes read so far (frame bytes plus 16 per record).
pub fn run_capture(
    path: &Path,
    observer: &str,
    organization: &str,
    emit: &mut dyn FnMut(Event),
    mut progress: Option<&mut dyn FnMut(u64)>,
) -> (Sensor, Option<String>) {
    let name = path.to_string_lossy();
    let cid = match capture_id(path) {
        Ok(cid) => cid,
        Err(e) => {
            let sensor = Sensor::new("icssa", "default", "live", MAX_FLOWS);
            return (
                sensor,
                Some(format!("{name}: cannot read: {}", strerror(&e))),
            );
        }
    };
    let mut sensor = Sensor::new(observer, organization, &cid, MAX_FLOWS);
    let error = match open_capture(path, &name) {
        Err(e) => Some(e.message),
        Ok(mut capture) => {
            let mut n = 0u64;
            loop {
                match capture.next_packet() {
                    Ok(Some(p)) => {
                        sensor.packet(p.ts_ns, p.linktype, p.data);
                        sensor.drain_events().for_each(&mut *emit);
                        n += 1;
                        if n & 0x3FF == 0 {
                            if let Some(progress) = progress.as_mut() {
                                progress(sensor.bytes() + 16 * n);
                            }
                        }
                    }
                    Ok(None) => break None,
                    Err(e) => break Some(e.message),
                }
            }
        }
    };
    sensor.finish();
    sensor.drain_events().for_each(&mut *emit);
    (sensor, error)
}

/// The counters of a replay over several captures (Python: `pipeline.Summary`).
#[derive(Debug, Default)]
pub struct Summary {
    pub files: u64,
    pub packets: u64,
    pub bytes: u64,
    pub flows: u64,
    pub events: u64,
    pub messages: Tally<String>,
    pub actions: Tally<(String, String)>,
    pub parse_errors: Tally<(String, String)>,
    pub sensor: Tally<String>,
    pub errors: Vec<String>,
}

impl Summary {
    /// Adds a capture's sensor counters (`Summary.add`).
    pub fn add(&mut self, sensor: &Sensor) {
        self.packets += sensor.stat(Stat::Packets);
        self.bytes += sensor.stat(Stat::Bytes);
        self.flows += sensor.stat(Stat::Flows);
        for (dataset, n) in sensor.messages() {
            self.messages.add((*dataset).to_owned(), *n);
        }
        for (dataset, action, n) in sensor.actions() {
            self.actions.add((dataset.to_owned(), action.to_owned()), n);
        }
        for (dataset, reason, n) in sensor.parse_errors() {
            self.parse_errors
                .add((dataset.to_owned(), reason.to_owned()), n);
        }
        for (name, n) in sensor.stats() {
            self.sensor.add(name.to_owned(), n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_as_python_prints_them() {
        // expected: str(pathlib.Path(x)) on Python 3.11
        assert_eq!(py_path("pcaps/"), "pcaps");
        assert_eq!(py_path("./a//b/./c.pcap"), "a/b/c.pcap");
        assert_eq!(py_path(""), ".");
        assert_eq!(py_path("./"), ".");
        assert_eq!(py_path("///x"), "/x");
        assert_eq!(py_path("//x/"), "//x");
        assert_eq!(py_path("/"), "/");
        assert_eq!(suffix("a.PCAP"), ".PCAP");
        assert_eq!(suffix(".pcap"), "");
        assert_eq!(suffix("x.pcap."), "");
        assert_eq!(suffix("..pcap"), ".pcap");
    }
}
