/* libFuzzer target: the orchestrator's app records (plugins/orchestrator/
 * record.c), the JSON it keeps per app through nap.Discovery's records and
 * reads back at start-up.
 *
 * The input is a record as GetRecords returns it. What record_parse()
 * accepts is read as the orchestrator reads it: releases by number, the
 * last one, the rollout, the check, new instance numbers, and the
 * AppStatus it answers with (with and without env), which must pack. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "orchestrator.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile size_t sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *rec = record_parse(data, size);
	if (!rec)
		return 0;
	O.check = (struct check_defaults){2000, 1000, 3, 60, 100};
	uint32_t last = rec_last_release(rec);
	for (uint32_t n = 0; n <= 3; n++)
		sink += rec_release(rec, n) != NULL;
	sink += rec_release(rec, last) != NULL;
	sink += rec_u32(rec, "instances") + rec_running(rec) + (rec_rollout(rec) != NULL);
	json_t *more = slots_pick(json_object_get(rec, "slots"), 3);
	sink += json_array_size(more);
	json_decref(more);
	struct app a = {.rec = rec};
	strcpy(a.name, "fuzz");
	for (int with_env = 0; with_env < 2; with_env++) {
		Nap__AppStatus st;
		status_fill(&st, &a, with_env);
		size_t n = nap__app_status__get_packed_size(&st);
		uint8_t *buf = malloc(n ? n : 1);
		if (buf) {
			nap__app_status__pack(&st, buf);
			Nap__AppStatus *again = nap__app_status__unpack(NULL, n, buf);
			if (!again)
				abort();
			nap__app_status__free_unpacked(again, NULL);
			free(buf);
		}
		status_clear(&st);
	}
	json_decref(rec);
	return 0;
}
