#!/bin/bash
# Rootless Docker at linger boot in a real systemd 252, the network 25 s late, with and
# without `rootlet docker enable` (see ../shared/reference/docker/ROOTLESS-DOCKER.md for
# the measurements this reproduces).
#
#   tests/e2e/docker.sh [SCENARIO...]      (needs root; skips loudly where it cannot run)
#
# Debian 12's docker.io 20.10 (with containerd, runc, tini, passt) and Debian 13's
# rootlesskit 2.0.2 are fetched with apt-get download (a private apt configuration for
# trixie, the machine's own sources untouched) and unpacked into each sandbox's root only:
# nothing of Docker is installed on the host, and no daemon runs there.
#
# rootlesskit >= 2.3 treats pasta's failure as fatal (the field's "External interface not
# usable", then "Start request repeated too quickly"); no registry reachable here has it,
# so a small wrapper gives 2.0.2 that behaviour: it runs pasta's own set-up first and exits
# 1 when pasta fails, as 2.3 does. Everything else is real.
set -uo pipefail
# (With pipefail, `cmd | grep -q` fails when grep stops reading early and cmd gets SIGPIPE:
# the checks below let grep read everything instead.)
cd "$(dirname "$0")/../.." || exit 1
REPO=$PWD
. tests/e2e/sandbox-lib.sh
need_sandbox

DEBS=/var/cache/rootlet-debs
fetch() { # fetch SUITE PKG...: .debs into $DEBS/SUITE (a private apt configuration)
    local suite=$1; shift
    local d=$DEBS/$suite m o
    mkdir -p "$d" "$DEBS/apt-$suite/lists/partial"
    local have=1 p
    for p in "$@"; do ls "$d"/"${p}"_*.deb >/dev/null 2>&1 || have=0; done
    [ $have = 1 ] && return 0
    m=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null)
    [ -n "$m" ] || m=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null)
    [ -n "$m" ] || return 1
    echo "deb $m $suite main" > "$DEBS/apt-$suite/sources.list"
    o=(-o Dir::Etc::SourceList="$DEBS/apt-$suite/sources.list" -o Dir::Etc::SourceParts=/dev/null
       -o Dir::State::Lists="$DEBS/apt-$suite/lists" -o APT::Sandbox::User=root)
    apt-get "${o[@]}" update -qq >/dev/null 2>&1 || return 1
    (cd "$d" && apt-get "${o[@]}" download "$@" >/dev/null 2>&1)
}
fetch bookworm docker.io containerd runc tini passt || skip "cannot fetch docker.io from Debian 12"
fetch trixie rootlesskit || skip "cannot fetch rootlesskit 2.0.2 from Debian 13"
e2e_start docker busybox-static iproute2 uidmap slirp4netns iptables gcc libc6-dev make

# Unpacked once; each provision copies it into the sandbox root.
mkdir -p "$W/pkgroot" "$W/kit"
for deb in "$DEBS"/bookworm/*.deb; do
    case $deb in */rootlesskit_*) continue ;; esac
    dpkg-deb -x "$deb" "$W/pkgroot"
done
dpkg-deb -x "$DEBS"/trixie/rootlesskit_*.deb "$W/kit"
# A busybox image to import (docker import of a rootfs tar: no registry is reachable),
# and the page of the web server on the late network (/srv in the sandbox).
mkdir -p "$W/srv/img" "$W/srv/www"
tar -C "$R" -cf "$W/srv/img/bb.tar" . || exit 1
echo sandbox-net-ok > "$W/srv/www/index.html"

# The unit as dockerd-rootless-setuptool.sh install writes it (moby's current tool:
# Type=notify), for Debian's paths; pasta switched on as Docker's documentation says.
cat > "$W/docker.service" <<'EOF'
[Unit]
Description=Docker Application Container Engine (Rootless)
Documentation=https://docs.docker.com/go/rootless/

