#include "config.h"

#include <stdlib.h>

#include "arena.h"

#define ALIGN (sizeof(max_align_t))

static void *arena_alloc(void *ud, size_t size)
{
	nap_arena *a = ud;
	size_t n = (size + ALIGN - 1) & ~(ALIGN - 1);
	if (n >= size && n <= NAP_ARENA_SIZE - a->used) {
		void *p = a->mem + a->used;
		a->used += n;
		return p;
	}
	void *p = malloc(size);
	if (p)
		a->spilled++;
	return p;
}

static void arena_free(void *ud, void *p)
{
	nap_arena *a = ud;
	uint8_t *b = p;
	if (b >= a->mem && b < a->mem + NAP_ARENA_SIZE)
		return;
	free(p);
}

void nap_arena_init(nap_arena *a)
{
	a->alloc =
		(ProtobufCAllocator){.alloc = arena_alloc, .free = arena_free, .allocator_data = a};
	a->used = 0;
	a->spilled = 0;
}

void nap_arena_reset(nap_arena *a, ProtobufCMessage *m)
{
	if (m && a->spilled)
		protobuf_c_message_free_unpacked(m, &a->alloc);
	a->used = 0;
	a->spilled = 0;
}
