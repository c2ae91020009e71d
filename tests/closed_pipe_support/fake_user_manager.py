#!/usr/bin/python3
"""A stand-in for the user manager (org.freedesktop.systemd1 on the session bus) for
tests/it/closed_pipe.rs: `fake_user_manager.py ADDRESS LOG`.

It plays what `rootlet add|rm|list` ask: Reload, StartUnit, StopUnit, LoadUnit,
ResetFailedUnit, and the properties LoadState, ActiveState, SubState, Result and Job of a
unit (every unit is loaded and inactive until started). Every manager call is appended to
LOG, one line each (`Reload`, `StartUnit web.service`). It prints READY once it owns its
name.
"""
import sys

import dbus
import dbus.mainloop.glib
import dbus.service
from gi.repository import GLib

MGR = "org.freedesktop.systemd1.Manager"
PROPS = "org.freedesktop.DBus.Properties"
ROOT = "/org/freedesktop/systemd1"
ACTIVE = {}  # unit -> active?
UNITS = {}  # unit -> exported object


def log(line):
    with open(sys.argv[2], "a") as f:
        f.write(line + "\n")


def unit_path(name):
    return ROOT + "/unit/" + "".join(c if c.isalnum() else "_%02x" % ord(c) for c in name)


class Unit(dbus.service.Object):
    def __init__(self, conn, name):
        self.name = name
        super().__init__(conn, unit_path(name))

    @dbus.service.method(PROPS, in_signature="ss", out_signature="v")
    def Get(self, iface, prop):
        up = ACTIVE.get(self.name, False)
        return {
            "LoadState": "loaded",
            "ActiveState": "active" if up else "inactive",
            "SubState": "running" if up else "dead",
            "Result": "success",
            "Job": dbus.Struct((dbus.UInt32(0), dbus.ObjectPath("/")), signature="uo"),
        }[prop]


class Manager(dbus.service.Object):
    def load(self, name):
        if name not in UNITS:
            UNITS[name] = Unit(self.connection, name)
        return dbus.ObjectPath(unit_path(name))

    @dbus.service.method(MGR, in_signature="", out_signature="")
    def Reload(self):
        log("Reload")

    @dbus.service.method(MGR, in_signature="s", out_signature="o")
    def LoadUnit(self, name):
        return self.load(name)

    def job(self, method, name, up):
        log(method + " " + name)
        ACTIVE[name] = up
        self.load(name)
        return dbus.ObjectPath(ROOT + "/job/1")

    @dbus.service.method(MGR, in_signature="ss", out_signature="o")
    def StartUnit(self, name, mode):
        return self.job("StartUnit", name, True)

    @dbus.service.method(MGR, in_signature="ss", out_signature="o")
    def StopUnit(self, name, mode):
        return self.job("StopUnit", name, False)

    @dbus.service.method(MGR, in_signature="s", out_signature="")
    def ResetFailedUnit(self, name):
        log("ResetFailedUnit " + name)

    @dbus.service.method(PROPS, in_signature="ss", out_signature="v")
    def Get(self, iface, prop):
        return "252"


dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
conn = dbus.bus.BusConnection(sys.argv[1])
name = dbus.service.BusName("org.freedesktop.systemd1", conn)
Manager(conn, ROOT)
print("READY", flush=True)
GLib.MainLoop().run()
