/* libnap's frame codec and arena, compiled into test-frame: the view decoder
 * (nap_frame_take_view) is libnap's own and not exported, and test-frame
 * compares it with protobuf-c's. */
#include "../../core/lib/arena.c"
#include "../../core/lib/frame.c"
