/*
 * The original module's scenario, from C: a manager and forked workers that
 * update by the default id (their pid), a SIGKILLed worker gone from the
 * next read, ids given by a callback and by an explicit worker, a status
 * that shrinks, errors with their codes and messages, fork rules, cleanup,
 * and every read into one reused snapshot.
 *
 * Usage: parity [DIR]   (DIR: where to make the board's parent directory,
 * default /dev/shm, else /tmp). Exits 0 when every check passes; removes
 * its directory however it exits (but by a signal).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "parallel_scoreboard.h"

static char base[2048];  /* the psb-test-c-* directory, removed at exit */
static char path[4096];  /* the board's directory, in it */
static pid_t owner;      /* the process that removes `base` */

static int remove_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void remove_base(void) {
    if (getpid() == owner && base[0] != '\0') {
        nftw(base, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
}

/* Fails the process (a child's failure is its exit code, seen by the parent). */
static void fail(int line, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "parity.c:%d (pid %d): ", line, (int)getpid());
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

#define CHECK(cond)                                                                 \
    do {                                                                            \
        if (!(cond)) fail(__LINE__, "check failed: %s", #cond);                     \
    } while (0)

/* A call that must succeed. */
#define OK(call)                                                                    \
    do {                                                                            \
        int rc_ = (call);                                                           \
        if (rc_ != PSB_OK)                                                          \
            fail(__LINE__, "%s returned %s: %s", #call, psb_code_name(rc_),         \
                 psb_error_message());                                              \
    } while (0)

/* A call that must fail with `code`, and a message containing `text`. */
#define FAILS(call, code, text)                                                     \
    do {                                                                            \
        int rc_ = (call);                                                           \
        if (rc_ != (code))                                                          \
            fail(__LINE__, "%s returned %s, not %s (%s)", #call, psb_code_name(rc_),\
                 psb_code_name(code), psb_error_message());                         \
        if (psb_error_code() != (code)) fail(__LINE__, "psb_error_code()");         \
        if (strstr(psb_error_message(), (text)) == NULL)                            \
            fail(__LINE__, "message \"%s\" lacks \"%s\"", psb_error_message(), text);\
    } while (0)

static psb_snapshot *snap; /* the one snapshot every read refills */

/* Reads `board` into `snap`; returns the number of workers. */
static size_t read_board(const psb_board *board) {
    OK(psb_board_read(board, snap));
    return psb_snapshot_count(snap);
}

/* The status of the worker `id` in `snap`, as a NUL-terminated copy in
 * `buf`; NULL if it is not there. Fills `*info` when found. */
static const char *status_of(const char *id, char *buf, size_t cap, psb_worker_info *info) {
    size_t n = psb_snapshot_count(snap);
    for (size_t i = 0; i < n; i++) {
        psb_worker_info w;
        OK(psb_snapshot_get(snap, i, &w));
        if (w.id_len == strlen(id) && memcmp(w.id, id, w.id_len) == 0) {
            CHECK(w.status_len < cap);
            memcpy(buf, w.status, w.status_len);
            buf[w.status_len] = '\0';
            if (info) *info = w;
            return buf;
        }
    }
    return NULL;
}

static int is_status(const char *id, const char *want) {
    char buf[256];
    const char *got = status_of(id, buf, sizeof buf, NULL);
    return got != NULL && strcmp(got, want) == 0;
}

static void pid_id(pid_t pid, char *buf, size_t cap) { snprintf(buf, cap, "%d", (int)pid); }

static int exists(const char *name) {
    char p[8192];
    snprintf(p, sizeof p, "%s/%s", path, name);
    return access(p, F_OK) == 0;
}

/* The worker-id callback: the id is the NUL-terminated string at ctx
 * ("!": it fails). */
static size_t id_from_ctx(void *ctx, char *buf, size_t cap) {
    if (strcmp((const char *)ctx, "!") == 0) return PSB_ID_FAILED;
    size_t n = strlen((const char *)ctx);
    memcpy(buf, ctx, n < cap ? n : cap);
    return n;
}

/* A forked worker of the original's test: updates "0" by its pid, then "1"
 * when told, then frees its board (removing its file) when told to end. */
static void counter_worker(const char *dir, int cmd, int ack) {
    psb_board *board;
    char c;
    OK(psb_board_open(dir, NULL, &board));
    OK(psb_board_update(board, "0", 1));
    CHECK(write(ack, "r", 1) == 1);
    CHECK(read(cmd, &c, 1) == 1 && c == '+');
    OK(psb_board_update(board, "1", 1));
    CHECK(write(ack, "u", 1) == 1);
    CHECK(read(cmd, &c, 1) == 1 && c == 'q');
    OK(psb_board_free(board));
    psb_snapshot_free(snap);
    exit(0);
}

static pid_t wait_exit(pid_t pid) {
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    if (!WIFEXITED(status)) fail(__LINE__, "child %d died of signal %d", (int)pid, WTERMSIG(status));
    return WEXITSTATUS(status);
}

int main(int argc, char **argv) {
    const char *parent = argc > 1 ? argv[1] : (access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    owner = getpid();
    snprintf(base, sizeof base, "%s/psb-test-c-XXXXXX", parent);
    if (mkdtemp(base) == NULL) {
        base[0] = '\0';
        fail(__LINE__, "mkdtemp: %s", strerror(errno));
    }
    atexit(remove_base);
    snprintf(path, sizeof path, "%s/board", base);

    CHECK(strlen(psb_version()) > 0);
    snap = psb_snapshot_new();
    CHECK(snap != NULL);

    /* The manager: the default id, its pid. */
    psb_board *board;
    OK(psb_board_open(path, NULL, &board));
    OK(psb_board_update(board, "me manager", strlen("me manager")));
    char me[32];
    pid_id(getpid(), me, sizeof me);
    CHECK(read_board(board) == 1);
    CHECK(is_status(me, "me manager"));
    {
        char name[64];
        snprintf(name, sizeof name, "status_%s", me);
        CHECK(exists(name));
    }

    /* Two forked workers by the default id; one is SIGKILLed. */
    int cmd[2], ack[2];
    CHECK(pipe(cmd) == 0 && pipe(ack) == 0);
    fflush(NULL);
    pid_t counter = fork();
    CHECK(counter >= 0);
    if (counter == 0) {
        OK(psb_board_free(board)); /* the inherited board: the parent's file stays */
        counter_worker(path, cmd[0], ack[1]);
    }
    pid_t victim = fork();
    CHECK(victim >= 0);
    if (victim == 0) {
        /* The inherited board makes the child's own worker. */
        OK(psb_board_update(board, "victim", 6));
        CHECK(write(ack[1], "v", 1) == 1);
        for (;;) pause();
    }
    char c, counter_id[32], victim_id[32];
    pid_id(counter, counter_id, sizeof counter_id);
    pid_id(victim, victim_id, sizeof victim_id);
    CHECK(read(ack[0], &c, 1) == 1);
    CHECK(read(ack[0], &c, 1) == 1);
    CHECK(read_board(board) == 3);
    CHECK(is_status(me, "me manager"));
    CHECK(is_status(counter_id, "0"));
    CHECK(is_status(victim_id, "victim"));
    {
        char buf[16];
        psb_worker_info w;
        CHECK(status_of(victim_id, buf, sizeof buf, &w) != NULL);
        CHECK(w.pid == (uint32_t)victim && w.updates == 1);
        CHECK(w.started_at_ns > 0 && w.started_at_ns <= w.updated_at_ns);
    }

    CHECK(write(cmd[1], "+", 1) == 1);
    CHECK(read(ack[0], &c, 1) == 1 && c == 'u');
    CHECK(read_board(board) == 3);
    CHECK(is_status(counter_id, "1"));

    CHECK(kill(victim, SIGKILL) == 0);
    int status;
    CHECK(waitpid(victim, &status, 0) == victim && WIFSIGNALED(status));
    CHECK(read_board(board) == 2);
    CHECK(psb_snapshot_removed(snap) == 1);
    CHECK(!is_status(victim_id, "victim"));
    {
        char name[64];
        snprintf(name, sizeof name, "status_%s", victim_id);
        CHECK(!exists(name));
    }

    CHECK(write(cmd[1], "q", 1) == 1);
    CHECK(wait_exit(counter) == 0);
    CHECK(read_board(board) == 1);
    CHECK(psb_snapshot_removed(snap) == 0); /* it removed its own file */
    CHECK(is_status(me, "me manager"));

    /* A custom id from the callback. */
    char cb_id[64] = "cb-worker";
    psb_options opts;
    OK(psb_options_init(&opts));
    opts.worker_id = id_from_ctx;
    opts.worker_id_ctx = cb_id;
    psb_board *custom;
    OK(psb_board_open(path, &opts, &custom));
    OK(psb_board_update(custom, "via callback", 12));
    CHECK(read_board(board) == 2);
    CHECK(is_status("cb-worker", "via callback"));
    strcpy(cb_id, "cb-default");
    psb_worker *by_default;
    OK(psb_worker_open(custom, NULL, 0, &by_default));
    OK(psb_worker_update(by_default, "default id", 10));
    CHECK(read_board(board) == 3);
    CHECK(is_status("cb-default", "default id"));
    cb_id[0] = '\0';
    FAILS(psb_board_update(custom, "x", 1), PSB_E_INVALID_ID, "callback returned 0 bytes");
    strcpy(cb_id, "!");
    FAILS(psb_board_update(custom, "x", 1), PSB_E_CALLBACK, "callback failed");

    /* An explicit worker; its status grows, then shrinks. */
    psb_worker *w;
    OK(psb_worker_open(board, "explicit-1", strlen("explicit-1"), &w));
    size_t big_len = 100000;
    char *big = malloc(big_len);
    CHECK(big != NULL);
    memset(big, 'x', big_len);
    OK(psb_worker_update(w, big, big_len));
    CHECK(read_board(board) == 4);
    {
        psb_worker_info info;
        size_t n = psb_snapshot_count(snap), found = 0;
        for (size_t i = 0; i < n; i++) {
            OK(psb_snapshot_get(snap, i, &info));
            if (info.id_len == 10 && memcmp(info.id, "explicit-1", 10) == 0) {
                CHECK(info.status_len == big_len && memcmp(info.status, big, big_len) == 0);
                found = 1;
            }
        }
        CHECK(found);
    }
    free(big);
    OK(psb_worker_update(w, "tiny", 4));
    CHECK(read_board(board) == 4);
    CHECK(is_status("explicit-1", "tiny"));
    {
        /* A read of the same statuses reuses the snapshot's buffers. */
        psb_worker_info a, b;
        OK(psb_snapshot_get(snap, 0, &a));
        CHECK(read_board(board) == 4);
        OK(psb_snapshot_get(snap, 0, &b));
        CHECK(a.id == b.id && a.status == b.status);
    }

    /* Errors: codes and messages. */
    psb_worker *nope = (psb_worker *)&opts;
    FAILS(psb_worker_open(board, "explicit-1", 10, &nope), PSB_E_DUPLICATE_ID, "explicit-1");
    CHECK(nope == NULL);
    FAILS(psb_worker_open(board, "", 0, &nope), PSB_E_INVALID_ID, "empty");
    FAILS(psb_worker_open(board, "\xff\xfe", 2, &nope), PSB_E_INVALID_ID, "not UTF-8");
    FAILS(psb_worker_open(board, NULL, 4, &nope), PSB_E_INVALID_ARGUMENT, "id is NULL");
    FAILS(psb_worker_open(NULL, "a", 1, &nope), PSB_E_NULL, "board is NULL");
    FAILS(psb_board_update(NULL, "x", 1), PSB_E_NULL, "board is NULL");
    FAILS(psb_board_update(board, NULL, 1), PSB_E_NULL, "status is NULL");
    FAILS(psb_worker_update(NULL, "x", 1), PSB_E_NULL, "worker is NULL");
    FAILS(psb_board_read(board, NULL), PSB_E_NULL, "snap is NULL");
    {
        psb_board *none = board;
        FAILS(psb_board_open(NULL, NULL, &none), PSB_E_NULL, "dir is NULL");
        CHECK(none == NULL); /* a failed open stores NULL */
    }
    FAILS(psb_options_init(NULL), PSB_E_NULL, "opts is NULL");
    {
        psb_worker_info info;
        FAILS(psb_snapshot_get(snap, 99, &info), PSB_E_INVALID_ARGUMENT, "index 99");
    }
    {
        /* An OS error, with its errno. */
        char file[8192], under[8300];
        snprintf(file, sizeof file, "%s/afile", base);
        FILE *f = fopen(file, "w");
        CHECK(f != NULL);
        fclose(f);
        snprintf(under, sizeof under, "%s/board", file);
        psb_board *bad = (psb_board *)&opts;
        FAILS(psb_board_open(under, NULL, &bad), PSB_E_IO, file);
        CHECK(bad == NULL);
        CHECK(psb_error_os() == ENOTDIR);
        CHECK(strstr(psb_error_message(), strerror(ENOTDIR)) != NULL);
        unlink(file);
    }
    CHECK(strcmp(psb_code_name(PSB_E_FORKED), "PSB_E_FORKED") == 0);
    OK(psb_board_update(board, "me manager again", 16));
    CHECK(psb_error_code() == PSB_E_IO); /* success leaves the last error */

    /* A skipped entry. */
    {
        char junk[8192];
        snprintf(junk, sizeof junk, "%s/junk", path);
        FILE *f = fopen(junk, "w");
        CHECK(f != NULL);
        fputs("not a status file", f);
        fclose(f);
        CHECK(read_board(board) == 4);
        CHECK(psb_snapshot_skipped_count(snap) == 1);
        psb_skipped_info s;
        OK(psb_snapshot_skipped(snap, 0, &s));
        CHECK(s.code == PSB_E_CORRUPT && s.reason == PSB_REASON_NOT_A_STATUS_FILE_NAME);
        CHECK(s.path_len == strlen(junk) && memcmp(s.path, junk, s.path_len) == 0);
        CHECK(strstr(s.message, "not a status file name") != NULL);
        unlink(junk);
        CHECK(read_board(board) == 4);
        CHECK(psb_snapshot_skipped_count(snap) == 0);
    }

    /* Fork rules: an inherited worker refuses and its free leaves the file. */
    fflush(NULL);
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        FAILS(psb_worker_update(w, "child", 5), PSB_E_FORKED, "fork");
        OK(psb_worker_free(w));
        OK(psb_worker_free(by_default));
        CHECK(exists("status_explicit-1"));
        OK(psb_board_update(board, "child", 5));
        char child_id[32];
        pid_id(getpid(), child_id, sizeof child_id);
        CHECK(read_board(board) == 5);
        CHECK(is_status(child_id, "child"));
        CHECK(is_status(me, "me manager again"));
        OK(psb_board_free(custom));
        OK(psb_board_free(board));
        CHECK(exists("status_explicit-1") && exists("status_cb-worker"));
        psb_snapshot_free(snap);
        exit(0);
    }
    CHECK(wait_exit(child) == 0);
    OK(psb_worker_update(w, "still mine", 10));
    CHECK(read_board(board) == 4);
    CHECK(is_status("explicit-1", "still mine"));
    CHECK(is_status("cb-worker", "via callback"));

    /* Cleanup: a dead worker's file (a child that dies without freeing it). */
    fflush(NULL);
    child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        psb_worker *crashed;
        OK(psb_worker_open(board, "dead-1", 6, &crashed));
        CHECK(write(ack[1], "d", 1) == 1);
        for (;;) pause();
    }
    CHECK(read(ack[0], &c, 1) == 1 && c == 'd');
    CHECK(kill(child, SIGKILL) == 0);
    CHECK(waitpid(child, &status, 0) == child && WIFSIGNALED(status));
    CHECK(exists("status_dead-1"));
    size_t removed = 99, failed = 99;
    OK(psb_board_cleanup(board, &removed, &failed));
    CHECK(removed == 1 && failed == 0);
    CHECK(!exists("status_dead-1"));

    /* Freeing removes every worker's file. */
    OK(psb_worker_free(w));
    OK(psb_worker_free(by_default));
    OK(psb_board_free(custom));
    CHECK(read_board(board) == 1);
    OK(psb_board_free(board));
    OK(psb_snapshot_free(snap));
    OK(psb_board_free(NULL));
    CHECK(rmdir(path) == 0); /* empty: nothing left behind */
    printf("parity: all checks passed\n");
    return 0;
}
