//! The input file, read as a stream of rows, each turned into a [`CreateAlias`] or the reason
//! it cannot be one.
//!
//! Both formats become the same thing before validation: the row's fields as event
//! properties, whose `time` is read in seconds or milliseconds exactly as Mixpanel reads
//! it ([`event_time`]), validated by [`CreateAlias`].
//!
//! Memory stays bounded whatever the input: a row longer than [`MAX_ROW_BYTES`] stops the
//! import as it is read (see [`tape`]), and the reader runs ahead of the delivery by a
//! bounded number of rows and bytes (see [`read_ahead`]).
//!
//! A resumed import reads the input from its start again, without sending, up to the mark
//! its checkpoint recorded, and hands on rows only once the bytes before the mark are the
//! ones read before (see [`Resume`]): standard input is checked like a file.
//!
//! A gzip-compressed input is decompressed as it is read (see [`compression`]); all of the
//! above is about its decompressed text.
//!
//! The passes that read a whole input before an import (`check`, chain resolution) need
//! less of each row: a [`Pass`] reads them into a [`PairRow`] whose buffers are reused,
//! builds no map of the fields, and hashes nothing, since it never resumes. The fields
//! are read by the same [`alias_of`] either way, and the two readings are compared on
//! fixtures and on the fuzz corpus (`both_readings`).

mod compression;
mod csv_rows;
mod excerpt;
mod ndjson_rows;
pub(crate) mod read_ahead;
mod tape;

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use alias_core::{
    CreateAlias, InsertId, ValidationError, driver::StopSignal, wire::Field, wire::Problem,
    wire::event_time,
};
use csv::ByteRecord;
use serde_json::{Map, Value};

use self::compression::CompressedBytes;
use self::csv_rows::CsvRows;
pub(crate) use self::csv_rows::Header;
use self::ndjson_rows::NdjsonRows;
use self::tape::Tape;
pub(crate) use self::tape::{Digests, Mark};
use crate::exit::UsageError;

/// Fields with a meaning of their own; any other field is an extra property (with
/// `--extra-columns`).
const KNOWN_FIELDS: [&str; 4] = ["distinct_id", "alias", "time", "$insert_id"];

/// The longest row read, a CSV record or an NDJSON line, its line end included: a Mixpanel
/// event is under 1 MB, so a longer row cannot be sent anyway.
pub(crate) const MAX_ROW_BYTES: usize = 1024 * 1024;

/// Rows read ahead of the delivery: enough to keep it busy, few enough to cost little.
const READ_AHEAD_ROWS: usize = 4096;

/// Bytes of input read ahead of the delivery, whatever the number of rows.
const READ_AHEAD_BYTES: u64 = 16 * 1024 * 1024;

