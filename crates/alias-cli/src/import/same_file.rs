//! Which file a path names, as the kernel tells files apart, so that the many names of one
//! file (hard links, symbolic links, `..`, `/dev/stdin`, `/proc/self/fd/0`) are known to be
//! one.

use std::path::{Path, PathBuf};

/// How many symbolic links are followed before giving up, as the kernel does (`ELOOP`).
const MAX_LINKS: usize = 40;

/// A file, told apart from every other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FileId {
    /// An existing file: its device and inode, the same under every name.
    #[cfg(unix)]
    Node {
        /// The device it is on.
        device: u64,
        /// Its inode on that device.
        inode: u64,
    },
    /// A file that does not exist yet (or, off Unix, any file): the path it has or would
    /// have, links resolved.
    Path(PathBuf),
}

impl FileId {
    /// The file at `path`, following symbolic links.
    pub(crate) fn of(path: &Path) -> Self {
        #[cfg(unix)]
        if let Ok(metadata) = std::fs::metadata(path) {
            return Self::node(&metadata);
        }
        Self::Path(real_path(path))
    }

    /// The file standard input reads, when it has one (not on every platform).
    pub(crate) fn stdin() -> Option<Self> {
        #[cfg(unix)]
        {
            use std::os::fd::AsFd;
            let descriptor = std::io::stdin().as_fd().try_clone_to_owned().ok()?;
            let metadata = std::fs::File::from(descriptor).metadata().ok()?;
            Some(Self::node(&metadata))
        }
        #[cfg(not(unix))]
        None
    }

    #[cfg(unix)]
    fn node(metadata: &std::fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        Self::Node {
            device: metadata.dev(),
            inode: metadata.ino(),
        }
    }
}

/// The path a write to `path` lands on: symbolic links followed (also one pointing to
/// a file not created yet) and the folder made absolute. A path that cannot be resolved is
/// returned as it is.
pub(crate) fn real_path(path: &Path) -> PathBuf {
    if let Ok(real) = std::fs::canonicalize(path) {
        return real;
    }
    let mut path = path.to_owned();
    for _ in 0..MAX_LINKS {
        let Ok(target) = std::fs::read_link(&path) else {
            break;
        };
        path = match path.parent() {
            Some(folder) => folder.join(target),
            None => target,
        };
    }
    match (path.parent(), path.file_name()) {
        (Some(folder), Some(name)) => {
            let folder = if folder.as_os_str().is_empty() {
                Path::new(".")
            } else {
                folder
            };
            std::fs::canonicalize(folder).map_or(path.clone(), |folder| folder.join(name))
        }
        _ => path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_of_an_existing_file_is_the_same_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("in.csv");
        std::fs::write(&file, "x").unwrap();
        let hard = dir.path().join("hard.csv");
        std::fs::hard_link(&file, &hard).unwrap();
        let dotted = dir.path().join("sub/../in.csv");
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        assert_eq!(FileId::of(&hard), FileId::of(&file));
        assert_eq!(FileId::of(&dotted), FileId::of(&file));
        #[cfg(unix)]
        {
            let link = dir.path().join("link.csv");
            std::os::unix::fs::symlink(&file, &link).unwrap();
            assert_eq!(FileId::of(&link), FileId::of(&file));
        }
        assert_ne!(FileId::of(&dir.path().join("other.csv")), FileId::of(&file));
    }

    #[test]
    fn a_missing_file_is_named_by_where_it_would_be() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let plain = dir.path().join("out.csv");
        let dotted = dir.path().join("sub/../out.csv");
        assert_eq!(FileId::of(&dotted), FileId::of(&plain));
        #[cfg(unix)]
        {
            // A link to a file not created yet: a write through it creates that file.
            let dangling = dir.path().join("sub/link.csv");
            std::os::unix::fs::symlink("../out.csv", &dangling).unwrap();
            assert_eq!(FileId::of(&dangling), FileId::of(&plain));
            assert_eq!(real_path(&dangling), real_path(&plain));
        }
    }
}
