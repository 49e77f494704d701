//! The input file, read as a stream of rows, each turned into a [`CreateAlias`] or the reason
//! it cannot be one.
//!
//! Both formats become the same thing before validation: the row's fields as event
//! properties, read by [`Event`]'s accessors (so `time` is read in seconds or milliseconds
//! exactly as Mixpanel reads it) and validated by [`CreateAlias`]. A row is read into memory
//! one at a time, and an NDJSON line is cut at [`MAX_LINE_BYTES`], so memory stays bounded
//! whatever the file.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alias_core::server::Event;
use alias_core::{CreateAlias, EVENT_NAME, InsertId};
use csv::ByteRecord;
use serde_json::{Map, Value};

use crate::exit::UsageError;

/// Fields with a meaning of their own; any other field is an extra property (with
/// `--extra-columns`). `line` and `reason` are what the failures file adds, so that it can
/// be imported again as it is.
const KNOWN_FIELDS: [&str; 6] = [
    "distinct_id",
    "alias",
    "time",
    "$insert_id",
    "line",
    "reason",
];

/// The longest NDJSON line read: a Mixpanel event is under 1 MB, so a longer line cannot be
/// sent anyway.
pub(crate) const MAX_LINE_BYTES: usize = 1024 * 1024;

/// How much of an unreadable NDJSON line the failures file keeps.
const KEPT_TEXT_BYTES: usize = 1024;

/// Rows read ahead of the delivery: enough to keep it busy, few enough to cost little.
const READ_AHEAD_ROWS: usize = 4096;

/// The input's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum FormatArg {
    /// NDJSON for `.ndjson` and `.jsonl` files, CSV otherwise.
    Auto,
    /// Comma-separated, with a header line naming the columns.
    Csv,
    /// One JSON object per line.
    Ndjson,
}

/// A resolved input format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// CSV with a header.
    Csv,
    /// One JSON object per line.
    Ndjson,
}

impl FormatArg {
    /// The format of `path`: as given, or guessed from its extension.
    pub(crate) fn resolve(self, path: &InputPath) -> Format {
        match self {
            Self::Csv => Format::Csv,
            Self::Ndjson => Format::Ndjson,
            Self::Auto => {
                let is_ndjson = match path {
                    InputPath::Stdin => false,
                    InputPath::File(path) => {
                        path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                            e.eq_ignore_ascii_case("ndjson") || e.eq_ignore_ascii_case("jsonl")
                        })
                    }
                };
                if is_ndjson {
                    Format::Ndjson
                } else {
                    Format::Csv
                }
            }
        }
    }
}

/// Where rows come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum InputPath {
    /// `-`: standard input.
    Stdin,
    /// A file.
    File(PathBuf),
}

impl InputPath {
    /// `-` for standard input, a path otherwise.
    pub(crate) fn new(arg: &Path) -> Self {
        if arg == Path::new("-") {
            Self::Stdin
        } else {
            Self::File(arg.to_owned())
        }
    }

    /// How a checkpoint names this input: the canonical path, so that a resume from
    /// another directory is recognised.
    pub(crate) fn identity(&self) -> String {
        match self {
            Self::Stdin => "-".to_owned(),
            Self::File(path) => std::fs::canonicalize(path)
                .unwrap_or_else(|_| path.clone())
                .display()
                .to_string(),
        }
    }
}

/// A row as read, kept to write it back to the failures file in the input's own format.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Source {
    /// A CSV record.
    Csv(ByteRecord),
    /// An NDJSON object.
    Json(Map<String, Value>),
    /// An NDJSON line that is not a JSON object, as text (its first KiB when longer).
    Text(String),
}

/// One row of the input.
#[derive(Debug)]
pub(crate) struct Row {
    /// The line it starts on, from 1 (the CSV header is line 1).
    pub(crate) line: u64,
    /// The byte offset in the input just past it: how far the input is done once it is.
    pub(crate) end: u64,
    /// The row as read.
    pub(crate) source: Source,
    /// The alias it asks for, or why it cannot be sent.
    pub(crate) alias: Result<CreateAlias, String>,
}

