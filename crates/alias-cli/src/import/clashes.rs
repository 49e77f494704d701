//! Refuses output paths that name the input or each other under any of their names: the
//! failures file is rewritten and the checkpoint replaced, so either would destroy the
//! input, or the other output, before a row is sent.

use std::path::Path;

use super::checkpoint::Location;
use super::input::InputPath;
use super::same_file::FileId;
use crate::exit::UsageError;

/// A file the import writes, with the flag that names it.
struct Output<'a> {
    flag: &'static str,
    /// The path as given.
    given: &'a Path,
    /// The file written, when it is not the given path itself (the checkpoint's temporary
    /// file).
    beside: Option<&'a Path>,
    id: FileId,
}

impl Output<'_> {
    fn describe(&self) -> String {
        match self.beside {
            Some(file) => format!(
                "{} {} (which writes {} beside it)",
                self.flag,
                self.given.display(),
                file.display()
            ),
            None => format!("{} {}", self.flag, self.given.display()),
        }
    }
}

/// Refuses when a file the import writes (each of `named`, given by its flag, and the
/// files `checkpoint` writes) is the input (a hard link, a symbolic link, `/dev/stdin` or
/// `/proc/self/fd/0` for standard input...) or when two outputs share a file.
pub(crate) fn refuse(
    input: &InputPath,
    named: &[(&'static str, Option<&Path>)],
    checkpoint: Option<&Location>,
) -> Result<(), UsageError> {
    let named = named.iter().filter_map(|(flag, path)| {
        path.map(|path| Output {
            flag,
            given: path,
            beside: None,
            id: FileId::of(path),
        })
    });
    let checkpoint = checkpoint.into_iter().flat_map(|location| {
        // The given path rather than the file it resolves to: `/proc/self/fd/0` resolves
        // to no file at all when standard input is a pipe.
        let [_, beside @ ..] = location.files();
        std::iter::once((location.path(), None))
            .chain(beside.into_iter().map(|file| (file, Some(file))))
            .map(|(file, beside)| Output {
                flag: "--checkpoint",
                given: location.path(),
                beside,
                id: FileId::of(file),
            })
    });
    let outputs: Vec<Output<'_>> = named.chain(checkpoint).collect();
    let (input_id, input_name) = match input {
        InputPath::Stdin => (FileId::stdin(), "the standard input (FILE -)".to_owned()),
        InputPath::File(path) => (
            Some(FileId::of(path)),
            format!("the input FILE {}", path.display()),
        ),
    };
    if let Some(output) = outputs
        .iter()
        .find(|output| Some(&output.id) == input_id.as_ref())
    {
        return Err(UsageError::new(format!(
            "{} is {input_name} under another name: writing it would destroy the input; pass \
             another {} path",
            output.describe(),
            output.flag
        )));
    }
    for (i, first) in outputs.iter().enumerate() {
        if let Some(shared) = outputs[i + 1..]
            .iter()
            .find(|other| other.flag != first.flag && other.id == first.id)
        {
            return Err(UsageError::new(format!(
                "{} and {} are the same file: each would overwrite the other; pass two \
                 different paths",
                first.describe(),
                shared.describe()
            )));
        }
    }
    Ok(())
}
