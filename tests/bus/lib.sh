# Helpers of the bus tests (on top of tests/integration/lib.sh): a hostile
# client, and napd's CPU time and memory from /proc.
. "$top_srcdir/tests/integration/lib.sh"

# Debian's python3 (python3-protobuf is installed for it), whatever is first in PATH.
PYTHON=${PYTHON:-$([ -x /usr/bin/python3 ] && echo /usr/bin/python3 || echo python3)}
hostile() { "$PYTHON" "$top_srcdir/tests/bus/hostile.py" "$SOCK" "$@"; }

# cpu_ms PID: user + system CPU time of a process so far, in ms.
cpu_ms() {
	awk -v hz="$(getconf CLK_TCK)" '{ print int(($14 + $15) * 1000 / hz) }' "/proc/$1/stat"
}

# rss_kib PID: resident memory of a process, in KiB.
rss_kib() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

# field_of "k=v k2=v2" KEY: the value of KEY (0 if absent).
field_of() {
	local kv
	for kv in $1; do
		[ "${kv%%=*}" = "$2" ] && { echo "${kv#*=}"; return; }
	done
	echo 0
}