/// How rows become aliases.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RowOptions {
    /// Other fields become extra event properties.
    pub(crate) extra_columns: bool,
    /// The `time` of rows without one: fixed for a whole import, so that a row sent again
    /// after an interruption is the same event, which the server deduplicates.
    pub(crate) default_time: SystemTime,
    /// Rows starting before this line are skipped: a checkpoint says they are done.
    pub(crate) resume_line: u64,
}

/// The CSV header: the column names and where the known ones are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    /// The column names, trimmed.
    pub(crate) names: Vec<String>,
    /// The columns that become extra properties (with `--extra-columns`).
    extras: Vec<usize>,
}

impl Header {
    /// Reads the header record: it must name `distinct_id` and `alias`, and with
    /// `extra_columns` every other column must be a property name Mixpanel takes.
    pub(crate) fn new(
        record: &ByteRecord,
        extra_columns: bool,
        input: &str,
    ) -> Result<Self, UsageError> {
        let names: Vec<String> = record
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let name = String::from_utf8_lossy(name);
                // A byte order mark, as spreadsheet programs write, is not part of the name.
                let name = if i == 0 {
                    name.trim_start_matches('\u{feff}')
                } else {
                    &name
                };
                name.trim().to_owned()
            })
            .collect();
        for required in ["distinct_id", "alias"] {
            if !names.iter().any(|n| n == required) {
                return Err(UsageError::new(format!(
                    "{input}: the CSV header has no {required:?} column (it has {}); make the \
                     first line a header naming distinct_id and alias, or pass --format ndjson \
                     for NDJSON input",
                    names.join(", ")
                )));
            }
        }
        let mut extras = Vec::new();
        if extra_columns {
            for (i, name) in names.iter().enumerate() {
                if KNOWN_FIELDS.contains(&name.as_str()) {
                    continue;
                }
                // Asks the core whether this name can be a property, rather than keeping a
                // second list of reserved names here.
                let probe = CreateAlias::from_ids("probe-distinct-id", "probe-alias")
                    .and_then(|link| link.with_property(name.as_str(), ""));
                if let Err(refused) = probe {
                    return Err(UsageError::new(format!(
                        "--extra-columns: column {name:?} of {input} cannot be an event property \
                         ({}); rename or remove the column, or drop --extra-columns",
                        refused.problem
                    )));
                }
                extras.push(i);
            }
        }
        Ok(Self { names, extras })
    }

    /// The record's fields as event properties: the ids always, `time` and `$insert_id`
    /// when not empty, the extra columns when not empty.
    fn properties(&self, record: &ByteRecord) -> Result<Map<String, Value>, String> {
        if record.len() != self.names.len() {
            return Err(format!(
                "has {} fields; the header has {}",
                record.len(),
                self.names.len()
            ));
        }
        let mut properties = Map::new();
        for (i, (name, field)) in self.names.iter().zip(record).enumerate() {
            let wanted = match name.as_str() {
                "distinct_id" | "alias" => true,
                "time" | "$insert_id" => !field.is_empty(),
                _ => self.extras.contains(&i) && !field.is_empty(),
            };
            if wanted && !properties.contains_key(name) {
                let text = std::str::from_utf8(field)
                    .map_err(|_| format!("column {name:?} is not valid UTF-8"))?;
                properties.insert(name.clone(), Value::String(text.to_owned()));
            }
        }
        Ok(properties)
    }
}

/// An opened input, its header read.
#[derive(Debug)]
pub(crate) struct Input {
    reader: Reader,
    size: Option<u64>,
}

enum Reader {
    Csv(csv::Reader<Box<dyn Read + Send>>, Header),
    Ndjson(BufReader<Box<dyn Read + Send>>),
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Csv(_, header) => f.debug_tuple("Csv").field(header).finish(),
            Self::Ndjson(_) => f.write_str("Ndjson"),
        }
    }
}

