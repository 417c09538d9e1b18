"""Ring buffer and perf buffer readers: what ``poll()``, ``consume()`` and ``events()`` run.

Events are read straight from the buffers' shared memory, in the caller's
thread, with no C callback: the ring buffer's pages are mapped as libbpf
maps them, and a perf buffer's per-CPU rings are libbpf's own
(``perf_buffer__buffer``), which libbpf never reads here.  Per event there
is no Python frame at all between the kernel's bytes and the user's
callback: a *take* copies a run of records out of the buffer in one
``string_at`` and makes a lazy decoder over it (``map(Event.from_buffer_copy,
repeat(raw), offsets)``, a C loop); a *delivery* runs ``map(callback,
islice(decoder, k))``, another C loop.  The event the callback gets is a
copy of its own (ctypes' ``from_buffer_copy``; a view into the buffer would
cost more to make than the 32-byte copy), so it may be kept.

The rules, each the answer to a defect a flood or a signal exposed:

* **libbpf's allocations run on one thread, where no signal handler runs.**
  Making and freeing a buffer (the mmaps of a ring buffer, libbpf's
  ``perf_buffer__new`` / ``__free``) runs on the ``bpfimport-events``
  thread.  CPython runs signal handlers only in the main thread, so no
  handler's exception (``KeyboardInterrupt``, an alarm) can land between a
  ``__new`` and the store of what it returned (a leak).  A caller
  interrupted while it waits for the thread gets its exception at once; the
  thread finishes the call, and a buffer it made is registered with the
  object and freed by ``close()``.
* **Taking events is all or nothing.**  A take reads the buffer's positions
  and records into Python objects, then *commits*: it stores the new read
  position into the kernel's page and makes the decoder the reader's
  pending events in one C call (``deque.extend(starmap(setattr, ...))``),
  where no signal handler can run.  An exception before the commit leaves
  the records in the buffer for the next take; after it, they are pending.
  No event is taken twice or lost.
* **Events reach the user's callback with no Python code between taking
  one from the pending ones and the call** (the ``map`` above): an
  exception (from the callback, or from a signal handler that runs while it
  runs) stops the delivery with every event taken handed to the callback;
  the others stay pending for the next poll.  An event is delivered once the
  callback has been called with it.  ``events()`` hands them over with
  ``yield from`` over the same iterator, which CPython does not interrupt
  between taking an item and yielding it.
* **A poll is bounded**: it waits up to its timeout for the first event,
  then takes runs of records (at most ``SLICE`` bytes each) and hands them
  over in chunks of ``CHUNK``, checking the clock between chunks.  It
  returns once the buffer is empty, the deadline has passed, or it took one
  buffer's worth of events (the only bound for ``consume()`` and
  ``timeout_ms=-1``).  What it took and did not hand over stays pending,
  delivered first by the next poll; a buffer is read again only once nothing
  is pending, so the pending events never exceed one take.

Memory order: the kernel publishes a record, then its position (the ring
buffer's header, the perf buffer's ``data_head``) with a release; a reader
must read the position before the record, and give the space back (the new
read position) only after it read the record.  x86 keeps these in order by
itself; for the CPUs that do not, :meth:`EventReader._fence` (a release then
an acquire of a lock only the reader's turn-holder uses) sits between the
steps, three times per run of records, everywhere (cheap at that rate).

Waiting: a ring buffer's fd is readable while the ring has data; a perf
buffer's epoll fd reports each CPU once per wake-up.  A waiting poll also
looks at the positions itself between slices of its wait (``has_data``),
every ``WAIT_SLICE_MS``, or ``LATE_SLICE_MS`` for a perf buffer woken only
every ``wakeup_bytes`` bytes (the default) or ``wakeup_events`` samples, whose
last samples wake nobody.

``close()`` (from any thread, the object's close) never frees a buffer under
a poll: a poll in progress holds the reader (``_users``), and the last of
them frees it; a waiting poll notices within ``WAIT_SLICE_MS`` and returns.
The free drops the pending events (they go with the object), but an
iterator still yielding some holds copies, never the buffer's memory.
"""

