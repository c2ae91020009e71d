#!/bin/sh
# Hook for the real-systemd suite: run `rootlet doctor --json` (as the test user, in the
# sandbox, with the environment of a real login) and require each listed finding to be `ok`.
# Findings not listed may be anything, so a sandbox without, say, podman still passes.
#
#   tests/doctor-fixtures/expect-ok.sh /usr/local/bin/rootlet \
#       session.runtime-dir session.manager session.bus linger \
#       rootlet.generator rootlet.wait-unit rootlet.sources
#
# Exit status: 0 when all listed ids are ok, 1 otherwise (each offender printed on stderr),
# 2 when doctor printed no findings at all.
set -u
bin=$1
shift
out=$("$bin" doctor --json)
case $out in
'['*) ;;
*)
	echo "expect-ok: $bin doctor --json printed no findings" >&2
	exit 2
	;;
esac
# Plain sh, no grep: the sandbox's PATH may hold nothing else. One finding per line.
line_of() {
	printf '%s\n' "$out" | while IFS= read -r l; do
		case $l in
		*"{\"id\": \"$1\", "*) printf '%s\n' "$l" ;;
		esac
	done
}
fail=0
for id in "$@"; do
	l=$(line_of "$id")
	case $l in
	*"{\"id\": \"$id\", \"level\": \"ok\""*) ;;
	'')
		echo "expect-ok: $id is not ok: no finding $id" >&2
		fail=1
		;;
	*)
		echo "expect-ok: $id is not ok: $l" >&2
		fail=1
		;;
	esac
done
exit $fail
