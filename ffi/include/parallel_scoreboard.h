/*
 * parallel_scoreboard.h: the C interface of parallel-scoreboard.
 *
 * A scoreboard for monitoring the status of many workers (the processes of a
 * prefork server, threads, tasks), the model of Perl's Parallel::Scoreboard:
 * every worker publishes its current status (any bytes, any length) in a
 * memory-mapped file of its own, in the board's directory; a monitor reads
 * the latest complete status of every live worker. An update is a few stores
 * into shared memory (no system call); a worker that dies, even by SIGKILL,
 * is gone from the next read. Linux, 64-bit.
 *
 * Link with -lparallel_scoreboard_ffi (the shared library), or with
 * libparallel_scoreboard_ffi.a and -lpthread -ldl -lm (the static one).
 * docs/c.md has a complete program.
 *
 * RESULTS AND ERRORS
 * Every function that can fail returns an int: PSB_OK (0), or a PSB_E_*
 * code. A failing call also sets the thread's last error: psb_error_code(),
 * psb_error_message() (text owned by the library, valid until the next psb_
 * call on the same thread) and psb_error_os() (the errno of an OS error, 0
 * if none). Calls that succeed leave the last error as it was. Every
 * pointer argument is checked: a NULL where one is needed gives PSB_E_NULL.
 * No panic of the library crosses this interface: it gives PSB_E_PANIC.
 * (Running out of memory aborts the process, as in any Rust program.)
 *
 * OWNERSHIP
 * - psb_board_open makes a psb_board; psb_board_free frees it.
 * - psb_worker_open makes a psb_worker; psb_worker_free frees it (removing
 *   its status file). A worker may outlive its board.
 * - psb_snapshot_new makes a psb_snapshot; psb_snapshot_free frees it.
 * - The pointers in a psb_worker_info or psb_skipped_info point into their
 *   snapshot: valid until the next psb_board_read into it, or its free.
 * - Strings returned by psb_version, psb_code_name are static; that of
 *   psb_error_message is the thread's (see above). Never free any of them.
 * - The worker-id callback's ctx is the caller's: never freed here.
 * Freeing NULL does nothing.
 *
 * THREADS
 * - psb_board: thread-safe. Any number of threads may update, read and
 *   open workers through one board at once. Free it when no thread uses it.
 * - psb_worker: one thread at a time (it may move between threads).
 * - psb_snapshot: one thread at a time; threads may read one board into
 *   snapshots of their own at once.
 * - The worker-id callback is called on the updating thread, from any
 *   thread that updates: it must be safe to call from all of them, and
 *   must return normally (no longjmp out of it, no C++ exception through it).
 *
 * FORK
 * Open the board, then fork. In the child:
 * - psb_board_update makes the child's own worker (its pid, with the
 *   default id) on its first call; the parent's worker stays;
 * - workers inherited from the parent refuse to update (PSB_E_FORKED);
 *   freeing them, or freeing the inherited board, leaves the parent's
 *   files alone;
 * - the board reads, opens workers and cleans up as in the parent.
 *
 * TIMES are nanoseconds since the Unix epoch, on the reading process's wall
 * clock.
 */

#ifndef PARALLEL_SCOREBOARD_H
#define PARALLEL_SCOREBOARD_H

/* Generated from ffi/src by cbindgen (ffi/cbindgen.toml); do not edit by hand. */

#include <stddef.h>
#include <stdint.h>

// What a worker-id callback returns when it cannot give an id (`SIZE_MAX`):
// the call that asked fails with `PSB_E_CALLBACK`.
#define PSB_ID_FAILED ((size_t)-1)

// Success.
#define PSB_OK 0

// An operating-system call failed; `psb_error_os()` gives its errno.
#define PSB_E_IO 1

// The worker id is empty, longer than 255 bytes, not UTF-8, or the
// worker-id callback gave none.
#define PSB_E_INVALID_ID 2