from __future__ import annotations

import errno as E
import os
import select
import sys
import time
from _queue import SimpleQueue
from _thread import allocate_lock, get_ident
from collections import deque
from functools import partial
from itertools import chain, compress, count, islice, repeat, starmap
from operator import length_hint, methodcaller

from ..errors import BpfError
from ._lazy import ctypes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
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

        def _open_reader(self) -> EventReader: ...

SLICE = 64 << 10  # bytes of records one take copies out at most (one record at least)
CHUNK = 256  # events handed to the callback between two looks at the clock
WAIT_SLICE_MS = 50  # a waiting poll looks for a concurrent close() this often
LATE_SLICE_MS = 10  # and for events that woke nobody this often (perf, not woken per sample)
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096

# ring buffer records (include/uapi/linux/bpf.h): an 8-byte header, length with two flags
_RING_HDR = 8
_BUSY = 1 << 31
_DISCARD = 1 << 30
# perf records (include/uapi/linux/perf_event.h): struct perf_event_header {u32 type; u16 misc;
# u16 size}; a sample (libbpf asks for PERF_SAMPLE_RAW only) is the header, a u32 size, the data
_PERF_LOST = 2
_PERF_SAMPLE = 9
_PERF_HEAD = 1024  # offsetof(struct perf_event_mmap_page, data_head)
_PERF_TAIL = 1032  # data_tail

_sink: deque[object] = deque(maxlen=0)  # consumes an iterator in C: nothing runs between items
_call = methodcaller("__call__")
_EMPTY: Iterator[Any] = iter(())


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
        """Block until the task ran (a signal handler's exception interrupts the wait only).

        The acquire and the release are one C call: an exception raised by a
        signal handler between them would leave the lock taken, and a task
        waited on again (a reader's ``opening``) would then never end.
        """
        _sink.extend(map(_call, (self.done.acquire, self.done.release)))
        if self.error is not None:
            raise self.error
        return self.result


