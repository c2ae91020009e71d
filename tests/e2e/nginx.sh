#!/bin/bash
# A real reverse proxy, socket-activated from rootlet's generated units in a real systemd
# 252 (e2e sandbox, lingering user `tester`, rootless podman): Debian's nginx (binary and
# libraries from its package, in a rootfs tarball imported as an image), nginx.socket +
# nginx.container with `Environment=NGINX=3;` and `Network=none`. A client connecting from
# 127.0.0.7 gets the page, and nginx logs the client's real address. Needs root.
# Everything the test user needs (binaries, the image tarball) is installed into the
# sandbox's root: the checkout may be somewhere it cannot read (see tests/e2e/sandbox-lib.sh).
# Prints one PASS/FAIL line per check and `N passed, N failed` at the end.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
REPO=$PWD
. tests/e2e/sandbox-lib.sh
. tests/e2e/journey-lib.sh
e2e_start nginx "${E2E_PODMAN_PKGS[@]}"
# --- the image: nginx from Debian's package (journey-lib.sh's stand-in), with a
# configuration of this test's: it listens on the socket's address, logs the client's.
nginx_rootfs "$W/nginx" || skip "cannot download Debian's nginx package"
cat > "$W/nginx/etc/nginx/nginx.conf" <<'CONF'
daemon off;
user root;
worker_processes 1;
pid /tmp/nginx.pid;
error_log stderr notice;
events { worker_connections 64; }
http {
    client_body_temp_path /tmp/body; proxy_temp_path /tmp/proxy; fastcgi_temp_path /tmp/fcgi;
    uwsgi_temp_path /tmp/uwsgi; scgi_temp_path /tmp/scgi;
    log_format real '$remote_addr "$request" $status';
    access_log /var/log/nginx/access.log real;
    server {
        listen 127.0.0.1:18095;
        location / { default_type text/plain; return 200 "hello from nginx, you are $remote_addr\n"; }
    }
}
CONF
mkdir -p "$W/srv/img" "$W/src"
tar -C "$W/nginx" -cf "$W/srv/img/nginx.tar" . || exit 1
cat > "$W/src/nginx.socket" <<'EOF2'
[Socket]
ListenStream=127.0.0.1:18095
[Install]
WantedBy=sockets.target
EOF2
cat > "$W/src/nginx.container" <<'EOF2'
[Unit]
Description=nginx, socket-activated
[Container]
Image=localhost/nginx
# Imported, never pulled: with no network to reach and nothing to pull, rootlet adds no
# wait for the network (a registry image would wait for it before its first pull).
Pull=never
Environment=NGINX=3;
Network=none
Volume=%h/nginx-logs:/var/log/nginx
Exec=/usr/sbin/nginx -c /etc/nginx/nginx.conf
EOF2
# The log directory the container's Volume= names, in the user's home.
echo 'mkdir -p "$H/nginx-logs"' > "$W/provision.sh"
# (no network: the container has none, and nothing waits for one)
e2e_boot nginx none || { echo "$PASS passed, $FAIL failed"; exit 1; }
check "nginx image imported (rootless podman)" u podman import -q /srv/img/nginx.tar localhost/nginx
check "nginx.socket listens at boot, container not running" eval '[ "$(u systemctl --user is-active nginx.socket)" = active ] && [ "$(u systemctl --user is-active nginx.service)" != active ]'
check "the page is served from 127.0.0.7, address preserved" eval 'o=$(sb exec curl -sS --max-time 60 --interface 127.0.0.7 http://127.0.0.1:18095/) && echo "$o" && [ "$o" = "hello from nginx, you are 127.0.0.7" ]'
check "nginx logged the client's real address" within 10 eval 'sb exec cat /home/tester/nginx-logs/access.log | grep -q "^127.0.0.7 .GET / HTTP/1.1. 200"'
check "nginx.service active, through the inherited socket" eval '[ "$(u systemctl --user is-active nginx.service)" = active ] && u journalctl --user -u nginx.service --no-pager | grep "using inherited sockets" >/dev/null'
check "stop removes the container" eval 'u systemctl --user stop nginx.service && ! u podman container exists systemd-nginx'
e2e_end
