/* A map from 64-bit ids to pointers (chained hash, grows by doubling). Used
 * for calls in flight, where ids are mostly sequential. */
#ifndef NAP_IDMAP_H
#define NAP_IDMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct nap_idmap_entry nap_idmap_entry;

typedef struct nap_idmap {
	nap_idmap_entry **buckets;
	size_t nbuckets; /* a power of two, or 0 */
	size_t count;
} nap_idmap;

/* 0, -EEXIST if the id is there already, or -ENOMEM. */
int nap_idmap_put(nap_idmap *m, uint64_t id, void *value);
void *nap_idmap_get(const nap_idmap *m, uint64_t id);
/* Removes the id and returns its value, or NULL. */
void *nap_idmap_remove(nap_idmap *m, uint64_t id);
/* Calls fn for every entry; fn may remove the entry it is given. */
void nap_idmap_foreach(nap_idmap *m, void (*fn)(uint64_t id, void *value, void *ud), void *ud);
/* Removes one entry, any, into id and value; 1, or 0 when empty. */
int nap_idmap_pop(nap_idmap *m, uint64_t *id, void **value);
void nap_idmap_release(nap_idmap *m);

#endif