class _Worker:
    """The ``bpfimport-events`` thread: runs tasks one at a time, in the order given.

    One thread for every reader: two libbpf calls on one buffer never overlap,
    and a free queued after an open runs after it.
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
        self.spawn()
        self.put(task)

    def spawn(self) -> None:
        """Start the thread unless it runs."""
        if self._ident is None:
            self._spawn()

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
_DONE = _Task(int)  # a task that ran (a reader's ``opening`` before it is given one)
_DONE.run()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=WORKER._reset)  # the thread is not in the child


# ---- readers ---------------------------------------------------------------------------------


def open_reader(m: _EventMap, cls: type[EventReader], **options: Any) -> EventReader:
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
        if reader is None or reader.closed or reader.map_ptr != map_ptr:
            fd = m.fd
            reader = cls(m, map_ptr, **options)
            obj.add_resource(reader)
            task = _Task(partial(reader._open_on_worker, fd))
            if WORKER.inline():
                reader.opening, m._reader = task, reader
                task.run()
            else:
                WORKER.spawn()
                # One C call, which no signal handler's exception can split: the reader gets
                # its task, the map the reader, the thread the task.  (Split, a map could keep
                # a reader whose open never started: the next call then used it unopened, or
                # waited for it for ever.)  Interrupted before it, the map has no new reader,
                # and the next call makes one; the object closes this one.
                _sink.extend(map(_call, (partial(setattr, reader, "opening", task),
                                         partial(setattr, m, "_reader", reader),
                                         partial(WORKER.put, task))))
        # also when a call before this one was interrupted while the thread opened it:
        # a reader is used only once it is open
        err = reader.opening.wait()
    if err:
        raise m._error(f"opening the {m.spec.kind} reader", err)
    return reader


class EventReader:
    """A ring or perf buffer of one map, read in the caller's thread, closed with the object.

    ``_pending`` yields the events taken and not yet delivered (decoded
    lazily); ``_left`` is the iterator it advances once per event, whose
    ``__length_hint__`` says how many are left.  Both are replaced only by a
    commit, and only once ``_left`` is exhausted.
    """

    def __init__(self, m: _EventMap, map_ptr: int) -> None:
        from . import libbpf as L

        self.lib = L.lib()
        self.map = m
        self.map_ptr = map_ptr
        self.codec: Codec | None = m._value_codec() if m.spec.value is not None else None
        self.capacity = 1  # bytes one poll takes at most: one buffer's worth
        self.wait_slice_ms = WAIT_SLICE_MS
        self.epfd = -1  # what a waiting poll waits on
        self.closed = False
        self.opening: _Task = _DONE  # the open on the libbpf thread (open_reader)
        self._pending: Iterator[Any] = _EMPTY
        self._left: Iterator[Any] = _EMPTY
        self.lost = 0  # samples the kernel dropped (perf buffers)
        self._unreported = 0  # of those, the ones no ``lost`` callback was told of yet
        self.error: BaseException | None = None  # a record that could not be decoded
        self._state = allocate_lock()  # guards closed, _users, _freeing
        self._users = 0
        self._freeing = False
        self._turn = allocate_lock()  # concurrent polls of one map take turns
        self._poller_thread: int | None = None
        self._poller: Any = None
        self._barrier = allocate_lock()  # see _fence
        self._barrier.acquire()
        self._fence_calls = (self._barrier.release, self._barrier.acquire)

    # -- made and freed on the libbpf thread --

    def _open_on_worker(self, fd: int) -> int:
        """Make the buffer; 0, or the errno of the failure (the reader is then closed)."""
        err = self._open(fd)
        if err:
            self.closed = True
        return err

    def _free_on_worker(self) -> None:
        self._pending = self._left = _EMPTY  # close() drops what was not delivered
        self.epfd = -1
        self._free()

    # -- in the caller's thread --

    def pending(self) -> int:
        """Events taken from the kernel and not yet delivered."""
        return length_hint(self._left)

    def _fence(self) -> None:
        """Order the loads before against the loads and stores after (see the module docstring).

        A lock's release is a store-release, its acquire a load-acquire, and
        a release followed by an acquire is not reordered (RCsc): one C call,
        so no signal handler can leave the lock released.
        """
        _sink.extend(map(_call, self._fence_calls))

    def _commit(self, stores: Iterable[tuple[Any, str, Any]], pending: Iterator[Any],
                left: Iterator[Any], lost: int = 0, error: BaseException | None = None) -> None:
        """Store the new read position(s) and make ``pending`` the pending events, at once.

        One C call, ``deque.extend(starmap(setattr, ...))``: a signal handler
        runs only between bytecodes, so it sees all of it or none of it.
        """
        self._fence()  # the records were read before the space is given back
        effects = [*stores, (self, "_pending", pending), (self, "_left", left)]
        if lost:
            effects += [(self, "lost", self.lost + lost), (self, "_unreported", self._unreported + lost)]
        if error is not None:
            effects.append((self, "error", error))
        _sink.extend(starmap(setattr, effects))

    def enter(self) -> bool:
        """Hold the reader for a poll (False: it is closed); :meth:`leave` lets go."""
        with self._state:
            if self.closed:
                return False
            self._users += 1
            return True

    def poll(self, callback: Callable[[Any], Any], timeout_ms: int,
             lost: Callable[[int], Any] | None = None, deadline: float | None = None) -> int:
        """See ``poll`` of the map handle; 0 when the reader was closed under it.

        ``deadline`` (``time.monotonic()``) bounds it instead of ``timeout_ms`` when given.
        """
        if deadline is None and timeout_ms > 0:
            deadline = time.monotonic() + timeout_ms / 1000
        entered = False
        try:
            entered = self.enter()
            if not entered:
                return 0
            n = self._as_poller(self._poll, callback, timeout_ms, deadline)
            if lost is not None and self._unreported:
                count, self._unreported = self._unreported, 0
                lost(count)
            return n
        finally:
            if entered:
                self.leave()

    def fill(self, timeout_ms: int) -> bool:
        """Take events until some are pending (True) or ``timeout_ms`` passed (False)."""
        deadline = time.monotonic() + timeout_ms / 1000 if timeout_ms > 0 else None
        entered = False
        try:
            entered = self.enter()
            if not entered:
                return False
            return bool(self._as_poller(self._fill, timeout_ms, deadline))
        finally:
            if entered:
                self.leave()

    def _fill(self, timeout_ms: int, deadline: float | None) -> bool:
        self._raise_error()
        while not self.closed:
            if self.pending():
                return True
            got = self._take(self.capacity)
            self._raise_error()  # a take that hits a bad record takes nothing else
            if not got and (timeout_ms == 0 or not self._wait(deadline)):
                break
        return bool(self.pending())

    def _as_poller(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` in this thread's turn: concurrent polls of one map take turns.

        The lock's own ``with`` (C code) and the try/finally: no signal
        handler's exception can leave the turn taken or the thread marked.
        """
        if self._poller_thread == get_ident():
            raise BpfError(f"poll() of {self.map.spec.kind} '{self.map.name}' called "
                           f"from its own callback")
        with self._turn:
            self._poller_thread = get_ident()
            try:
                return fn(*args)
            finally:
                self._poller_thread = None

    def leave(self) -> None:
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
        self._raise_error()
        budget = self.capacity
        while not self.closed:
            if not self.pending():
                if budget <= 0 or (n and _past(deadline)):
                    break
                got = self._take(budget)
                budget -= got
                self._raise_error()  # a take that hits a bad record takes nothing else
                if not got:
                    # nothing there: wait for the first event, unless some were handled
                    if n or timeout_ms == 0 or not self._wait(deadline):
                        break
                    continue
            n += self._deliver(callback, deadline)
            if self.pending() or _past(deadline):
                break
        return n

    def _wait(self, deadline: float | None) -> bool:
        """Until the buffer has data (True), the deadline passes or the reader is closed (False)."""
        if self._poller is None:
            poller = select.poll()
            poller.register(self.epfd, select.POLLIN)
            self._poller = poller
        return _wait_for(self._poller, (self,), deadline)

    def _deliver(self, callback: Callable[[Any], Any], deadline: float | None) -> int:
        """Hand the pending events to ``callback`` in chunks until none is left or the deadline."""
        n = 0
        while True:
            k = min(self.pending(), CHUNK)
            if not k:
                return n
            # map() ends quietly when the callback raises StopIteration; the marker
            # iterator after the chunk (done.pop() returning its sentinel) tells
            done = [True]
            _sink.extend(map(callback, chain(islice(self._pending, k), iter(done.pop, True))))
            if done:
                raise RuntimeError("the poll() callback raised StopIteration")
            n += k
            if _past(deadline):
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

    # -- decoding --

    def _run(self, raw: bytes, at: range, length: int) -> tuple[Iterator[Any], Iterator[int]]:
        """The events of a run of records of ``length`` bytes each, at offsets ``at`` of ``raw``.

        Decoded lazily, as they are handed over; the second iterator is the
        one the first advances once per event (its length hint: events left).
        """
        offsets = iter(at)
        if self.codec is not None:
            return self.codec.stream(raw, offsets), offsets
        ends = iter(range(at.start + length, at.stop + length, at.step))
        return map(raw.__getitem__, map(slice, offsets, ends)), offsets

    def _short(self, length: int) -> BaseException | None:
        """The error of a record too short for the map's value type, or None."""
        codec = self.codec
        if codec is None or length >= codec.size:
            return None
        return BpfError(f"an event of {length} bytes in {self.map.spec.kind} '{self.map.name}' "
                        f"is shorter than its value type {self.map.spec.value} ({codec.size} bytes)")

    # -- per kind --

    def has_data(self) -> bool:
        """Whether the kernel has written past the read position (only while entered)."""
        raise NotImplementedError

    def _open(self, fd: int) -> int:
        raise NotImplementedError

    def _free(self) -> None:
        raise NotImplementedError

    def _take(self, budget: int) -> int:
        """Take one run of records (``budget`` bytes, at least one record); the bytes taken."""
        raise NotImplementedError


