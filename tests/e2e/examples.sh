#!/bin/bash
# Every shipped example, run as shipped, in a real systemd 252 with rootless podman 4.3.1
# (Debian 12's): one sandbox (tests/e2e/sandbox-lib.sh, as tests/e2e/run.sh) with a
# lingering user `tester` and rootlet installed with `make install DESTDIR=<sandbox root>`.
# The user copies `examples/` and `contrib/examples/*/` into
# ~/.config/containers/systemd/ as their READMEs say, starts them as they say (the
# services, and the proxies through their sockets), and every one must answer at once on
# its own port. `rootlet check` must also pass them for podman 5.
#
# No registry is reachable here, so the images the examples name are local stand-ins,
# imported under those names (the unit wiring, podman's flags, networks, volumes, health
# checks and inherited sockets are real; the programs are not):
#   docker.io/library/nginx:stable   Debian's nginx (binary and libraries), laid out as the
#                                    official image (mime.types, html/index.html, CMD)
#   httpd:2.4, traefik/whoami        the test server (tests/e2e/e2e-server.c) on port 80
#   postgres:16                      the test server on 5432, `pg_isready` answering 0
#   caddy:2.10, traefik:v3.3         the test server, which serves inherited sockets
#                                    (LISTEN_FDS) as these proxies do
#
#   tests/e2e/examples.sh          (needs root; skips loudly where it cannot run)
#
# Prints PASS/FAIL per check with its time, and `N passed, N failed` at the end.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
REPO=$PWD
. tests/e2e/sandbox-lib.sh
. tests/e2e/journey-lib.sh
need_sandbox
need_e2e podman uidmap slirp4netns busybox-static curl iproute2 dbus-user-session gcc libc6-dev make
T0=$EPOCHREALTIME
cargo build --release -q --bins || exit 1
exec 3>&1

W=$(mktemp -d -t rootlet-e2e-examples.XXXXXX)
export E2E_REPO=$REPO E2E_W=$W E2E_TARGETDIR=${CARGO_TARGET_DIR:-target}/release
E2E_NAME=$(e2e_name examples); export E2E_NAME
cleanup() { [ -n "${E2E_DEBUG:-}" ] && return; sb shutdown >/dev/null 2>&1; [ "$FAIL" = 0 ] && sb clean >/dev/null 2>&1; rm -rf "$W"; }
trap cleanup EXIT

# --- the stand-in images, as rootfs tarballs (imported by the test user)
e2e_rootfs "$W" || exit 1
mkdir -p "$W/img"
# image NAME: a copy of the busybox rootfs with the test server, as $W/img/NAME.tar
image() { local r=$W/img/$1; cp -a "$W/rootfs" "$r"; }
image server
image postgres
printf '#!/bin/sh\n# stand-in: the database is "ready" when its server runs\nexit 0\n' > "$W/img/postgres/usr/local/bin/pg_isready"
chmod 755 "$W/img/postgres/usr/local/bin/pg_isready"
# nginx: Debian's package, laid out like the official image
nginx_rootfs "$W/img/nginx" || skip "no nginx stand-in"
for i in server postgres nginx; do tar -C "$W/img/$i" -cf "$W/img/$i.tar" . || exit 1; done

