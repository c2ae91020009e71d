#!/bin/bash
# `rootlet install --user` in a real systemd 252 (e2e sandbox, lingering user `tester`,
# no generator installed): the path unit regenerates units when sources appear, change or
# go away, a socket pair is wired and listening, a file rootlet did not write survives, and
# `rootlet uninstall --user` leaves the home directory as it was. Needs root.
# Prints one PASS/FAIL line per check and `N passed, N failed` at the end.
# What the test user runs (rootlet, the doctor fixture) is installed into the sandbox's
# root: the checkout may be somewhere the test user cannot read (see tests/e2e/sandbox-lib.sh).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
REPO=$PWD
. tests/e2e/sandbox-lib.sh
e2e_start install-user "${E2E_PODMAN_PKGS[@]}"
# The doctor's fixture, for the test user.
install -Dm755 tests/doctor-fixtures/expect-ok.sh "$W/srv/rootlet-tests/expect-ok.sh"
# rootlet's programs only (E2E_ROOTLET=user, tests/e2e/provision.sh): no generator, no
# system-wide unit: the user installs rootlet for themselves. No network: nothing here
# needs one.
E2E_ROOTLET=user e2e_boot install-user none || { echo "$PASS passed, $FAIL failed"; exit 1; }
H=/home/tester
sb exec sh -c "cd $H && find . | sort" > "$W/before"

check "install --user succeeds without root" u rootlet install --user
check "the path unit is active" within 30 eval '[ "$(u systemctl --user is-active rootlet-regenerate.path)" = active ]'
check "rootlet doctor in the real session: user manager, bus, linger, rootlet installed" \
    u sh /srv/rootlet-tests/expect-ok.sh /usr/local/bin/rootlet \
    session.runtime-dir session.manager session.bus linger subid.subuid cgroup.v2 \
    rootlet.generator rootlet.wait-unit rootlet.sources
u mkdir -p $H/.config/containers/systemd
u sh -c "printf '[Container]\nImage=localhost/none\n' > $H/.config/containers/systemd/web.container"
check "a new source becomes a unit, no daemon-reload typed" within 30 eval '[ "$(prop LoadState web.service)" = loaded ]'
check "the unit lives in ~/.local/share/systemd/user" eval '[ "$(prop FragmentPath web.service)" = "$H/.local/share/systemd/user/web.service" ]'
u sh -c "printf '[Container]\nImage=localhost/none\nEnvironment=EDITED=1\n' > $H/.config/containers/systemd/web.container"
check "an edit is picked up" within 30 eval 'u systemctl --user cat web.service | grep -q -- "--env EDITED=1"'
u sh -c "printf '[Socket]\nListenStream=127.0.0.1:18090\n\n[Install]\nWantedBy=sockets.target\n' > $H/.config/containers/systemd/echo.socket; printf '[Container]\nImage=localhost/none\nNetwork=none\n' > $H/.config/containers/systemd/echo.container"
check "a new socket pair is wired and listening" within 30 eval 'sb exec ss -ltn | grep -q "127.0.0.1:18090 " && prop Requires echo.service | grep -q echo.socket' || {
    u systemctl --user status echo.socket rootlet-regenerate.service --no-pager; u ls -la $H/.local/share/systemd/user $H/.local/share/systemd/user/sockets.target.wants; u journalctl --user -u rootlet-regenerate.service --no-pager | tail -20; }
u sh -c "printf '[Service]\nExecStart=/bin/true\n' > $H/.local/share/systemd/user/foo.service"
u rm $H/.config/containers/systemd/web.container
check "a removed source removes its unit" within 60 eval '[ "$(prop LoadState web.service)" = not-found ] && ! sb exec test -e "$H/.local/share/systemd/user/web.service"' || {
    u systemctl --user status rootlet-regenerate.service rootlet-regenerate.path --no-pager; u ls -la "$H/.local/share/systemd/user"; u journalctl --user -u rootlet-regenerate.service --no-pager | tail -30; }
check "a file rootlet did not write survives" sb exec test -e $H/.local/share/systemd/user/foo.service
u systemctl --user stop echo.socket >/dev/null 2>&1
u rm -f $H/.local/share/systemd/user/foo.service
u rm -rf $H/.config/containers
check "uninstall --user succeeds" u rootlet uninstall --user
check "the path unit is gone" eval '[ "$(prop LoadState rootlet-regenerate.path)" = not-found ]'
sb exec sh -c "cd $H && find . | sort" > "$W/after"
check "the home directory is as it was before install" diff "$W/before" "$W/after"
e2e_end
