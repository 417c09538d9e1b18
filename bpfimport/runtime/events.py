"""Ring buffer and perf buffer readers: what ``poll()`` / ``consume()`` of an event map run.

Three rules, each the answer to a defect a flood or a signal exposed:

* **libbpf runs on one thread, and Python callbacks never run user code there.**
  Every libbpf call on an event buffer that makes, feeds or frees one
  (``ring_buffer__new`` / ``__consume`` / ``__free``, and the perf ones) runs
  on the ``bpfimport-events`` thread.  CPython runs signal handlers only in
  the main thread, so no handler's exception (``KeyboardInterrupt``, an
  ``alarm``) can land inside a ctypes callback, where ctypes would print
  "Exception ignored" and drop it with its event, or between a ``__new`` and
  the store of the pointer it returns (a leaked buffer).  The sample
  callbacks there only copy and decode each event into the reader's backlog.
  A caller interrupted while it waits for the thread gets its exception at
  once; the thread finishes the call, so the events it took stay in the
  backlog and a buffer it made is registered with the object and freed by
  ``close()``.
* **Events reach the user's callback from the backlog, in the caller's thread,
  with no Python code between taking one and the call**: ``map(callback,
  islice(iter(backlog.popleft, ...)))`` drained by a C loop.  An exception
  (from the callback, or from a signal handler that runs while it runs)
  stops the delivery with every event taken handed to the callback; the
  others stay for the next poll.  An event is delivered once the callback
  has been called with it.
* **A poll is bounded**: it waits up to its timeout for the first event, then
  takes events in slices (a ring buffer's callback stops libbpf after
  ``RING_SLICE`` events; a perf buffer is read once per poll, which reads each
  CPU's buffer up to where it was when the read began) and hands them over in
  chunks of ``CHUNK``, checking the clock between chunks.  It returns once the
  buffer is empty, the deadline has passed, or it took one buffer's worth of
  events (the only bound for ``consume()`` and ``timeout_ms=-1``).  What it
  took and could not hand over stays in the backlog for the next poll,
  delivered first; a perf buffer is read again only once the backlog is empty,
  so the backlog never exceeds one read.

``close()`` (from any thread, the object's close) never frees a buffer under
a poll: a poll in progress holds the reader (``_users``), and the last of
them frees it; a waiting poll notices within ``WAIT_SLICE_MS`` and returns.
"""

from __future__ import annotations

import errno as E
import itertools
import os
import select
import sys
import time
from _queue import SimpleQueue
from _thread import allocate_lock, get_ident
from collections import deque

from ..errors import BpfError
from ._lazy import ctypes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Protocol

    from ..spec import MapSpec
    from .codec import Codec
    from .object import BpfObject

    class _EventMap(Protocol):
        """What a reader needs of its map (``maps._EventMap``; maps imports this module)."""

        _obj: BpfObject
        _reader: EventReader | None
        spec: MapSpec

        @property
        def name(self) -> str: ...

        @property
        def fd(self) -> int: ...

        def _value_codec(self) -> Codec: ...

        def _error(self, op: str, err: int) -> BpfError: ...

RING_SLICE = 1024  # events a ring buffer collect takes before libbpf is stopped
CHUNK = 64  # events handed to the callback between two looks at the clock
WAIT_SLICE_MS = 50  # a waiting poll looks for a concurrent close() this often
_STOP = -E.ECANCELED  # what the ring sample callback returns to stop libbpf
_RING_HDR = 8  # BPF_RINGBUF_HDR_SZ
_NEVER = object()  # the popleft iterator's sentinel: no event is this object
_sink: deque[object] = deque(maxlen=0)  # consumes an iterator in C: nothing runs between items


# ---- the libbpf thread ---------------------------------------------------------------------


class _Task:
    """A call to run on the libbpf thread; ``wait()`` gives its result or raises its error."""

    __slots__ = ("fn", "done", "result", "error")

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.fn = fn
        self.done = allocate_lock()
        self.done.acquire()
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.fn()
        except BaseException as e:  # noqa: BLE001 - handed to the waiter
            self.error = e
        finally:
            self.done.release()

    def wait(self) -> Any:
        """Block until the task ran (a signal handler's exception interrupts the wait only)."""
        self.done.acquire()
        self.done.release()
        if self.error is not None:
            raise self.error
        return self.result