[Service]
Environment=PATH=/usr/local/lib/e2e-kit:/usr/share/docker.io/contrib:/sbin:/usr/sbin:/usr/local/bin:/usr/bin:/bin
ExecStart=/usr/share/docker.io/contrib/dockerd-rootless.sh
ExecReload=/bin/kill -s HUP $MAINPID
TimeoutSec=0
RestartSec=2
Restart=always
StartLimitBurst=3
StartLimitInterval=60s
LimitNOFILE=infinity
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity
Delegate=yes
Type=notify
NotifyAccess=all
KillMode=mixed

[Install]
WantedBy=default.target
EOF
printf '[Service]\nEnvironment=DOCKERD_ROOTLESS_ROOTLESSKIT_NET=pasta\nEnvironment=DOCKERD_ROOTLESS_ROOTLESSKIT_PORT_DRIVER=implicit\n' > "$W/pasta.conf"
# rootlesskit 2.3's behaviour on 2.0.2 (see the top of this file).
cat > "$W/rootlesskit-2.3" <<'EOF'
#!/bin/sh
case " $* " in
*" --net=pasta "*)
    # systemd's services ignore SIGPIPE; pasta 2023-03 refuses to spawn a command then.
    if ! env --default-signal=PIPE pasta --config-net -- true >/dev/null 2>&1; then
        echo "[rootlesskit:parent] error: failed to setup network (pasta): pasta failed with exit code 1" >&2
        exit 1
    fi ;;
esac
exec /usr/local/lib/rootlesskit-2.0.2/rootlesskit "$@"
EOF

# The suite's own part of the provisioning (after tests/e2e/provision.sh's: rootlet, the
# image, E2E_NET=none): Docker, and a network of its own, late by 25 s with a web server
# on it, which the shared provisioning has no kind of. NET=online (network-online.target
# pulled in, held back 25 s by late-net) or NET=never (late-net is a plain unit: nothing
# pulls network-online.target in); KIT=2.3 (the wrapper) or 2.0 (the real 2.0.2);
# ROOTLET=none|wait|exec: `rootlet docker enable` run as the user before boot.
cat > "$W/provision.sh" <<'EOF'
# /lib, /bin, /sbin are links to /usr here (merged /usr): keep them.
tar -C "$E2E_W/pkgroot" -cf - . | tar -C $ROOT -xf - --keep-directory-symlink
install -d $ROOT/usr/local/lib/rootlesskit-2.0.2 $ROOT/usr/local/lib/e2e-kit
install -m755 "$E2E_W/kit/usr/bin/rootlesskit" "$E2E_W/kit/usr/bin/rootlesskit-docker-proxy" $ROOT/usr/local/lib/rootlesskit-2.0.2/
ln -s ../rootlesskit-2.0.2/rootlesskit-docker-proxy $ROOT/usr/local/lib/e2e-kit/
if [ "$KIT" = 2.3 ]; then install -m755 "$E2E_W/rootlesskit-2.3" $ROOT/usr/local/lib/e2e-kit/rootlesskit
else ln -s ../rootlesskit-2.0.2/rootlesskit $ROOT/usr/local/lib/e2e-kit/rootlesskit; fi
# dockerd checks for ip_tables, built into this kernel (no /lib/modules here).
mkdir -p $ROOT/lib/modules/$(uname -r)
echo kernel/net/ipv4/netfilter/ip_tables.ko > $ROOT/lib/modules/$(uname -r)/modules.builtin
# The late network: a veth pair and a default route 25 s after boot, and a web server on it.
mkdir -p $S/multi-user.target.wants $S/network-online.target.wants
cat > "$S/late-net.service" <<'UNIT'
[Unit]
DefaultDependencies=no
After=basic.target
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sleep 25
ExecStart=/sbin/ip link add veth0 type veth peer name veth1
ExecStart=/sbin/ip addr add 192.0.2.2/24 dev veth0
ExecStart=/sbin/ip link set veth1 up
ExecStart=/sbin/ip link set veth0 up
ExecStart=/sbin/ip route add default via 192.0.2.1 dev veth0
ExecStart=/bin/busybox httpd -p 192.0.2.2:18099 -h /srv/www
UNIT
if [ "$NET" = online ]; then
    printf '[Unit]\nBefore=network-online.target\n[Install]\nWantedBy=network-online.target\n' >> $S/late-net.service
    ln -sf ../late-net.service $S/network-online.target.wants/
    ln -sf /lib/systemd/system/network-online.target $S/multi-user.target.wants/
