//! The checkpoint file: how far an import got, so that an interrupted one resumes there.
//!
//! It records the input line below which every row has its final outcome recorded
//! (accepted, or listed in the failures file), how long the failures file was then, the
//! counts so far, and the `time` given to rows without one, so that a row sent again after a
//! hard kill is the same event and the server drops the copy. It is replaced atomically
//! (written beside, then renamed), so a kill at any moment leaves the old or the new one.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alias_core::Tally;
use serde::{Deserialize, Serialize};

use super::same_file;
use crate::exit::UsageError;

/// The format version this program writes and reads.
const VERSION: u32 = 1;

/// Where a checkpoint is kept: its file and, beside it, the temporary file each new state
/// is written to before it replaces the checkpoint.
#[derive(Debug, Clone)]
pub(crate) struct Location {
    /// The path as given, for messages.
    given: PathBuf,
    /// The file, links followed: a rename over a link would replace the link, and the
    /// temporary file must be on the checkpoint's file system for the rename to work.
    file: PathBuf,
    temporary: PathBuf,
}

impl Location {
    /// The checkpoint at `path`.
    pub(crate) fn new(path: &Path) -> Self {
        let file = same_file::real_path(path);
        let mut temporary = file.clone().into_os_string();
        temporary.push(".tmp");
        Self {
            given: path.to_owned(),
            file,
            temporary: temporary.into(),
        }
    }

    /// Every file the checkpoint writes.
    pub(crate) fn files(&self) -> [&Path; 2] {
        [&self.file, &self.temporary]
    }

    /// The path as given.
    pub(crate) fn path(&self) -> &Path {
        &self.given
    }
}

/// One state of an import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Checkpoint {
    /// The format version.
    pub(crate) version: u32,
    /// The input, as [`super::input::InputPath::identity`] names it.
    pub(crate) input: String,
    /// Every row starting before this line has its final outcome recorded.
    pub(crate) resume_line: u64,
    /// The `time`, in milliseconds since the epoch, of rows without one.
    pub(crate) default_time_ms: u64,
    /// The length of the failures file that goes with this state, if there is one.
    pub(crate) failures_len: Option<u64>,
    /// Whether the whole input was read and every row has its outcome.
    pub(crate) complete: bool,
    /// Rows accepted so far.
    pub(crate) accepted: u64,
    /// Rows rejected so far.
    pub(crate) rejected: u64,
    /// Rows undelivered so far.
    pub(crate) undelivered: u64,
    /// Rows invalid so far.
    pub(crate) invalid: u64,
}

impl Checkpoint {
    /// The state at the start of a fresh import of `input`, giving rows without a `time`
    /// this one, cut to whole milliseconds so that a resumed run stamps exactly the same.
    pub(crate) fn start(input: String, default_time: SystemTime) -> Self {
        Self {
            version: VERSION,
            input,
            resume_line: 0,
            default_time_ms: super::epoch_millis(default_time),
            failures_len: None,
            complete: false,
            accepted: 0,
            rejected: 0,
            undelivered: 0,
            invalid: 0,
        }
    }

    /// Reads the checkpoint at `location`; `None` when there is none yet.
    pub(crate) fn load(location: &Location) -> Result<Option<Self>, UsageError> {
        let path = location.path();
        let text = match std::fs::read(&location.file) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(UsageError::new(format!(
                    "--checkpoint {}: cannot read it: {e}; check its permissions, or pass \
                     another path",
                    path.display()
                )));
            }
        };
        let checkpoint: Self = serde_json::from_slice(&text).map_err(|e| {
            UsageError::new(format!(
                "--checkpoint {}: not a checkpoint of this program ({e}); pass another path, \
                 or delete the file to start the import over",
                path.display()
            ))
        })?;
        if checkpoint.version != VERSION {
            return Err(UsageError::new(format!(
                "--checkpoint {}: written in format {} but this program reads {VERSION}; \
                 finish the import with the program that wrote it, or delete the file to \
                 start over",
                path.display(),
                checkpoint.version
            )));
        }
        Ok(Some(checkpoint))
    }

    /// Replaces the checkpoint at `location` atomically.
    pub(crate) fn store(&self, location: &Location) -> io::Result<()> {
        let json = serde_json::to_vec_pretty(self).map_err(io::Error::other)?;
        std::fs::write(&location.temporary, json)?;
        std::fs::rename(&location.temporary, &location.file)
    }

    /// The `time` of rows without one.
    pub(crate) fn default_time(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.default_time_ms)
    }

    /// The counts so far.
    pub(crate) fn tally(&self) -> Tally {
        Tally {
            accepted: self.accepted,
            rejected: self.rejected,
            invalid: self.invalid,
            undelivered: self.undelivered,
        }
    }

    /// Records the counts.
    pub(crate) fn set_tally(&mut self, tally: &Tally) {
        self.accepted = tally.accepted;
        self.rejected = tally.rejected;
        self.invalid = tally.invalid;
        self.undelivered = tally.undelivered;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_checkpoint_loads_back_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = Location::new(&dir.path().join("import.checkpoint"));
        assert_eq!(Checkpoint::load(&path), Ok(None));
        let mut checkpoint = Checkpoint::start(
            "/data/in.csv".into(),
            UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
        );
        checkpoint.resume_line = 42;
        checkpoint.set_tally(&Tally {
            accepted: 30,
            rejected: 1,
            invalid: 2,
            undelivered: 3,
        });
        checkpoint.store(&path).unwrap();
        checkpoint.resume_line = 43;
        checkpoint.store(&path).unwrap();
        let loaded = Checkpoint::load(&path).unwrap().unwrap();
        assert_eq!(loaded, checkpoint);
        assert_eq!(loaded.tally().undelivered, 3);
        assert_eq!(
            loaded.default_time(),
            UNIX_EPOCH + Duration::from_millis(1_700_000_000_123)
        );
        assert!(!path.temporary.exists());
    }

    #[test]
    fn a_foreign_file_is_refused_with_a_way_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.txt");
        std::fs::write(&path, "hello").unwrap();
        let error = Checkpoint::load(&Location::new(&path))
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("--checkpoint "), "{error}");
        assert!(
            error.contains("delete the file to start the import over"),
            "{error}"
        );
    }
}