// A live worker holds this id.
#define PSB_E_DUPLICATE_ID 3

// The worker handle was inherited through `fork()`: it belongs to the parent.
#define PSB_E_FORKED 4

// An entry of the board's directory is not a valid status file (in a
// snapshot's skipped entries; its reason says which way).
#define PSB_E_CORRUPT 5

// A status kept changing while it was read (in a snapshot's skipped entries).
#define PSB_E_UNSETTLED 6

// A new worker's file could not be published: other processes kept
// creating and removing files of the same id. Trying again may succeed.
#define PSB_E_CONTENDED 7

// A status too large to store (over 1 TiB).
#define PSB_E_TOO_LARGE 8

// The board's directory is not private to this user (another user's that
// this process may not read, or writable by others without the sticky bit).
#define PSB_E_INSECURE 9

// This process only reads the board (another user's) and tried to add a
// worker to it.
#define PSB_E_READ_ONLY 10

// No directory is at the board's path (removed, or not made yet with
// `create` off).
#define PSB_E_MISSING 11

// An error of a kind this version of the header does not name.
#define PSB_E_OTHER 12

// A pointer argument that must not be NULL was NULL.
#define PSB_E_NULL 100

// An argument out of its range: a NULL id with a non-zero length, an
// option value out of range, an index past the end.
#define PSB_E_INVALID_ARGUMENT 101

// The library panicked (a bug); the call did nothing or was cut short, and
// the handles stay usable.
#define PSB_E_PANIC 102

// The worker-id callback returned `PSB_ID_FAILED`: it could not name the
// worker (an exception in a binding's callback, say). The call changed
// nothing.
#define PSB_E_CALLBACK 103



// Not a skipped entry's error, or no reason given.
#define PSB_REASON_NONE 0

// The name is not a status file's, and it is not a Perl status file either.
#define PSB_REASON_NOT_A_STATUS_FILE_NAME 1

// A file of Perl's `Parallel::Scoreboard` (named `status_<id>`, that
// module's format).
#define PSB_REASON_PERL_STATUS_FILE 2

// A status file's name on something other than a regular file.
#define PSB_REASON_NOT_A_REGULAR_FILE 3

// A status file's name on a file of another user.
#define PSB_REASON_OWNED_BY_ANOTHER_USER 4

// Shorter than the status file header.
#define PSB_REASON_SHORT_HEADER 5

// The file does not start with the status files' magic.
#define PSB_REASON_BAD_MAGIC 6

// A format version this library does not read.
#define PSB_REASON_UNSUPPORTED_VERSION 7

// The worker id in the header is empty, too long or not UTF-8.
#define PSB_REASON_BAD_ID 8

// The worker id in the header does not match the file's name.
#define PSB_REASON_NAME_MISMATCH 9

// Unlocked, like a dead worker's file, but without a status header: left
// in place.
#define PSB_REASON_UNLOCKED_WITHOUT_HEADER 10

// The published status's region overlaps the header.
#define PSB_REASON_PAYLOAD_OVERLAPS_HEADER 11

// The published status's length exceeds its region.
#define PSB_REASON_LENGTH_BEYOND_REGION 12

// The published status extends beyond the end of the file.
#define PSB_REASON_BEYOND_END_OF_FILE 13

// A dead worker's file seen by a reader that is not the board's owner:
// left for the owner's reads to remove.
#define PSB_REASON_DEAD_LEFT_FOR_OWNER 14

// Another user's status file shrank while it was read.
#define PSB_REASON_SHRANK 15

// A reason this version of the header does not name.
#define PSB_REASON_OTHER 16

// A board: a directory of per-worker status files. Made by
// `psb_board_open`, freed by `psb_board_free`.
//
// Thread-safe: one board may be used by many threads at once (every
// function taking a `const psb_board *`), until it is freed.
typedef struct psb_board psb_board;

