//! The crate's one error type.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// What went wrong, without the details [`Error`] carries. Each kind has one
/// meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An operating-system call failed; [`Error::io_error`] has it (and
    /// [`std::error::Error::source`] gives it).
    Io,
    /// The worker id is empty, longer than 255 bytes, or otherwise unusable.
    InvalidId,
    /// Another live worker holds this id.
    DuplicateId,
    /// The handle was inherited through `fork()`; it belongs to the parent.
    Forked,
    /// A status file is malformed, or an entry of `base_dir` is not a status
    /// file: [`Error::reason`] says which way.
    Corrupt,
    /// A status kept changing while it was read (or stayed marked as being
    /// written) and no consistent copy was had within the read's settle
    /// timeout. Reported in [`Snapshot::skipped`](crate::Snapshot::skipped);
    /// the next read tries again.
    Unsettled,
    /// A new worker's file could not be published: other processes kept
    /// creating and removing files of the same id in `base_dir` while it
    /// tried (64 attempts). Trying again later may succeed.
    Contended,
    /// A status is too large to store.
    TooLarge,
    /// `base_dir` is owned by another user and this process may not read it
    /// (it is neither root nor in the group the board is shared with), or
    /// others may write to it without the sticky bit: they could replace
    /// status files.
    Insecure,
    /// This process only reads the board (root, or a member of the group the
    /// board is shared with, reading another user's board) and tried to add
    /// a worker to it.
    ReadOnly,
    /// No directory is at `base_dir`'s path: it was removed (or not made yet).
    /// A reading board keeps following the path: once a directory is there
    /// again, the next read reads it.
    Missing,
    /// A typed status (feature `serde`) could not be serialized: a map with
    /// keys that are not strings, a failing `Serialize` impl. The serializer's
    /// error is the [`source`](std::error::Error::source).
    Serialize,
}

/// Why an entry of `base_dir` is not a readable status file: the reason a
/// [`Corrupt`](ErrorKind::Corrupt) error carries ([`Error::reason`]), for
/// callers to match rather than parse the message.
///
/// `Display` gives the wording of the error's message.
///
/// # Examples
/// ```
/// use parallel_scoreboard::Reason;
///
/// fn hint(reason: &Reason) -> Option<&'static str> {
///     match reason {
///         Reason::PerlStatusFile => Some("read it with the Perl module's format"),
///         Reason::OwnedByAnotherUser { .. } => Some("run as the workers' user"),
///         _ => None,
///     }
/// }
/// assert_eq!(Reason::BadMagic.to_string(), "bad magic");
/// assert!(hint(&Reason::PerlStatusFile).is_some());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// The entry's name is not a status file's (`status_<id>`).
    NotAStatusFileName,
    /// A file of Perl's `Parallel::Scoreboard` (which names its files
    /// `status_<id>` too): a regular file of this user without our header,
    /// holding a complete record of that module's format (digest, big-endian
    /// length, payload; the digest is not checked). The directory is the Perl
    /// module's, or the module wrote into ours; it is never removed.
    PerlStatusFile,
    /// A status file's name on something other than a regular file.
    NotARegularFile,
    /// A status file's name on a file of another user, whose status is not
    /// trusted.
    OwnedByAnotherUser {
        /// The owner's user id.
        uid: u32,
    },
    /// Shorter than the 512-byte header.
    ShortHeader,
    /// The file does not start with the magic `"PSCOREBD"`.
    BadMagic,
    /// A format version (or header length) this crate does not read.
    UnsupportedVersion {
        /// The format version in the header.
        version: u32,
        /// The header length in the header.
        header_len: u32,
    },
    /// The worker id in the header is empty, too long or not UTF-8.
    BadId,
    /// The worker id in the header is not the one the file's name is made of.
    NameMismatch,
    /// Nobody holds the file's lock, as for a dead worker's file, but it has
    /// no status header: not one this crate made, so it is not removed.
    UnlockedWithoutHeader,
    /// The published copy's payload region starts inside the header (or not
    /// on a word).
    PayloadOverlapsHeader,
    /// The published copy's length exceeds its region, or the region is
    /// larger than any reader accepts.
    LengthBeyondRegion,
    /// The published copy extends beyond the end of the file.
    BeyondEndOfFile,
    /// A dead worker's file, seen by a reader that is not the board's owner
    /// (root, or a member of the group the board is shared with): left in
    /// place for the owner's reads to remove.
    DeadLeftForOwner {
        /// The owner's user id.
        uid: u32,
    },
    /// Another user's status file shrank while it was read (read with
    /// `pread`, so a truncation can only make a read short, never fault).
    Shrank,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::NotAStatusFileName => f.write_str("not a status file name"),
            Reason::PerlStatusFile => f.write_str("a Perl Parallel::Scoreboard status file"),
            Reason::NotARegularFile => f.write_str("not a regular file"),
            Reason::OwnedByAnotherUser { .. } => f.write_str("owned by another user"),
            Reason::ShortHeader => f.write_str("shorter than the header"),
            Reason::BadMagic => f.write_str("bad magic"),
            Reason::UnsupportedVersion {
                version,
                header_len,
            } => write!(
                f,
                "unsupported format version {version} (header length {header_len})"
            ),
            Reason::BadId => f.write_str("bad worker id"),
            Reason::NameMismatch => f.write_str("file name does not match the worker id"),
            Reason::UnlockedWithoutHeader => {
                f.write_str("unlocked and without a status header; left in place")
            }
            Reason::PayloadOverlapsHeader => f.write_str("payload region overlaps the header"),
            Reason::LengthBeyondRegion => f.write_str("status length exceeds its region"),
            Reason::BeyondEndOfFile => f.write_str("status extends beyond the end of the file"),
            Reason::DeadLeftForOwner { uid } => write!(
                f,
                "a dead worker's file; left for its owner (uid {uid}) to remove"
            ),
            Reason::Shrank => f.write_str("the file shrank while it was read"),
        }
    }
}

