/*
 * Parallel::Scoreboard over the C ABI of parallel-scoreboard
 * (ffi/include/parallel_scoreboard.h).
 *
 * Each object is a blessed hash (as the original module's) carrying, in ext
 * magic, a `psb_perl`: the board, the snapshot reads refill, and what the
 * worker-id callback needs. `update`, `read_all`, `cleanup` and `DESTROY` are
 * XSUBs working on it directly.
 *
 * Perl and Rust frames: Rust calls back into Perl only through `worker_id_cb`,
 * which runs the Perl sub under G_EVAL on a stack of its own, so neither a
 * `die` nor loop control there ever unwinds (longjmp) through the library's
 * frames: the error is kept in `pending`, the callback returns PSB_ID_FAILED,
 * the library returns PSB_E_CALLBACK without changing anything, and the XSUB
 * rethrows the error once the C call has returned.
 */
#define PERL_NO_GET_CONTEXT
#include "EXTERN.h"
#include "perl.h"
#include "XSUB.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "parallel_scoreboard.h"

typedef struct {
    psb_board *board;
    psb_snapshot *snap;
    /* The custom worker_id sub (a counted reference), or NULL for the
     * default id, which the library keeps itself (no call, no syscall). */
    SV *id_sub;
    /* A die of `id_sub`, caught by the callback, rethrown by `update`. */
    SV *pending;
    /* An id the sub gave that the callback could not pass on (too long). */
    STRLEN bad_id_len;
#ifdef MULTIPLICITY
    /* The interpreter that made the object, for the callback. */
    PerlInterpreter *interp;
#endif
} psb_perl;

static int psb_perl_free(pTHX_ SV *sv, MAGIC *mg);

static const MGVTBL psb_perl_vtbl = {
    NULL, NULL, NULL, NULL, psb_perl_free, NULL, NULL, NULL,
};

/* Lets go of everything `p` holds but itself. */
static void
psb_perl_release(pTHX_ psb_perl *p)
{
    if (p->board) {
        /* Removes this object's worker files (never a fork parent's). */
        psb_board_free(p->board);
        p->board = NULL;
    }
    if (p->snap) {
        psb_snapshot_free(p->snap);
        p->snap = NULL;
    }
    if (p->id_sub) {
        SvREFCNT_dec(p->id_sub);
        p->id_sub = NULL;
    }
    if (p->pending) {
        SvREFCNT_dec(p->pending);
        p->pending = NULL;
    }
}

/* The hash's magic is freed: the object is gone (a backstop for DESTROY). */
static int
psb_perl_free(pTHX_ SV *sv, MAGIC *mg)
{
    psb_perl *p = (psb_perl *)mg->mg_ptr;
    PERL_UNUSED_ARG(sv);
    if (p) {
        psb_perl_release(aTHX_ p);
        Safefree(p);
        mg->mg_ptr = NULL;
    }
    return 0;
}

/* The `psb_perl` of the object `self`; croaks for anything else. */
static psb_perl *
psb_perl_of(pTHX_ SV *self)
{
    MAGIC *mg;
    if (SvROK(self) && SvTYPE(SvRV(self)) == SVt_PVHV
        && (mg = mg_findext(SvRV(self), PERL_MAGIC_ext, &psb_perl_vtbl))
        && mg->mg_ptr)
        return (psb_perl *)mg->mg_ptr;
    croak("not a Parallel::Scoreboard object (made by new)");
    return NULL; /* not reached */
}

/* Croaks with the library's last error, `what` first; sets $! to its OS
 * error if it has one. */
static void
psb_croak(pTHX_ const char *what)
{
    int os = psb_error_os();
    const char *msg = psb_error_message();
    SV *err = sv_2mortal(newSVpvf("%s: %s", what, msg));
    /* The message is UTF-8 (it may quote a path or an id). */
    SvUTF8_on(err);
    if (os)
        SETERRNO(os, 0);
    croak_sv(err);
}