// What `psb_board_read` fills: every live worker's status, id, pid, update
// count and times, and the entries the read skipped. Made by
// `psb_snapshot_new`, freed by `psb_snapshot_free`.
//
// Keep one for a polling loop: each read reuses its buffers, so once they
// are large enough a read allocates nothing (while no entry is skipped).
// Used by one thread at a time.
typedef struct psb_snapshot psb_snapshot;

// A worker: one status file, the handle for the fastest updates. Made by
// `psb_worker_open`, freed by `psb_worker_free`, which removes its file.
//
// Used by one thread at a time (it may move between threads). It does not
// need its board: it may outlive it.
typedef struct psb_worker psb_worker;

// The worker-id callback: writes the calling worker's id (up to `cap`
// bytes, UTF-8, no NUL needed) into `buf` and returns its length in bytes,
// 1 to 255 (`cap` is at least 256). Returning 0, more than 255, or bytes
// that are not UTF-8 fails the call that asked with `PSB_E_INVALID_ID`;
// returning `PSB_ID_FAILED` (it could not name the worker) fails it with
// `PSB_E_CALLBACK`. Either way the call changes nothing. The library
// copies the id out of `buf` before it returns.
//
// It is called by `psb_board_update` (every call) and by `psb_worker_open`
// with a NULL id, and by nothing else (never by a read, a cleanup or a
// free), on the thread that made that call, which may be any thread using
// the board: it and its `ctx` must be usable from all of
// them. It must return normally: no `longjmp` out of it, no C++ exception
// through it. It may call the library (read the board, even update
// another board).
typedef size_t (*psb_worker_id_fn)(void *ctx, char *buf, size_t cap);

// How to open a board. Fill one with `psb_options_init` (the defaults),
// then change the fields wanted.
//
// Later versions may add fields at the end; always start from
// `psb_options_init`.
typedef struct psb_options {
  // Non-zero (default): create the directory (mode 0700, and missing
  // parents) if missing. Zero: neither create it nor fail because it is
  // missing; reads fail with `PSB_E_MISSING` until a directory is there.
  int create;
  // Non-zero (default): reads watch the directory with inotify (a warm
  // read makes one system call). Zero: reads list it each time.
  int watch;
  // How long one read waits, in all, for statuses that keep changing
  // under it, in milliseconds; -1 (default): the library's default
  // (100 ms).
  int64_t settle_timeout_ms;
  // -1 (default): the board is private to its user (directory 0700,
  // files 0600). A group id (0 to 4294967294): share it for reading with
  // that group (directory 2750, files 0640).
  int64_t group;
  // How many workers' files reads keep mapped between reads, at most;
  // -1 (default): no limit of the board's own.
  int64_t max_mappings;
  // NULL (default): a worker's default id is the process id (in decimal).
  // Otherwise the function that gives it; see `psb_worker_id_fn`.
  psb_worker_id_fn worker_id;
  // Passed to `worker_id` as its `ctx` (default NULL). The library never
  // frees it; it must stay valid until the board is freed.
  void *worker_id_ctx;
} psb_options;

// One live worker in a snapshot, from `psb_snapshot_get`.
//
// The pointers point into the snapshot: valid until the next
// `psb_board_read` into it or its `psb_snapshot_free`. Neither is
// NUL-terminated; with a length of 0 the pointer is not NULL but must not
// be read.
typedef struct psb_worker_info {
  // The worker's id: `id_len` bytes of UTF-8.
  const char *id;
  // The id's length in bytes (1 to 255).
  size_t id_len;
  // The worker's latest complete status: `status_len` bytes.
  const char *status;
  // The status's length in bytes.
  size_t status_len;
  // How many updates the worker has made.
  uint64_t updates;
  // When it made the latest one, in nanoseconds since the Unix epoch, on
  // this process's wall clock (the age `now - updated_at_ns` is right
  // even when either clock was set since).
  uint64_t updated_at_ns;
  // When it started (made its file), in nanoseconds since the epoch.
  uint64_t started_at_ns;
  // The process that owns it.
  uint32_t pid;
} psb_worker_info;

