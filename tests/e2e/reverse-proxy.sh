#!/bin/bash
# The socket-activated reverse proxy of examples/reverse-proxy/ (README "Socket-activated
# reverse proxy"), end to end in a real systemd 252 with rootless podman 4.3.1 as the
# lingering user `tester`: one sandbox booted with E2E_DISK=1 (tests/e2e/sandbox.sh), the
# example added with `rootlet add` as the README says, then a REBOOT, so that what runs
# is what the linger boot started:
#  - front.socket (nginx's) and backend-b.socket listen, backend-a runs, nothing else;
#  - a request through nginx reaches backend-a; nginx saw the client's own address (its
#    log and its answer), backend-a got it in X-Real-IP, its own peer is not the client;
#  - a request for backend-b starts it (proxy mode) and is answered, not refused; it stops
#    after its IdleStopSec= and the next request starts it again;
#  - `systemctl --user stop` of the sockets leaves nothing of them running.
#
#   tests/e2e/reverse-proxy.sh      (needs root; skips loudly where it cannot run)
#
# No registry is reachable here, so the images the example names are local stand-ins
# imported under those names (see tests/e2e/examples.sh):
#   docker.io/library/nginx:stable   Debian's nginx, laid out as the official image
#   docker.io/traefik/whoami:latest  busybox httpd with a CGI that answers as whoami does
#                                    (RemoteAddr, X-Real-Ip, X-Forwarded-For)
#   docker.io/library/busybox:stable the busybox rootfs (httpd included)
#
# Prints PASS/FAIL per check with its time, and `N passed, N failed` at the end.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
REPO=$PWD
. tests/e2e/sandbox-lib.sh
. tests/e2e/journey-lib.sh
e2e_start rproxy "${E2E_PODMAN_PKGS[@]}"

# --- the stand-in images, as rootfs tarballs (imported by the test user from /srv/img)
mkdir -p "$W/img" "$W/srv/img"
cp -a "$W/rootfs" "$W/img/busybox" && ln -s busybox "$W/img/busybox/bin/httpd"
cp -a "$W/img/busybox" "$W/img/whoami" && mkdir -p "$W/img/whoami/www/cgi-bin"
cat > "$W/img/whoami/www/cgi-bin/index.cgi" <<'EOF'
#!/bin/sh
# stand-in for traefik/whoami: what the request came with
printf 'Content-Type: text/plain\r\n\r\n'
echo "RemoteAddr: $REMOTE_ADDR:$REMOTE_PORT"
echo "X-Real-Ip: $HTTP_X_REAL_IP"
echo "X-Forwarded-For: $HTTP_X_FORWARDED_FOR"
EOF
chmod 755 "$W/img/whoami/www/cgi-bin/index.cgi"
nginx_rootfs "$W/img/nginx" || skip "no nginx stand-in"
for i in busybox whoami nginx; do tar -C "$W/img/$i" -cf "$W/srv/img/$i.tar" . || exit 1; done
# The example as the user gets it with the checkout (/srv/rootlet, readable by the test
# user); the user's directory for the sources, empty.
mkdir -p "$W/srv/rootlet/examples" "$W/src"
cp -a examples/reverse-proxy "$W/srv/rootlet/examples/reverse-proxy" || exit 1

echo "== booting $(e2e_name rproxy)"
# (tests/e2e/provision.sh, once before the first boot: rootlet as `make install` puts it,
# the files above, and a default route at every boot (NET=boot, a system service, as on a
# machine), so that rootlet-wait-online does not wait. On a disk: `sb reboot` keeps it.)
E2E_DISK=1 e2e_boot rproxy boot || { echo "$PASS passed, $FAIL failed"; exit 1; }

