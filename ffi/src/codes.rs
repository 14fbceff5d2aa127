//! The result codes every function returns, and the reasons a snapshot's
//! skipped entries carry.

use std::ffi::c_int;

/// Success.
pub const PSB_OK: c_int = 0;
/// An operating-system call failed; `psb_error_os()` gives its errno.
pub const PSB_E_IO: c_int = 1;
/// The worker id is empty, longer than 255 bytes, not UTF-8, or the
/// worker-id callback gave none.
pub const PSB_E_INVALID_ID: c_int = 2;
/// A live worker holds this id.
pub const PSB_E_DUPLICATE_ID: c_int = 3;
/// The worker handle was inherited through `fork()`: it belongs to the parent.
pub const PSB_E_FORKED: c_int = 4;
/// An entry of the board's directory is not a valid status file (in a
/// snapshot's skipped entries; its reason says which way).
pub const PSB_E_CORRUPT: c_int = 5;
/// A status kept changing while it was read (in a snapshot's skipped entries).
pub const PSB_E_UNSETTLED: c_int = 6;
/// A new worker's file could not be published: other processes kept
/// creating and removing files of the same id. Trying again may succeed.
pub const PSB_E_CONTENDED: c_int = 7;
/// A status too large to store (over 1 TiB).
pub const PSB_E_TOO_LARGE: c_int = 8;
/// The board's directory is not private to this user (another user's that
/// this process may not read, or writable by others without the sticky bit).
pub const PSB_E_INSECURE: c_int = 9;
/// This process only reads the board (another user's) and tried to add a
/// worker to it.
pub const PSB_E_READ_ONLY: c_int = 10;
/// No directory is at the board's path (removed, or not made yet with
/// `create` off).
pub const PSB_E_MISSING: c_int = 11;
/// An error of a kind this version of the header does not name.
pub const PSB_E_OTHER: c_int = 12;
/// A pointer argument that must not be NULL was NULL.
pub const PSB_E_NULL: c_int = 100;
/// An argument out of its range: a NULL id with a non-zero length, an
/// option value out of range, an index past the end.
pub const PSB_E_INVALID_ARGUMENT: c_int = 101;
/// The library panicked (a bug); the call did nothing or was cut short, and
/// the handles stay usable.
pub const PSB_E_PANIC: c_int = 102;
/// The worker-id callback returned `PSB_ID_FAILED`: it could not name the
/// worker (an exception in a binding's callback, say). The call changed
/// nothing.
pub const PSB_E_CALLBACK: c_int = 103;

/// What a worker-id callback returns when it cannot give an id:
/// `(size_t)-1`. The call that asked fails with `PSB_E_CALLBACK`.
pub const PSB_ID_FAILED: usize = usize::MAX;

/// Not a skipped entry's error, or no reason given.
pub const PSB_REASON_NONE: c_int = 0;
/// The name is not a status file's, and it is not a Perl status file either.
pub const PSB_REASON_NOT_A_STATUS_FILE_NAME: c_int = 1;
/// A file of Perl's `Parallel::Scoreboard` (named `status_<id>`, that
/// module's format).
pub const PSB_REASON_PERL_STATUS_FILE: c_int = 2;
/// A status file's name on something other than a regular file.
pub const PSB_REASON_NOT_A_REGULAR_FILE: c_int = 3;
/// A status file's name on a file of another user.
pub const PSB_REASON_OWNED_BY_ANOTHER_USER: c_int = 4;
/// Shorter than the status file header.
pub const PSB_REASON_SHORT_HEADER: c_int = 5;
/// The file does not start with the status files' magic.
pub const PSB_REASON_BAD_MAGIC: c_int = 6;
/// A format version this library does not read.
pub const PSB_REASON_UNSUPPORTED_VERSION: c_int = 7;
/// The worker id in the header is empty, too long or not UTF-8.
pub const PSB_REASON_BAD_ID: c_int = 8;
/// The worker id in the header does not match the file's name.
pub const PSB_REASON_NAME_MISMATCH: c_int = 9;
/// Unlocked, like a dead worker's file, but without a status header: left
/// in place.
pub const PSB_REASON_UNLOCKED_WITHOUT_HEADER: c_int = 10;
/// The published status's region overlaps the header.
pub const PSB_REASON_PAYLOAD_OVERLAPS_HEADER: c_int = 11;
/// The published status's length exceeds its region.
pub const PSB_REASON_LENGTH_BEYOND_REGION: c_int = 12;
/// The published status extends beyond the end of the file.
pub const PSB_REASON_BEYOND_END_OF_FILE: c_int = 13;
/// A dead worker's file seen by a reader that is not the board's owner:
/// left for the owner's reads to remove.
pub const PSB_REASON_DEAD_LEFT_FOR_OWNER: c_int = 14;
/// Another user's status file shrank while it was read.
pub const PSB_REASON_SHRANK: c_int = 15;
/// A reason this version of the header does not name.
pub const PSB_REASON_OTHER: c_int = 16;