/// An error of the scoreboard: what failed, on which path, and why.
///
/// # Formatting
///
/// `Display` writes this error's own message only: what failed, the
/// [`Reason`] and details if any, and the path. The error underneath (the
/// operating system's, or the serializer's) is its
/// [`source`](std::error::Error::source), which reports that walk the chain
/// print after it (anyhow's `{:#}`, `std::error::Report`): `I/O error:
/// /run/app/status_7: Permission denied (os error 13)` comes out once, not twice.
/// Match on [`kind`](Self::kind) and [`reason`](Self::reason), not on the
/// wording, which may change.
///
/// Converts into [`io::Error`], keeping the OS error's kind where there is one.
///
/// One pointer wide, as [`io::Error`] is: its details live on the heap, so
/// `Result<(), Error>` comes back in a register (zero for `Ok`) rather than
/// through memory on every fallible hot call, such as every update.
pub struct Error(Box<Inner>);

/// What an [`Error`] carries.
#[derive(Debug)]
struct Inner {
    kind: ErrorKind,
    path: Option<PathBuf>,
    reason: Option<Reason>,
    detail: Option<String>,
    /// The error underneath: the operating system's for [`ErrorKind::Io`],
    /// the serializer's (as an [`io::Error`] of kind `InvalidData` holding
    /// it) for [`ErrorKind::Serialize`]; `None` for the others.
    source: Option<io::Error>,
}

// `Result<(), Error>` is one register: what the box is for.
const _: () = assert!(size_of::<Result<()>>() == size_of::<usize>());

/// `Result<T, Error>`.
pub type Result<T> = std::result::Result<T, Error>;

/// How long an operating-system error may last: the crate's one
/// classification of them, which every caller that must decide whether to
/// try again (a read that skips an entry or fails, a watch that is set up
/// again later) asks through [`OsClass::of`] or [`Error::os_class`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OsClass {
    /// Interrupted, or would block (`EINTR`, `EAGAIN`): the same call may
    /// succeed at once.
    Transient,
    /// A resource ran out: descriptors (`EMFILE`, `ENFILE`) or memory and
    /// mappings (`ENOMEM`). May pass once others give theirs back.
    OutOfResources,
    /// Anything else (no permission, not a directory, a read-only file
    /// system...): lasts until something changes.
    Permanent,
}

