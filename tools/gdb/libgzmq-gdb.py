# libgzmq's gdb extension: the greenlets of a live process or a core file.
#
#   info greenlets        every greenlet of the selected thread's hub
#   greenlet bt ID|main   the backtrace of greenlet ID, unwound from the
#                         registers its last switch saved (a parked or ready
#                         greenlet); for the running one, plain `bt`
#
# `make install` puts this file where gdb's auto-load finds it for
# libgzmq.so (PREFIX/share/gdb/auto-load/LIBDIR/libgzmq.so.VERSION-gdb.py);
# for a program linked statically, or another prefix, load it by hand:
#   (gdb) source /usr/share/gdb/auto-load/usr/lib/libgzmq.so.0.1.0-gdb.py
#
# It reads libgzmq's private structs through their debug information
# (libgzmq is built with -g): the hub of a thread is the thread-local
# gz__tl_hub; its greenlets are the main one plus the list hub.greenlets.all.
# A switch (ctx_x86_64.S, ctx_aarch64.S) pushes the callee-saved registers
# and the return address on the greenlet's own stack and stores the stack
# pointer in gz_greenlet.ctx.sp: from there the saved registers are read,
# and a gdb unwinder hands them to gdb as the caller of frame 0 while
# `greenlet bt` runs, so gdb's own unwinding (DWARF CFI, inlined frames,
# symbols) does the rest. Builds with the ucontext switch are not supported.

import gdb
from gdb.unwinder import Unwinder

try:
    from gdb.unwinder import FrameId
except ImportError:  # gdb < 14: any object with sp and pc will do
    class FrameId:
        def __init__(self, sp, pc):
            self.sp = sp
            self.pc = pc

STATES = {
    "GZ_NEW": "new",
    "GZ_LATER": "started later",
    "GZ_READY": "ready",
    "GZ_RUNNING": "running",
    "GZ_PARKED": "parked",
    "GZ_DEAD": "dead",
}


class GreenletError(gdb.GdbError):
    pass


def _hub():
    try:
        hub = gdb.parse_and_eval("gz__tl_hub")
    except gdb.error as e:
        raise GreenletError(
            "libgzmq: cannot read gz__tl_hub (%s); is libgzmq loaded, "
            "with its debug information?" % e)
    if int(hub) == 0:
        raise GreenletError("libgzmq: this thread has no hub "
                            "(select the thread that runs greenlets)")
    return hub


def _field_offset(type_name, field):
    t = gdb.lookup_type(type_name)
    for f in t.fields():
        if f.name == field:
            return f.bitpos // 8
    raise GreenletError("libgzmq: %s has no field %s" % (type_name, field))


def _has_field(value, name):
    t = value.type.strip_typedefs()
    if t.code == gdb.TYPE_CODE_PTR:
        t = t.target().strip_typedefs()
    return any(f.name == name for f in t.fields())


def greenlets(hub):
    """The hub's main greenlet, then its started, live greenlets."""
    gtype = gdb.lookup_type("struct gz_greenlet").pointer()
    chars = gdb.lookup_type("char").pointer()
    off = _field_offset("struct gz_greenlet", "all")
    yield hub["main"].address
    head = hub["greenlets"]["all"].address
    node = head["next"]
    seen = 0
    while int(node) != int(head) and int(node) != 0:
        yield (node.cast(chars) - off).cast(gtype)
        node = node["next"]
        seen += 1
        if seen > 10_000_000:
            raise GreenletError("libgzmq: the greenlet list does not end")


def _is_main(g):
    return (int(g["flags"]) & 1) != 0  # GZ_G_MAIN


def name_of(g):
    if int(g["name"]):
        return g["name"].string()
    if _is_main(g):
        return "main"
    defname = g["defname"].string()
    return defname or "Greenlet-%d" % int(g["id"])


def parent_of(g):
    if not _has_field(g, "parent_id") or _is_main(g):
        return "-"
    pid = int(g["parent_id"])
    return "main" if pid == (1 << 64) - 1 else "%d" % pid


def state_of(g):
    s = str(g["state"])
    return STATES.get(s, s)


def waits_on(g):
    """What the greenlet waits on, when the library records it."""
    if str(g["state"]) != "GZ_PARKED":
        return ""
    if _has_field(g, "wait_kind") and int(g["wait_kind"]):
        what = g["wait_kind"].string()
        if _has_field(g, "wait_obj") and int(g["wait_obj"]):
            obj = g["wait_obj"]
            if what == "gz_join":  # a greenlet: say which
                other = obj.cast(gdb.lookup_type("struct gz_greenlet").pointer())
                what += " on %s" % name_of(other)
            else:
                what += " on 0x%x" % int(obj)
        return what
    return ""


