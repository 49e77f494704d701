//! The checkpoint file: how far an import got, so that an interrupted one resumes there.
//!
//! It records the row boundary before which every row has its final outcome recorded
//! (accepted, or listed in the failures file) and a digest of the input's bytes up to it
//! (a [`Mark`]), how long the failures file was then, the counts so far, and the `time`
//! given to rows without one, so that a row sent again after a hard kill is the same event
//! and the server drops the copy. A resumed import reads the input again up to the mark
//! and goes on only if those bytes are the ones imported before. The file is replaced
//! atomically (written beside, then renamed), so a kill at any moment leaves the old or
//! the new one.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alias_core::Tally;
use serde::{Deserialize, Serialize};

use super::input::Mark;
use super::same_file;
use crate::exit::UsageError;

/// The format version this program writes and reads. Format 1 named the input by its path
/// and the resume point by a line, and trusted both.
const VERSION: u32 = 2;

/// The most bytes read from a checkpoint: one is a few hundred bytes, so anything larger
/// is not one, and `/dev/zero` must not be read to the end.
const MAX_BYTES: u64 = 64 * 1024;

/// Where a checkpoint is kept: its file and, beside it, the temporary file each new state
/// is written to before it replaces the checkpoint, and the lock file.
#[derive(Debug, Clone)]
pub(crate) struct Location {
    /// The path as given, for messages.
    given: PathBuf,
    /// The file, links followed: a rename over a link would replace the link, and the
    /// temporary file must be on the checkpoint's file system for the rename to work.
    file: PathBuf,
    temporary: PathBuf,
    /// Locked by the import using the checkpoint. A file of its own, since the checkpoint
    /// itself is replaced by every write, and a lock on the replaced file would guard
    /// nothing.
    lock: PathBuf,
}

/// The lock on a checkpoint, held until dropped (or the process ends, however it ends).
#[derive(Debug)]
pub(crate) struct Lock {
    _file: File,
}

impl Location {
    /// The checkpoint at `path`.
    pub(crate) fn new(path: &Path) -> Self {
        let file = same_file::real_path(path);
        let beside = |suffix: &str| {
            let mut name = file.clone().into_os_string();
            name.push(suffix);
            PathBuf::from(name)
        };
        Self {
            given: path.to_owned(),
            temporary: beside(".tmp"),
            lock: beside(".lock"),
            file,
        }
    }

    /// Every file the checkpoint writes.
    pub(crate) fn files(&self) -> [&Path; 3] {
        [&self.file, &self.temporary, &self.lock]
    }