impl OsClass {
    /// The class of `e`; an error without an OS error code is permanent.
    pub(crate) fn of(e: &io::Error) -> Self {
        match e.raw_os_error() {
            Some(libc::EINTR | libc::EAGAIN) => OsClass::Transient,
            Some(libc::EMFILE | libc::ENFILE | libc::ENOMEM) => OsClass::OutOfResources,
            _ => OsClass::Permanent,
        }
    }

    /// Whether an error of this class may pass by itself.
    pub(crate) fn may_pass(self) -> bool {
        self != OsClass::Permanent
    }
}

// Constructors, one per kind (and one per way an I/O error comes: with or
// without a path). Cold: made only on the way out of a failed call; the hot
// paths that can fail (updates) keep their code for the error out of the way.
impl Error {
    #[cold]
    fn new(kind: ErrorKind) -> Self {
        Self(Box::new(Inner {
            kind,
            path: None,
            reason: None,
            detail: None,
            source: None,
        }))
    }

    /// An [`Io`](ErrorKind::Io) error with no path to tell (installing the
    /// fork handlers).
    #[cold]
    pub(crate) fn io(source: io::Error) -> Self {
        let mut e = Self::new(ErrorKind::Io);
        e.0.source = Some(source);
        e
    }

    /// An [`Io`](ErrorKind::Io) error on `path`: the one way an I/O error
    /// with a path is made (`BaseDir::err` makes it for an entry of the
    /// board).
    #[cold]
    pub(crate) fn io_at(path: impl AsRef<Path>, source: io::Error) -> Self {
        Self::io(source).with_path(path)
    }

    /// A [`Corrupt`](ErrorKind::Corrupt) error of the entry at `path`: why it
    /// is not a readable status file.
    #[cold]
    pub(crate) fn corrupt(path: impl AsRef<Path>, reason: Reason) -> Self {
        let mut e = Self::new(ErrorKind::Corrupt);
        e.0.reason = Some(reason);
        e.with_path(path)
    }