def saved_registers(g):
    """The registers G's last switch saved, as (name, value) pairs."""
    sp = int(g["ctx"]["sp"])
    if sp == 0:
        raise GreenletError("libgzmq: greenlet %d has no saved context"
                            % int(g["id"]))
    arch = gdb.selected_frame().architecture().name()
    u64 = gdb.lookup_type("unsigned long").pointer()

    def word(off):
        return int(gdb.Value(sp + off).cast(u64).dereference())

    if arch.startswith("i386:x86-64"):
        # SAVE_AND_SWAP: [mxcsr/fpcw][r15][r14][r13][r12][rbx][rbp][ret]
        regs = [("r15", word(8)), ("r14", word(16)), ("r13", word(24)),
                ("r12", word(32)), ("rbx", word(40)), ("rbp", word(48)),
                ("rip", word(56)), ("rsp", sp + 64)]
    elif arch.startswith("aarch64"):
        # x19-x28 at 0..72, x29 (fp) at 80, x30 (lr) at 88; 176 bytes
        regs = [("x%d" % (19 + i), word(8 * i)) for i in range(10)]
        regs += [("x29", word(80)), ("x30", word(88)), ("pc", word(88)),
                 ("sp", sp + 176)]
    else:
        raise GreenletError("libgzmq: greenlet bt supports x86_64 and "
                            "aarch64, not %s" % arch)
    return regs


class GreenletUnwinder(Unwinder):
    """While `greenlet bt` runs: frame 0's caller is the saved greenlet."""

    def __init__(self):
        super().__init__("libgzmq greenlet")
        self.target = None

    def __call__(self, pending):
        if self.target is None or pending.level() != 0:
            return None
        pc_name = "rip" if "rip" in dict(self.target) else "pc"
        sp_name = "rsp" if pc_name == "rip" else "sp"
        info = pending.create_unwind_info(
            FrameId(pending.read_register(sp_name),
                    pending.read_register(pc_name)))
        for name, value in self.target:
            info.add_saved_register(name, gdb.Value(value).cast(
                pending.read_register(name).type))
        return info


_unwinder = GreenletUnwinder()
gdb.unwinder.register_unwinder(None, _unwinder, replace=True)


class InfoGreenlets(gdb.Command):
    """List the greenlets of the selected thread's hub: id, name, state,
    the greenlet that spawned it, and what it waits on. `*` marks the
    running one."""

    def __init__(self):
        super().__init__("info greenlets", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        hub = _hub()
        current = int(hub["current"])
        print("  %-6s %-24s %-13s %-6s %s" % ("Id", "Name", "State", "Parent",
                                             "Waits on"))
        n = 0
        for g in greenlets(hub):
            mark = "*" if int(g) == current else " "
            gid = "-" if _is_main(g) else "%d" % int(g["id"])
            print("%s %-6s %-24s %-13s %-6s %s" % (
                mark, gid, name_of(g), state_of(g), parent_of(g), waits_on(g)))
            n += 1
        print("%d greenlets (hub 0x%x)" % (n, int(hub)))


class GreenletPrefix(gdb.Command):
    """Commands on libgzmq's greenlets: greenlet bt ID."""

    def __init__(self):
        super().__init__("greenlet", gdb.COMMAND_STACK, prefix=True)


class GreenletBt(gdb.Command):
    """greenlet bt ID: the backtrace of greenlet ID (see `info greenlets`),
    unwound from the registers its last switch saved. Frame #0 is where the
    selected thread is; the greenlet's own frames follow it."""

    def __init__(self):
        super().__init__("greenlet bt", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        arg = arg.strip()
        want = None
        if arg != "main":
            try:
                want = int(arg, 0)
            except ValueError:
                raise GreenletError("usage: greenlet bt ID|main (an id from "
                                    "`info greenlets`)")
        hub = _hub()
        for g in greenlets(hub):
            if _is_main(g) if want is None else (
                    not _is_main(g) and int(g["id"]) == want):
                break
        else:
            raise GreenletError("libgzmq: no greenlet %s in this hub" % arg)
        if int(g) == int(hub["current"]):
            print("greenlet %s (%s) is running: this is the thread's own "
                  "stack" % (arg, name_of(g)))
            gdb.execute("bt", to_string=False)
            return
        print("greenlet %s (%s), %s:" % (arg, name_of(g), state_of(g)))
        _unwinder.target = saved_registers(g)
        gdb.invalidate_cached_frames()
        try:
            frame = gdb.newest_frame().older()
            level = 0
            while frame is not None:
                print(_describe(level, frame))
                level += 1
                frame = frame.older()
        finally:
            _unwinder.target = None
            gdb.invalidate_cached_frames()


def _describe(level, frame):
    name = frame.name() or "??"
    sal = frame.find_sal()
    where = ""
    if sal.symtab is not None:
        where = " at %s:%d" % (sal.symtab.filename, sal.line)
    else:
        lib = gdb.solib_name(frame.pc())
        if lib:
            where = " from %s" % lib
    return "#%-2d 0x%016x in %s ()%s" % (level, frame.pc(), name, where)


InfoGreenlets()
GreenletPrefix()
GreenletBt()
