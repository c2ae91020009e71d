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
e2e_start examples "${E2E_PODMAN_PKGS[@]}"

# --- the stand-in images, as rootfs tarballs (imported by the test user from /srv/img)
mkdir -p "$W/img" "$W/srv/img"
# image NAME: a copy of the busybox rootfs with the test server, as $W/img/NAME.tar
image() { local r=$W/img/$1; cp -a "$W/rootfs" "$r"; }
image server
image postgres
printf '#!/bin/sh\n# stand-in: the database is "ready" when its server runs\nexit 0\n' > "$W/img/postgres/usr/local/bin/pg_isready"
chmod 755 "$W/img/postgres/usr/local/bin/pg_isready"
# nginx: Debian's package, laid out like the official image
nginx_rootfs "$W/img/nginx" || skip "no nginx stand-in"
for i in server postgres nginx; do tar -C "$W/img/$i" -cf "$W/srv/img/$i.tar" . || exit 1; done
# The examples, as the user gets them with the checkout (in /srv/rootlet, readable by the
# test user); the user's directory for them, empty.
mkdir -p "$W/srv/rootlet/contrib" "$W/src"
cp -a examples "$W/srv/rootlet/examples" && cp -a contrib/examples "$W/srv/rootlet/contrib/examples" || exit 1

echo "== booting $(e2e_name examples)"
# (a default route at once, so that rootlet-wait-online does not wait)
e2e_boot examples route || { echo "$PASS passed, $FAIL failed"; exit 1; }

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

e2e_end
