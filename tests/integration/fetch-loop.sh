# fetch-loop.sh: a client that keeps looking an app's endpoints up and
# fetching from one of them, counting the rounds where none answered: what
# "a redeploy (or a move) without a failed request" is measured with.
# Sourced by tests/integration/lib.sh and by bench/heal.sh.
#
#   fetch_loop_start DIR SECONDS NAPC SOCKET APP
#       starts it in the background (FETCH_PID), every 50 ms, until
#       fetch_loop_stop or SECONDS have passed. NAPC is napc's path.
#   fetch_loop_stop
#       ends it and sets FETCHED (rounds) and FETCH_FAILS (rounds where no
#       endpoint answered).

fetch_loop_start() {
	local dir=$1 limit=$2 napc=$3 sock=$4 app=$5
	FETCH_DIR=$dir
	rm -f "$dir/fetch.stop" "$dir/fetch.result"
	(
		n=0 fails=0 end=$(($(date +%s) + limit))
		while [ ! -e "$dir/fetch.stop" ] && [ "$(date +%s)" -lt "$end" ]; do
			n=$((n + 1)) got=0
			# the first column: an app with several ports adds a second
			for u in $("$napc" --socket "$sock" endpoints "$app" | awk '{print $1}'); do
				curl -sf --max-time 2 "$u" >/dev/null && {
					got=1
					break
				}
			done
			[ $got = 1 ] || fails=$((fails + 1))
			sleep 0.05
		done
		echo "$n $fails" >"$dir/fetch.result"
	) &
	FETCH_PID=$!
}

fetch_loop_stop() {
	touch "$FETCH_DIR/fetch.stop"
	wait "$FETCH_PID"
	FETCH_PID=
	read -r FETCHED FETCH_FAILS <"$FETCH_DIR/fetch.result"
}
