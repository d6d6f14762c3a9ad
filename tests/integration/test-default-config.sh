#!/bin/bash
# The napd.conf make install puts in place: installed when none is there,
# never over an operator's file, removed by uninstall only while unchanged;
# and a napd started on it alone (its plugins taken from this build) runs
# the five plugins and deploys examples/hello against the servers
# scripts/servers starts, with no configuration written by hand.
. "$(dirname "$0")/lib.sh"

DEST="$WORK/dest"
mk() { make -s -C "$top_builddir" "$@" DESTDIR="$DEST"; }
installed() { find "$DEST" -name napd.conf -path '*/nap/napd.conf'; }

ok "make install-napd-conf installs napd.conf" mk install-napd-conf
CONF=$(installed)
ok "... into <sysconfdir>/nap/" test -n "$CONF"
ok "... the build's contrib/napd.conf" cmp "$top_builddir/contrib/napd.conf" "$CONF"
ok "... which runs the five plugins, in their order" \
	grep -qx 'plugins = orchestrator builder scheduler-local discovery-etcd notifier' "$CONF"
echo "log_level = info # the operator's" >>"$CONF"
mk install-napd-conf >"$WORK/again.out" 2>&1
ok "installing again keeps the operator's file" grep -q "the operator's" "$CONF"
ok "... and says so" grep -q "keeping .*napd.conf" "$WORK/again.out"
mk uninstall-napd-conf
ok "uninstall keeps a changed file" test -f "$CONF"
cp "$top_builddir/contrib/napd.conf" "$CONF"
mk uninstall-napd-conf
ok "... and removes an unchanged one" test ! -e "$CONF"

need_servers docker registry etcd
need_plugins orchestrator builder scheduler-local discovery-etcd notifier
mk install-napd-conf
mkdir -p "$WORK/plugins"
for p in orchestrator builder scheduler-local discovery-etcd notifier; do
	ln -s "$top_builddir/plugins/$p/.libs/$p.so" "$WORK/plugins/$p.so"
done
APP=defconf-$$
trap 'stop_napd; docker rm -f $(docker ps -aq --filter label=nap.app=$APP) >/dev/null 2>&1; [ "$T_FAILED" -eq 0 ] && rm -rf "$WORK"' EXIT
cp "$(installed)" "$WORK/napd.conf"
ok "napd starts on the installed napd.conf" start_napd --plugin-dir "$WORK/plugins"
for p in orchestrator builder scheduler-local discovery-etcd notifier; do
	ok "$p runs" wait_until 30 plugin_is "$p" running
done
cp -r "$top_srcdir/examples/hello" "$WORK/hello"
chmod -R u+w "$WORK/hello"
"$WORK/hello/prepare" >/dev/null
ok "napc deploy works" napc deploy "$APP" "$WORK/hello"
url=$(napc endpoints "$APP" | head -1)
ok "... and the app answers at $url" curl -sf --max-time 5 "$url"
ok "napc destroy works" napc destroy "$APP"
done_testing
