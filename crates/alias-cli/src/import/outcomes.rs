//! The outcome ledger (`--outcomes`): one NDJSON line for every row, accepted ones too,
//! with what went out (`distinct_id`, `alias`, `time`, `$insert_id`) and what came of it.
//!
//! Mixpanel keeps no list of a project's aliases, and a merge cannot be undone: this file
//! is the record of what was linked, and when. A resumed import cuts it back to what its
//! checkpoint covers, like the failures file, so each row is in it once.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use alias_core::{AliasOutcome, CreateAlias};
use serde_json::{Map, Value};

use super::appended::Appended;
use crate::exit::UsageError;
use crate::outcome;

/// An open outcome ledger.
#[derive(Debug)]
pub(crate) struct Outcomes {
    path: PathBuf,
    out: BufWriter<Appended>,
}

impl Outcomes {
    /// Opens the ledger at `path`: truncated for a fresh import, cut back to `resume_len`
    /// (from the checkpoint) for a resumed one.
    pub(crate) fn open(path: &Path, resume_len: Option<u64>) -> Result<Self, UsageError> {
        Ok(Self {
            path: path.to_owned(),
            out: BufWriter::new(Appended::open(path, "--outcomes", resume_len)?),
        })
    }

    /// The file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Records the row read at `line`: `sent` is the alias as it went out (`None` for a
    /// row that could not be sent, which has no stamps), `kind` the outcome in one word and
    /// `reason` why it was not accepted.
    pub(crate) fn write(
        &mut self,
        line: u64,
        sent: Option<&CreateAlias>,
        kind: &str,
        reason: Option<&str>,
    ) -> io::Result<()> {
        let mut entry = Map::new();
        entry.insert("line".to_owned(), Value::from(line));
        entry.insert("outcome".to_owned(), Value::from(kind));
        if let Some(sent) = sent {
            entry.insert(
                "distinct_id".to_owned(),
                Value::from(sent.distinct_id().as_str()),
            );
            entry.insert("alias".to_owned(), Value::from(sent.alias().as_str()));
            if let Some(time) = sent.time() {
                entry.insert("time".to_owned(), Value::from(super::epoch_millis(time)));
            }
            if let Some(insert_id) = sent.insert_id() {
                entry.insert("$insert_id".to_owned(), Value::from(insert_id.as_str()));
            }
        }
        if let Some(reason) = reason {
            entry.insert("reason".to_owned(), Value::from(reason));
        }
        serde_json::to_writer(&mut self.out, &entry)?;
        self.out.write_all(b"\n")
    }

    /// Records `outcome` of the row read at `line`, sent as `sent`.
    pub(crate) fn write_outcome(
        &mut self,
        line: u64,
        sent: &CreateAlias,
        outcome: &AliasOutcome,
    ) -> io::Result<()> {
        let reason = outcome::detail(outcome);
        self.write(line, Some(sent), outcome::kind(outcome), reason.as_deref())
    }

    /// Writes everything buffered to the file and returns its length.
    pub(crate) fn flush(&mut self) -> io::Result<u64> {
        self.out.flush()?;
        Ok(self.out.get_ref().len())
    }

    /// Writes everything buffered to the file and onto the disk, and returns its length.
    pub(crate) fn sync(&mut self) -> io::Result<u64> {
        let len = self.flush()?;
        self.out.get_ref().sync()?;
        Ok(len)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use alias_core::{DeliveryError, InsertId, delivery::Undelivered};

    use super::*;

    fn read(path: &Path) -> Vec<Value> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    #[test]
    fn every_outcome_is_a_line_with_the_stamps_sent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outcomes.ndjson");
        let sent = CreateAlias::from_ids("anon-1", "user-1")
            .unwrap()
            .with_time(UNIX_EPOCH + Duration::from_millis(1_700_000_000_123))
            .unwrap()
            .with_insert_id(InsertId::new("id-1").unwrap());
        let mut ledger = Outcomes::open(&path, None).unwrap();
        ledger
            .write_outcome(2, &sent, &AliasOutcome::Accepted)
            .unwrap();
        let undelivered = AliasOutcome::Undelivered(Undelivered {
            attempts: 8,
            last_error: DeliveryError::Abandoned,
        });
        ledger.write_outcome(3, &sent, &undelivered).unwrap();
        let len = ledger.sync().unwrap();
        assert_eq!(len, std::fs::metadata(&path).unwrap().len());
        let lines = read(&path);
        assert_eq!(
            lines[0],
            serde_json::json!({"line": 2, "outcome": "accepted", "distinct_id": "anon-1",
                "alias": "user-1", "time": 1_700_000_000_123_u64, "$insert_id": "id-1"})
        );
        assert_eq!(lines[1]["outcome"], "undelivered");
        assert!(lines[1]["reason"].as_str().unwrap().contains("abandoned"));
    }

    #[test]
    fn a_resumed_ledger_is_cut_back_to_the_checkpoint_and_appended_to() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outcomes.ndjson");
        let sent = CreateAlias::from_ids("anon-1", "user-1").unwrap();
        let mut ledger = Outcomes::open(&path, None).unwrap();
        ledger
            .write_outcome(2, &sent, &AliasOutcome::Accepted)
            .unwrap();
        let covered = ledger.sync().unwrap();
        ledger
            .write_outcome(3, &sent, &AliasOutcome::Accepted)
            .unwrap();
        ledger.flush().unwrap();
        drop(ledger);

        let mut resumed = Outcomes::open(&path, Some(covered)).unwrap();
        resumed
            .write_outcome(3, &sent, &AliasOutcome::Accepted)
            .unwrap();
        resumed.flush().unwrap();
        let lines: Vec<u64> = read(&path)
            .iter()
            .map(|line| line["line"].as_u64().unwrap())
            .collect();
        assert_eq!(lines, [2, 3], "row 3 once");
    }
}
