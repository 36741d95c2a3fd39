//! Buffered JSON-lines files (`icssa.sinks.JsonLines`): I/O errors name the file.

use std::fs::File;
use std::io::{Error, Write};
use std::path::{Path, PathBuf};

/// Bytes of JSON lines gathered before a write to the file.
pub const WRITE_BLOCK: usize = 1 << 20;

/// `path: error`, as the Python path's OSError reads.
pub fn named(path: &Path, e: &Error) -> Error {
    Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// Buffered JSON lines; the first I/O error is kept and stops further writes.
pub struct Lines {
    file: File,
    path: PathBuf,
    pub buf: Vec<u8>,
    pub count: u64,
    error: Option<Error>,
}

impl Lines {
    pub fn create(path: &Path) -> Result<Self, Error> {
        Ok(Lines {
            file: File::create(path).map_err(|e| named(path, &e))?,
            path: path.to_owned(),
            buf: Vec::with_capacity(WRITE_BLOCK + 4096),
            count: 0,
            error: None,
        })
    }

    /// Appends one line's bytes already in `buf`: counts it, writes when the block is full.
    pub fn added(&mut self) {
        self.count += 1;
        if self.buf.len() >= WRITE_BLOCK {
            self.spill();
        }
    }

    pub fn spill(&mut self) {
        if self.error.is_none() {
            if let Err(e) = self.file.write_all(&self.buf) {
                self.error = Some(named(&self.path, &e));
            }
        }
        self.buf.clear();
    }

    /// The first write error so far, taken.
    pub fn take_error(&mut self) -> Option<Error> {
        self.error.take()
    }

    /// Writes what is left; the count of lines, or the first write error.
    pub fn close(mut self) -> Result<u64, Error> {
        self.spill();
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.count),
        }
    }
}
