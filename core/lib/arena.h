/* A bump allocator for protobuf-c, for decoded messages that live only
 * while a function runs: each incoming frame is decoded, dispatched and
 * freed at once, so its pieces come from a buffer on the reader's stack and
 * from malloc only past its end (a big payload). Not libnap's API. */
#ifndef NAP_ARENA_H
#define NAP_ARENA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include <nap/bus.pb-c.h>

/* Room for a frame's envelope, service name, a short message and a payload
 * of a kilobyte or so. */
#define NAP_ARENA_SIZE 2048u

typedef struct nap_arena {
	ProtobufCAllocator alloc; /* pass &arena->alloc to protobuf-c */
	size_t used;
	size_t spilled; /* pieces that came from malloc, to free */
	_Alignas(max_align_t) uint8_t mem[NAP_ARENA_SIZE];
} nap_arena;

void nap_arena_init(nap_arena *a);

/* Frees what came from malloc (by protobuf-c's free_unpacked with the
 * arena's allocator) and empties the arena. */
void nap_arena_reset(nap_arena *a, ProtobufCMessage *m);

/* nap_frame_take() with the frame's pieces from alloc (frame.c); free it
 * with nap_arena_reset(). */
int nap_frame_take_alloc(Nap__Bus__Frame **framep, size_t *used, const uint8_t *buf, size_t len,
			 char *why, size_t whylen, ProtobufCAllocator *alloc);

/* The same, but a frame that uses only Frame's own fields is decoded by
 * hand, with *view set and its payload pointing into buf rather than copied:
 * the frame is then valid while buf is left alone, and before
 * nap_arena_reset() its payload must be cleared (payload.data NULL), since
 * the arena did not allocate it. *view false: as nap_frame_take_alloc().
 * The arena must come fresh or reset, so that reset frees what it spilled. */
int nap_frame_take_view(Nap__Bus__Frame **framep, bool *view, size_t *used, const uint8_t *buf,
			size_t len, char *why, size_t whylen, ProtobufCAllocator *alloc);

#endif
