# shellcheck shell=bash
# Sourced by tests/e2e/examples.sh, readme.sh and reverse-proxy.sh, the suites that follow
# the documentation as a user would (from the checkout's top, after
# tests/e2e/sandbox-lib.sh), and nginx.sh: stand-ins for the registry images the
# documentation names (no registry is reachable in the sandbox), and the checks they share.

# nginx_rootfs DIR: Debian's nginx (binary and the libraries it links, from its package)
# laid out as the official docker.io/library/nginx image: its default configuration
# (`listen 80`, /usr/share/nginx/html), mime.types, a welcome page, the users it may
# switch to. Run the image with CMD `nginx -g 'daemon off;'`, as the official one does.
nginx_rootfs() {
    local n=$1 w lib
    w=$(mktemp -d -t rootlet-nginx-pkg.XXXXXX)
    ( cd "$w" && apt-get download nginx >/dev/null 2>&1 ) || { rm -rf "$w"; echo "cannot download Debian's nginx package" >&2; return 1; }
    dpkg -x "$w"/nginx_*.deb "$w/pkg"
    mkdir -p "$n"/{usr/sbin,etc/nginx,tmp,run,var/log/nginx,var/lib/nginx,var/cache/nginx,usr/share/nginx/html,lib64}
    cp "$w/pkg/usr/sbin/nginx" "$n/usr/sbin/"
    rm -rf "$w"
    for lib in $(ldd "$n/usr/sbin/nginx" | awk '/=>/{print $3} /ld-linux/{print $1}'); do
        mkdir -p "$n$(dirname "$lib")"; cp -L "$lib" "$n$lib"
    done
    chmod 1777 "$n/tmp"
    printf 'root:x:0:0:root:/root:/bin/sh\nnginx:x:101:101::/:/bin/false\nwww-data:x:33:33::/:/bin/false\nnobody:x:65534:65534::/:/bin/false\n' > "$n/etc/passwd"
    printf 'root:x:0:\nnginx:x:101:\nwww-data:x:33:\nnogroup:x:65534:\nnobody:x:65534:\n' > "$n/etc/group"
    printf 'types {\n    text/html html htm;\n    text/plain txt;\n}\n' > "$n/etc/nginx/mime.types"
    echo '<h1>Welcome to nginx!</h1>' > "$n/usr/share/nginx/html/index.html"
    printf 'events {}\nhttp {\n    include /etc/nginx/mime.types;\n    server { listen 80; root /usr/share/nginx/html; }\n}\n' > "$n/etc/nginx/nginx.conf"
}
# NGINX_CMD: the official image's command, for `podman import --change "CMD $NGINX_CMD"`.
# shellcheck disable=SC2034 # read by the suites that source this file
NGINX_CMD='["nginx","-g","daemon off;"]'

# no_failed_user_units: the test user's manager has no failed unit (they are listed).
no_failed_user_units() {
    local f; f=$(u systemctl --user list-units --failed --plain --no-legend)
    [ -z "$f" ] || { echo "$f"; return 1; }
}