/// The input's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum FormatArg {
    /// NDJSON for `.ndjson` and `.jsonl` files (also with `.gz` after), CSV otherwise.
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
    /// The format of `path`: as given, or guessed from its extension, the one before `.gz`
    /// for a compressed file (`events.ndjson.gz`).
    pub(crate) fn resolve(self, path: &InputPath) -> Format {
        let is = |path: &Path, extension: &str| {
            path.extension()
                .is_some_and(|e| e.eq_ignore_ascii_case(extension))
        };
        match self {
            Self::Csv => Format::Csv,
            Self::Ndjson => Format::Ndjson,
            Self::Auto => {
                let is_ndjson = match path {
                    InputPath::Stdin => false,
                    InputPath::File(path) => {
                        let named = match path.file_stem() {
                            Some(stem) if is(path, "gz") => Path::new(stem),
                            _ => path,
                        };
                        is(named, "ndjson") || is(named, "jsonl")
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

    /// How messages name this input.
    pub(crate) fn name(&self) -> String {
        match self {
            Self::Stdin => "standard input".to_owned(),
            Self::File(path) => path.display().to_string(),
        }
    }

    /// How a checkpoint names this input, for a person reading it: the real path.
    pub(crate) fn identity(&self) -> String {
        match self {
            Self::Stdin => "-".to_owned(),
            Self::File(path) => super::same_file::real_path(path).display().to_string(),
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
    /// An NDJSON line that is not a JSON object, as text.
    Text(String),
}

/// Why the input cannot be read on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ReadError {
    /// Reading failed; the rows read before are whole.
    Unreadable(String),
    /// The row starting on `line` is longer than [`MAX_ROW_BYTES`]: nothing from it on was
    /// read.
    TooLong {
        /// The line it starts on.
        line: u64,
    },
    /// The input's bytes before the resume mark are not the ones read before (or the input
    /// ends before it): nothing was read past them.
    Changed {
        /// The mark's offset.
        offset: u64,
        /// The mark's line.
        line: u64,
    },
}

impl ReadError {
    /// The failure to read the row starting on `line`: too long when the tape refused it
    /// (`too_long`), else unreadable for `error`.
    fn reading(line: u64, too_long: bool, error: impl std::fmt::Display) -> Self {
        if too_long {
            Self::TooLong { line }
        } else {
            Self::Unreadable(format!("line {line}: {error}"))
        }
    }
}

/// Where the rows to send begin: past the mark a checkpoint recorded, once the input up to
/// it is known to be the one read before. Rows before the mark were done in an earlier
/// run; the first row after it is only read once the bytes before it match.
#[derive(Debug, Clone)]
pub(crate) struct Resume {
    at: Mark,
    reached: bool,
}

impl Resume {
    /// Rows after `mark`.
    pub(crate) fn at(mark: Mark) -> Self {
        Self {
            reached: mark.offset == 0,
            at: mark,
        }
    }

    /// Whether the rows read from now on are to be sent.
    fn is_reached(&self) -> bool {
        self.reached
    }

    /// Checks a row done in an earlier run, `tape` at its end: the mark is reached when a
    /// row ends there with the same bytes before it, and the input has changed when one
    /// ends past it first.
    fn check<R: Read>(&mut self, tape: &Tape<R>) -> Result<(), ReadError> {
        let offset = tape.offset();
        if offset < self.at.offset {
            return Ok(());
        }
        if offset == self.at.offset && tape.mark() == self.at {
            self.reached = true;
            return Ok(());
        }
        Err(self.changed())
    }

    /// The input ended: it is the same when the mark was reached.
    fn ended(&self) -> Result<(), ReadError> {
        if self.reached {
            Ok(())
        } else {
            Err(self.changed())
        }
    }

    fn changed(&self) -> ReadError {
        ReadError::Changed {
            offset: self.at.offset,
            line: self.at.line,
        }
    }
}

/// One row of the input.
#[derive(Debug)]
pub(crate) struct Row {
    /// The line it starts on, from 1 (the CSV header is line 1).
    pub(crate) line: u64,
    /// The boundary just past it: how far the input is done once it is.
    pub(crate) end: Mark,
    /// How far into the input as stored the reading had got at its end, for progress: the
    /// row's end in a plain input; in a compressed one, the compressed bytes read by then
    /// (a little past the row, by what the decoder reads ahead).
    pub(crate) position: u64,
    /// The row as read, when [`RowOptions::keep_rows`] asks for it.
    pub(crate) source: Option<Source>,
    /// The alias it asks for, or why it cannot be sent.
    pub(crate) alias: Result<CreateAlias, String>,
}

impl Row {
    /// A row read from the text, ending at `end`; its position is that end until the
    /// input says otherwise (a compressed one, in [`Input::spawn`]'s reader).
    fn new(
        line: u64,
        end: Mark,
        source: Option<Source>,
        alias: Result<CreateAlias, String>,
    ) -> Self {
        Self {
            line,
            position: end.offset,
            end,
            source,
            alias,
        }
    }
}

/// A row as a pass over the pairs reads it ([`Pass::next`]): where it is, its two ids as
/// written, and whether it makes a pair. Its buffers are reused from row to row, so that a
/// pass allocates next to nothing per row.
#[derive(Debug, Default)]
pub(crate) struct PairRow {
    /// The line it starts on, from 1.
    pub(crate) line: u64,
    /// The input offset just past it.
    pub(crate) end: u64,
    /// Whether it asks for an alias an import would send.
    is_pair: bool,
    /// The CSV record, when the input is CSV.
    record: ByteRecord,
    held: Held,
}

/// Where a [`PairRow`]'s ids are.
#[derive(Debug, Default)]
enum Held {
    /// Nowhere: an NDJSON line that is not an object, or no row read yet.
    #[default]
    Nothing,
    /// In the record, at these columns.
    Csv([usize; 2]),
    /// In an NDJSON object.
    Json(Map<String, Value>),
}

impl PairRow {
    /// The `distinct_id` and `alias` of a row that makes a pair.
    pub(crate) fn pair(&self) -> Option<(&str, &str)> {
        match (self.is_pair, self.ids()) {
            (true, [Some(distinct_id), Some(alias)]) => Some((distinct_id, alias)),
            _ => None,
        }
    }

    /// The `distinct_id` and `alias` as written, when they are text, whether the row makes
    /// a pair or not.
    pub(crate) fn ids(&self) -> [Option<&str>; 2] {
        match &self.held {
            Held::Nothing => [None, None],
            Held::Csv(at) => at.map(|at| {
                self.record
                    .get(at)
                    .and_then(|field| std::str::from_utf8(field).ok())
            }),
            Held::Json(fields) => {
                ["distinct_id", "alias"].map(|name| fields.get(name).and_then(Value::as_str))
            }
        }
    }
}

/// How rows become aliases.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RowOptions {
    /// Other fields become extra event properties.
    pub(crate) extra_columns: bool,
    /// The `time` of rows without one: fixed for a whole import, so that a row sent again
    /// after an interruption is the same event, which the server deduplicates.
    pub(crate) default_time: SystemTime,
    /// Each row as read is kept ([`Row::source`]), for a failures file to write it back.
    pub(crate) keep_rows: bool,
}

impl RowOptions {
    /// A pass's: no extra columns, rows without a time at the time now.
    fn for_a_pass() -> Self {
        Self {
            extra_columns: false,
            default_time: SystemTime::now(),
            keep_rows: false,
        }
    }

    #[cfg(any(test, feature = "fuzz"))]
    /// Extra columns kept, rows without a time at 2023-11-14T22:13:20Z.
    pub(crate) fn for_tests() -> Self {
        Self {
            extra_columns: true,
            default_time: std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000),
            keep_rows: true,
        }
    }
}

/// An opened input, its header read.
#[derive(Debug)]
pub(crate) struct Input {
    reader: Box<dyn ReadRows>,
    /// The file's size as stored, when it is a file.
    size: Option<u64>,
    /// For a compressed input, how much of it was read.
    compressed: Option<CompressedBytes>,
}

/// What reads the rows of an input's text, whatever its format: the one way rows are read,
/// whole for an import or lean for a pass.
trait ReadRows: std::fmt::Debug + Send {
    /// The next row after `resume`; `None` at the end.
    fn next(&mut self, options: &RowOptions, resume: &mut Resume)
    -> Result<Option<Row>, ReadError>;

    /// Reads the next row after `resume` into `row`, its buffers reused; `false` at the
    /// end.
    fn next_pair(
        &mut self,
        options: &RowOptions,
        resume: &mut Resume,
        row: &mut PairRow,
    ) -> Result<bool, ReadError>;

    /// The CSV header; `None` for a format without one.
    fn header(&self) -> Option<&Header>;
}

impl Input {
    /// Opens `path`, decompressed if it is gzip, and, for CSV, reads and checks its header;
    /// its rows' marks have digests as `digests` says.
    pub(crate) fn open(
        path: &InputPath,
        format: Format,
        extra_columns: bool,
        digests: Digests,
    ) -> Result<Self, UsageError> {
        let name = path.name();
        let (stored, size): (Box<dyn Read + Send>, _) = match path {
            InputPath::Stdin => (Box::new(io::stdin()), None),
            InputPath::File(file) => {
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
                (Box::new(opened), size)
            }
        };
        let opened = compression::open(stored).map_err(|e| {
            UsageError::new(format!(
                "FILE {name}: cannot read it: {e}; check the path, or pass - to read \
                 standard input"
            ))
        })?;
        Ok(Self {
            size,
            compressed: opened.compressed,
            ..Self::read(opened.text, format, extra_columns, &name, digests)?
        })
    }

    /// Reads the rows of `text`, the (decompressed) text of the input called `name` in
    /// messages; for CSV, reads and checks its header.
    #[cfg(feature = "fuzz")]
    pub(crate) fn from_text(
        text: Box<dyn Read + Send>,
        format: Format,
        extra_columns: bool,
        name: &str,
    ) -> Result<Self, UsageError> {
        Self::read(text, format, extra_columns, name, Digests::Kept)
    }

    fn read(
        text: Box<dyn Read + Send>,
        format: Format,
        extra_columns: bool,
        name: &str,
        digests: Digests,
    ) -> Result<Self, UsageError> {
        let reader: Box<dyn ReadRows> = match format {
            Format::Ndjson => Box::new(NdjsonRows::new(text, digests)),
            Format::Csv => Box::new(CsvRows::open(text, extra_columns, name, digests)?),
        };
        Ok(Self {
            reader,
            size: None,
            compressed: None,
        })
    }

    /// The next row after `resume`; `None` at the end of the input.
    pub(crate) fn next_row(
        &mut self,
        options: &RowOptions,
        resume: &mut Resume,
    ) -> Result<Option<Row>, ReadError> {
        self.reader.next(options, resume)
    }

    /// The CSV header; `None` for NDJSON.
    pub(crate) fn header(&self) -> Option<&Header> {
        self.reader.header()
    }

    /// The input's size in bytes as stored (compressed, for a gzip file), when it is a
    /// file: what [`Row::position`] goes up to.
    pub(crate) fn size(&self) -> Option<u64> {
        self.size
    }

    /// The length of the text rows are read from, when it is known before reading: a
    /// plain file's size. A compressed file's size says nothing of it.
    pub(crate) fn text_size(&self) -> Option<u64> {
        self.size.filter(|_| self.compressed.is_none())
    }

    /// Where `mark` is in the input as stored, as [`Row::position`] counts, when it is
    /// known before reading: anywhere in a plain input, only at the start of a compressed
    /// one.
    pub(crate) fn position_of(&self, mark: &Mark) -> Option<u64> {
        match self.compressed {
            Some(_) if mark.offset > 0 => None,
            _ => Some(mark.offset),
        }
    }

    /// Reads rows on a thread of its own, a bounded number and size ahead, until the end of
    /// the input, a read error (sent as the last item), `stop`, or until the receiver is
    /// dropped.
    pub(crate) fn spawn(
        self,
        options: RowOptions,
        resume: Resume,
        stop: StopSignal,
    ) -> io::Result<read_ahead::Receiver<Result<Row, ReadError>>> {
        let (rows, received) = read_ahead::queue(READ_AHEAD_ROWS, READ_AHEAD_BYTES);
        std::thread::Builder::new()
            .name("import-reader".to_owned())
            .spawn(move || self.read_all(&options, resume, &stop, &rows))?;
        Ok(received)
    }

    fn read_all(
        mut self,
        options: &RowOptions,
        mut resume: Resume,
        stop: &StopSignal,
        rows: &read_ahead::Sender<Result<Row, ReadError>>,
    ) {
        let mut read_up_to = 0;
        while !stop.is_stopped() {
            let (item, bytes) = match self.next_row(options, &mut resume) {
                Ok(Some(mut row)) => {
                    let bytes = row.end.offset - read_up_to;
                    read_up_to = row.end.offset;
                    if let Some(compressed) = &self.compressed {
                        row.position = compressed.get();
                    }
                    (Ok(row), bytes)
                }
                Ok(None) => return,
                Err(error) => (Err(error), 0),
            };
            let last = item.is_err();
            if rows.send(item, bytes).is_err() || last {
                return;
            }
        }
    }
}

/// An input read once through, as the passes before an import do (`check`, chain
/// resolution): every row from the start, no extra columns, no digests, and rows read into
/// a [`PairRow`] whose buffers are reused.
#[derive(Debug)]
pub(crate) struct Pass {
    input: Input,
    options: RowOptions,
    resume: Resume,
}

impl Pass {
    /// Opens the file at `path` in `format`.
    pub(crate) fn open(path: &InputPath, format: FormatArg) -> Result<Self, UsageError> {
        let input = Input::open(path, format.resolve(path), false, Digests::Skipped)?;
        Ok(Self::of(input))
    }

    fn of(input: Input) -> Self {
        Self {
            input,
            options: RowOptions::for_a_pass(),
            resume: Resume::at(Mark::start()),
        }
    }

    /// The CSV header; `None` for NDJSON.
    pub(crate) fn header(&self) -> Option<&Header> {
        self.input.header()
    }

    /// The length of the text, when it is known before reading (see [`Input::text_size`]).
    pub(crate) fn text_size(&self) -> Option<u64> {
        self.input.text_size()
    }

    /// Reads the next row into `row`; `false` at the end of the input.
    pub(crate) fn next(&mut self, row: &mut PairRow) -> Result<bool, ReadError> {
        self.input
            .reader
            .next_pair(&self.options, &mut self.resume, row)
    }
}

/// What one row read gives, in a form that compares: its line, its end, its ids as
/// written, and whether it makes a pair; or why the reading ended.
#[cfg(any(test, feature = "fuzz"))]
pub(crate) type Seen = Result<(u64, u64, [Option<String>; 2], bool), String>;

/// What a [`Pass`] and a full read ([`Input::next_row`]) make of `text`, row by row: the
/// same, whatever the text, when the pass reads it right.
#[cfg(any(test, feature = "fuzz"))]
pub(crate) fn both_readings(text: &[u8], format: Format) -> (Vec<Seen>, Vec<Seen>) {
    let open = |digests| {
        let reader = Box::new(io::Cursor::new(text.to_vec()));
        Input::read(reader, format, false, "in", digests).map_err(|e| e.to_string())
    };
    let owned = |ids: [Option<&str>; 2]| ids.map(|id| id.map(str::to_owned));
    let mut full = Vec::new();
    match open(Digests::Kept) {
        Err(error) => full.push(Err(error)),
        Ok(mut input) => {
            let options = RowOptions {
                keep_rows: true,
                ..RowOptions::for_a_pass()
            };
            let mut resume = Resume::at(Mark::start());
            loop {
                match input.next_row(&options, &mut resume) {
                    Ok(Some(row)) => {
                        let ids = match (&row.source, input.header()) {
                            (Some(Source::Csv(record)), Some(header)) => header
                                .ids
                                .map(|at| record.get(at).and_then(|f| std::str::from_utf8(f).ok())),
                            (Some(Source::Json(fields)), _) => ["distinct_id", "alias"]
                                .map(|name| fields.get(name).and_then(Value::as_str)),
                            _ => [None, None],
                        };
                        full.push(Ok((
                            row.line,
                            row.end.offset,
                            owned(ids),
                            row.alias.is_ok(),
                        )));
                    }
                    Ok(None) => break,
                    Err(error) => {
                        full.push(Err(format!("{error:?}")));
                        break;
                    }
                }
            }
        }
    }
    let mut pass = Vec::new();
    match open(Digests::Skipped) {
        Err(error) => pass.push(Err(error)),
        Ok(input) => {
            let mut input = Pass::of(input);
            let mut row = PairRow::default();
            loop {
                match input.next(&mut row) {
                    Ok(true) => {
                        let seen = (row.line, row.end, owned(row.ids()), row.pair().is_some());
                        pass.push(Ok(seen));
                    }
                    Ok(false) => break,
                    Err(error) => {
                        pass.push(Err(format!("{error:?}")));
                        break;
                    }
                }
            }
        }
    }
    (full, pass)
}

/// A row's fields by name, however its format holds them: what [`alias_of`] reads.
trait Fields {
    /// The field `name` as text: `None` when the row has none (or a JSON `null`).
    fn text(&self, name: &str) -> Result<Option<&str>, String>;

    /// Whether the row has the field `name`, even a JSON `null`.
    fn has(&self, name: &str) -> bool {
        !matches!(self.text(name), Ok(None))
    }

    /// The `time` field, if any.
    fn time(&self) -> Option<Cow<'_, Value>>;

    /// The fields that are not [`KNOWN_FIELDS`], as extra properties.
    fn extras(&self) -> impl Iterator<Item = (&str, Cow<'_, Value>)>;
}

impl Fields for Map<String, Value> {
    fn text(&self, name: &str) -> Result<Option<&str>, String> {
        match self.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.as_str())),
            Some(_) => Err(format!("{name} must be a string")),
        }
    }

    fn has(&self, name: &str) -> bool {
        self.contains_key(name)
    }

    fn time(&self) -> Option<Cow<'_, Value>> {
        self.get("time")
            .filter(|value| !value.is_null())
            .map(Cow::Borrowed)
    }

    fn extras(&self) -> impl Iterator<Item = (&str, Cow<'_, Value>)> {
        self.iter()
            .filter(|(name, _)| !KNOWN_FIELDS.contains(&name.as_str()))
            .map(|(name, value)| (name.as_str(), Cow::Borrowed(value)))
    }
}