    /// Locks the checkpoint for this import, or refuses at once when another import holds
    /// it: two imports of one checkpoint would each send every row, with stamps of their
    /// own, so the server would keep both copies.
    pub(crate) fn lock(&self) -> Result<Lock, UsageError> {
        let refuse =
            |why: String| UsageError::new(format!("--checkpoint {}: {why}", self.given.display()));
        if is_special(&self.file) {
            return Err(refuse(NOT_A_FILE.to_owned()));
        }
        if is_special(&self.lock) {
            return Err(refuse(format!(
                "its lock file {} is not a regular file; remove it, or pass another path",
                self.lock.display()
            )));
        }
        if is_link(&self.lock) {
            return Err(refuse(format!(
                "its lock file {} is a symbolic link, which is never followed; remove it, or \
                 pass another path",
                self.lock.display()
            )));
        }
        let file = not_following_links(OpenOptions::new().create(true).truncate(false).write(true))
            .open(&self.lock)
            .map_err(|e| {
                refuse(format!(
                    "cannot create its lock file {}: {e}; pass a path in a writable folder",
                    self.lock.display()
                ))
            })?;
        match file.try_lock() {
            Ok(()) => Ok(Lock { _file: file }),
            Err(TryLockError::WouldBlock) => Err(refuse(format!(
                "another import is using it (it holds {}); wait for that import to end, or \
                 pass another --checkpoint path for another import",
                self.lock.display()
            ))),
            Err(TryLockError::Error(e)) => Err(refuse(format!(
                "cannot lock {}: {e}; pass a --checkpoint path on a file system that supports \
                 file locks",
                self.lock.display()
            ))),
        }
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
    /// The input, as [`super::input::InputPath::identity`] names it, for a person reading
    /// the file: the import itself recognises its input by the bytes, whatever its name.
    pub(crate) input: String,
    /// Every row before this boundary has its final outcome recorded.
    pub(crate) resume: Mark,
    /// The `time`, in milliseconds since the epoch, of rows without one.
    pub(crate) default_time_ms: u64,
    /// The length of the failures file that goes with this state, if there is one.
    pub(crate) failures_len: Option<u64>,
    /// The length of the outcome ledger that goes with this state, if there is one.
    /// Absent from checkpoints written before the ledger existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) outcomes_len: Option<u64>,
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

/// What is read first, to tell another format from a broken file.
#[derive(Debug, Deserialize)]
struct Versioned {
    version: u32,
}

impl Checkpoint {
    /// The state at the start of a fresh import of `input`, giving rows without a `time`
    /// this one, cut to whole milliseconds so that a resumed run stamps exactly the same.
    pub(crate) fn start(input: String, default_time: SystemTime) -> Self {
        Self {
            version: VERSION,
            input,
            resume: Mark::start(),
            default_time_ms: super::epoch_millis(default_time),
            failures_len: None,
            outcomes_len: None,
            complete: false,
            accepted: 0,
            rejected: 0,
            undelivered: 0,
            invalid: 0,
        }
    }

    /// Reads the checkpoint at `location`; `None` when there is none yet. Only a regular
    /// file of at most [`MAX_BYTES`] is read.
    pub(crate) fn load(location: &Location) -> Result<Option<Self>, UsageError> {
        let refuse = |why: String| {
            UsageError::new(format!("--checkpoint {}: {why}", location.path().display()))
        };
        let cannot_read = |e: io::Error| {
            refuse(format!(
                "cannot read it: {e}; check its permissions, or pass another path"
            ))
        };
        match std::fs::metadata(&location.file) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(cannot_read(e)),
            Ok(metadata) if !metadata.is_file() => return Err(refuse(NOT_A_FILE.to_owned())),
            Ok(_) => {}
        }
        let mut text = Vec::new();
        File::open(&location.file)
            .and_then(|file| file.take(MAX_BYTES + 1).read_to_end(&mut text))
            .map_err(cannot_read)?;
        Self::from_bytes(&text).map(Some).map_err(refuse)
    }

    /// Reads a checkpoint from the bytes of its file, or says why they are not one of this
    /// version: the reason, followed by what to do about it.
    pub(crate) fn from_bytes(text: &[u8]) -> Result<Self, String> {
        let foreign = |e: String| {
            format!(
                "not a checkpoint of this program ({e}); pass another path, or delete the \
                 file to start the import over"
            )
        };
        if text.len() as u64 > MAX_BYTES {
            return Err(foreign(format!("it is larger than {MAX_BYTES} bytes")));
        }
        let versioned: Versioned =
            serde_json::from_slice(text).map_err(|e| foreign(e.to_string()))?;
        if versioned.version != VERSION {
            return Err(format!(
                "written in checkpoint format {} but this version of mixpanel-alias reads \
                 format {VERSION}, which also records the input's bytes so that a changed \
                 input is caught. Finish that import with the version that wrote the \
                 checkpoint; or delete it to import the input again from its start (rows \
                 already sent without a time of their own would then be stored twice)",
                versioned.version
            ));
        }
        serde_json::from_slice(text).map_err(|e| foreign(e.to_string()))
    }

    /// The bytes of its file, which [`Checkpoint::from_bytes`] reads back.
    pub(crate) fn to_bytes(&self) -> serde_json::Result<Vec<u8>> {
        serde_json::to_vec_pretty(self)
    }

    /// Replaces the checkpoint at `location` atomically and durably: once this returns,
    /// the new state survives a crash of the machine, not only of the process.
    pub(crate) fn store(&self, location: &Location) -> io::Result<()> {
        // Created anew, never opened: a link planted at the temporary path is removed
        // rather than followed, so no other file is ever written through it.
        match std::fs::remove_file(&location.temporary) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let mut temporary = not_following_links(OpenOptions::new().write(true).create_new(true))
            .open(&location.temporary)?;
        temporary.write_all(&self.to_bytes().map_err(io::Error::other)?)?;
        temporary.sync_all()?;
        drop(temporary);
        std::fs::rename(&location.temporary, &location.file)?;
        sync_folder(&location.file)
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

    /// The same state with these counts.
    pub(crate) fn with_tally(self, tally: &Tally) -> Self {
        Self {
            accepted: tally.accepted,
            rejected: tally.rejected,
            invalid: tally.invalid,
            undelivered: tally.undelivered,
            ..self
        }
    }
}

/// Syncs the folder holding `file`, which makes a rename into it durable.
fn sync_folder(file: &Path) -> io::Result<()> {
    // Only Unix opens a folder as a file; elsewhere the rename is left to the system.
    #[cfg(unix)]
    if let Some(folder) = file.parent() {
        File::open(folder)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}

/// `options`, made to fail on a symbolic link at the path rather than follow it, where the
/// system can say so (on Unix; `create_new` refuses a link everywhere).
fn not_following_links(options: &mut OpenOptions) -> &mut OpenOptions {
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(options, libc::O_NOFOLLOW);
    options
}

/// Whether `path` is a symbolic link (to anything, or to nothing).
fn is_link(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|metadata| metadata.file_type().is_symlink())
}

/// Why a path that is not a regular file is refused.
const NOT_A_FILE: &str = "not a regular file (a device, a pipe or a folder); pass the path of a \
                          file, which the import creates";

/// Whether `path` exists and is not a regular file: a device may never end, and opening a
/// FIFO waits for its other end, so nothing is opened or created beside such a path.
fn is_special(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|metadata| !metadata.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn location(dir: &tempfile::TempDir, name: &str) -> Location {
        Location::new(&dir.path().join(name))
    }

    #[cfg(unix)]
    #[test]
    fn links_planted_beside_a_checkpoint_are_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        let path = location(&dir, "import.checkpoint");
        std::os::unix::fs::symlink(&victim, &path.temporary).unwrap();
        std::os::unix::fs::symlink(&victim, &path.lock).unwrap();

        let refused = path.lock().unwrap_err().to_string();
        assert!(refused.contains("is a symbolic link"), "{refused}");
        let state = Checkpoint::start("in.csv".into(), UNIX_EPOCH);
        state.store(&path).unwrap();
        assert_eq!(Checkpoint::load(&path), Ok(Some(state)));
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        assert!(!is_link(&path.file), "the checkpoint is a file of its own");
    }

    #[test]
    fn a_stored_checkpoint_loads_back_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = location(&dir, "import.checkpoint");
        assert_eq!(Checkpoint::load(&path), Ok(None));
        let mut checkpoint = Checkpoint::start(
            "/data/in.csv".into(),
            UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
        )
        .with_tally(&Tally {
            accepted: 30,
            rejected: 1,
            invalid: 2,
            undelivered: 3,
        });
        checkpoint.resume.line = 42;
        checkpoint.store(&path).unwrap();
        checkpoint.resume.line = 43;
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
        let cases: [(&str, Vec<u8>, &str); 3] = [
            (
                "notes.txt",
                b"hello".to_vec(),
                "not a checkpoint of this program",
            ),
            (
                "big.json",
                vec![b' '; MAX_BYTES as usize + 1],
                "larger than 65536 bytes",
            ),
            (
                "old.json",
                br#"{"version":1,"input":"in.csv","resume_line":7}"#.to_vec(),
                "written in checkpoint format 1 but this version of mixpanel-alias reads format 2",
            ),
        ];
        for (name, text, expected) in cases {
            std::fs::write(dir.path().join(name), text).unwrap();
            let error = Checkpoint::load(&location(&dir, name))
                .unwrap_err()
                .to_string();
            assert!(error.starts_with("--checkpoint "), "{error}");
            assert!(error.contains(expected), "{error}");
        }
    }

    #[test]
    fn a_locked_checkpoint_is_refused_until_its_lock_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = location(&dir, "import.checkpoint");
        let held = path.lock().unwrap();
        let error = path.lock().unwrap_err().to_string();
        assert!(error.contains("another import is using it"), "{error}");
        drop(held);
        assert!(path.lock().is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn only_a_regular_file_is_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("folder")).unwrap();
        for path in [dir.path().join("folder"), PathBuf::from("/dev/null")] {
            let error = Checkpoint::load(&Location::new(&path))
                .unwrap_err()
                .to_string();
            assert!(error.contains("not a regular file"), "{error}");
        }
    }
}