// One entry a read skipped, from `psb_snapshot_skipped`.
//
// The pointers point into the snapshot, valid as `psb_worker_info`'s.
typedef struct psb_skipped_info {
  // What went wrong: a `PSB_E_*` code (`PSB_E_CORRUPT`, `PSB_E_UNSETTLED`,
  // `PSB_E_IO`...).
  int code;
  // Why, for `PSB_E_CORRUPT`: a `PSB_REASON_*` code; `PSB_REASON_NONE`
  // otherwise.
  int reason;
  // The OS error number, for `PSB_E_IO`; 0 otherwise.
  int os_error;
  // The message, NUL-terminated UTF-8.
  const char *message;
  // The entry's path (`path_len` bytes, not NUL-terminated); NULL if none.
  const char *path;
  // The path's length in bytes.
  size_t path_len;
} psb_skipped_info;

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

// The library's version, as `"MAJOR.MINOR.PATCH"`.
//
// Returns a static string: never NULL, never freed.
const char *psb_version(void);

// The code of the thread's last error: that of the latest call on this
// thread that failed (`PSB_OK` if none has).
//
// Calls that succeed leave the last error as it was.
int psb_error_code(void);

// The message of the thread's last error (the latest call on this thread
// that failed), NUL-terminated, UTF-8; `""` if no call has failed.
//
// Never NULL. The text belongs to the library: valid until the next `psb_`
// call on this thread (or the thread's exit); copy it to keep it.
const char *psb_error_message(void);

// The operating system's error number (errno) of the thread's last error:
// for `PSB_E_IO`, the failed call's (`ENOTDIR`, `EACCES`, `ENOSPC`...); 0
// when the last error has none.
int psb_error_os(void);

// The name of a result code, such as `"PSB_E_IO"`; `"unknown"` for a value
// that is no code.
//
// Returns a static string: never NULL, never freed.
const char *psb_code_name(int code);

// Sets `*opts` to the defaults: create, watch, the default settle timeout,
// private, no limit of mappings, the process id as the worker id.
//
// # Errors
// `PSB_E_NULL` if `opts` is NULL.
//
// # Safety
// `opts` is NULL or points to writable memory for a `psb_options`.
int psb_options_init(struct psb_options *opts);

// Opens the board in the directory `dir` (a NUL-terminated path, any
// bytes) with `opts` (NULL: the defaults), and stores it in `*out`.
//
// On failure `*out` is set to NULL. The board is the caller's: free it
// with `psb_board_free`.
//
// # Errors
// - `PSB_E_NULL`: `dir` or `out` is NULL.
// - `PSB_E_INVALID_ARGUMENT`: an option out of its range.
// - `PSB_E_IO`: the directory cannot be created or opened
//   (`psb_error_os()`: `ENOTDIR`, `EACCES`...).
// - `PSB_E_INSECURE`: the directory is another user's, or writable by
//   others.
//
// # Safety
// `dir` is NULL or a NUL-terminated string; `opts` is NULL or points to a
// `psb_options`; `out` is NULL or points to writable memory for a pointer.
int psb_board_open(const char *dir, const struct psb_options *opts, struct psb_board **out);

// Publishes `status` (`len` bytes; NULL allowed with `len` 0) as the
// calling worker's status: the worker of the board's worker id (the
// process id by default, else the `worker_id` callback's), made on first
// use. Its file belongs to the board: removed when the board is freed (or,
// with a callback, once every thread that updated through it has exited).
//
// Once the worker exists, an update that fits the space its file has
// makes no system call. After `fork()`, the child's first update makes the
// child's own worker (its pid); the parent's stays.
//
// # Errors
// - `PSB_E_NULL`: `board` is NULL, or `status` is NULL with `len` > 0.
// - `PSB_E_INVALID_ID`: the callback gave no usable id; `PSB_E_CALLBACK`:
//   it returned `PSB_ID_FAILED`.
// - `PSB_E_DUPLICATE_ID`: on first use of an id that a live worker holds.
// - `PSB_E_IO`: the file cannot be made or grown (`ENOSPC`, `EFBIG`...);
//   the previous status stays published.
// - `PSB_E_TOO_LARGE`, `PSB_E_READ_ONLY`, `PSB_E_MISSING`, `PSB_E_CONTENDED`.
//
// # Safety
// `board` is NULL or a board from `psb_board_open` not yet freed;
// `status` is NULL or points to `len` readable bytes.
int psb_board_update(const struct psb_board *board, const void *status, size_t len);

