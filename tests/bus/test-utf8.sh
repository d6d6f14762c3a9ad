#!/bin/bash
# A CALL whose service name is not UTF-8 is a malformed frame (END 0
# INVALID_ARGUMENT), and nothing napd sends back is anything but UTF-8: a
# conforming protobuf decoder would refuse such a frame.
. "$(dirname "$0")/lib.sh"

write_config "plugins ="
ok "napd starts" start_napd
out=$(hostile bad-utf8)
echo "# napd's frames after a CALL to service 'nap.\\xff\\xfeEvil': $out"
ok "every frame napd sent is UTF-8 ($out)" bash -c "! grep -q NOT-UTF8 <<<'$out'"
ok "the CALL is refused as a malformed frame: END 0 INVALID_ARGUMENT" grep -q 'id0:kind4:status3:utf8' <<<"$out"
ok "napd logs why" grep -q 'malformed frame: service (field 3) is not UTF-8' "$WORK/napd.log"
ok "napd still answers" napc ping
done_testing
