//! A file an import appends to and a checkpoint covers (the failures file, the outcome
//! ledger): a resumed import cuts it back to the length its checkpoint recorded, so that
//! no row is written twice, and it counts the bytes written, so that the next checkpoint
//! can record how far it reaches.

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::Path;

use crate::exit::UsageError;

/// An open file, appended to, that knows its length.
#[derive(Debug)]
pub(crate) struct Appended {
    file: File,
    written: u64,
}

impl Appended {
    /// Opens the file at `path`, given by the command-line `flag` (for messages). A fresh
    /// import (`resume_len` is `None`) truncates it; a resumed one cuts it back to
    /// `resume_len` and appends.
    pub(crate) fn open(
        path: &Path,
        flag: &str,
        resume_len: Option<u64>,
    ) -> Result<Self, UsageError> {
        let cannot = |e: io::Error| {
            UsageError::new(format!(
                "{flag} {}: cannot write it: {e}; pass a path in a writable directory",
                path.display()
            ))
        };
        let mut file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(resume_len.is_none())
            .open(path)
            .map_err(cannot)?;
        let written = match resume_len {
            Some(len) => {
                let current = file.metadata().map_err(cannot)?.len();
                if current < len {
                    tracing::warn!(
                        path = %path.display(),
                        "{flag} is shorter than the checkpoint recorded: rows written earlier may be missing"
                    );
                }
                let kept = current.min(len);
                file.set_len(kept).map_err(cannot)?;
                file.seek(SeekFrom::Start(kept)).map_err(cannot)?;
                kept
            }
            None => 0,
        };
        Ok(Self { file, written })
    }

    /// The file's length: what was kept, and every byte written since.
    pub(crate) fn len(&self) -> u64 {
        self.written
    }

    /// Puts what was written onto the disk: a checkpoint that records the length must not
    /// outlive the rows it covers.
    pub(crate) fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }
}

impl Write for Appended {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}