// Removes the files of dead workers (and abandoned temporaries) in the
// board's directory. Stores how many it removed in `*removed` and how many
// it could not remove (a read-only mount, no permission) in `*failed`;
// either may be NULL.
//
// # Errors
// As `psb_board_read`. A file that cannot be removed is not an error: it
// is counted in `*failed`.
//
// # Safety
// `board` is NULL or a live board; `removed` and `failed` are NULL or
// point to writable memory for a `size_t`.
int psb_board_cleanup(const struct psb_board *board, size_t *removed, size_t *failed);

// Frees `board` (NULL: does nothing). The files of the workers that
// `psb_board_update` made through it are removed; workers from
// `psb_worker_open` stay until freed themselves.
//
// In a `fork()` child, freeing a board inherited from the parent removes
// nothing of the parent's: the parent's workers stay.
//
// # Errors
// `PSB_E_PANIC` only (the board is gone all the same: never use it again).
//
// # Safety
// `board` is NULL or a board from `psb_board_open` not yet freed, which no
// other thread is using; it must not be used after this.
int psb_board_free(struct psb_board *board);

// A new, empty snapshot; NULL only if the library panicked (out of memory
// aborts the process, as it does for any Rust allocation).
//
// The snapshot is the caller's: free it with `psb_snapshot_free`.
struct psb_snapshot *psb_snapshot_new(void);

// Frees `snap` (NULL: does nothing), and every pointer into it.
//
// # Errors
// `PSB_E_PANIC` only.
//
// # Safety
// `snap` is NULL or a snapshot from `psb_snapshot_new` not yet freed,
// which no other thread is using; it must not be used after this.
int psb_snapshot_free(struct psb_snapshot *snap);

// Refills `snap` with every live worker of `board` that has a status,
// sorted by id, and the entries skipped and why. Dead workers' files are
// removed on the way (`psb_snapshot_removed` counts them).
//
// Every pointer from `snap` taken before is invalid after this. On failure
// `snap` holds no worker and no skipped entry.
//
// # Errors
// - `PSB_E_NULL`: `board` or `snap` is NULL.
// - `PSB_E_MISSING`: no directory at the board's path.
// - `PSB_E_INSECURE`: the directory now there is not private.
// - `PSB_E_IO`: the directory cannot be listed, or an entry cannot be
//   opened, mapped or copied for want of descriptors or memory.
//
// # Safety
// `board` is NULL or a live board; `snap` is NULL or a live snapshot that
// no other thread is using.
int psb_board_read(const struct psb_board *board, struct psb_snapshot *snap);

// The number of live workers in `snap` (0 for NULL).
//
// # Safety
// `snap` is NULL or a live snapshot that no other thread is changing.
size_t psb_snapshot_count(const struct psb_snapshot *snap);

// The number of dead workers' files the read into `snap` removed (0 for
// NULL).
//
// # Safety
// As `psb_snapshot_count`.
size_t psb_snapshot_removed(const struct psb_snapshot *snap);

// The number of entries the read into `snap` skipped (0 for NULL).
//
// # Safety
// As `psb_snapshot_count`.
size_t psb_snapshot_skipped_count(const struct psb_snapshot *snap);

