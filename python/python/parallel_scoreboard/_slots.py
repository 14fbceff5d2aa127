"""The slots of a web server's requests, shared by the WSGI and ASGI middlewares.

Each request in flight holds a slot: a :class:`~parallel_scoreboard.Worker` of
the board named ``<prefix><number>`` (by default the prefix is ``<pid>-``, so
slots read ``4242-1``, ``4242-2``, ...). The statuses are those of the Rust
tower layer (``parallel-scoreboard-http``), byte for byte, so ``scoreboard
serve`` shows Python workers as it shows Rust ones.

The rules, in the order the code follows them (the tower layer's):

1. A request takes the idle slot given back last; when none is idle it makes
   a new one, numbered with the smallest number no slot has, so the pool grows
   to the peak of concurrent requests and its names stay ``prefix1..prefixN``.
   A number that a live worker of another process holds on the board is
   skipped for good.
2. A slot holds a descriptor and a mapping, which the application needs more:
   no slot is made while the pool has ``max_slots`` (by default an eighth of
   the soft ``RLIMIT_NOFILE``), nor when the process would then have less than
   a quarter of that limit free (counted in ``/proc/self/fd`` only when a slot
   is to be made), nor when making it fails. The request is then served all
   the same, without a slot, and counted as unrecorded. After such a refusal
   (not one for the cap on slots) no slot is made for 100 ms, and slots given
   back are released rather than kept idle until one can be made again.
3. The pool's lock is taken only to make or release a slot, to count a
   request without one, or when more than ``max_idle`` slots are idle;
   taking and giving back an idle slot is one list operation each (atomic
   under the GIL, and on free-threaded builds).
4. A slot given back stays on the board, idle, unless ``max_idle`` already
   are: then the slot idle longest is released (its file removed) and only
   afterwards its number becomes free again.
5. The middlewares end every request they started (the WSGI one when the
   server closes the response iterable, the ASGI one when the last body
   message is sent, the client disconnects or the application fails), so a
   slot always comes back idle, with how its request ended.

Forks: a pool belongs to one process. An ``os.fork()`` child (a gunicorn
worker, ``--preload`` or not) finds every pool emptied by an
``os.register_at_fork`` handler: it makes its own slots, with its own pid in
their names, and never touches the parent's (a handle inherited through fork
never removes the parent's file). The board itself is opened by the first
slot a process makes, so a pool made in a server's master process (an
application imported before the fork) opens nothing there.
"""

from __future__ import annotations

import heapq
import os
import re
import resource
import threading
import time
import weakref
from typing import TYPE_CHECKING, Union

from . import ScoreboardError

if TYPE_CHECKING:
    from . import Scoreboard, Worker

#: A path as ``os.fspath`` takes it.
PathLike = Union[str, "os.PathLike[str]"]

__all__ = ["DEFAULT_MAX_IDLE", "MAX_PATH", "SlotPool", "slot_pool"]

#: How many idle slots stay on the board unless ``max_idle`` says otherwise
#: (the tower layer's default).
DEFAULT_MAX_IDLE = 32
#: The longest path a status shows, in bytes (cut at a character boundary).
MAX_PATH = 1024
#: How many numbers held by other processes a new slot skips before the
#: request goes without a slot.
_MAX_SKIPS = 64
#: Slots may hold one in ``_SLOT_SHARE`` of the descriptor limit ...
_SLOT_SHARE = 8
#: ... and leave one in ``_RESERVE_SHARE`` free.
_RESERVE_SHARE = 4
#: How long descriptors count as scarce after a refusal (rule 2).
_SCARCE_NS = 100_000_000