impl Input {
    /// Opens `path` and, for CSV, reads and checks its header.
    pub(crate) fn open(
        path: &InputPath,
        format: Format,
        extra_columns: bool,
    ) -> Result<Self, UsageError> {
        let (read, size, name): (Box<dyn Read + Send>, _, _) = match path {
            InputPath::Stdin => (Box::new(io::stdin()), None, "standard input".to_owned()),
            InputPath::File(file) => {
                let name = file.display().to_string();
                let opened = File::open(file).map_err(|e| {
                    UsageError::new(format!(
                        "FILE {name}: cannot open it: {e}; check the path, or pass - to read \
                         standard input"
                    ))
                })?;
                let size = opened
                    .metadata()
                    .ok()
                    .filter(|m| m.is_file())
                    .map(|m| m.len());
                (Box::new(opened), size, name)
            }
        };
        let reader = match format {
            Format::Ndjson => Reader::Ndjson(BufReader::with_capacity(64 * 1024, read)),
            Format::Csv => {
                let mut csv = csv::ReaderBuilder::new()
                    .has_headers(false)
                    .flexible(true)
                    .from_reader(read);
                let mut record = ByteRecord::new();
                let has_header = csv.read_byte_record(&mut record).map_err(|e| {
                    UsageError::new(format!(
                        "{name}: cannot read the CSV header: {e}; check that the input is CSV"
                    ))
                })?;
                if !has_header {
                    return Err(UsageError::new(format!(
                        "{name}: the input is empty; pass a CSV file whose first line names \
                         the distinct_id and alias columns"
                    )));
                }
                let header = Header::new(&record, extra_columns, &name)?;
                Reader::Csv(csv, header)
            }
        };
        Ok(Self { reader, size })
    }

    /// The CSV header; `None` for NDJSON.
    pub(crate) fn header(&self) -> Option<&Header> {
        match &self.reader {
            Reader::Csv(_, header) => Some(header),
            Reader::Ndjson(_) => None,
        }
    }

    /// The input's size in bytes, when it is a file.
    pub(crate) fn size(&self) -> Option<u64> {
        self.size
    }

    /// Reads rows on a thread of its own, a bounded number ahead, until the end of the input,
    /// a read error (sent as the last item), `stop`, or until the receiver is dropped.
    pub(crate) fn spawn(
        self,
        options: RowOptions,
        stop: Arc<AtomicBool>,
    ) -> io::Result<Receiver<Result<Row, String>>> {
        let (rows, received) = sync_channel(READ_AHEAD_ROWS);
        std::thread::Builder::new()
            .name("import-reader".to_owned())
            .spawn(move || self.read_all(&options, &stop, &rows))?;
        Ok(received)
    }

    fn read_all(
        mut self,
        options: &RowOptions,
        stop: &AtomicBool,
        rows: &SyncSender<Result<Row, String>>,
    ) {
        let mut buffer = Vec::new();
        let mut read = Cursor::default();
        while !stop.load(Ordering::Relaxed) {
            let row = match &mut self.reader {
                Reader::Csv(csv, header) => {
                    next_csv(csv, header, options).map_err(|e| e.to_string())
                }
                Reader::Ndjson(reader) => {
                    next_ndjson(reader, &mut buffer, &mut read, options).map_err(|e| e.to_string())
                }
            };
            let item = match row {
                Ok(Some(row)) => Ok(row),
                Ok(None) => return,
                Err(error) => Err(error),
            };
            let last = item.is_err();
            if rows.send(item).is_err() || last {
                return;
            }
        }
    }
}

/// The next CSV record from `options.resume_line` on, as a row.
fn next_csv(
    csv: &mut csv::Reader<Box<dyn Read + Send>>,
    header: &Header,
    options: &RowOptions,
) -> Result<Option<Row>, csv::Error> {
    loop {
        let mut record = ByteRecord::new();
        if !csv.read_byte_record(&mut record)? {
            return Ok(None);
        }
        let line = record.position().map_or(0, |p| p.line());
        if line < options.resume_line {
            continue;
        }
        let alias = header
            .properties(&record)
            .and_then(|properties| alias_of(&event(properties), options));
        return Ok(Some(Row {
            line,
            end: csv.position().byte(),
            source: Source::Csv(record),
            alias,
        }));
    }
}

/// How far an NDJSON input has been read.
#[derive(Debug, Default)]
struct Cursor {
    /// Lines read.
    line: u64,
    /// Bytes read.
    byte: u64,
}

