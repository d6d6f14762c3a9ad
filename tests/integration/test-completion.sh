#!/bin/bash
# napc's bash completion (contrib/completion/napc), sourced in bash with napc
# replaced by a shell function that prints a fake `napc ls`: commands,
# options and app names complete; make install-napc-completion installs it.
. "$(dirname "$0")/lib.sh"

COMPLETION="$top_srcdir/contrib/completion/napc"

# complete WORDS...: what completing the last word offers, sorted, one line.
complete_words() {
	bash --norc --noprofile -c '
		napc() {
			echo "$*" >>"$WORK/napc-args"
			printf "%-24s %-14s %-8s %-9s %s\n" APP STATE RELEASE INSTANCES ENDPOINTS \
				hello running 3 2 2 hello-api degraded 1 1 0 web stopped 2 0 0
		}
		. "$COMPLETION" || exit 1
		COMP_WORDS=("$@")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		COMP_LINE="$*"
		COMP_POINT=${#COMP_LINE}
		_napc napc "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
		printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " "
	' complete "$@"
}
export WORK COMPLETION
# expect "WHAT" "EXPECTED" WORDS...
expect() {
	local what=$1 want=$2
	shift 2
	local got
	got=$(complete_words "$@")
	ok "$what: '$*' offers '$want'" test "$got" = "$want"
	[ "$got" = "$want" ] || echo "#   got '$got'"
}

ok "the completion is valid bash" bash -n "$COMPLETION"
ok "sourcing it registers a completion for napc" \
	bash --norc -c ". '$COMPLETION' && complete -p napc | grep -q _napc"
expect "a command" "deploy destroy " napc de
expect "every command" "check deploy destroy dial-stdio endpoints env export help import logs ls ping plugins rollback scale start status stop " napc ""
expect "a global option" "--socket " napc --so
expect "--host" "--help --host " napc --h
expect "--host's schemes" "ssh:// unix:/// " napc --host ""
expect "dial-stdio's option" "--socket " napc dial-stdio --
expect "an app name" "hello hello-api " napc status hel
expect "an app name after a global option" "web " napc --json logs w
expect "an app name for deploy (a redeploy)" "hello-api " napc deploy hello-
expect "deploy's options" "--check-http --env --instances --memory --ready-timeout --scheduler " napc deploy hello --
expect "check's options" "--failures --http --interval --ready-timeout --tcp " napc check hello --
expect "nothing after an option that takes a value" " " napc deploy hello . --memory ""
expect "no app name for scale's count" " " napc scale hello ""
expect "import's option" "--force " napc import --f
rm -f "$WORK/napc-args"
complete_words napc --socket /tmp/other.sock stop "" >/dev/null
ok "napc ls is asked of the socket the command line names" \
	grep -q -- "--socket /tmp/other.sock --timeout 1 ls" "$WORK/napc-args"
rm -f "$WORK/napc-args"
complete_words napc --host ssh://me@server stop "" >/dev/null
ok "... or of the --host it names" \
	grep -q -- "--host ssh://me@server --timeout 1 ls" "$WORK/napc-args"
mkdir -p "$WORK/ctx/app1"
(cd "$WORK/ctx" && complete_words napc deploy newapp ap) >"$WORK/dir.out"
ok "deploy's DIR completes directories" grep -qx "app1 " "$WORK/dir.out"

DEST="$WORK/dest"
ok "make install-napc-completion installs it" \
	make -s -C "$top_builddir" install-napc-completion DESTDIR="$DEST"
ok "... as bash-completion/completions/napc" \
	bash -c "find '$DEST' -path '*/bash-completion/completions/napc' | grep -q ."
done_testing