class _Worker:
    """The ``bpfimport-events`` thread: runs tasks one at a time, in the order given.

    One thread for every reader: two libbpf calls on one buffer never overlap,
    and a free queued after a consume runs after it.
    """

    def __init__(self) -> None:
        self._start = allocate_lock()
        self._reset()

    def _reset(self) -> None:
        self._queue: SimpleQueue[_Task] = SimpleQueue()
        self.put = self._queue.put  # a C call: nothing can interrupt between it and its effect
        self._ident: int | None = None

    def inline(self) -> bool:
        """Run tasks in the caller: on the thread itself (a finaliser) or at interpreter exit."""
        return get_ident() == self._ident or sys.is_finalizing()

    def inline_free(self) -> bool:
        """Free in the caller also when the thread is not running (never started, or a fork)."""
        return self._ident is None or self.inline()

    def start(self, task: _Task) -> None:
        if self.inline():
            task.run()
            return
        if self._ident is None:
            self._spawn()
        self.put(task)

    def call(self, fn: Callable[[], Any]) -> Any:
        task = _Task(fn)
        self.start(task)
        return task.wait()

    def _spawn(self) -> None:
        import threading

        with self._start:
            if self._ident is None:
                ready = allocate_lock()
                ready.acquire()
                threading.Thread(target=self._loop, args=(ready,), name="bpfimport-events",
                                 daemon=True).start()
                ready.acquire()

    def _loop(self, ready: Any) -> None:
        self._ident = get_ident()
        ready.release()
        get = self._queue.get
        while True:
            get().run()


WORKER = _Worker()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=WORKER._reset)  # the thread is not in the child


# ---- readers ---------------------------------------------------------------------------------


def open_reader(m: _EventMap, cls: type[EventReader]) -> EventReader:
    """A reader on ``m``'s current load: the one it has, or a new one.

    Under the object's lock from the fd to the buffer's creation: a close()
    cannot free the fd (and let another object get its number) in between.
    The reader is registered with the object before its buffer exists, so the
    object's close() always reaches it, even if this call is interrupted.
    """
    obj = m._obj
    with obj._lock:
        obj.load()  # first: a perf array opens its reader at load
        map_ptr = obj.map_ptr(m.name)
        reader = m._reader
        if reader is not None and not reader.closed and reader.map_ptr == map_ptr:
            return reader
        fd = m.fd
        reader = cls(m, map_ptr)
        obj.add_resource(reader)
        m._reader = reader
        err = WORKER.call(lambda: reader._open_on_worker(fd))
    if err:
        raise m._error(f"opening the {m.spec.kind} reader", err)
    return reader