else
    ln -sf ../late-net.service $S/multi-user.target.wants/
fi
U=$H/.config/systemd/user
mkdir -p $U/default.target.wants $U/docker.service.d
cp "$E2E_W/docker.service" $U/docker.service
ln -s ../docker.service $U/default.target.wants/docker.service
cp "$E2E_W/pasta.conf" $U/docker.service.d/override.conf
chroot $ROOT chown -R $TEST_USER: /home/$TEST_USER
find $U | sort > $ROOT/srv/units-before
case $ROOTLET in
wait) chroot --userspec=$TEST_USER $ROOT env HOME=/home/$TEST_USER PATH=/usr/local/bin:/usr/bin:/bin rootlet docker enable --no-reload ;;
exec) chroot --userspec=$TEST_USER $ROOT env HOME=/home/$TEST_USER PATH=/usr/local/bin:/usr/bin:/bin rootlet docker enable --exec --no-reload ;;
esac
EOF

boot() { export NET=$2 KIT=$3 ROOTLET=$4; e2e_boot "$1" none; } # boot NAME NET KIT ROOTLET
down() { e2e_down; }
# prop PROPERTY, is STATE: of docker.service (in place of the library's, which take a unit)
prop() { u systemctl --user show -P "$1" docker.service; }
is() { [ "$(prop ActiveState)" = "$1" ]; }
online_at() { sb exec systemctl show -P ActiveEnterTimestampMonotonic network-online.target; }
route_up() { sb exec ip route show default | grep veth0 >/dev/null; }
dock() { u env DOCKER_HOST=unix:///run/user/1500/docker.sock /usr/bin/docker "$@"; }
# The imported busybox reaches the server on the late interface.
reaches() {
    dock image inspect localhost/bb >/dev/null 2>&1 || dock import /srv/img/bb.tar localhost/bb >/dev/null || return 1
    dock run --rm localhost/bb busybox timeout 8 busybox wget -qO- http://192.0.2.2:18099/ | grep sandbox-net-ok >/dev/null
}
journal() { u journalctl --user -u docker.service --no-pager -o short-monotonic; }
restarts_none() { [ "$(prop NRestarts)" = 0 ]; }
in_journal() { u journalctl --user -u "$1" --no-pager | grep -- "$2" >/dev/null; }
failed_before_online() { local t; t=$(online_at); [ "${t:-0}" -gt "$(prop InactiveEnterTimestampMonotonic)" ]; }
started_after_online() { [ "$(prop ExecMainStartTimestampMonotonic)" -ge "$(online_at)" ]; }
disable_restores() {
    u rootlet docker disable --no-reload >/dev/null 2>&1 &&
    [ "$(sb exec sh -c 'find /home/tester/.config/systemd/user | sort')" = "$(sb exec cat /srv/units-before | sed 's|^.*/home/tester|/home/tester|')" ]
}
main_pid_waited() { local p; p=$(prop MainPID); u journalctl --user -u docker.service "_PID=$p" --no-pager | grep 'network-online.target is active' >/dev/null; }
runs_containers() {
    dock image inspect localhost/bb >/dev/null 2>&1 || dock import /srv/img/bb.tar localhost/bb >/dev/null || return 1
    dock run --rm localhost/bb busybox true
}
# (doctor exits 1 when it finds an error, as here: read its output, not its status)
doctor_says() { # doctor_says ID LEVEL
    local o; o=$(u env PATH=/usr/local/lib/e2e-kit:/usr/local/bin:/usr/bin:/bin rootlet doctor --json)
    grep "\"id\": \"$1\", \"level\": \"$2\"" <<<"$o" >/dev/null
}
doctor_sees_it() {
    local o; o=$(u env PATH=/usr/local/lib/e2e-kit:/usr/local/bin:/usr/bin:/bin rootlet doctor --json)
    grep '"id": "docker.pasta-running", "level": "error"' <<<"$o" >/dev/null
}
scenario() { echo "== $1"; }

# A. The field failure, reproduced: no rootlet, rootlesskit 2.3's pasta behaviour.
sA() {
    scenario "A without rootlet: pasta fails, systemd gives up, stays failed"
    boot a online 2.3 none || return
    check "docker.service gives up before the network (start limit)" within 60 is failed
    check "the journal says why" in_journal docker.service 'Start request repeated too quickly'
    check "network-online.target comes only after it gave up" within 60 failed_before_online
    check "pasta was the cause" in_journal docker.service 'External interface not usable'
    sleep 5
    check "and docker.service stays failed after it" is failed
    check "rootlet doctor says it failed (docker.state)" doctor_says docker.state error
    down
}

# B. rootlet docker enable: the daemon starts after the late network, containers reach it.
sB() {
    scenario "B rootlet docker enable: waits for the late network"
    boot b online 2.3 wait || return
    check "docker.service active after the late network" within 90 is active || journal | tail -20
    check "no restart" restarts_none
    check "started after network-online.target" started_after_online
    check "the unit's own Restart=always kept" eval '[ "$(prop Restart)" = always ]'
    check "a container reaches a server on the late interface" within 30 reaches
    check "rootlet docker disable leaves the unit directory as it was" disable_restores
    down
}

# C. The exec form: the process that waited becomes the daemon.
sC() {
    scenario "C rootlet docker enable --exec"
    boot c online 2.3 exec || return
    check "docker.service active after the late network" within 90 is active || journal | tail -20
    check "no restart" restarts_none
    check "Type=notify, satisfied by the daemon through the exec" eval '[ "$(prop Type)" = notify ]'
    check "no stale status of the wait" eval '! prop StatusText | grep waiting >/dev/null'
    check "the main pid is the one that waited" main_pid_waited
    check "the daemon's lines carry its own name in the journal" eval 'u journalctl --user -t dockerd-rootless.sh --no-pager | grep . >/dev/null'
    check "a container reaches a server on the late interface" within 30 reaches
    down
}

# D. Nothing pulls network-online.target in: the route fallback.
sD() {
    scenario "D nothing pulls network-online.target in"
    boot d never 2.3 wait || return
    check "docker.service active after the default route appears" within 90 is active || journal | tail -20
    check "no restart" restarts_none
    # By the wait's own identifier, not its unit: the line is its last before it exits, and
    # a journald that reads it after the process is gone (a loaded machine) cannot tell its
    # cgroup, so the entry has no _SYSTEMD_UNIT for `-u` to match; within: journald may
    # take a moment.
    check "the wait used the route" within 15 eval 'u journalctl --user -t rootlet-wait-online --no-pager | grep -- "default IPv4 route" >/dev/null'
    check "a container reaches a server on the late interface" within 30 reaches
    down
}

# E. rootlesskit 2.0.2 (Debian 13) with pasta: the silent failure, seen by doctor, and
# prevented by rootlet.
sE() {
    scenario "E rootlesskit 2.0.2: the silent failure"
    boot e online 2.0 none || return
    check "docker.service is active all the same" within 60 is active || journal | tail -20
    within 40 route_up
    check "the daemon runs containers" within 30 runs_containers
    check "but they have no network, even after the network is up" sh -c "! reaches"
    check "rootlet doctor reports it" doctor_sees_it
    down
    boot e2 online 2.0 wait || return
    check "with rootlet: active after the network" within 90 is active || journal | tail -20
    check "and its containers reach the network" within 30 reaches
    down
}

SCEN=("$@"); [ ${#SCEN[@]} -gt 0 ] || SCEN=(A B C D E)
for s in "${SCEN[@]}"; do "s$s"; done
e2e_end