    /// An [`InvalidId`](ErrorKind::InvalidId) error: `why` the id is refused.
    #[cold]
    pub(crate) fn invalid_id(why: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidId).with_detail(why)
    }

    /// A [`DuplicateId`](ErrorKind::DuplicateId) error: a live worker holds
    /// `id`, whose file is at `path`.
    #[cold]
    pub(crate) fn duplicate_id(id: &str, path: impl AsRef<Path>) -> Self {
        Self::new(ErrorKind::DuplicateId)
            .with_detail(format!("id {id:?}"))
            .with_path(path)
    }

    /// A [`Forked`](ErrorKind::Forked) error of the worker whose file is at
    /// `path`.
    #[cold]
    pub(crate) fn forked(path: impl AsRef<Path>) -> Self {
        Self::new(ErrorKind::Forked).with_path(path)
    }

    /// An [`Unsettled`](ErrorKind::Unsettled) error of the status file at
    /// `path`.
    #[cold]
    pub(crate) fn unsettled(path: impl AsRef<Path>) -> Self {
        Self::new(ErrorKind::Unsettled).with_path(path)
    }

    /// A [`Contended`](ErrorKind::Contended) error: the file of `id`, at
    /// `path`, could not be published.
    #[cold]
    pub(crate) fn contended(id: &str, path: impl AsRef<Path>) -> Self {
        Self::new(ErrorKind::Contended)
            .with_detail(format!("id {id:?}"))
            .with_path(path)
    }

    /// A [`TooLarge`](ErrorKind::TooLarge) error: `len` bytes asked of the
    /// file at `path`, at most `max` possible.
    #[cold]
    pub(crate) fn too_large(len: u64, max: u64, path: impl AsRef<Path>) -> Self {
        Self::new(ErrorKind::TooLarge)
            .with_detail(format!("{len} bytes, at most {max}"))
            .with_path(path)
    }

    /// An [`Insecure`](ErrorKind::Insecure) error of the directory at `path`,
    /// and why.
    #[cold]
    pub(crate) fn insecure(path: impl AsRef<Path>, why: impl Into<String>) -> Self {
        Self::new(ErrorKind::Insecure)
            .with_detail(why)
            .with_path(path)
    }

    /// A [`ReadOnly`](ErrorKind::ReadOnly) error of the board at `path`,
    /// and why.
    #[cold]
    pub(crate) fn read_only(path: impl AsRef<Path>, why: impl Into<String>) -> Self {
        Self::new(ErrorKind::ReadOnly)
            .with_detail(why)
            .with_path(path)
    }

    /// A [`Missing`](ErrorKind::Missing) error: no directory at `path`.
    #[cold]
    pub(crate) fn missing(path: impl AsRef<Path>) -> Self {
        Self::new(ErrorKind::Missing).with_path(path)
    }

    /// A [`Serialize`](ErrorKind::Serialize) error, caused by `source`.
    #[cfg(feature = "serde")]
    #[cold]
    pub(crate) fn serialize(source: serde_json::Error) -> Self {
        let mut e = Self::new(ErrorKind::Serialize);
        e.0.source = Some(io::Error::new(io::ErrorKind::InvalidData, source));
        e
    }

    fn with_path(mut self, path: impl AsRef<Path>) -> Self {
        self.0.path = Some(path.as_ref().to_path_buf());
        self
    }

    /// Adds `detail` to the message; replaces any detail there was.
    pub(crate) fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.0.detail = Some(detail.into());
        self
    }

    /// Adds `more` to the detail: after the one there is, if any.
    pub(crate) fn and_detail(mut self, more: &str) -> Self {
        self.0.detail = Some(match self.0.detail.take() {
            Some(d) => format!("{d}; {more}"),
            None => more.to_owned(),
        });
        self
    }

    /// The class of the OS error underneath, for an [`Io`](ErrorKind::Io)
    /// error; `None` for the other kinds.
    pub(crate) fn os_class(&self) -> Option<OsClass> {
        match self.0.kind {
            ErrorKind::Io => self.0.source.as_ref().map(OsClass::of),
            _ => None,
        }
    }
}

impl Error {
    /// What went wrong.
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The file or directory involved, if any.
    #[must_use]
    pub fn path(&self) -> Option<&Path> {
        self.0.path.as_deref()
    }

    /// Why the entry was skipped, for a [`Corrupt`](ErrorKind::Corrupt)
    /// error (every one has a reason): an entry of `base_dir` (in
    /// [`Snapshot::skipped`]), or a name a new worker found taken; `None`
    /// for other errors.
    ///
    /// # Examples
    /// Telling the Perl module's files apart from other skipped entries:
    /// ```
    /// use parallel_scoreboard::{Reason, Scoreboard, Snapshot};
    /// # let dir = tempfile::tempdir()?;
    /// # std::fs::write(dir.path().join("notes.txt"), "not a status file")?;
    /// let board = Scoreboard::builder(dir.path()).open()?;
    /// let mut snapshot = Snapshot::default();
    /// board.read_into(&mut snapshot)?;
    /// for e in &snapshot.skipped {
    ///     match e.reason() {
    ///         Some(Reason::PerlStatusFile) => println!("try the Perl reader: {e}"),
    ///         Some(Reason::NotAStatusFileName) => {} // something else lives here
    ///         _ => eprintln!("skipped: {e}"),
    ///     }
    /// }
    /// assert_eq!(snapshot.skipped[0].reason(), Some(&Reason::NotAStatusFileName));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// [`Snapshot::skipped`]: crate::Snapshot::skipped
    #[must_use]
    pub fn reason(&self) -> Option<&Reason> {
        self.0.reason.as_ref()
    }

    /// The operating-system error of an [`Io`](ErrorKind::Io) error; `None`
    /// for the other kinds.
    #[must_use]
    pub fn io_error(&self) -> Option<&io::Error> {
        match self.0.kind {
            ErrorKind::Io => self.0.source.as_ref(),
            _ => None,
        }
    }
}