// Stores the `i`th live worker of `snap` (from 0, in id order) in `*out`.
//
// # Errors
// - `PSB_E_NULL`: `snap` or `out` is NULL.
// - `PSB_E_INVALID_ARGUMENT`: `i` is not below `psb_snapshot_count(snap)`.
//
// # Safety
// `snap` is NULL or a live snapshot that no other thread is changing;
// `out` is NULL or points to writable memory for a `psb_worker_info`.
int psb_snapshot_get(const struct psb_snapshot *snap, size_t i, struct psb_worker_info *out);

// Stores the `i`th entry the read into `snap` skipped in `*out`.
//
// # Errors
// - `PSB_E_NULL`: `snap` or `out` is NULL.
// - `PSB_E_INVALID_ARGUMENT`: `i` is not below
//   `psb_snapshot_skipped_count(snap)`.
//
// # Safety
// `snap` is NULL or a live snapshot that no other thread is changing;
// `out` is NULL or points to writable memory for a `psb_skipped_info`.
int psb_snapshot_skipped(const struct psb_snapshot *snap, size_t i, struct psb_skipped_info *out);

// Makes the worker `id` (`id_len` bytes of UTF-8, 1 to 255; not
// NUL-terminated) in `board`'s directory, and stores it in `*out`. A NULL
// `id` (with `id_len` 0) means the board's default id: the `worker_id`
// callback's, or the process id.
//
// On failure `*out` is set to NULL. The worker is the caller's: free it
// with `psb_worker_free`. Its file exists, with no status yet, until then.
//
// # Errors
// - `PSB_E_NULL`: `board` or `out` is NULL.
// - `PSB_E_INVALID_ARGUMENT`: `id` is NULL with `id_len` > 0.
// - `PSB_E_INVALID_ID`: the id is empty, over 255 bytes, or not UTF-8 (or
//   the callback's, with a NULL id; `PSB_E_CALLBACK` if it failed).
// - `PSB_E_DUPLICATE_ID`: a live worker holds the id (a dead one's is taken
//   over).
// - `PSB_E_IO`: the file cannot be made (`psb_error_os()`: `ENOSPC`,
//   `EACCES`, `EMFILE`...).
// - `PSB_E_CORRUPT`, `PSB_E_CONTENDED`, `PSB_E_READ_ONLY`, `PSB_E_MISSING`.
//
// # Safety
// `board` is NULL or a live board; `id` is NULL or points to `id_len`
// readable bytes; `out` is NULL or points to writable memory for a pointer.
int psb_worker_open(const struct psb_board *board, const char *id, size_t id_len, struct psb_worker **out);

// Publishes `status` (`len` bytes; NULL allowed with `len` 0) as the
// worker's status. When it fits the space the file has, this is a few
// stores into shared memory: no system call, no lock.
//
// # Errors
// - `PSB_E_NULL`: `worker` is NULL, or `status` is NULL with `len` > 0.
// - `PSB_E_FORKED`: the worker was inherited through `fork()`; it is the
//   parent's.
// - `PSB_E_IO`: the file cannot grow (`ENOSPC`, `EFBIG`); the previous
//   status stays published and the worker usable.
// - `PSB_E_TOO_LARGE`: over 1 TiB.
//
// # Safety
// `worker` is NULL or a live worker that no other thread is using;
// `status` is NULL or points to `len` readable bytes.
int psb_worker_update(struct psb_worker *worker, const void *status, size_t len);

// Frees `worker` (NULL: does nothing), removing its status file: readers
// no longer list it.
//
// In a `fork()` child, freeing a worker inherited from the parent leaves
// the parent's file alone (it is the parent's worker).
//
// # Errors
// `PSB_E_PANIC` only (the worker is gone all the same: never use it again).
//
// # Safety
// `worker` is NULL or a worker from `psb_worker_open` not yet freed, which
// no other thread is using; it must not be used after this.
int psb_worker_free(struct psb_worker *worker);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* PARALLEL_SCOREBOARD_H */