# shellcheck disable=SC2034 # read by the checks (eval)
Q=/home/tester/.config/containers/systemd
E=/srv/rootlet/examples/reverse-proxy
is() { [ "$(prop ActiveState "$2")" = "$1" ]; }
# get PATH: nginx's answer to a client from 127.0.0.7 (a cold start of backend-b included).
get() { sb exec curl -sS --max-time 150 --interface 127.0.0.7 "http://127.0.0.1:8090$1"; }
# running: the names of the test user's containers, sorted, on one line.
running() { u podman ps -a --format '{{.Names}}' | sort | tr '\n' ' ' | sed 's/ $//'; }
# only NAMES: exactly these containers exist, and no podman/conmon runs for another.
only() { local r; r=$(running); [ "$r" = "$1" ] || { echo "containers: '$r'"; return 1; }; }
frontlog() { u podman logs systemd-front 2>&1; }

echo "== before the reboot: stand-in images, the example checked and added"
# whoami's stand-in: httpd, under a shell that ends on SIGTERM (PID 1 without a handler
# ignores it); the official image's program handles it itself.
# shellcheck disable=SC2034 # read by the check below (eval)
WHOAMI_CMD='["/bin/sh","-c","trap '"'exit 0'"' TERM; httpd -f -p 80 -h /www \u0026 wait"]'
imp() { u podman import -q --change "CMD $2" --change 'ENV PATH=/usr/local/bin:/usr/sbin:/bin' "/srv/img/$1.tar" "$3" >/dev/null; }
check "images imported under the example's names" eval '
    imp nginx "$NGINX_CMD" docker.io/library/nginx:stable &&
    imp whoami "$WHOAMI_CMD" docker.io/traefik/whoami:latest &&
    imp busybox "[\"sh\"]" docker.io/library/busybox:stable'
check "rootlet check examples/reverse-proxy (podman 4.3.1)" u rootlet check "$E"
check "rootlet check examples/reverse-proxy (podman 5.0.0)" u env ROOTLET_PODMAN_VERSION=5.0.0 rootlet check "$E"
check "rootlet add examples/reverse-proxy (the README's install) copies the sources and their files" eval '
    u rootlet add "$E" &&
    for f in front.container front.nginx.conf backend-a.container backend-b.container backend-b.html; do
        sb exec cmp "$E/$f" "$Q/$f" || exit 1; done'
check "rootlet doctor: no privileged port, systemd-socket-proxyd there" eval '
    out=$(u rootlet doctor --json 2>&1); echo "$out" | grep -q "\"id\": \"socket.proxyd\", \"level\": \"ok\"" &&
    ! echo "$out" | grep -q "\"id\": \"ports.privileged\", \"level\": \"error\"" || { echo "$out" | grep -E "proxyd|ports"; false; }'

# The README's commands after `rootlet add`, as the user runs them.
check "the README's start command: front.socket, backend-b.socket, backend-a.service" \
    u systemctl --user start front.socket backend-b.socket backend-a.service
check "the README's curl http://localhost:8090/a/ answers (backend-a)" within 60 eval '
    u curl -sS --max-time 150 http://localhost:8090/a/ | grep -q "^X-Real-Ip: "'
check "the README's curl http://localhost:8090/b/ answers (backend-b, started by it)" eval '
    [ "$(u curl -sS --max-time 150 http://localhost:8090/b/)" = "hello from backend-b (busybox httpd, started on demand)" ]'
check "all stopped again before the reboot" eval '
    u systemctl --user stop front.socket backend-b.socket backend-a.service && within 60 only ""'

echo "== reboot (the linger boot starts what the example asks for)"
check "reboot: a clean poweroff, a new PID 1 on the same disk" sb reboot
sb wait-user >/dev/null 2>&1

echo "== after the linger boot"
check "front.socket and backend-b.socket listen (WantedBy=sockets.target)" within 60 eval '
    is active front.socket && is active backend-b.socket &&
    sb exec ss -Htln "sport = :8090" | grep -q "0.0.0.0:8090" && sb exec ss -Htln "sport = :8092" | grep -q "127.0.0.1:8092"'
check "backend-a runs ([Install] WantedBy=default.target)" within 120 is active backend-a.service ||
    u journalctl --user -b -u backend-a.service --no-pager | tail -20