/// The next non-blank NDJSON line from `options.resume_line` on, as a row.
fn next_ndjson(
    reader: &mut impl BufRead,
    buffer: &mut Vec<u8>,
    read: &mut Cursor,
    options: &RowOptions,
) -> io::Result<Option<Row>> {
    loop {
        let Some(taken) = read_line(reader, buffer, MAX_LINE_BYTES)? else {
            return Ok(None);
        };
        read.line += 1;
        read.byte += taken.consumed as u64;
        let text = buffer.trim_ascii();
        if text.is_empty() || read.line < options.resume_line {
            continue;
        }
        let (line, end) = (read.line, read.byte);
        let unreadable = |reason: String| Row {
            line,
            end,
            source: Source::Text(kept_text(text)),
            alias: Err(reason),
        };
        if taken.cut {
            return Ok(Some(unreadable(format!(
                "the line is longer than {MAX_LINE_BYTES} bytes"
            ))));
        }
        let row = match serde_json::from_slice::<Value>(text) {
            Ok(Value::Object(properties)) => {
                let event = event(properties);
                let alias = alias_of(&event, options);
                Row {
                    line,
                    end,
                    source: Source::Json(event.properties),
                    alias,
                }
            }
            Ok(_) => unreadable("is not a JSON object".to_owned()),
            Err(error) => unreadable(format!("is not JSON: {error}")),
        };
        return Ok(Some(row));
    }
}

fn kept_text(text: &[u8]) -> String {
    String::from_utf8_lossy(&text[..text.len().min(KEPT_TEXT_BYTES)]).into_owned()
}

/// One line read by [`read_line`].
struct LineRead {
    /// Bytes taken from the input, the newline included.
    consumed: usize,
    /// Whether it was longer than the limit, and only its start was kept.
    cut: bool,
}

/// Reads one line (without its newline) into `buffer`, keeping at most `max` bytes of it
/// but consuming it whole; `None` at the end of the input.
fn read_line(
    reader: &mut impl BufRead,
    buffer: &mut Vec<u8>,
    max: usize,
) -> io::Result<Option<LineRead>> {
    buffer.clear();
    let mut consumed = 0;
    let mut cut = false;
    loop {
        let available = match reader.fill_buf() {
            Ok(available) => available,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok((consumed > 0).then_some(LineRead { consumed, cut }));
        }
        let (take, ends) = match available.iter().position(|&b| b == b'\n') {
            Some(newline) => (newline + 1, true),
            None => (available.len(), false),
        };
        let content = &available[..take - usize::from(ends)];
        let room = max.saturating_sub(buffer.len());
        cut |= content.len() > room;
        buffer.extend_from_slice(&content[..content.len().min(room)]);
        reader.consume(take);
        consumed += take;
        if ends {
            return Ok(Some(LineRead { consumed, cut }));
        }
    }
}

fn event(properties: Map<String, Value>) -> Event {
    Event {
        event: EVENT_NAME.to_owned(),
        properties,
    }
}

