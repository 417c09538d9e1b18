"""bashreadline's kernel side: every line an interactive bash reads, as readline() returns it.

A uretprobe on bash's ``readline`` sees the returned line (a user pointer, NULL at end of
input) in the reading process. The section names ``/bin/bash``; user space may attach the same
program to another binary or library (``attach(binary=...)``, bashreadline's ``-s``), and as
bcc does it keeps only processes named ``bash``, since a shared libreadline serves other
programs too.
"""

from bpfimport.lang import (
    Annotated,
    RingBuffer,
    c_char_p,
    comm,
    probe_read_user_str,
    struct,
    tgid,
    u32,
    uretprobe,
)


@struct
class Line:
    pid: u32 = 0
    text: Annotated[bytes, 80] = b""


events = RingBuffer(max_entries=256 * 1024)


@uretprobe("/bin/bash", "readline")
def on_readline(ctx, line: c_char_p) -> int:
    if not line:
        return 0
    name = comm()
    if name[0] != b"b" or name[1] != b"a" or name[2] != b"s" or name[3] != b"h" or name[4] != 0:
        return 0
    e = events.reserve(Line)
    if e:
        e.pid = tgid()
        probe_read_user_str(e.text, line)
        events.submit(e)
    return 0


LICENSE = "GPL"