impl fmt::Debug for Error {
    /// As a struct named `Error` with its kind, path, detail and source.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Inner {
            kind,
            path,
            reason,
            detail,
            source,
        } = &*self.0;
        f.debug_struct("Error")
            .field("kind", kind)
            .field("path", path)
            .field("reason", reason)
            .field("detail", detail)
            .field("source", source)
            .finish()
    }
}

impl Clone for Error {
    /// A copy with the same kind, path, reason and detail; a copied OS error keeps its
    /// error code (or its kind and message).
    fn clone(&self) -> Self {
        let e = &*self.0;
        Self(Box::new(Inner {
            kind: e.kind,
            path: e.path.clone(),
            reason: e.reason.clone(),
            detail: e.detail.clone(),
            source: e.source.as_ref().map(|e| match e.raw_os_error() {
                Some(code) => io::Error::from_raw_os_error(code),
                None => io::Error::new(e.kind(), e.to_string()),
            }),
        }))
    }
}

impl fmt::Display for Error {
    /// This error's own message; the cause is left to
    /// [`source`](std::error::Error::source).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = &*self.0;
        let what = match e.kind {
            ErrorKind::Io => "I/O error",
            ErrorKind::InvalidId => "invalid worker id",
            ErrorKind::DuplicateId => "worker id is held by a live worker",
            ErrorKind::Forked => {
                "worker handle was inherited through fork and belongs to the parent"
            }
            ErrorKind::Corrupt => "not a valid status file",
            ErrorKind::Unsettled => "status kept changing while being read",
            ErrorKind::Contended => "could not publish the worker's file: base_dir kept changing",
            ErrorKind::TooLarge => "status too large",
            ErrorKind::Insecure => "base_dir is not private to this user",
            ErrorKind::ReadOnly => "this process only reads the board",
            ErrorKind::Missing => "no directory at base_dir's path",
            ErrorKind::Serialize => "cannot serialize the status",
        };
        f.write_str(what)?;
        match (&e.reason, &e.detail) {
            (Some(reason), Some(detail)) => write!(f, " ({reason}; {detail})")?,
            (Some(reason), None) => write!(f, " ({reason})")?,
            (None, Some(detail)) => write!(f, " ({detail})")?,
            (None, None) => {}
        }
        if let Some(path) = &e.path {
            write!(f, ": {}", path.display())?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    /// The OS error of an [`Io`](ErrorKind::Io) error, the serializer's of a
    /// [`Serialize`](ErrorKind::Serialize) error.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source.as_ref().map(|e| e as _)
    }
}