check "nothing else runs: no nginx, no backend-b, no proxy" eval '
    is inactive front.service && is inactive backend-b.service && is inactive backend-b-proxy.service &&
    only systemd-backend-a'

reply=$(get /)
check "the first connection starts nginx, which answers with the client's own address: $reply" \
    eval 'grep -q "you are 127.0.0.7$" <<<"$reply" && is active front.service'
reply=$(get /a/)
printf '   backend-a answered:\n%s\n' "$(sed 's/^/     /' <<<"$reply")"
check "a request through nginx reaches backend-a, which got the client's address in X-Real-Ip and X-Forwarded-For" \
    eval 'grep -qx "X-Real-Ip: 127.0.0.7" <<<"$reply" && grep -qx "X-Forwarded-For: 127.0.0.7" <<<"$reply"'
check "backend-a's own peer is not the client (nginx, through podman's port forwarder)" \
    eval 'grep -q "^RemoteAddr: [[0-9]" <<<"$reply" && ! grep "^RemoteAddr:" <<<"$reply" | grep -q "127\.0\.0\.7"'
check "nginx logged the client's own address for both requests" within 20 eval '
    frontlog | grep -q "^127.0.0.7 \"GET / HTTP/1.1\" 200" && frontlog | grep -q "^127.0.0.7 \"GET /a/ HTTP/1.1\" 200 upstream=127.0.0.1:8091"'
check "backend-b is still not running" eval 'is inactive backend-b.service && only "systemd-backend-a systemd-front"'

reply=$(get /b/)
check "the first request for backend-b starts it and is answered (not refused): $reply" \
    eval '[ "$reply" = "hello from backend-b (busybox httpd, started on demand)" ]'
check "backend-b.service and backend-b-proxy.service active, its container running" \
    eval 'is active backend-b.service && is active backend-b-proxy.service && only "systemd-backend-a systemd-backend-b systemd-front"'
check "nginx logged the client's own address for it" within 20 eval '
    frontlog | grep -q "^127.0.0.7 \"GET /b/ HTTP/1.1\" 200 upstream=127.0.0.1:8092"'
# httpd -v logs each connection's peer: what backend-b saw (the proxy, as podman's port
# forwarder passes it on).
peer=$(u podman logs systemd-backend-b 2>&1 | head -3 | tr '\n' ' ')
printf '   backend-b (httpd -v) logged: %s\n' "$peer"
check "backend-b never saw the client's address (proxy mode)" eval '! grep -q "127.0.0.7" <<<"$peer"'
check "after IdleStopSec=30s without a connection backend-b stops; its socket stays" \
    eval 'within 150 eval "is inactive backend-b.service && is inactive backend-b-proxy.service" && is active backend-b.socket &&
          within 60 only "systemd-backend-a systemd-front"'
check "nginx and backend-a kept running" eval 'is active front.service && is active backend-a.service'
reply=$(get /b/)
check "the next request starts backend-b again and is answered: $reply" \
    eval '[ "$reply" = "hello from backend-b (busybox httpd, started on demand)" ] && is active backend-b.service'
for s in front backend-a backend-b backend-b-proxy; do
    check "$s.service: no restart" no_restart "$s.service"
done
check "backend-b.service never failed" eval '! u journalctl --user -b --no-pager -o cat -u backend-b.service | grep -q "Failed with result"'

check "systemctl --user stop front.socket backend-b.socket: nginx, backend-b and its proxy stop, only backend-a is left" \
    eval 'u systemctl --user stop front.socket backend-b.socket &&
          within 60 eval "is inactive front.service && is inactive backend-b.service && is inactive backend-b-proxy.service" &&
          within 60 only systemd-backend-a'
check "and stopping backend-a leaves nothing running" eval '
    u systemctl --user stop backend-a.service && within 60 only "" &&
    ! sb exec pgrep -u tester -f "conmon|podman run|systemd-socket-proxyd" >/dev/null'
check "no failed user unit" no_failed_user_units

e2e_end
