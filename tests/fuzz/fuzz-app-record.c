/* libFuzzer target: napd's app records (core/napd/apps.c), the JSON napd
 * keeps per app through nap.Discovery's records and reads back at start
 * and on every call about the app.
 *
 * The input is a record as GetRecords returns it. What app_record_parse()
 * accepts is read as napd reads it: releases by number, the last one, the
 * AppStatus it answers with (with and without env), which must pack. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "apps.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile size_t sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *rec = app_record_parse(data, size);
	uint32_t last;

	if (!rec)
		return 0;
	last = app_last_release(rec);
	for (uint32_t n = 0; n <= 3; n++)
		sink += app_release(rec, n) != NULL;
	sink += app_release(rec, last) != NULL;
	sink += app_u32(rec, "instances");
	for (int with_env = 0; with_env < 2; with_env++) {
		Nap__AppStatus st;
		uint8_t *buf;
		size_t n;

		app_status_fill(&st, rec, with_env);
		n = nap__app_status__get_packed_size(&st);
		buf = malloc(n ? n : 1);
		if (buf) {
			Nap__AppStatus *again;

			nap__app_status__pack(&st, buf);
			again = nap__app_status__unpack(NULL, n, buf);
			if (!again)
				abort();
			nap__app_status__free_unpacked(again, NULL);
			free(buf);
		}
		app_status_clear(&st);
	}
	json_decref(rec);
	return 0;
}