/*
 * The library's worker-id callback: calls the Perl sub in scalar context,
 * with no arguments, under G_EVAL, and copies the id's UTF-8 bytes into
 * `buf`. Returns PSB_ID_FAILED when the sub died (the error kept in
 * `pending`; the update fails with PSB_E_CALLBACK), and 0 (no id) when it
 * gave an id the library cannot take (its length kept for the message).
 *
 * Nothing in the sub can leave it but by returning: a die is caught
 * (G_EVAL), and the sub runs on a stack of its own (PUSHSTACKi, as Perl runs
 * tie methods), so a `last` or `next` in it cannot reach a loop of the
 * caller's across the library's frames: it dies instead ("Can't "last"
 * outside a loop block"), and that error is what `update` rethrows.
 */
static size_t
worker_id_cb(void *ctx, char *buf, size_t cap)
{
    psb_perl *p = (psb_perl *)ctx;
#ifdef MULTIPLICITY
    dTHXa(p->interp);
#endif
    size_t n = 0;
    dSP;

    ENTER;
    SAVETMPS;
    /* local $@: the caller's $@ is left as it was, as a plain call of the
     * sub (the original's) leaves it. */
    save_scalar(PL_errgv);
    PUSHSTACKi(PERLSI_MAGIC);
    SPAGAIN;
    PUSHMARK(SP);
    PUTBACK;
    (void)call_sv(p->id_sub, G_SCALAR | G_EVAL);
    SPAGAIN;
    /* G_SCALAR | G_EVAL: exactly one value, undef after a die. */
    {
        SV *id = POPs;
        if (SvTRUE(ERRSV)) {
            if (p->pending)
                SvREFCNT_dec(p->pending);
            p->pending = newSVsv(ERRSV);
            n = PSB_ID_FAILED;
        } else {
            STRLEN len = 0;
            /* The id as UTF-8: a byte string's characters are encoded. */
            const char *s = SvOK(id) ? SvPVutf8(id, len) : "";
            if (len > 0 && len < cap) {
                memcpy(buf, s, len);
                n = len;
            } else {
                p->bad_id_len = len;
            }
        }
    }
    PUTBACK;
    POPSTACK;
    FREETMPS;
    LEAVE;
    return n;
}

/* Adds the snapshot's workers to `hv`. */
static void
fill_hash(pTHX_ HV *hv, const psb_snapshot *snap)
{
    size_t i, n = psb_snapshot_count(snap);
    if (n > 0)
        hv_ksplit(hv, n);
    for (i = 0; i < n; i++) {
        psb_worker_info w;
        I32 klen;
        STRLEN j;
        if (psb_snapshot_get(snap, i, &w) != PSB_OK)
            continue;
        klen = (I32)w.id_len;
        /* A key with bytes above 127 is UTF-8: stored as characters. */
        for (j = 0; j < w.id_len; j++) {
            if ((unsigned char)w.id[j] >= 0x80) {
                klen = -klen;
                break;
            }
        }
        (void)hv_store(hv, w.id, klen,
                       newSVpvn((const char *)w.status, w.status_len), 0);
    }
}

MODULE = Parallel::Scoreboard    PACKAGE = Parallel::Scoreboard

PROTOTYPES: DISABLE

void
_open(self, base_dir, id_sub)
    SV *self
    SV *base_dir
    SV *id_sub
  PREINIT:
    psb_perl *p;
    psb_options opts;
    const char *dir;
    STRLEN dir_len;
    int rc;
  CODE:
    if (!SvROK(self) || SvTYPE(SvRV(self)) != SVt_PVHV)
        croak("_open: not a hash reference");
    if (mg_findext(SvRV(self), PERL_MAGIC_ext, &psb_perl_vtbl))
        croak("_open: the object is open already");
    dir = SvPVbyte(base_dir, dir_len);
    if (strlen(dir) != dir_len)
        croak("failed to open the scoreboard: base_dir holds a NUL byte");
    Newxz(p, 1, psb_perl);
#ifdef MULTIPLICITY
    p->interp = aTHX;
#endif
    /* Attached first: the magic frees whatever is made below. */
    sv_magicext(SvRV(self), NULL, PERL_MAGIC_ext, &psb_perl_vtbl, (const char *)p, 0);
    psb_options_init(&opts);
    if (SvOK(id_sub)) {
        p->id_sub = newSVsv(id_sub);
        opts.worker_id = worker_id_cb;
        opts.worker_id_ctx = p;
    }
    rc = psb_board_open(dir, &opts, &p->board);
    if (rc != PSB_OK)
        psb_croak(aTHX_ form("failed to open the scoreboard in %s", dir));
    p->snap = psb_snapshot_new();
    if (!p->snap)
        psb_croak(aTHX_ "failed to make a snapshot");

