#!/bin/bash
# `rootlet install --user` in a real systemd 252 (e2e sandbox, lingering user `tester`,
# no generator installed): the path unit regenerates units when sources appear, change or
# go away, a socket pair is wired and listening, a file rootlet did not write survives, and
# `rootlet uninstall --user` leaves the home directory as it was. Needs root.
# Prints one PASS/FAIL line per check and `N passed, N failed` at the end.
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
. scripts/sandbox-lib.sh
need_sandbox
cargo build --release -q --bin rootlet --bin rootlet-wait-online || exit 1
W=$(mktemp -d /var/tmp/rootlet-e2e-install.XXXXXX)
cat > "$W/provision.sh" <<EOF2
set -e
install -m755 $REPO/target/release/rootlet $REPO/target/release/rootlet-wait-online \$ROOT/usr/local/bin/
EOF2
export E2E=/var/tmp/rootlet-e2e-install-sb E2E_NAME=install-user
u() { sb user "$@"; }
prop() { u systemctl --user show -P "$1" "$2"; }

E2E_PROVISION=$W/provision.sh sb boot 2>/dev/null || { echo "FAIL boot"; echo "0 passed, 1 failed"; exit 1; }
trap 'sb shutdown >/dev/null 2>&1; rm -rf "$W"' EXIT
sb wait-user >/dev/null 2>&1
H=/home/tester
sb exec sh -c "cd $H && find . | sort" > "$W/before"

check "install --user succeeds without root" u rootlet install --user
check "the path unit is active" within 5 sh -c "[ \"\$($SANDBOX user systemctl --user is-active rootlet-regenerate.path </dev/null)\" = active ]"
check "rootlet doctor in the real session: user manager, bus, linger, rootlet installed" \
    u sh $REPO/tests/doctor-fixtures/expect-ok.sh /usr/local/bin/rootlet \
    session.runtime-dir session.manager session.bus linger subid.subuid cgroup.v2 \
    rootlet.generator rootlet.wait-unit rootlet.sources
u mkdir -p $H/.config/containers/systemd
u sh -c "printf '[Container]\nImage=localhost/none\n' > $H/.config/containers/systemd/web.container"
check "a new source becomes a unit, no daemon-reload typed" within 10 sh -c "[ \"\$($SANDBOX user systemctl --user show -P LoadState web.service </dev/null)\" = loaded ]"
check "the unit lives in ~/.local/share/systemd/user" sh -c "[ \"\$($SANDBOX user systemctl --user show -P FragmentPath web.service </dev/null)\" = $H/.local/share/systemd/user/web.service ]"
u sh -c "printf '[Container]\nImage=localhost/none\nEnvironment=EDITED=1\n' > $H/.config/containers/systemd/web.container"
check "an edit is picked up" within 10 sh -c "$SANDBOX user systemctl --user cat web.service </dev/null | grep -q -- '--env EDITED=1'"
u sh -c "printf '[Socket]\nListenStream=127.0.0.1:18090\n\n[Install]\nWantedBy=sockets.target\n' > $H/.config/containers/systemd/echo.socket; printf '[Container]\nImage=localhost/none\nNetwork=none\n' > $H/.config/containers/systemd/echo.container"
check "a new socket pair is wired and listening" within 10 sh -c "$SANDBOX exec ss -ltn </dev/null | grep -q '127.0.0.1:18090 ' && $SANDBOX user systemctl --user show -P Requires echo.service </dev/null | grep -q echo.socket" || {
    u systemctl --user status echo.socket rootlet-regenerate.service --no-pager; u ls -la $H/.local/share/systemd/user $H/.local/share/systemd/user/sockets.target.wants; u journalctl --user -u rootlet-regenerate.service --no-pager | tail -20; }
u sh -c "printf '[Service]\nExecStart=/bin/true\n' > $H/.local/share/systemd/user/foo.service"
u rm $H/.config/containers/systemd/web.container
check "a removed source removes its unit" within 10 sh -c "[ \"\$($SANDBOX user systemctl --user show -P LoadState web.service </dev/null)\" = not-found ] && ! $SANDBOX exec test -e $H/.local/share/systemd/user/web.service </dev/null"
check "a file rootlet did not write survives" sb exec test -e $H/.local/share/systemd/user/foo.service
u systemctl --user stop echo.socket >/dev/null 2>&1
u rm -f $H/.local/share/systemd/user/foo.service
u rm -rf $H/.config/containers
check "uninstall --user succeeds" u rootlet uninstall --user
check "the path unit is gone" sh -c "[ \"\$($SANDBOX user systemctl --user show -P LoadState rootlet-regenerate.path </dev/null)\" = not-found ]"
sb exec sh -c "cd $H && find . | sort" > "$W/after"
check "the home directory is as it was before install" diff "$W/before" "$W/after"
echo "$PASS passed, $FAIL failed"
[ $FAIL = 0 ]
