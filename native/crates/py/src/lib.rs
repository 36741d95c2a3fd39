//! The Python module `icssa_native`: icssa's replay path in native code.
//!
//! `replay(files, out_dir, observer, organization, progress=None, analytics=None)` streams
//! the captures through the native sensor and writes `out_dir/events.jsonl`, byte for byte
//! what the Python path writes, without holding the GIL. With `analytics`, a pair of JSON
//! documents (the asset map's configuration from `assetmap.native.config_of`, the rules from
//! `correlation.native.rules_document`), every event also goes to the native asset map and
//! correlation engine, as `icssa/pipeline.py` does, and `alerts.jsonl`, `assets.json` and
//! `graph.json` are written too. It returns the run's counters as a dict for `icssa.native`
//! to turn into a `Summary`. `progress(file_index, bytes_done)` is called every 1024 packets;
//! an exception it raises (Ctrl-C) stops the run and propagates.

mod analytics;
mod lines;

use analytics::Analytics;
use icssa_sensor::pipeline::{run_capture, Summary};
use lines::Lines;
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use std::path::{Path, PathBuf};

enum Stop {
    Io(std::io::Error),
    Config(String),
    Python(PyErr),
}

/// What a run gives back: the sensor's counters, its log lines, and (alerts, assets) when
/// the analytics ran.
type Outcome = (Summary, Vec<String>, Option<(u64, usize)>);

fn run(
    files: &[String],
    out_dir: &Path,
    observer: &str,
    organization: &str,
    progress: Option<&PyObject>,
    analytics: Option<(&str, &str)>,
) -> Result<Outcome, Stop> {
    // made here, in the thread that runs without the GIL: the engine's state is not Send
    let mut analytics = match analytics {
        Some((config, rules)) => {
            Some(Analytics::new(config, rules, out_dir).map_err(|e| match e {
                analytics::Error::Config(msg) => Stop::Config(msg),
                analytics::Error::Io(e) => Stop::Io(e),
            })?)
        }
        None => None,
    };
    let mut events = Lines::create(&out_dir.join("events.jsonl")).map_err(Stop::Io)?;
    let mut summary = Summary::default();
    let mut interrupted: Option<PyErr> = None;
    let mut log = Vec::new();
    for (index, file) in files.iter().enumerate() {
        summary.files += 1;
        let mut emit = |event: icssa_core::event::Event| {
            event.write_json(&mut events.buf);
            events.added();
            if let Some(a) = analytics.as_mut() {
                a.event(&event);
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
        if let Some(e) = events.take_error() {
            return Err(Stop::Io(e));
        }
    }
    summary.events = events.close().map_err(Stop::Io)?;
    let counts = match analytics.as_mut() {
        Some(a) => {
            a.finish(out_dir).map_err(Stop::Io)?;
            Some((a.alerts(), a.assets()))
        }
        None => None,
    };
    Ok((summary, log, counts))
}

fn summary_dict<'py>(py: Python<'py>, outcome: Outcome) -> PyResult<Bound<'py, PyDict>> {
    let (s, log, counts) = outcome;
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
    if let Some((alerts, assets)) = counts {
        d.set_item("alerts", alerts)?;
        d.set_item("assets", assets)?;
    }
    Ok(d)
}

/// Replays `files` (already expanded, in order) into `out_dir`: `events.jsonl`, and with
/// `analytics` (asset map configuration JSON, rules document JSON) the other three files.
/// ValueError: a configuration or rules document the native core cannot run; OSError: a file
/// that cannot be written (named in the message).
#[pyfunction]
#[pyo3(signature = (files, out_dir, observer, organization, progress=None, analytics=None))]
fn replay<'py>(
    py: Python<'py>,
    files: Vec<String>,
    out_dir: PathBuf,
    observer: String,
    organization: String,
    progress: Option<PyObject>,
    analytics: Option<(String, String)>,
) -> PyResult<Bound<'py, PyDict>> {
    let analytics = analytics.as_ref().map(|(c, r)| (c.as_str(), r.as_str()));
    let result = py.allow_threads(|| {
        run(
            &files,
            &out_dir,
            &observer,
            &organization,
            progress.as_ref(),
            analytics,
        )
    });
    match result {
        Ok(outcome) => summary_dict(py, outcome),
        Err(Stop::Io(e)) => Err(PyOSError::new_err(e.to_string())),
        Err(Stop::Config(msg)) => Err(PyValueError::new_err(msg)),
        Err(Stop::Python(e)) => Err(e),
    }
}

/// Why the native core cannot run these documents (asset map configuration, rules), or None.
#[pyfunction]
fn check(config: &str, rules: &str) -> Option<String> {
    Analytics::parts(config, rules).err()
}

#[pymodule]
fn icssa_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(replay, m)?)?;
    m.add_function(wrap_pyfunction!(check, m)?)?;
    Ok(())
}