impl From<io::Error> for Error {
    /// An [`Io`](ErrorKind::Io) error without a path.
    fn from(e: io::Error) -> Self {
        Self::io(e)
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> Self {
        let kind = match (e.0.kind, &e.0.source) {
            (_, Some(source)) => source.kind(),
            (ErrorKind::InvalidId, _) => io::ErrorKind::InvalidInput,
            (ErrorKind::DuplicateId, _) => io::ErrorKind::AlreadyExists,
            (ErrorKind::Corrupt, _) => io::ErrorKind::InvalidData,
            (ErrorKind::Unsettled, _) => io::ErrorKind::TimedOut,
            (ErrorKind::Contended, _) => io::ErrorKind::ResourceBusy,
            (ErrorKind::TooLarge, _) => io::ErrorKind::FileTooLarge,
            (ErrorKind::Insecure | ErrorKind::ReadOnly, _) => io::ErrorKind::PermissionDenied,
            (ErrorKind::Missing, _) => io::ErrorKind::NotFound,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, e)
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn converts_into_io_error_keeping_the_kind_and_the_message() {
        let e = Error::duplicate_id("x", "/dev/shm/b/status_x");
        assert_eq!(
            e.to_string(),
            "worker id is held by a live worker (id \"x\"): /dev/shm/b/status_x"
        );
        let io: io::Error = e.into();
        assert_eq!(io.kind(), io::ErrorKind::AlreadyExists);

        let e = Error::io_at("/x", io::Error::from_raw_os_error(libc::ENOSPC));
        assert!(e.source().is_some());
        let io: io::Error = e.into();
        assert_eq!(io.kind(), io::ErrorKind::StorageFull);
        // The chain goes on past the wrapper to the OS error, once.
        assert_eq!(io.to_string(), "I/O error: /x");
        assert_eq!(
            io.source().unwrap().to_string(),
            io::Error::from_raw_os_error(libc::ENOSPC).to_string()
        );
    }

    #[test]
    fn display_is_its_own_message_and_source_the_cause() {
        let os = io::Error::from_raw_os_error(libc::ENOTDIR);
        let os_text = os.to_string();
        let e = Error::io_at("/tmp/x/afile/sub", os);
        assert_eq!(e.to_string(), "I/O error: /tmp/x/afile/sub");
        assert_eq!(e.source().unwrap().to_string(), os_text);
        assert!(e.source().unwrap().source().is_none());
        // Every message of the chain, as `{:#}` reports print it: the OS
        // error's text once.
        let mut chain = vec![e.to_string()];
        let mut next = e.source();
        while let Some(c) = next {
            chain.push(c.to_string());
            next = c.source();
        }
        assert_eq!(chain.join(": ").matches(&os_text).count(), 1, "{chain:?}");
        // Errors without a cause have none.
        for e in [
            Error::missing("/m"),
            Error::corrupt("/m/status_a", Reason::BadMagic),
            Error::unsettled("/m/status_a"),
            Error::contended("a", "/m/status_a"),
            Error::too_large(2, 1, "/m/status_a"),
            Error::invalid_id("empty"),
            Error::forked("/m/status_a"),
            Error::insecure("/m", "why"),
            Error::read_only("/m", "why"),
        ] {
            assert!(e.source().is_none(), "{e}");
            assert!(e.io_error().is_none(), "{e}");
            assert!(e.to_string().contains("/m") || e.kind() == ErrorKind::InvalidId);
        }
        assert_eq!(
            Error::corrupt("/m/status_a", Reason::BadMagic).to_string(),
            "not a valid status file (bad magic): /m/status_a"
        );
    }

    #[test]
    fn one_classification_of_os_errors() {
        let class = |code| OsClass::of(&io::Error::from_raw_os_error(code));
        for code in [libc::EINTR, libc::EAGAIN] {
            assert_eq!(class(code), OsClass::Transient);
        }
        for code in [libc::EMFILE, libc::ENFILE, libc::ENOMEM] {
            assert_eq!(class(code), OsClass::OutOfResources);
        }
        for code in [libc::EACCES, libc::ENOTDIR, libc::EROFS, libc::ENOENT] {
            assert_eq!(class(code), OsClass::Permanent);
            assert!(!class(code).may_pass());
        }
        assert_eq!(
            OsClass::of(&io::Error::other("no code")),
            OsClass::Permanent
        );
        let e = Error::io(io::Error::from_raw_os_error(libc::EMFILE));
        assert_eq!(e.os_class(), Some(OsClass::OutOfResources));
        assert_eq!(Error::unsettled("/x").os_class(), None);
    }

    #[test]
    fn clones_keep_kind_path_detail_and_os_error() {
        let e = Error::io_at("/x/status_a", io::Error::from_raw_os_error(libc::EACCES))
            .with_detail("why");
        let c = e.clone();
        assert_eq!(c.to_string(), e.to_string());
        assert_eq!(c.kind(), ErrorKind::Io);
        assert_eq!(c.io_error().unwrap().raw_os_error(), Some(libc::EACCES));
        let e = Error::io(io::Error::new(io::ErrorKind::InvalidData, "bad bytes"));
        let c = e.clone();
        assert_eq!(c.io_error().unwrap().kind(), io::ErrorKind::InvalidData);
        assert_eq!(c.to_string(), e.to_string());
    }

    #[test]
    fn is_send_sync_static() {
        fn check<T: std::error::Error + Send + Sync + 'static>() {}
        check::<Error>();
    }
}
