# shellcheck shell=bash
# The provisioning every suite shares (tests/e2e/sandbox-lib.sh's e2e_boot gives it to
# tests/e2e/sandbox.sh as E2E_PROVISION): run as root before the boot, with ROOT=<sandbox
# root>, TEST_USER, and what e2e_start and e2e_boot exported (E2E_REPO, E2E_W,
# E2E_TARGETDIR, E2E_NET). It writes only under $ROOT:
#  - rootlet, as E2E_ROOTLET says: make (the default) as `make install` puts it
#    (TARGETDIR: make splits it on spaces, so it is given relative to the checkout unless
#    CARGO_TARGET_DIR moved it); user: its two programs in /usr/local/bin only, no
#    generator and no system-wide unit (a user without root, who runs `rootlet install
#    --user`); none: not at all (the suite installs it its own way, or not);
#  - the test server (/usr/local/bin/e2e-server), the busybox rootfs (/srv/rootfs, the test
#    user's) and its tarball for `podman import` (/srv/busybox.tar) when the suite made it;
#  - the suite's files for the sandbox, $E2E_W/srv/ -> /srv/ (readable by everyone, owned
#    by root: image tarballs in /srv/img/, copies of the checkout's files);
#  - the system's network, E2E_NET: online (a default route, network-online.target pulled
#    in and reached at once), late[:S] (the same, held back S s, 5 by default), route (a
#    default route, network-online.target never pulled in), late-route (never pulled in;
#    the default route appears after 3 s), boot (a default route at every boot, from a
#    system service before network-online.target, which it pulls in, as a machine's
#    network does: the other routes are set while provisioning, once, and are gone after
#    `sb reboot`), none (nothing);
#  - the suite's sources, $E2E_W/src/ -> ~/.config/containers/systemd, and its plain user
#    units, $E2E_W/user/ -> ~/.config/systemd/user (links kept: a unit's enable link too);
#  - then the suite's own provisioning, $E2E_W/provision.sh (sourced; H is the test user's
#    home under $ROOT), if it wrote one;
#  - last, the test user's home made its own.
set -e
case ${E2E_ROOTLET:-make} in
make) make -s -C "$E2E_REPO" install DESTDIR="$ROOT" PREFIX=/usr/local TARGETDIR="$E2E_TARGETDIR" >/dev/null ;;
user) (cd "$E2E_REPO" && install -m755 "$E2E_TARGETDIR/rootlet" "$E2E_TARGETDIR/rootlet-wait-online" "$ROOT/usr/local/bin/") ;;
none) ;;
*) echo "provision.sh: unknown E2E_ROOTLET=$E2E_ROOTLET" >&2; exit 1 ;;
esac
[ ! -e "$E2E_W/e2e-server" ] || install -m755 "$E2E_W/e2e-server" "$ROOT/usr/local/bin/e2e-server"
mkdir -p "$ROOT/srv"
if [ -d "$E2E_W/rootfs" ]; then cp -a "$E2E_W/rootfs" "$ROOT/srv/rootfs" && chroot "$ROOT" chown -R "$TEST_USER:" /srv/rootfs; fi
[ ! -e "$E2E_W/busybox.tar" ] || install -m644 "$E2E_W/busybox.tar" "$ROOT/srv/busybox.tar"
if [ -d "$E2E_W/srv" ]; then cp -a "$E2E_W/srv/." "$ROOT/srv/" && chmod -R a+rX "$ROOT/srv"; fi
S=$ROOT/etc/systemd/system
veth() { ip link add veth0 type veth peer name veth1; ip addr add 192.0.2.2/24 dev veth0
         ip link set veth1 up; ip link set veth0 up; }
# online UNIT EXEC [SERVICE-LINE]: network-online.target pulled in, reached after UNIT, a
# oneshot that runs EXEC.
online() { mkdir -p "$S/multi-user.target.wants" "$S/network-online.target.wants"
    printf '[Unit]\nDefaultDependencies=no\nBefore=network-online.target\n[Service]\nType=oneshot\n%sExecStart=%s\n[Install]\nWantedBy=network-online.target\n' "${3:+$3$'\n'}" "$2" > "$S/$1"
    ln -sf "../$1" "$S/network-online.target.wants/"
    ln -sf /lib/systemd/system/network-online.target "$S/multi-user.target.wants/"; }
case ${E2E_NET:?e2e_boot sets E2E_NET} in
online|late|late:*)
    veth; ip route add default via 192.0.2.1 dev veth0
    d=0; case $E2E_NET in late) d=5 ;; late:*) d=${E2E_NET#late:} ;; esac
    online e2e-online.service "/bin/sleep $d" ;;
route)
    veth; ip route add default via 192.0.2.1 dev veth0 ;;
late-route)
    veth
    mkdir -p "$S/multi-user.target.wants"
    printf '[Service]\nType=oneshot\nExecStart=/bin/sh -c "sleep 3; ip route add default via 192.0.2.1 dev veth0"\n[Install]\nWantedBy=multi-user.target\n' > "$S/e2e-route.service"
    ln -sf ../e2e-route.service "$S/multi-user.target.wants/" ;;
boot)
    online e2e-net.service "/bin/sh -ec 'ip link add veth0 type veth peer name veth1; ip addr add 192.0.2.2/24 dev veth0; ip link set veth1 up; ip link set veth0 up; ip route add default via 192.0.2.1 dev veth0'" RemainAfterExit=yes ;;
none) ;;
*) echo "provision.sh: unknown E2E_NET=$E2E_NET" >&2; exit 1 ;;
esac
H=$ROOT/home/$TEST_USER
if [ -d "$E2E_W/src" ]; then mkdir -p "$H/.config/containers/systemd" && cp -a "$E2E_W/src/." "$H/.config/containers/systemd/"; fi
if [ -d "$E2E_W/user" ]; then mkdir -p "$H/.config/systemd/user" && cp -a "$E2E_W/user/." "$H/.config/systemd/user/"; fi
# shellcheck disable=SC1091
[ ! -e "$E2E_W/provision.sh" ] || . "$E2E_W/provision.sh"
chroot "$ROOT" chown -R "$TEST_USER:" "/home/$TEST_USER"