/// The alias a row's properties ask for.
fn alias_of(event: &Event, options: &RowOptions) -> Result<CreateAlias, String> {
    let text = |name: &str| match event.properties.get(name) {
        None | Some(Value::Null) => Err(format!("{name} is missing")),
        Some(Value::String(text)) => Ok(text.as_str()),
        Some(_) => Err(format!("{name} must be a string")),
    };
    let mut link =
        CreateAlias::from_ids(text("distinct_id")?, text("alias")?).map_err(|e| e.to_string())?;
    let time = match event.properties.get("time") {
        None | Some(Value::Null) => options.default_time,
        Some(value) => event
            .time_millis()
            .map(|millis| UNIX_EPOCH + Duration::from_millis(millis))
            .ok_or_else(|| {
                format!("time {value} is not a number of seconds or milliseconds since 1970")
            })?,
    };
    link = link.with_time(time).map_err(|e| e.to_string())?;
    if event.properties.contains_key("$insert_id") {
        let insert_id = InsertId::new(text("$insert_id")?).map_err(|e| e.to_string())?;
        link = link.with_insert_id(insert_id);
    }
    if options.extra_columns {
        for (name, value) in &event.properties {
            if !KNOWN_FIELDS.contains(&name.as_str()) {
                link = link
                    .with_property(name.as_str(), value)
                    .map_err(|e| e.to_string())?;
            }
        }
    }
    Ok(link)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> RowOptions {
        RowOptions {
            extra_columns: true,
            default_time: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            resume_line: 0,
        }
    }

    fn record(fields: &[&str]) -> ByteRecord {
        ByteRecord::from(fields.to_vec())
    }

    #[test]
    fn long_lines_are_cut_but_consumed_whole() {
        let mut input = io::Cursor::new(b"0123456789\nab\r\nlast".to_vec());
        let mut buffer = Vec::new();
        let first = read_line(&mut input, &mut buffer, 4).unwrap().unwrap();
        assert_eq!(
            (buffer.as_slice(), first.consumed, first.cut),
            (&b"0123"[..], 11, true)
        );
        let second = read_line(&mut input, &mut buffer, 4).unwrap().unwrap();
        assert_eq!(
            (buffer.as_slice(), second.consumed, second.cut),
            (&b"ab\r"[..], 4, false)
        );
        let last = read_line(&mut input, &mut buffer, 4).unwrap().unwrap();
        assert_eq!((buffer.as_slice(), last.consumed), (&b"last"[..], 4));
        assert!(read_line(&mut input, &mut buffer, 4).unwrap().is_none());
    }

    #[test]
    fn ndjson_rows_carry_their_line_and_end_and_skip_blank_lines() {
        let text = "{\"distinct_id\":\"a\",\"alias\":\"b\"}\n\n[]\n";
        let mut input = io::Cursor::new(text.as_bytes().to_vec());
        let (mut buffer, mut read) = (Vec::new(), Cursor::default());
        let first = next_ndjson(&mut input, &mut buffer, &mut read, &options())
            .unwrap()
            .unwrap();
        assert_eq!((first.line, first.end), (1, 32));
        assert!(first.alias.is_ok());
        let second = next_ndjson(&mut input, &mut buffer, &mut read, &options())
            .unwrap()
            .unwrap();
        assert_eq!((second.line, second.end), (3, 36));
        assert_eq!(second.source, Source::Text("[]".into()));
        assert_eq!(second.alias.unwrap_err(), "is not a JSON object");
    }

    #[test]
    fn time_is_read_in_seconds_or_milliseconds_and_defaults_to_the_import_time() {
        let row = |time: Value| {
            let mut properties = Map::new();
            properties.insert("distinct_id".into(), "anon-1".into());
            properties.insert("alias".into(), "user-1".into());
            properties.insert("time".into(), time);
            alias_of(&event(properties), &options())
        };
        let at = |millis| Some(UNIX_EPOCH + Duration::from_millis(millis));
        assert_eq!(
            row(Value::from(1_700_000_001_u64)).unwrap().time(),
            at(1_700_000_001_000)
        );
        assert_eq!(
            row(Value::from("1700000001234")).unwrap().time(),
            at(1_700_000_001_234)
        );
        assert_eq!(row(Value::Null).unwrap().time(), at(1_700_000_000_000));
        assert!(
            row(Value::from("soon"))
                .unwrap_err()
                .starts_with("time \"soon\" is not")
        );
    }

    #[test]
    fn the_header_needs_both_ids_and_ignores_a_byte_order_mark() {
        let header = Header::new(
            &record(&["\u{feff}distinct_id", " alias ", "plan"]),
            true,
            "in.csv",
        )
        .unwrap();
        assert_eq!(header.names, ["distinct_id", "alias", "plan"]);
        let properties = header
            .properties(&record(&["anon-1", "user-1", "pro"]))
            .unwrap();
        assert_eq!(properties["plan"], "pro");
        let error = Header::new(&record(&["id", "alias"]), false, "in.csv").unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("in.csv: the CSV header has no \"distinct_id\""),
            "{error}"
        );
    }

    #[test]
    fn extra_columns_are_sent_only_when_asked_and_empty_cells_never() {
        let plain =
            Header::new(&record(&["distinct_id", "alias", "plan"]), false, "in.csv").unwrap();
        let properties = plain
            .properties(&record(&["anon-1", "user-1", "pro"]))
            .unwrap();
        assert!(!properties.contains_key("plan"));
        let extra = Header::new(
            &record(&["distinct_id", "alias", "plan", "time"]),
            true,
            "in.csv",
        )
        .unwrap();
        let properties = extra
            .properties(&record(&["anon-1", "user-1", "", ""]))
            .unwrap();
        assert_eq!(properties.len(), 2);
    }
}