# JSON strings as the tower layer writes them: `"` and `\` escaped with a
# backslash, control characters and DEL as \u00XX, everything else as is.
_NEEDS_ESCAPE = re.compile(r'[\x00-\x1f"\\\x7f]')
_ESCAPES = {c: "\\u%04x" % c for c in range(0x20)}
_ESCAPES[0x7F] = "\\u007f"
_ESCAPES[ord('"')] = '\\"'
_ESCAPES[ord("\\")] = "\\\\"
_search = _NEEDS_ESCAPE.search
_DIGITS3 = tuple("%03d" % i for i in range(1000))
_SHORT_PATH = MAX_PATH // 4
_METHODS = {m: '"%s"' % m for m in ("GET", "POST", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS")}


def json_string(s: str) -> str:
    """``s`` as a JSON string, escaped as the tower layer escapes it."""
    if _NEEDS_ESCAPE.search(s) is None:
        return '"' + s + '"'
    return '"' + s.translate(_ESCAPES) + '"'


def cut_path(path: str) -> str:
    """The longest prefix of ``path`` of at most :data:`MAX_PATH` bytes of
    UTF-8 ending at a character boundary."""
    # At most 4 bytes a character: a short string needs no encoding.
    if len(path) <= MAX_PATH // 4:
        return path
    raw = path.encode("utf-8", "surrogatepass")
    if len(raw) <= MAX_PATH:
        return path
    # The only broken sequence is the last character's, cut: dropped.
    return raw[:MAX_PATH].decode("utf-8", "ignore")


class _Slot:
    """One slot: a worker of the board, and the request it shows."""

    __slots__ = ("worker", "number", "requests", "started", "generation")

    def __init__(self, worker: Worker, number: int, generation: int) -> None:
        self.worker = worker
        self.number = number
        self.requests = 0
        self.started = 0
        self.generation = generation


_POOLS: weakref.WeakSet[SlotPool] = weakref.WeakSet()
_REGISTRY: dict[tuple[str, str | None], SlotPool] = {}
_REGISTRY_LOCK = threading.Lock()


class SlotPool:
    """The slots of one board in this process (see the module's rules).

    Made by :func:`slot_pool`, which gives every caller of one process the
    same pool for a board and prefix (so a server hook that shows a worker
    idle at start and the middleware share its slot).
    """

    def __init__(self, base_dir: PathLike, *, prefix: str | None = None,
                 max_idle: int = DEFAULT_MAX_IDLE, max_slots: int | None = None) -> None:
        if max_idle < 0:
            raise ValueError("max_idle must be >= 0")
        if max_slots is not None and max_slots < 1:
            raise ValueError("max_slots must be >= 1")
        self.base_dir = os.path.abspath(os.fspath(base_dir))
        self._prefix_option = prefix
        self.max_idle = max_idle
        self.max_slots = max_slots
        self._reset()
        _POOLS.add(self)

    def _reset(self) -> None:
        """Empties the pool: at creation, and in a fork child (whose slots
        inherited from the parent are the parent's)."""
        self.pid = os.getpid()
        self.prefix = (
            "%d-" % self.pid if self._prefix_option is None
            else self._prefix_option.replace("{pid}", str(self.pid))
        )
        self.generation = getattr(self, "generation", 0) + 1
        self._board: Scoreboard | None = None
        self._lock = threading.Lock()
        self._idle: list[_Slot] = []
        self._made = 0
        self._live = 0
        self._spare: list[int] = []
        self.unrecorded = 0
        self._scarce_until = 0

    # -- what monitors and tests ask -------------------------------------

    def slots(self) -> tuple[int, int]:
        """The slots this process holds now (in use and idle together), and
        of them the idle ones."""
        with self._lock:
            return self._live, len(self._idle)

    @property
    def board(self) -> Scoreboard | None:
        """The board, opened by the first slot made in this process (``None``
        until then)."""
        return self._board

    # -- rules 1 and 2: taking a slot -------------------------------------

    def _make(self) -> _Slot | None:
        with self._lock:
            # Given back while the lock was awaited.
            if self._idle:
                return self._idle.pop()
            if self.max_slots is not None and self._live >= self.max_slots:
                return None
            if self._scarce_until and time.monotonic_ns() < self._scarce_until:
                return None
            self._live += 1
            if self._spare:
                number = heapq.heappop(self._spare)
            else:
                self._made += 1
                number = self._made
            generation = self.generation
        room = self._room()
        if room == "yes":
            for _ in range(_MAX_SKIPS):
                try:
                    worker = self._open_board().worker("%s%d" % (self.prefix, number))
                except ScoreboardError as e:
                    if e.kind == "duplicate_id":
                        # Held by a live worker of another process: skipped
                        # for good.
                        with self._lock:
                            self._made += 1
                            number = self._made
                        continue
                    self._set_scarce()
                    break
                except OSError:
                    self._set_scarce()
                    break
                self._scarce_until = 0
                return _Slot(worker, number, generation)
        elif room == "scarce":
            self._set_scarce()
        with self._lock:
            if generation == self.generation:
                self._live -= 1
                heapq.heappush(self._spare, number)
        return None

    def _open_board(self) -> Scoreboard:
        board = self._board
        if board is None:
            from . import Scoreboard

            with self._lock:
                if self._board is None:
                    self._board = Scoreboard(self.base_dir)
                board = self._board
        return board

    def _room(self) -> str:
        """Rule 2: whether one more slot keeps the slots within their share
        of the descriptor limit and leaves the process its share."""
        try:
            limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
            if limit == resource.RLIM_INFINITY:
                return "yes"
            open_now = len(os.listdir("/proc/self/fd"))
        except OSError:
            return "yes"
        if self.max_slots is None and self._live > max(limit // _SLOT_SHARE, 1):
            return "cap"
        if open_now + 1 > limit - limit // _RESERVE_SHARE:
            return "scarce"
        return "yes"

    def _set_scarce(self) -> None:
        self._scarce_until = max(time.monotonic_ns() + _SCARCE_NS, 1)

    # -- rule 4: giving a slot back ----------------------------------------

    def _give_back(self, slot: _Slot) -> None:
        if slot.generation != self.generation:
            # A parent's slot in a fork child: not this pool's to keep.
            return
        if self.max_idle == 0 or self._scarce_until:
            self._release(slot)
            return
        self._idle.append(slot)
        if len(self._idle) > self.max_idle:
            self._trim()

    def _trim(self) -> None:
        """Releases the slot idle longest while more than ``max_idle`` are."""
        with self._lock:
            extra = self._idle.pop(0) if len(self._idle) > self.max_idle else None
        if extra is not None:
            self._release(extra)

    def _release(self, slot: _Slot) -> None:
        """Closes ``slot`` (which removes its file), then frees its number."""
        try:
            slot.worker.close()
        except ScoreboardError:
            pass
        with self._lock:
            if slot.generation == self.generation:
                self._live -= 1
                heapq.heappush(self._spare, slot.number)

    # -- requests ------------------------------------------------------------

    def start(self, method: str, path: str, host: str | None,
              port: int | str | None) -> _Slot | None:
        """Takes a slot for a request and shows it busy; ``None`` when the
        request goes without one (counted in :attr:`unrecorded`). ``host``
        and ``port`` are the peer's: shown ``host:port`` (``[host]:port``
        for IPv6, as Rust's ``SocketAddr``), the host alone without a
        port, ``null`` without a host."""
        try:
            slot: _Slot | None = self._idle.pop()
        except IndexError:
            slot = self._make()
        if slot is None:
            with self._lock:
                self.unrecorded += 1
            return None
        slot.requests = requests = slot.requests + 1
        if len(path) > _SHORT_PATH:
            path = cut_path(path)
        # Escaping inline: the usual string needs none, and a call costs as
        # much as the search.
        if _search(path) is not None:
            path = path.translate(_ESCAPES)
        if host:
            if port is None or port == "":
                client = f'"{host}"'
            elif ":" in host:
                client = f'"[{host}]:{port}"'
            else:
                client = f'"{host}:{port}"'
            if _search(client, 1, len(client) - 1) is not None:
                client = '"' + client[1:-1].translate(_ESCAPES) + '"'
        else:
            client = "null"
        method = _METHODS.get(method) or json_string(method)
        status = f'{{"state":"busy","method":{method},"path":"{path}","client":{client},"requests":{requests}}}'
        # A status that cannot be published is not worth failing the request
        # for; the previous one stays published.
        try:
            slot.worker.update(status)
        except ScoreboardError:
            pass
        slot.started = time.monotonic_ns()
        return slot

    def end(self, slot: _Slot, code: int | None, outcome: str) -> None:
        """Shows ``slot`` idle after its request, which answered ``code``
        (``None``: no response was made) and ended as ``outcome``
        (``complete``, ``cancelled``, ``aborted`` or ``error``), and gives it
        back."""
        us = (time.monotonic_ns() - slot.started) // 1000
        shown = "null" if code is None else int(code)
        # Three digits from a table: a format spec (`:03d`) costs more than
        # the rest of the status.
        status = (f'{{"state":"idle","requests":{slot.requests},"last_code":{shown},'
                  f'"last_ms":{us // 1000}.{_DIGITS3[us % 1000]},"last_outcome":"{outcome}"')
        status = status + (f',"unrecorded":{self.unrecorded}}}' if self.unrecorded else "}")
        try:
            slot.worker.update(status)
        except ScoreboardError:
            pass
        if slot.generation != self.generation:
            # A parent's slot in a fork child: not this pool's to keep.
            return
        if self.max_idle == 0 or self._scarce_until:
            self._release(slot)
            return
        idle = self._idle
        idle.append(slot)
        if len(idle) > self.max_idle:
            self._trim()

    def ready(self) -> bool:
        """Shows one slot idle before any request: a worker process that has
        not served yet is seen (gunicorn's ``post_fork`` hook calls this).
        Returns whether a slot is on the board."""
        if self._idle:
            return True
        slot = self._make()
        if slot is None:
            return False
        self._publish(slot, '{"state":"idle","requests":0}')
        self._give_back(slot)
        return True

    def _publish(self, slot: _Slot, status: str) -> None:
        # A status that cannot be published is not worth failing the request
        # for; the previous one stays published.
        try:
            slot.worker.update(status)
        except ScoreboardError:
            pass

    def close(self) -> None:
        """Releases the idle slots (their files are removed); slots in use are
        released when their requests end. For tests and orderly shutdowns:
        a process that exits releases everything anyway."""
        with self._lock:
            idle, self._idle = self._idle, []
        for slot in idle:
            self._release(slot)

    def __repr__(self) -> str:
        live, idle = self.slots()
        return "SlotPool(%r, prefix=%r, live=%d, idle=%d, unrecorded=%d)" % (
            self.base_dir, self.prefix, live, idle, self.unrecorded)


def slot_pool(base_dir: PathLike, *, prefix: str | None = None, max_idle: int | None = None,
              max_slots: int | None = None) -> SlotPool:
    """This process's pool of slots on ``base_dir`` with ``prefix`` (by
    default ``<pid>-``; ``{pid}`` in a prefix is replaced by the pid), made by
    the first call. Later calls for the same board and prefix get the same
    pool; settings they give must be the first call's."""
    key = (os.path.abspath(os.fspath(base_dir)), prefix)
    with _REGISTRY_LOCK:
        found = _REGISTRY.get(key)
        if found is None:
            pool = SlotPool(
                base_dir, prefix=prefix,
                max_idle=DEFAULT_MAX_IDLE if max_idle is None else max_idle,
                max_slots=max_slots,
            )
            _REGISTRY[key] = pool
            return pool
    pool = found
    if (max_idle is not None and max_idle != pool.max_idle) or (
            max_slots is not None and max_slots != pool.max_slots):
        raise ValueError(
            "a slot pool for %s with prefix %r exists with max_idle=%d, max_slots=%r"
            % (key[0], prefix, pool.max_idle, pool.max_slots))
    return pool


def _after_fork_in_child() -> None:
    global _REGISTRY_LOCK
    # A lock another thread held at the fork stays held in the child.
    _REGISTRY_LOCK = threading.Lock()
    for pool in list(_POOLS):
        pool._reset()


os.register_at_fork(after_in_child=_after_fork_in_child)
