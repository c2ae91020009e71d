#!/bin/bash
# A real reverse proxy, socket-activated from rootlet's generated units in a real systemd
# 252 (e2e sandbox, lingering user `tester`, rootless podman): Debian's nginx (binary and
# libraries from its package, in a rootfs tarball imported as an image), nginx.socket +
# nginx.container with `Environment=NGINX=3;` and `Network=none`. A client connecting from
# 127.0.0.7 gets the page, and nginx logs the client's real address. Needs root.
# Everything the test user needs (binaries, the image tarball) is installed into the
# sandbox's root: the checkout may be somewhere it cannot read (see tests/e2e/sandbox-lib.sh).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
REPO=$PWD
. tests/e2e/sandbox-lib.sh
need_sandbox
command -v podman >/dev/null || skip "podman is not installed"
cargo build --release -q --bin rootlet --bin rootlet-wait-online --bin rootlet-user-generator || exit 1
W=$(mktemp -d -t rootlet-e2e-nginx.XXXXXX)
trap 'rm -rf "$W"' EXIT
# --- the image: nginx from Debian's package, with the libraries it links
( cd "$W" && apt-get download nginx >/dev/null 2>&1 ) || skip "cannot download Debian's nginx package"
dpkg -x "$W"/nginx_*.deb "$W/pkg"
R=$W/rootfs; mkdir -p "$R"/{usr/sbin,etc/nginx,tmp,var/log/nginx,lib64}
cp "$W/pkg/usr/sbin/nginx" "$R/usr/sbin/"
for lib in $(ldd "$R/usr/sbin/nginx" | awk '/=>/{print $3} /ld-linux/{print $1}'); do
    mkdir -p "$R$(dirname "$lib")"; cp -L "$lib" "$R$lib"
done
chmod 1777 "$R/tmp"
echo 'root:x:0:0:root:/root:/bin/sh' > "$R/etc/passwd"; echo 'root:x:0:' > "$R/etc/group"
cat > "$R/etc/nginx/nginx.conf" <<'CONF'
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
tar -C "$R" -cf "$W/nginx.tar" .
# Paths reach the provisioning through its environment, never pasted into its text.
export E2E_REPO=$REPO E2E_BIN=${CARGO_TARGET_DIR:-$REPO/target}/release E2E_W=$W
cat > "$W/provision.sh" <<'EOF2'
set -e
install -m755 "$E2E_BIN/rootlet" "$E2E_BIN/rootlet-wait-online" "$ROOT/usr/local/bin/"
install -Dm755 "$E2E_BIN/rootlet-user-generator" "$ROOT/usr/local/lib/systemd/user-generators/rootlet-user-generator"
install -d "$ROOT/usr/local/lib/systemd/user"
sed 's|@bindir@|/usr/local/bin|' "$E2E_REPO/units/rootlet-wait-online.service.in" > "$ROOT/usr/local/lib/systemd/user/rootlet-wait-online.service"
install -Dm644 "$E2E_W/nginx.tar" "$ROOT/usr/local/share/rootlet-tests/nginx.tar"
Q=$ROOT/home/$TEST_USER/.config/containers/systemd
mkdir -p "$Q" "$ROOT/home/$TEST_USER/nginx-logs"
cat > "$Q/nginx.socket" <<'EOT'
[Socket]
ListenStream=127.0.0.1:18095
[Install]
WantedBy=sockets.target
EOT
cat > "$Q/nginx.container" <<'EOT'
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
EOT
chroot "$ROOT" chown -R "$TEST_USER:" "/home/$TEST_USER"
EOF2
E2E_NAME=$(e2e_name nginx); export E2E_NAME
E2E_PROVISION=$W/provision.sh sb boot >"$W/boot.log" 2>&1 || { echo "FAIL boot: $(tail -3 "$W/boot.log")"; echo "0 passed, 1 failed"; sb shutdown >/dev/null 2>&1; exit 1; }
# Logs stay (under $E2E/state/) only when a check failed.
[ "${KEEP:-0}" = 1 ] || trap 'sb shutdown >/dev/null 2>&1; [ "$FAIL" = 0 ] && sb clean >/dev/null 2>&1; rm -rf "$W"' EXIT
sb wait-user >/dev/null 2>&1
check "nginx image imported (rootless podman)" u podman import -q /usr/local/share/rootlet-tests/nginx.tar localhost/nginx
check "nginx.socket listens at boot, container not running" eval '[ "$(u systemctl --user is-active nginx.socket)" = active ] && [ "$(u systemctl --user is-active nginx.service)" != active ]'
check "the page is served from 127.0.0.7, address preserved" eval 'o=$(sb exec curl -sS --max-time 60 --interface 127.0.0.7 http://127.0.0.1:18095/) && echo "$o" && [ "$o" = "hello from nginx, you are 127.0.0.7" ]'
check "nginx logged the client's real address" within 10 eval 'sb exec cat /home/tester/nginx-logs/access.log | grep -q "^127.0.0.7 .GET / HTTP/1.1. 200"'
check "nginx.service active, through the inherited socket" eval '[ "$(u systemctl --user is-active nginx.service)" = active ] && u journalctl --user -u nginx.service --no-pager | grep "using inherited sockets" >/dev/null'
check "stop removes the container" eval 'u systemctl --user stop nginx.service && ! u podman container exists systemd-nginx'
echo "$PASS passed, $FAIL failed"
[ $FAIL = 0 ]