/// The alias a row's fields ask for.
fn alias_of(fields: &impl Fields, options: &RowOptions) -> Result<CreateAlias, String> {
    let text = |name: &str| {
        fields
            .text(name)?
            .ok_or_else(|| format!("{name} is missing"))
    };
    let mut link = CreateAlias::from_ids(text("distinct_id")?, text("alias")?).map_err(reason)?;
    let time = match fields.time() {
        None => options.default_time,
        Some(value) => event_time(&value).ok_or_else(|| {
            format!(
                "time {} is not a number of seconds or milliseconds since 1970",
                excerpt::excerpt(&value.to_string())
            )
        })?,
    };
    link = link.with_time(time).map_err(reason)?;
    if fields.has("$insert_id") {
        let insert_id = InsertId::new(text("$insert_id")?).map_err(reason)?;
        link = link.with_insert_id(insert_id);
    }
    if options.extra_columns {
        for (name, value) in fields.extras() {
            link = link.with_property(name, &*value).map_err(reason)?;
        }
    }
    Ok(link)
}

/// Why a row cannot be sent, as its reason says it: the value or name of the input the
/// error quotes cut to an excerpt (an id is checked for being a placeholder before its
/// length, so a placeholder padded with a mebibyte of spaces is quoted whole otherwise).
pub(crate) fn reason(mut error: ValidationError) -> String {
    if let Problem::Placeholder { value } | Problem::SameAsDistinctId { value } = &mut error.problem
    {
        *value = excerpt::cut(value).into_owned();
    }
    if let Field::Property(name) = &mut error.field {
        *name = excerpt::cut(name).into_owned();
    }
    error.to_string()
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use futures::StreamExt;

    use super::compression::tests::gzip;
    use super::*;

    /// Every item `input` hands on, read to its end.
    fn read_all(input: Input) -> Vec<Result<Row, ReadError>> {
        let (_, stop) = alias_core::driver::stop_signal();
        let rows = input.spawn(RowOptions::for_tests(), Resume::at(Mark::start()), stop);
        futures::executor::block_on(rows.unwrap().collect())
    }

    #[test]
    fn a_reason_quotes_only_an_excerpt_of_the_row() {
        let row = |distinct_id: &str, alias: &str, time: &str| {
            let mut fields = Map::new();
            fields.insert("distinct_id".into(), distinct_id.into());
            fields.insert("alias".into(), alias.into());
            fields.insert("time".into(), time.into());
            alias_of(&fields, &RowOptions::for_tests()).unwrap_err()
        };
        let long = "7".repeat(MAX_ROW_BYTES / 2);
        let padded = format!("null{}", " ".repeat(MAX_ROW_BYTES / 2));
        let same = "x".repeat(255);
        let reasons = [
            row("anon-1", "user-1", &long),
            row(&padded, "user-1", "1700000000"),
            row(&same, &same, "1700000000"),
        ];
        for reason in &reasons {
            assert!(reason.len() < 250, "{} bytes: {reason:.300}", reason.len());
        }
        assert!(
            reasons[0].starts_with(&format!("time \"{}…", &long[..59])),
            "{}",
            reasons[0]
        );
        assert!(
            reasons[1].starts_with("properties.distinct_id \"null    "),
            "{}",
            reasons[1]
        );
        assert!(
            reasons[1].ends_with("…\" is a placeholder Mixpanel refuses as an id (compared case-insensitively, ignoring surrounding white space)"),
            "{}",
            reasons[1]
        );
        assert!(reasons[2].contains("xxxx…\"; an alias must be a different id"));
    }

    /// A pass reads just what `check` and chain resolution need, in buffers it reuses; it
    /// must see every row as the full read does, however the row is written.
    #[test]
    fn a_pass_sees_the_rows_a_full_read_sees() {
        let csv: [&[u8]; 10] = [
            b"distinct_id,alias\na,b\n",
            b"\xef\xbb\xbfdistinct_id , alias,time,$insert_id,plan\r\n\"a,1\",\"b\"\"\",1700000000,,x\r\n",
            b"alias,distinct_id\nb,a\n\n\nc,c\nnull,d\n,e\n",
            b"distinct_id,alias,time\na,b,soon\nc,d,1700000000123\ne,f,5\ng,h\n",
            b"distinct_id,alias,$insert_id\na,b,ok-1\nc,d,not/valid\ne,f,\n",
            b"distinct_id,alias\n\"a\nb\",c\rd,e\r\nf,\"g\n",
            b"distinct_id,alias,time\n\xff,b,\na,\xfe,\nc,d,\xfd\n",
            b"distinct_id,alias,input_line,line,reason\na,b,2,3,invalid\n",
            b"id,alias\na,b\n",
            b"",
        ];
        let long = format!("distinct_id,alias\na,b\nc,{}\n", "x".repeat(MAX_ROW_BYTES));
        for text in csv.into_iter().chain([long.as_bytes()]) {
            let (full, pass) = both_readings(text, Format::Csv);
            assert_eq!(pass, full, "{:.200}", String::from_utf8_lossy(text));
            assert!(!full.is_empty());
        }
        let ndjson = [
            "\u{feff}{\"distinct_id\":\"a\",\"alias\":\"b\"}\r\n\n[]\nnot json\n",
            "{\"distinct_id\":1,\"alias\":\"b\"}\n{\"distinct_id\":null,\"alias\":\"b\"}\n",
            "{\"distinct_id\":\"a\",\"alias\":\"b\",\"time\":\"x\"}\n{\"distinct_id\":\"a\",\"alias\":\"b\",\"$insert_id\":null}",
            "{\"distinct_id\":\"a\",\"alias\":\"a\",\"input_line\":3,\"reason\":\"r\"}\n",
        ];
        for text in ndjson {
            let (full, pass) = both_readings(text.as_bytes(), Format::Ndjson);
            assert_eq!(pass, full, "{text}");
        }
        // The fixtures make pairs and refused rows both, so the comparison says something.
        let (full, _) = both_readings(csv[3], Format::Csv);
        let pairs: Vec<bool> = full.iter().map(|seen| seen.as_ref().unwrap().3).collect();
        assert_eq!(pairs, [false, true, false, false]);
    }

    #[test]
    fn the_format_is_named_before_the_compressions_extension() {
        let resolve = |name: &str| FormatArg::Auto.resolve(&InputPath::new(Path::new(name)));
        for ndjson in ["events.ndjson", "events.ndjson.gz", "EVENTS.JSONL.GZ"] {
            assert_eq!(resolve(ndjson), Format::Ndjson, "{ndjson}");
        }
        for csv in ["aliases.csv.gz", "aliases.gz", "ndjson.gz", "aliases", "-"] {
            assert_eq!(resolve(csv), Format::Csv, "{csv}");
        }
    }

    #[test]
    fn a_gzip_input_is_read_as_its_text_its_progress_in_compressed_bytes() {
        // Ids that compress little, so that the input is many decoder reads long.
        let mut state = 1_u64;
        let mut text = String::from("distinct_id,alias\n");
        for i in 0..20_000 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            text.push_str(&format!("anon-{state:016x},user-{i}\n"));
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("aliases.csv");
        std::fs::write(&path, gzip(text.as_bytes())).unwrap();
        let stored = std::fs::metadata(&path).unwrap().len();

        let input = Input::open(&InputPath::File(path), Format::Csv, false, Digests::Kept).unwrap();
        assert_eq!((input.size(), input.text_size()), (Some(stored), None));
        assert_eq!(input.position_of(&Mark::start()), Some(0));
        let rows: Vec<Row> = read_all(input).into_iter().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 20_000);
        let last = rows.last().unwrap();
        assert_eq!(last.end.offset, text.len() as u64, "offsets are the text's");
        assert_eq!(last.line, 20_001);
        let positions: Vec<u64> = rows.iter().map(|row| row.position).collect();
        assert!(positions.is_sorted(), "progress never goes back");
        assert!(positions[0] < stored / 4, "{} of {stored}", positions[0]);
        assert_eq!(*positions.last().unwrap(), stored);
    }

    #[test]
    fn a_plain_input_is_its_own_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("aliases.csv.gz");
        let text = "distinct_id,alias\nanon-1,user-1\n";
        std::fs::write(&path, text).unwrap();
        let input =
            Input::open(&InputPath::File(path), Format::Csv, false, Digests::Skipped).unwrap();
        let size = Some(text.len() as u64);
        assert_eq!((input.size(), input.text_size()), (size, size));
        let mark = Mark {
            offset: 18,
            ..Mark::start()
        };
        assert_eq!(input.position_of(&mark), Some(18));
        let rows = read_all(input);
        let row = rows[0].as_ref().unwrap();
        assert_eq!((row.position, row.end.offset), (32, 32));
    }

    /// A row of a gigabyte of `x`, compressed a thousandfold: the import stops at the row
    /// limit, having decompressed little more than that limit.
    #[test]
    fn a_gzip_bomb_row_stops_at_the_row_limit() {
        let mut stored = gzip(b"distinct_id,alias\nanon-1,user-1\nanon-2,");
        let mebibyte_of_x = gzip(&[b'x'; 1024 * 1024]);
        for _ in 0..1024 {
            stored.extend_from_slice(&mebibyte_of_x);
        }
        let len = stored.len() as u64;
        let opened = compression::open(Box::new(io::Cursor::new(stored))).unwrap();
        let compressed = opened.compressed.unwrap();
        let mut csv = CsvRows::open(opened.text, false, "bomb.csv.gz", Digests::Kept).unwrap();
        let mut resume = Resume::at(Mark::start());
        assert!(
            csv.next(&RowOptions::for_tests(), &mut resume)
                .unwrap()
                .is_some()
        );
        assert_eq!(
            csv.next(&RowOptions::for_tests(), &mut resume).unwrap_err(),
            ReadError::TooLong { line: 3 }
        );
        assert!(compressed.get() < len / 8, "{} of {len}", compressed.get());
    }

    #[test]
    fn time_is_read_in_seconds_or_milliseconds_and_defaults_to_the_import_time() {
        let row = |time: Value| {
            let mut properties = Map::new();
            properties.insert("distinct_id".into(), "anon-1".into());
            properties.insert("alias".into(), "user-1".into());
            properties.insert("time".into(), time);
            alias_of(&properties, &RowOptions::for_tests())
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
}
