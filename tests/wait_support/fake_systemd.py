#!/usr/bin/python3
"""A stand-in for org.freedesktop.systemd1 on a private bus, for rootlet-wait-online's tests.

It plays only what the helper reads: Manager.Subscribe, Manager.LoadUnit, the properties
ActiveState and Job of the unit and SystemState of the manager, PropertiesChanged and
StartupFinished. A scenario is a timeline of states: `fake_systemd.py ADDRESS SCENARIO`.
It prints READY once it owns its name, and logs every call to stderr.

Hostile scenarios play a broken or malicious systemd: `no-reply-subscribe`,
`no-reply-loadunit` and `no-reply-get` never answer that call; `job-u` gives `Job` the
signature `(u)` (`job-u-active` too, of a running unit, and answers StartUnit/StopUnit); `huge-state` an ActiveState of 4 MB; `huge-error` answers LoadUnit with an
error whose text is 4 MB long and full of newlines; `slow` answers every call after 4.5 s.
"""
import sys

import dbus
import dbus.mainloop.glib
import dbus.service
from gi.repository import GLib

MGR = "org.freedesktop.systemd1.Manager"
UNIT = "org.freedesktop.systemd1.Unit"
PROPS = "org.freedesktop.DBus.Properties"
UNIT_PATH = "/org/freedesktop/systemd1/unit/network_2donline_2etarget"

# scenario -> list of (seconds, ActiveState, job?, SystemState)
SCENARIOS = {
    "active": [(0, "active", False, "running")],
    "flip": [(0, "inactive", True, "starting"), (0.3, "activating", True, "starting"),
             (0.6, "active", False, "starting")],
    "never": [(0, "inactive", False, "running")],
    "starting-then-never": [(0, "inactive", False, "starting"), (0.4, "inactive", False, "running")],
    "failed": [(0, "failed", False, "degraded")],
    "activating-forever": [(0, "activating", True, "starting")],
    # The target's job is dropped and queued again while the system starts (a network
    # service restarting), twice, before the target is reached.
    "flap": [(0, "activating", True, "starting"), (0.2, "inactive", False, "starting"),
             (0.4, "activating", True, "starting"), (0.6, "inactive", False, "starting"),
             (0.8, "active", False, "starting")],
    "no-reply-subscribe": [(0, "inactive", False, "running")],
    "no-reply-loadunit": [(0, "inactive", False, "running")],
    "no-reply-get": [(0, "inactive", False, "running")],
    "job-u": [(0, "inactive", False, "running")],
    # For `rootlet rm --force` (the user manager's client): a running unit whose Job is `(u)`.
    "job-u-active": [(0, "active", False, "running")],
    "huge-state": [(0, "inactive", False, "running")],
    "huge-error": [(0, "inactive", False, "running")],
    "slow": [(0, "inactive", False, "running")],
}
SLOW_MS = 4500
SCENARIO = None


def later(reply, *args):
    """Reply now, or after SLOW_MS in the `slow` scenario."""
    if SCENARIO != "slow":
        reply(*args)
        return
    def send():
        reply(*args)
        return False
    GLib.timeout_add(SLOW_MS, send)


class Unit(dbus.service.Object):
    def __init__(self, bus, path, props, iface):
        super().__init__(bus, path)
        self.props, self.iface = props, iface

    @dbus.service.method(PROPS, in_signature="ss", out_signature="v",
                         async_callbacks=("ok", "err"))
    def Get(self, iface, prop, ok, err):
        print(f"Get {iface} {prop}", file=sys.stderr, flush=True)
        if SCENARIO == "no-reply-get" and prop == "ActiveState":
            return  # never answered
        later(ok, self.props[prop])

    @dbus.service.signal(PROPS, signature="sa{sv}as")
    def PropertiesChanged(self, iface, changed, invalidated):
        pass


class Manager(Unit):
    @dbus.service.method(MGR, in_signature="", out_signature="", async_callbacks=("ok", "err"))
    def Subscribe(self, ok, err):
        print("Subscribe", file=sys.stderr, flush=True)
        if SCENARIO != "no-reply-subscribe":
            later(ok)

    @dbus.service.method(MGR, in_signature="s", out_signature="o", async_callbacks=("ok", "err"))
    def LoadUnit(self, name, ok, err):
        print(f"LoadUnit {name}", file=sys.stderr, flush=True)
        if SCENARIO == "no-reply-loadunit":
            return
        if SCENARIO == "huge-error":
            err(dbus.exceptions.DBusException("x\nrootlet-wait-online: forged\n" * 150000,
                                              name="org.freedesktop.systemd1.NoSuchUnit"))
            return
        later(ok, dbus.ObjectPath(UNIT_PATH))

    @dbus.service.method(MGR, in_signature="ss", out_signature="o")
    def StartUnit(self, name, mode):
        print(f"StartUnit {name}", file=sys.stderr, flush=True)
        return dbus.ObjectPath("/org/freedesktop/systemd1/job/7")

    @dbus.service.method(MGR, in_signature="ss", out_signature="o")
    def StopUnit(self, name, mode):
        print(f"StopUnit {name}", file=sys.stderr, flush=True)
        return dbus.ObjectPath("/org/freedesktop/systemd1/job/7")

    @dbus.service.signal(MGR, signature="tttttt")
    def StartupFinished(self, a, b, c, d, e, f):
        pass


def main():
    dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
    global SCENARIO
    address, scenario = sys.argv[1], sys.argv[2]
    SCENARIO = scenario
    bus = dbus.bus.BusConnection(address)
    steps = SCENARIOS[scenario]
    _, a, job, s = steps[0]
    job_val = lambda j: dbus.Struct((dbus.UInt32(7 if j else 0), dbus.ObjectPath("/org/freedesktop/systemd1/job/7" if j else "/")), signature="uo")
    unit = Unit(bus, UNIT_PATH, {"ActiveState": dbus.String(a), "Job": job_val(job),
                                 "LoadState": dbus.String("loaded"),
                                 "SubState": dbus.String("running")}, UNIT)
    if scenario in ("job-u", "job-u-active"):
        unit.props["Job"] = dbus.Struct((dbus.UInt32(0),), signature="u")
    if scenario == "huge-state":
        unit.props["ActiveState"] = dbus.String("x" * 4_000_000)
    mgr = Manager(bus, "/org/freedesktop/systemd1", {"SystemState": dbus.String(s)}, MGR)
    name = dbus.service.BusName("org.freedesktop.systemd1", bus)  # noqa: F841 (kept alive)

    def apply(step):
        _, a, job, s = step
        was_starting = mgr.props["SystemState"] == "starting"
        unit.props["ActiveState"] = dbus.String(a)
        unit.props["Job"] = job_val(job)
        mgr.props["SystemState"] = dbus.String(s)
        unit.PropertiesChanged(UNIT, {"ActiveState": dbus.String(a), "Job": job_val(job)}, [])
        if was_starting and s in ("running", "degraded"):
            mgr.StartupFinished(1, 2, 3, 4, 5, 6)
        print(f"state {a} job={job} system={s}", file=sys.stderr, flush=True)
        return False

    for step in steps[1:]:
        GLib.timeout_add(int(step[0] * 1000), apply, step)
    print("READY", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