class EventReader:
    """A libbpf ring_buffer / perf_buffer on one map, closed with the object."""

    def __init__(self, m: _EventMap, map_ptr: int) -> None:
        from . import libbpf as L

        self.lib = L.lib()
        self.map = m
        self.map_ptr = map_ptr
        self.capacity = max(1, m.spec.max_entries)  # bytes one poll takes at most (ring)
        self.decode: Callable[[bytes], Any] | None = None
        if m.spec.value is not None:
            self.decode = m._value_codec().decode
        self.ptr = 0  # the libbpf buffer: set and cleared on the libbpf thread only
        self.epfd = -1
        self.closed = False
        self.backlog: deque[Any] = deque()  # taken from the kernel, not yet delivered
        self.lost = 0  # samples the kernel dropped (perf buffers)
        self.error: BaseException | None = None  # an event that could not be decoded
        self._state = allocate_lock()  # guards closed, _users, _freeing
        self._users = 0
        self._freeing = False
        self._turn = allocate_lock()  # concurrent polls of one map take turns
        self._poller_thread: int | None = None
        self._poller: Any = None
        self._taken = 0  # per collect, on the libbpf thread

    # -- on the libbpf thread --

    def _open_on_worker(self, fd: int) -> int:
        """Make the libbpf buffer; 0, or the errno of the failure (the reader is then closed)."""
        from . import libbpf as L

        ptr = self._new(L, fd)
        if not ptr:
            self.closed = True
            return L.last_errno() or E.EINVAL
        self.ptr = ptr
        self.epfd = self._epoll_fd(ptr)
        self._map_positions(fd)
        return 0

    def _map_positions(self, fd: int) -> None:
        """What :meth:`has_data` reads, mapped while the fd is this map's (ring buffers)."""

    def has_data(self) -> bool:
        """False only when the buffer is surely empty: poll() then skips the libbpf thread."""
        return True

    def _keep(self, data: int, size: int) -> None:
        """Copy and decode one sample into the backlog (a sample callback's whole job)."""
        try:
            raw = ctypes.string_at(data, size)
            self.backlog.append(self.decode(raw) if self.decode is not None else raw)
        except Exception as e:  # noqa: BLE001 - raised by the poll, after what came before
            if self.error is None:
                self.error = e
        self._taken += 1

    def _collect_on_worker(self, budget: int) -> tuple[int, int]:
        """Take events into the backlog: (events, bytes) taken; never more than ``budget`` bytes."""
        if not self.ptr:
            return 0, 0
        self._taken = 0
        self._bytes = 0
        self._budget = budget
        rc = self._consume(self.ptr)
        if rc < 0 and rc != _STOP and self.error is None:
            self.error = self.map._error(f"{self.map.spec.kind} poll", -rc)
        return self._taken, self._bytes

    def _free_on_worker(self) -> None:
        ptr, self.ptr = self.ptr, 0
        self.epfd = -1
        self.backlog.clear()  # close() drops what was not delivered
        if ptr:
            self._free(ptr)
        self._unmap_positions()

    def _unmap_positions(self) -> None:
        pass

    # -- in the caller's thread --

    def poll(self, callback: Callable[[Any], Any], timeout_ms: int) -> int:
        """See ``poll`` of the map handle; 0 when the reader was closed under it."""
        deadline = time.monotonic() + timeout_ms / 1000 if timeout_ms > 0 else None
        entered = False
        try:
            with self._state:
                if self.closed:
                    return 0
                self._users += 1
                entered = True
            if self._poller_thread == get_ident():
                raise BpfError(f"poll() of {self.map.spec.kind} '{self.map.name}' called "
                               f"from its own callback")
            with self._turn:
                self._poller_thread = get_ident()
                try:
                    return self._poll(callback, timeout_ms, deadline)
                finally:
                    self._poller_thread = None
        finally:
            if entered:
                self._leave()

    def _leave(self) -> None:
        task = _Task(self._free_on_worker) if self.closed else None  # made before the count drops
        inline = WORKER.inline_free()
        queued = False
        with self._state:
            self._users -= 1
            if self.closed and not self._users and not self._freeing:
                if task is None:  # closed since the look above
                    task = _Task(self._free_on_worker)
                self._freeing = queued = True
                if inline:  # the last user frees (close() did not)
                    task.run()
                else:
                    WORKER.put(task)
        if queued and not inline and task is not None:  # queued: task is not None
            task.wait()  # freed when the poll returns

    def _poll(self, callback: Callable[[Any], Any], timeout_ms: int, deadline: float | None) -> int:
        n = self._deliver(callback, deadline)  # what an earlier poll took and did not hand over
        budget = self.capacity
        while not self.closed:
            if not self.backlog:
                if budget <= 0 or (n and _past(deadline)):
                    break
                if not self.has_data():  # a hand-over to the libbpf thread costs ~20-80 µs
                    got = used = 0
                else:
                    def collect(b: int = budget) -> tuple[int, int]:  # this budget, bound now
                        return self._collect_on_worker(b)

                    got, used = WORKER.call(collect)
                budget = self._spent(budget, got, used)
                self._raise_error()
                if not got:
                    # nothing there: wait for the first event, unless some were handled
                    if n or timeout_ms == 0 or not self._wait(deadline):
                        break
                    continue
            n += self._deliver(callback, deadline)
            self._raise_error()
            if self.backlog or _past(deadline):
                break
        return n

    def _spent(self, budget: int, got: int, used: int) -> int:
        return budget - used

    def _wait(self, deadline: float | None) -> bool:
        """Until the buffer has data (True), the deadline passes or the reader is closed (False)."""
        if self._poller is None:
            poller = select.poll()
            poller.register(self.epfd, select.POLLIN)
            self._poller = poller
        while not self.closed:
            ms = WAIT_SLICE_MS
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                ms = min(ms, int(left * 1000) + 1)
            if self._poller.poll(ms):
                return True
        return False

    def _deliver(self, callback: Callable[[Any], Any], deadline: float | None) -> int:
        """Hand the backlog to ``callback`` in chunks until it is empty or the deadline passed."""
        backlog = self.backlog
        n = 0
        while backlog:
            k = min(len(backlog), CHUNK)
            # map() ends quietly when the callback raises StopIteration; the marker
            # iterator after the chunk (done.pop() returning its sentinel) tells
            done = [True]
            events = itertools.islice(iter(backlog.popleft, _NEVER), k)
            _sink.extend(map(callback, itertools.chain(events, iter(done.pop, True))))
            if done:
                raise RuntimeError("the poll() callback raised StopIteration")
            n += k
            if _past(deadline):
                break
        return n

    def _raise_error(self) -> None:
        err = self.error
        if err is not None:
            self.error = None
            raise err

    def close(self) -> None:
        """Free the buffer now, or, while a poll uses it, when the last poll returns."""
        task = _Task(self._free_on_worker)
        inline = WORKER.inline_free()
        queued = False
        with self._state:
            self.closed = True
            if not self._users and not self._freeing:
                self._freeing = queued = True
                if inline:
                    task.run()
                else:
                    WORKER.put(task)
        if queued and not inline:
            task.wait()

    # -- per kind --

    def _new(self, L: Any, fd: int) -> int:  # noqa: N803 - the libbpf module
        raise NotImplementedError

    def _epoll_fd(self, ptr: int) -> int:
        raise NotImplementedError

    def _consume(self, ptr: int) -> int:
        raise NotImplementedError

    def _free(self, ptr: int) -> None:
        raise NotImplementedError