void
update(self, status)
    SV *self
    SV *status
  PREINIT:
    psb_perl *p;
    const char *bytes;
    STRLEN len;
    int rc, tries;
  CODE:
    p = psb_perl_of(aTHX_ self);
    if (!p->board)
        croak("update: the object has been destroyed");
    SvGETMAGIC(status);
    /* The string value (an overloaded object's too, stringified once); its
     * UTF-8 flag then says how the bytes are encoded. */
    bytes = SvPV_nomg(status, len);
    if (SvUTF8(status) || (p->id_sub && !SvTEMP(status))) {
        /* A copy: downgraded, so that the caller's string keeps its form
         * (a character above 255 croaks here, "Wide character in
         * subroutine entry", as the original's md5() does); or one the
         * worker_id sub, which runs while the library holds the bytes,
         * cannot change. */
        SV *copy = sv_2mortal(newSVpvn(bytes, len));
        if (SvUTF8(status)) {
            SvUTF8_on(copy);
            sv_utf8_downgrade(copy, FALSE);
        }
        bytes = SvPV_nomg(copy, len);
    }
    rc = psb_board_update(p->board, bytes, len);
    /* Making the worker's file can lose to other processes creating and
     * removing files of the same name (readers removing a dead worker's):
     * the library says to try again, which the original never needed. */
    for (tries = 1; rc == PSB_E_CONTENDED && tries <= 20; tries++) {
        /* 0.1 ms more each time (21 ms in all), to let the others finish. */
        struct timespec delay = { 0, 100000L * tries };
        nanosleep(&delay, NULL);
        rc = psb_board_update(p->board, bytes, len);
    }
    if (rc != PSB_OK) {
        if (rc == PSB_E_CALLBACK && p->pending) {
            /* The worker_id sub died: its error, as the original gives it. */
            SV *err = sv_2mortal(p->pending);
            p->pending = NULL;
            croak_sv(err);
        }
        if (rc == PSB_E_INVALID_ID && p->id_sub) {
            STRLEN bad = p->bad_id_len;
            p->bad_id_len = 0;
            croak("failed to update the scoreboard: worker_id returned %s",
                  bad == 0 ? "an empty or undefined id"
                           : form("an id of %lu bytes (at most 255 as UTF-8)",
                                  (unsigned long)bad));
        }
        psb_croak(aTHX_ "failed to update the scoreboard");
    }

SV *
read_all(self)
    SV *self
  PREINIT:
    psb_perl *p;
    HV *hv;
    int rc;
  CODE:
    p = psb_perl_of(aTHX_ self);
    if (!p->board)
        croak("read_all: the object has been destroyed");
    rc = psb_board_read(p->board, p->snap);
    /* No directory at base_dir (removed since): no workers, as the
     * original's glob finds none. */
    if (rc != PSB_OK && rc != PSB_E_MISSING)
        psb_croak(aTHX_ "failed to read the scoreboard");
    hv = newHV();
    RETVAL = newRV_noinc((SV *)hv);
    if (rc == PSB_OK)
        fill_hash(aTHX_ hv, p->snap);
  OUTPUT:
    RETVAL

UV
cleanup(self)
    SV *self
  PREINIT:
    psb_perl *p;
    size_t removed = 0;
    int rc;
  CODE:
    p = psb_perl_of(aTHX_ self);
    if (!p->board)
        croak("cleanup: the object has been destroyed");
    rc = psb_board_cleanup(p->board, &removed, NULL);
    if (rc != PSB_OK && rc != PSB_E_MISSING)
        psb_croak(aTHX_ "failed to clean up the scoreboard");
    RETVAL = (UV)removed;
  OUTPUT:
    RETVAL

void
DESTROY(self)
    SV *self
  PREINIT:
    MAGIC *mg;
  CODE:
    /* Silent whatever the hash holds (global destruction may have emptied
     * it): the board alone knows its files. */
    if (SvROK(self)
        && (mg = mg_findext(SvRV(self), PERL_MAGIC_ext, &psb_perl_vtbl))
        && mg->mg_ptr)
        psb_perl_release(aTHX_ (psb_perl *)mg->mg_ptr);