def _past(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() >= deadline


def _wait_for(poller: Any, readers: Sequence[EventReader], deadline: float | None) -> bool:
    """``poller`` (a ``select.poll`` on the readers' fds) until ready, the deadline or a close.

    Between two slices of waiting it also looks at the buffers' positions
    itself: a perf fd reports readiness once per wake-up, so a wake-up that
    came and went while the reader was busy is not seen twice.
    """
    first = True
    while not any(r.closed for r in readers):
        if not first and any(r.has_data() for r in readers):
            return True
        first = False
        ms = min(r.wait_slice_ms for r in readers)
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            ms = min(ms, int(left * 1000) + 1)
        if poller.poll(ms):
            return True
    return False


class RingReader(EventReader):
    """A BPF ring buffer, mapped as libbpf maps it and read without libbpf.

    Its consumer page (read-write), then its producer page and data area
    (read-only, the data mapped twice in a row by the kernel, so that a record
    that wraps around the end reads as one run).  It waits on the map's fd.
    """

    _cons_addr = 0
    _prod_addr = 0
    _wait_fd = -1

    def __init__(self, m: _EventMap, map_ptr: int) -> None:
        super().__init__(m, map_ptr)
        self.size = m.spec.max_entries
        self.capacity = max(1, self.size)

    def _open(self, fd: int) -> int:
        from . import libbpf as L

        size = self.size
        cons, err = L.mmap_shared(fd, PAGE, 0, writable=True)
        if err:
            return err
        self._cons_addr = cons
        prod, err = L.mmap_shared(fd, PAGE + 2 * size, PAGE, writable=False)
        if err:
            return err
        self._prod_addr = prod
        c = ctypes
        self._cons = c.c_uint64.from_address(cons)
        self._prod = c.c_uint64.from_address(prod)
        self._data = prod + PAGE
        self._mask = size - 1
        self._words = (c.c_uint32 * (size // 2)).from_address(self._data)  # both copies
        # a waiting poll waits on the map's fd; a copy of its own, since the object closes
        # the map's fds at its close, while a poll may still be waiting on it
        self.epfd = self._wait_fd = os.dup(fd)
        return 0

    def _free(self) -> None:
        from . import libbpf as L

        cons, self._cons_addr = self._cons_addr, 0
        prod, self._prod_addr = self._prod_addr, 0
        wait_fd, self._wait_fd = self._wait_fd, -1
        if cons:
            L.munmap(cons, PAGE)
        if prod:
            L.munmap(prod, PAGE + 2 * self.size)
        if wait_fd >= 0:
            os.close(wait_fd)

    def has_data(self) -> bool:
        return bool(self._prod_addr) and self._prod.value != self._cons.value

    def _take(self, budget: int) -> int:
        if not self._prod_addr:
            return 0
        cons = self._cons.value
        avail = self._prod.value - cons
        if avail <= 0:
            return 0
        self._fence()  # the producer position before the records
        at = cons & self._mask
        words = self._words
        first = at >> 2
        head = words[first]
        if head & _BUSY:
            return 0  # the oldest record is still being written
        if head & _DISCARD:
            return self._skip(cons, avail)
        stride = (head + _RING_HDR + 7) & ~7
        error = self._short(head)
        if error is not None:  # commit past it; poll() raises it after the events before it
            self._commit(((self._cons, "value", cons + stride),), _EMPTY, _EMPTY, error=error)
            return stride
        n = max(1, min(avail, budget, SLICE) // stride)
        k = stride >> 2
        heads = words[first:first + n * k:k]  # each record's header, read in order
        if heads.count(head) != n:  # a run of records just like the first, up to the first other
            n = next(compress(count(), map(head.__ne__, heads)))
        self._fence()  # the headers before the data
        raw = ctypes.string_at(self._data + at, n * stride)
        events, left = self._run(raw, range(_RING_HDR, n * stride, stride), head)
        self._commit(((self._cons, "value", cons + n * stride),), events, left)
        return n * stride

    def _skip(self, cons: int, avail: int) -> int:
        """Give back the discarded records at the read position (nothing to deliver)."""
        words = self._words
        pos = cons
        while pos - cons < avail:
            head = words[(pos & self._mask) >> 2]
            if head & _BUSY or not head & _DISCARD:
                break
            pos += ((head & ~_DISCARD) + _RING_HDR + 7) & ~7
        self._commit(((self._cons, "value", pos),), _EMPTY, _EMPTY)
        return pos - cons


class _PerfCpu:
    """One CPU's perf ring: its header page (read and write positions) and data area."""

    __slots__ = ("head", "tail", "data", "size")

    def __init__(self, base: int, size: int) -> None:
        self.head = ctypes.c_uint64.from_address(base + _PERF_HEAD)
        self.tail = ctypes.c_uint64.from_address(base + _PERF_TAIL)
        self.data = base + PAGE
        self.size = size


class PerfReader(EventReader):
    """A libbpf perf_buffer (one perf ring per CPU) that libbpf makes and frees, read here.

    A take reads the next CPU with data (round robin) up to where its ring was
    when the take began.  Lost-sample records count into ``lost``.
    """

    PAGES = 64  # per CPU, the default; a power of two
    WAKEUP_BYTES = 4096  # by default a waiting poll is woken per this many bytes of samples

    def __init__(self, m: _EventMap, map_ptr: int, page_cnt: int = PAGES,
                 wakeup_events: int | None = None, wakeup_bytes: int = WAKEUP_BYTES) -> None:
        super().__init__(m, map_ptr)
        self.page_cnt = page_cnt
        self.wakeup_events = wakeup_events
        # a watermark of at most a quarter of a ring: a wake-up long before the ring is full
        self.wakeup_bytes = max(1, min(wakeup_bytes, page_cnt * PAGE // 4))
        if wakeup_events != 1:  # the last few samples wake nobody: look for them more often
            self.wait_slice_ms = LATE_SLICE_MS
        self.ptr = 0  # the libbpf perf_buffer: set and cleared on the libbpf thread only
        self._cpus: list[_PerfCpu] = []
        self._next = 0

    def _open(self, fd: int) -> int:
        from . import libbpf as L

        lib = self.lib
        # the events libbpf's perf_buffer__new makes, but woken every wakeup_events samples,
        # or (the watermark flag) every wakeup_bytes bytes: the field is one or the other
        by_bytes = self.wakeup_events is None
        attr = L.PerfEventAttr(type=L.PERF_TYPE_SOFTWARE, size=ctypes.sizeof(L.PerfEventAttr),
                               config=L.PERF_COUNT_SW_BPF_OUTPUT, sample_period=1,
                               sample_type=L.PERF_SAMPLE_RAW,
                               flags=L.PERF_FLAG_WATERMARK if by_bytes else 0,
                               wakeup_events=self.wakeup_bytes if by_bytes else self.wakeup_events)
        ptr = lib.perf_buffer__new_raw(fd, self.page_cnt, ctypes.byref(attr), None, None, None)
        if not ptr:
            return L.last_errno() or E.EINVAL
        self.ptr = ptr
        self.epfd = lib.perf_buffer__epoll_fd(ptr)
        base = ctypes.c_void_p()
        size = ctypes.c_size_t()
        cpus = []
        for i in range(lib.perf_buffer__buffer_cnt(ptr)):
            if lib.perf_buffer__buffer(ptr, i, ctypes.byref(base), ctypes.byref(size)) == 0:
                cpus.append(_PerfCpu(base.value or 0, size.value))  # else an offline CPU
        self._cpus = cpus
        self.capacity = max(1, sum(c.size for c in cpus))
        return 0

    def _free(self) -> None:
        self._cpus = []
        ptr, self.ptr = self.ptr, 0
        if ptr:
            self.lib.perf_buffer__free(ptr)

    def has_data(self) -> bool:
        return any(cpu.head.value != cpu.tail.value for cpu in self._cpus)

    def _take(self, budget: int) -> int:
        cpus = self._cpus
        n = len(cpus)
        for j in range(n):
            i = (self._next + j) % n
            cpu = cpus[i]
            tail = cpu.tail.value
            head = cpu.head.value
            if head != tail:
                self._fence()  # data_head before the records
                taken, more = self._take_cpu(cpu, tail, head, budget)
                self._next = i if more else i + 1
                return taken
        return 0

    def _take_cpu(self, cpu: _PerfCpu, tail: int, head: int, budget: int) -> tuple[int, bool]:
        """Take a run of samples of one size, or the other records before the next sample."""
        size = cpu.size
        at = tail & (size - 1)
        avail = head - tail
        if at + avail <= size:
            raw = ctypes.string_at(cpu.data + at, avail)
        else:  # the records wrap around the end of the ring: one contiguous copy
            part = size - at
            raw = ctypes.string_at(cpu.data + at, part) + ctypes.string_at(cpu.data, avail - part)
        mv = memoryview(raw)
        kind = mv[0:4].cast("I")[0]
        rec = mv[6:8].cast("H")[0]
        if kind != _PERF_SAMPLE or rec % 8 or rec < 16:
            return self._other_records(cpu, tail, raw), True
        length = rec - 12  # the raw size, padding included: what libbpf hands over
        error = self._short(length)
        if error is not None:
            self._commit(((cpu.tail, "value", tail + rec),), _EMPTY, _EMPTY, error=error)
            return rec, rec < avail
        n = max(1, min(avail, budget) // rec)
        run = mv[:n * rec]
        kinds = run.cast("I")[::rec // 4].tolist()
        sizes = run.cast("H")[3::rec // 2].tolist()
        if kinds.count(_PERF_SAMPLE) != n or sizes.count(rec) != n:
            n = next(compress(count(), map(_mismatch, kinds, sizes, repeat(rec))))
        events, left = self._run(raw, range(12, n * rec, rec), length)
        self._commit(((cpu.tail, "value", tail + n * rec),), events, left)
        return n * rec, n * rec < avail

    def _other_records(self, cpu: _PerfCpu, tail: int, raw: bytes) -> int:
        """Lost-sample records (counted) and any other kind (skipped) up to the next sample."""
        import struct

        pos = lost = 0
        while pos < len(raw):
            kind, _misc, rec = struct.unpack_from("<IHH", raw, pos)
            if kind == _PERF_SAMPLE and pos:
                break
            if rec < 8:  # a corrupt header: give the whole read back rather than loop
                pos = len(raw)
                break
            if kind == _PERF_LOST:
                lost += struct.unpack_from("<Q", raw, pos + 16)[0]
            pos += rec
        self._commit(((cpu.tail, "value", tail + pos),), _EMPTY, _EMPTY, lost=lost)
        return pos


def _mismatch(kind: int, size: int, rec: int) -> bool:
    """Not a sample of ``rec`` bytes (the one Python call per record of a mixed run)."""
    return kind != _PERF_SAMPLE or size != rec


# ---- several maps at once ------------------------------------------------------------------


def poll_maps(callbacks: Mapping[Any, Callable[[Any], Any]], timeout_ms: int = 100,
              lost: Callable[[Any, int], Any] | None = None) -> int:
    """``bpfimport.poll({rb: on_rb, perf: on_perf}, timeout_ms)``: see docs/runtime.md."""
    _check_timeout(timeout_ms)
    if not hasattr(callbacks, "items"):
        raise TypeError(f"bpfimport.poll() takes a dict of event maps to callbacks "
                        f"({{rb: on_event, ...}}), got {type(callbacks).__name__}")
    pairs = [(_event_map(m), _checked_callback(cb)) for m, cb in callbacks.items()]
    if not pairs:
        raise TypeError("bpfimport.poll() takes a dict of event maps to callbacks; it is empty")
    if lost is not None:
        _checked_callback(lost)
    deadline = time.monotonic() + timeout_ms / 1000 if timeout_ms > 0 else None
    start = 0
    while True:
        readers = [m._open_reader() for m, _ in pairs]
        n = 0
        for j in range(len(pairs)):  # who goes first turns at each round
            i = (start + j) % len(pairs)
            m, cb = pairs[i]
            per_map = None if lost is None else _bind_lost(lost, m)
            n += readers[i].poll(cb, 0, per_map, deadline=deadline)
        start += 1
        if n or timeout_ms == 0 or not _wait_any(readers, deadline):
            return n


def events_of(maps: tuple[Any, ...], timeout_ms: int, pairs: bool) -> Iterator[Any]:
    """``m.events()`` and ``bpfimport.events(*maps)``: events until ``timeout_ms`` brings none.

    The arguments are checked now, not at the first ``next()``.
    """
    _check_timeout(timeout_ms)
    if not maps:
        raise TypeError("events() takes the event maps to read (ring buffers, perf arrays)")
    for m in maps:
        _event_map(m)
    return _events(maps, timeout_ms, pairs)


def _events(maps: tuple[Any, ...], timeout_ms: int, pairs: bool) -> Iterator[Any]:
    """The generator of :func:`events_of`.

    Each event is yielded with ``yield from`` over the reader's pending
    iterator: taking it and handing it over are one step that no signal
    handler splits.  Events taken and not yet yielded when the iteration
    stops stay pending for the next poll.
    """
    while True:
        readers = [m._open_reader() for m in maps]
        got = False
        for m, reader in zip(maps, readers):
            if reader.fill(0):
                got = True
                todo = islice(reader._pending, reader.pending())
                if pairs:
                    yield from zip(repeat(m), todo)
                else:
                    yield from todo
        if got:
            continue
        deadline = time.monotonic() + timeout_ms / 1000 if timeout_ms > 0 else None
        if timeout_ms == 0 or not _wait_any(readers, deadline) and not _has_any(readers):
            return


def _has_any(readers: list[EventReader]) -> bool:
    """Whether a reader has events after all (a wait that timed out just as one came)."""
    return any(r.fill(0) for r in readers)


def _wait_any(readers: list[EventReader], deadline: float | None) -> bool:
    """Until one of ``readers`` has data; each held meanwhile, so a close() frees none of them."""
    held: list[EventReader] = []
    try:
        for r in readers:
            if not r.enter():
                return False
            held.append(r)
        poller = select.poll()
        for r in readers:
            poller.register(r.epfd, select.POLLIN)
        return _wait_for(poller, readers, deadline)
    finally:
        for r in held:
            r.leave()


def _bind_lost(lost: Callable[[Any, int], Any], m: Any) -> Callable[[int], Any]:
    return lambda count: lost(m, count)


def _event_map(m: Any) -> Any:
    """``m`` if it is a ring buffer or perf event array handle."""
    kind = getattr(getattr(m, "spec", None), "map_kind", None)
    if not getattr(kind, "events", False) or not hasattr(m, "_open_reader"):
        raise TypeError(f"expected a RingBuffer or PerfEventArray map of a module, got {m!r}")
    return m


def _checked_callback(callback: Any) -> Callable[[Any], Any]:
    if not callable(callback):
        raise TypeError(f"poll() takes a callback called with each event, "
                        f"got {type(callback).__name__}")
    return callback


def _check_timeout(timeout_ms: Any) -> None:
    if isinstance(timeout_ms, bool) or not isinstance(timeout_ms, int):
        raise TypeError(f"timeout_ms must be an int (milliseconds; 0: do not wait, "
                        f"-1: wait forever), got {type(timeout_ms).__name__}")


__all__ = ["CHUNK", "SLICE", "WORKER", "EventReader", "PerfReader", "RingReader",
           "events_of", "open_reader", "poll_maps"]