def _past(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() >= deadline


class RingReader(EventReader):
    """A libbpf ring_buffer; its sample callback stops libbpf after a slice of events.

    It also maps the ring's consumer and producer pages read-only (as libbpf
    does), so that an empty ring is seen without the libbpf thread.
    """

    _positions: tuple[Any, Any] | None = None

    def _map_positions(self, fd: int) -> None:
        import mmap

        page = mmap.PAGESIZE
        try:
            cons = mmap.mmap(fd, page, mmap.MAP_SHARED, mmap.PROT_READ, offset=0)
            prod = mmap.mmap(fd, page, mmap.MAP_SHARED, mmap.PROT_READ, offset=page)
        except (OSError, ValueError):
            return  # has_data() then always says yes: correct, only slower
        self._positions = (cons, prod)

    def has_data(self) -> bool:
        positions = self._positions
        if positions is None:
            return True
        cons, prod = positions
        return cons[:8] != prod[:8]  # consumer_pos != producer_pos

    def _unmap_positions(self) -> None:
        positions, self._positions = self._positions, None
        if positions is not None:
            for m in positions:
                m.close()

    def _new(self, L: Any, fd: int) -> int:  # noqa: N803
        self._cb = L.RINGBUF_SAMPLE_FN(self._on_sample)
        return self.lib.ring_buffer__new(fd, self._cb, None, None)

    def _on_sample(self, _ctx: int, data: int, size: int) -> int:
        # libbpf has moved past this sample when it reads a negative return: keep it first
        self._keep(data, size)
        self._bytes += (size + _RING_HDR + 7) & ~7
        return _STOP if self._taken >= RING_SLICE or self._bytes >= self._budget else 0

    def _epoll_fd(self, ptr: int) -> int:
        return self.lib.ring_buffer__epoll_fd(ptr)

    def _consume(self, ptr: int) -> int:
        return self.lib.ring_buffer__consume(ptr)

    def _free(self, ptr: int) -> None:
        self.lib.ring_buffer__free(ptr)


class PerfReader(EventReader):
    """A libbpf perf_buffer: read once per poll (its callbacks cannot stop libbpf)."""

    PAGES = 64  # per CPU; a power of two

    def _new(self, L: Any, fd: int) -> int:  # noqa: N803
        def sample(_ctx: int, _cpu: int, data: int, size: int) -> None:
            self._keep(data, size)

        def lost(_ctx: int, _cpu: int, count: int) -> None:
            self.lost += count

        self._cbs = (L.PERFBUF_SAMPLE_FN(sample), L.PERFBUF_LOST_FN(lost))
        return self.lib.perf_buffer__new(fd, self.PAGES, self._cbs[0], self._cbs[1], None, None)

    def _spent(self, budget: int, got: int, used: int) -> int:
        return 0 if got else budget  # one read per poll: it took one buffer's worth at most

    def _epoll_fd(self, ptr: int) -> int:
        return self.lib.perf_buffer__epoll_fd(ptr)

    def _consume(self, ptr: int) -> int:
        return self.lib.perf_buffer__consume(ptr)

    def _free(self, ptr: int) -> None:
        self.lib.perf_buffer__free(ptr)


__all__ = ["CHUNK", "RING_SLICE", "WORKER", "EventReader", "PerfReader", "RingReader",
           "open_reader"]