cat > "$W/provision.sh" <<'EOF'
set -e
make -s -C "$E2E_REPO" install DESTDIR="$ROOT" PREFIX=/usr/local TARGETDIR="$E2E_TARGETDIR" >/dev/null
install -d "$ROOT/srv/img"
install -m644 "$E2E_W"/img/*.tar "$ROOT/srv/img/"
# The examples, as the user gets them with the checkout (readable by the test user).
mkdir -p "$ROOT/srv/rootlet/contrib"
cp -a "$E2E_REPO/examples" "$ROOT/srv/rootlet/examples"
cp -a "$E2E_REPO/contrib/examples" "$ROOT/srv/rootlet/contrib/examples"
chmod -R a+rX "$ROOT/srv"
# A default route at once, so that rootlet-wait-online does not wait.
ip link add veth0 type veth peer name veth1; ip addr add 192.0.2.2/24 dev veth0
ip link set veth1 up; ip link set veth0 up; ip route add default via 192.0.2.1 dev veth0
mkdir -p "$ROOT/home/$TEST_USER/.config/containers/systemd"
chroot "$ROOT" chown -R "$TEST_USER:" "/home/$TEST_USER"
EOF

echo "== booting $E2E_NAME"
if ! E2E_PROVISION=$W/provision.sh sb boot >"$W/boot.log" 2>&1; then
    FAIL=1; echo "FAIL boot: $(tail -3 "$W/boot.log")"; echo "0 passed, 1 failed"; exit 1
fi
sb wait-user >/dev/null 2>&1

Q=/home/tester/.config/containers/systemd
E=/srv/rootlet/examples
C=/srv/rootlet/contrib/examples
# get PORT: what the example on PORT answers to a client from 127.0.0.7 (the test server
# speaks no HTTP: --http0.9).
get() { sb exec curl -sS --http0.9 --max-time 30 --interface 127.0.0.7 "http://127.0.0.1:$1/"; }
is() { [ "$(prop ActiveState "$2")" = "$1" ]; }

echo "== stand-in images"
imp() { u podman import -q --change "CMD $2" --change 'ENV PATH=/usr/local/bin:/usr/sbin:/bin' "/srv/img/$1.tar" "$3" >/dev/null; }
check "images imported under the examples' names" eval '
    imp server "[\"/usr/local/bin/e2e-server\",\"80\"]" docker.io/library/httpd:2.4 &&
    imp server "[\"/usr/local/bin/e2e-server\",\"80\"]" docker.io/traefik/whoami:latest &&
    imp server "[\"/usr/local/bin/e2e-server\"]" docker.io/library/caddy:2.10 &&
    imp server "[\"/usr/local/bin/e2e-server\"]" docker.io/library/traefik:v3.3 &&
    imp postgres "[\"/usr/local/bin/e2e-server\",\"5432\"]" docker.io/library/postgres:16 &&
    imp nginx "$NGINX_CMD" docker.io/library/nginx:stable'

echo "== checked as shipped, for podman 4.3.1 (installed) and podman 5"
check "rootlet generate --dry-run examples/ (the README's first command) exits 0" \
    u sh -c "cd /srv/rootlet && rootlet generate --dry-run examples/ >/dev/null"
for d in "$E" "$C/nginx" "$C/caddy" "$C/traefik"; do
    check "rootlet check ${d#/srv/rootlet/} (podman 4.3.1)" u rootlet check "$d"
    check "rootlet check ${d#/srv/rootlet/} (podman 5.0.0)" u env ROOTLET_PODMAN_VERSION=5.0.0 rootlet check "$d"
done

echo "== copied in as the READMEs say, started"
check "cp examples and contrib pairs into ~/.config/containers/systemd" u sh -c \
    "cp $E/*.container $E/*.network $Q/ && cp $C/nginx/* $C/caddy/* $C/traefik/* $Q/"
# host_ports: "tcp PORT" / "udp PORT" for every PublishPort= and Listen*= of the sources.
host_ports() {
    u sh -c "cat $Q/*.container $Q/*.socket" | awk -F= '
        $1 == "PublishPort" { n = split($2, a, ":"); p = a[n - 1]; proto = ($2 ~ /\/udp$/) ? "udp" : "tcp"; print proto, p }
        $1 == "ListenStream" { n = split($2, a, ":"); print "tcp", a[n] }
        $1 == "ListenDatagram" { n = split($2, a, ":"); print "udp", a[n] }'
}
check "no two examples claim one host port (and none is the README's 8080)" eval '
    p=$(host_ports); echo "$p"; [ "$(echo "$p" | wc -l)" -ge 6 ] && [ -z "$(echo "$p" | sort | uniq -d)" ] && ! echo "$p" | grep -q " 8080$"'
check "daemon-reload" u systemctl --user daemon-reload
check "start app, whoami and the three proxies' sockets" \
    u systemctl --user start app.service whoami.service nginx.socket caddy.socket traefik.socket
check "app.service and db.service active (Requires=db.container)" within 60 eval 'is active app.service && is active db.service'
check "whoami.service active (the default rootless network)" within 60 is active whoami.service
check "app answers on 127.0.0.1:8082" within 30 eval 'get 8082 | grep -q "PEER="'
check "whoami answers on 8081" within 30 eval 'get 8081 | grep -q "PEER="'
check "db's health check passes (HealthCmd=)" within 30 u podman healthcheck run systemd-db
check "no proxy runs before its first connection" eval '! is active nginx.service && ! is active caddy.service && ! is active traefik.service'
check "nginx (contrib) serves the image's page through its socket on 8084" eval 'get 8084 | grep -q "Welcome to nginx"'
check "nginx logged the client's own address" within 20 eval 'u podman logs systemd-nginx 2>&1 | grep -q "^127.0.0.7 .*\"GET / HTTP/1.1\" 200"'
check "contrib nginx: its README's ~/www recipe serves the user's files" eval '
    u sh -c "mkdir -p ~/www && echo hello > ~/www/index.html && echo \"Volume=%h/www:/usr/share/nginx/html:ro,Z\" >> '"$Q"'/nginx.container && systemctl --user daemon-reload && systemctl --user restart nginx.service" &&
    [ "$(get 8084)" = hello ]'
check "caddy (contrib, stand-in) got both sockets, named, on 8443" eval 'get 8443 | grep -q "LISTEN_FDS=2 LISTEN_FDNAMES=https:https .*PEER=127.0.0.7:"'
check "traefik (contrib, stand-in) got the socket named web, on 8083" eval 'get 8083 | grep -q "LISTEN_FDS=1 LISTEN_FDNAMES=web .*PEER=127.0.0.7:"'
for s in app db whoami nginx caddy traefik; do
    check "$s.service: no restart" no_restart "$s.service"
done
check "no failed user unit" no_failed_user_units

finish_suite "$T0"
