//! The Python module `icssa_native`: icssa's replay path in native code.
//!
//! `replay(files, out_dir, observer, organization, progress=None)` streams the captures
//! through the native sensor and writes `out_dir/events.jsonl`, byte for byte what the Python
//! path writes, without holding the GIL; it returns the run's counters as a dict for
//! `icssa.native` to turn into a `Summary`. `progress(file_index, bytes_done)` is called
//! every 1024 packets; an exception it raises (Ctrl-C) stops the run and propagates.

use icssa_sensor::pipeline::{run_capture, Summary};
use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Bytes of JSON lines gathered before a write to the file.
const WRITE_BLOCK: usize = 1 << 20;

/// Buffered JSON lines; the first I/O error is kept and stops further writes.
struct Lines {
    file: File,
    buf: Vec<u8>,
    count: u64,
    error: Option<std::io::Error>,
}

impl Lines {
    fn create(path: &Path) -> std::io::Result<Self> {
        Ok(Lines {
            file: File::create(path)?,
            buf: Vec::with_capacity(WRITE_BLOCK + 4096),
            count: 0,
            error: None,
        })
    }

    fn spill(&mut self) {
        if self.error.is_none() {
            if let Err(e) = self.file.write_all(&self.buf) {
                self.error = Some(e);
            }
        }
        self.buf.clear();
    }

    fn close(mut self) -> std::io::Result<u64> {
        self.spill();
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.count),
        }
    }
}

enum Stop {
    Io(std::io::Error),
    Python(PyErr),
}

fn run(
    files: &[String],
    out_dir: &Path,
    observer: &str,
    organization: &str,
    progress: Option<&PyObject>,
) -> Result<(Summary, Vec<String>), Stop> {
    let mut events = Lines::create(&out_dir.join("events.jsonl")).map_err(Stop::Io)?;
    let mut summary = Summary::default();
    let mut interrupted: Option<PyErr> = None;
    let mut log = Vec::new();
    for (index, file) in files.iter().enumerate() {
        summary.files += 1;
        let mut emit = |event: icssa_core::event::Event| {
            event.write_json(&mut events.buf);
            events.count += 1;
            if events.buf.len() >= WRITE_BLOCK {
                events.spill();
            }
        };
        let mut report = |done: u64| {
            if interrupted.is_some() {
                return;
            }
            Python::with_gil(|py| {
                let answer = match progress {
                    Some(f) => f.call1(py, (index, done)).map(drop),
                    None => py.check_signals(),
                };
                if let Err(e) = answer {
                    interrupted = Some(e);
                }
            });
        };
        let (mut sensor, error) = run_capture(
            Path::new(file),
            observer,
            organization,
            &mut emit,
            Some(&mut report),
        );
        if let Some(e) = interrupted.take() {
            return Err(Stop::Python(e));
        }
        if let Some(e) = error {
            summary.errors.push(e);
        }
        summary.add(&sensor);
        log.extend(sensor.take_log());
        if let Some(e) = events.error.take() {
            return Err(Stop::Io(e));
        }
    }
    summary.events = events.close().map_err(Stop::Io)?;
    Ok((summary, log))
}

fn summary_dict<'py>(
    py: Python<'py>,
    s: &Summary,
    log: Vec<String>,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("files", s.files)?;
    d.set_item("packets", s.packets)?;
    d.set_item("bytes", s.bytes)?;
    d.set_item("flows", s.flows)?;
    d.set_item("events", s.events)?;
    let pairs =
        |items: &[(String, u64)]| PyList::new(py, items.iter().map(|(k, n)| (k.as_str(), *n)));
    let triples = |items: &[((String, String), u64)]| {
        PyList::new(
            py,
            items.iter().map(|((a, b), n)| (a.as_str(), b.as_str(), *n)),
        )
    };
    d.set_item("messages", pairs(s.messages.items())?)?;
    d.set_item("sensor", pairs(s.sensor.items())?)?;
    d.set_item("actions", triples(s.actions.items())?)?;
    d.set_item("parse_errors", triples(s.parse_errors.items())?)?;
    d.set_item("errors", PyList::new(py, &s.errors)?)?;
    d.set_item("log", PyList::new(py, log)?)?;
    Ok(d)
}

/// Replays `files` (already expanded, in order) into `out_dir/events.jsonl`.
#[pyfunction]
#[pyo3(signature = (files, out_dir, observer, organization, progress=None))]
fn replay<'py>(
    py: Python<'py>,
    files: Vec<String>,
    out_dir: PathBuf,
    observer: String,
    organization: String,
    progress: Option<PyObject>,
) -> PyResult<Bound<'py, PyDict>> {
    let result = py.allow_threads(|| {
        run(
            &files,
            &out_dir,
            &observer,
            &organization,
            progress.as_ref(),
        )
    });
    match result {
        Ok((summary, log)) => summary_dict(py, &summary, log),
        Err(Stop::Io(e)) => Err(PyOSError::new_err(format!(
            "{}: {e}",
            out_dir.join("events.jsonl").display()
        ))),
        Err(Stop::Python(e)) => Err(e),
    }
}

#[pymodule]
fn icssa_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(replay, m)?)?;
    Ok(())
}
