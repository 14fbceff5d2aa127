/*
 * Updates from C, for counting their system calls with `strace -c` and
 * timing them (ffi/benches/syscalls.sh builds and runs it).
 *
 *   ops worker-update N   N updates of 64 B through psb_worker_update
 *   ops board-update N    N updates of 64 B through psb_board_update
 *   ops time N            ns per update of each, this thread's CPU time,
 *                         the median of 5 rounds of N, with the status at
 *                         each of 8 offsets in its page
 *
 * Each mode first makes the worker and updates it once, so that a run with
 * N = 0 makes the same system calls as any other but the N updates. The
 * status is the same 64 bytes each time (a byte stored just before the copy
 * would time the CPU's store forwarding, not the update).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "parallel_scoreboard.h"

#define MUST(call)                                                              \
    do {                                                                        \
        int rc_ = (call);                                                       \
        if (rc_ != PSB_OK) {                                                    \
            fprintf(stderr, "%s: %s\n", #call, psb_error_message());            \
            exit(1);                                                            \
        }                                                                       \
    } while (0)

static double cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: ops worker-update|board-update|time N\n");
        return 2;
    }
    const char *mode = argv[1];
    long n = atol(argv[2]);
    char dir[] = "/dev/shm/psb-ops-c-XXXXXX";
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    /* Where the status lies in its page against the file's payload can
     * change the time of the copy (4K aliasing: see the core's
     * benches/support/baseline.rs), so `time` tries 8 offsets rather than
     * time the stack's luck. */
    char *page = aligned_alloc(4096, 4096);
    if (page == NULL) return 1;
    memset(page, 'x', 4096);
    char *status = page;
    const size_t len = 64;
    psb_board *board;
    psb_worker *worker;
    MUST(psb_board_open(dir, NULL, &board));
    MUST(psb_worker_open(board, "w", 1, &worker));
    MUST(psb_worker_update(worker, status, len));
    MUST(psb_board_update(board, status, len));
    if (strcmp(mode, "worker-update") == 0) {
        for (long i = 0; i < n; i++) {
            MUST(psb_worker_update(worker, status, len));
        }
    } else if (strcmp(mode, "board-update") == 0) {
        for (long i = 0; i < n; i++) {
            MUST(psb_board_update(board, status, len));
        }
    } else if (strcmp(mode, "time") == 0) {
        printf("%-8s %18s %18s\n", "offset", "psb_worker_update", "psb_board_update");
        for (int phase = 0; phase < 4096; phase += 512) {
            status = page + phase;
            double median[2];
            for (int which = 0; which < 2; which++) {
                double rounds[5];
                for (int r = 0; r < 5; r++) {
                    double t0 = cpu_ns();
                    for (long i = 0; i < n; i++) {
                        if (which == 0)
                            MUST(psb_worker_update(worker, status, len));
                        else
                            MUST(psb_board_update(board, status, len));
                    }
                    rounds[r] = (cpu_ns() - t0) / (double)n;
                }
                qsort(rounds, 5, sizeof rounds[0], cmp);
                median[which] = rounds[2];
            }
            printf("%-8d %15.1f ns %15.1f ns\n", phase, median[0], median[1]);
        }
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    MUST(psb_worker_free(worker));
    MUST(psb_board_free(board));
    free(page);
    if (rmdir(dir) != 0) {
        perror("rmdir");
        return 1;
    }
    return 0;
}
