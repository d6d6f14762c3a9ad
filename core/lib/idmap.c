#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "idmap.h"

struct nap_idmap_entry {
	nap_idmap_entry *next;
	uint64_t id;
	void *value;
};

static size_t slot(const nap_idmap *m, uint64_t id)
{
	/* Ids are mostly sequential: mixing the high bits in is enough. */
	return (size_t)((id ^ (id >> 32)) & (m->nbuckets - 1));
}

static int grow(nap_idmap *m)
{
	size_t n = m->nbuckets ? m->nbuckets * 2 : 64;
	nap_idmap_entry **b = calloc(n, sizeof(*b));
	if (!b)
		return -ENOMEM;
	nap_idmap old = *m;
	m->buckets = b;
	m->nbuckets = n;
	for (size_t i = 0; i < old.nbuckets; i++) {
		nap_idmap_entry *e = old.buckets[i];
		while (e) {
			nap_idmap_entry *next = e->next;
			size_t s = slot(m, e->id);
			e->next = m->buckets[s];
			m->buckets[s] = e;
			e = next;
		}
	}
	free(old.buckets);
	return 0;
}

int nap_idmap_put(nap_idmap *m, uint64_t id, void *value)
{
	if (m->count >= m->nbuckets) {
		int r = grow(m);
		if (r < 0)
			return r;
	}
	size_t s = slot(m, id);
	for (nap_idmap_entry *e = m->buckets[s]; e; e = e->next)
		if (e->id == id)
			return -EEXIST;
	nap_idmap_entry *e = malloc(sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->id = id;
	e->value = value;
	e->next = m->buckets[s];
	m->buckets[s] = e;
	m->count++;
	return 0;
}

void *nap_idmap_get(const nap_idmap *m, uint64_t id)
{
	if (m->count == 0)
		return NULL;
	for (nap_idmap_entry *e = m->buckets[slot(m, id)]; e; e = e->next)
		if (e->id == id)
			return e->value;
	return NULL;
}

void *nap_idmap_remove(nap_idmap *m, uint64_t id)
{
	if (m->count == 0)
		return NULL;
	nap_idmap_entry **pp = &m->buckets[slot(m, id)];
	for (nap_idmap_entry *e = *pp; e; pp = &e->next, e = e->next) {
		if (e->id == id) {
			void *v = e->value;
			*pp = e->next;
			free(e);
			m->count--;
			return v;
		}
	}
	return NULL;
}

void nap_idmap_foreach(nap_idmap *m, void (*fn)(uint64_t id, void *value, void *ud), void *ud)
{
	for (size_t i = 0; i < m->nbuckets; i++) {
		nap_idmap_entry *e = m->buckets[i];
		while (e) {
			nap_idmap_entry *next = e->next;
			fn(e->id, e->value, ud);
			e = next;
		}
	}
}

int nap_idmap_pop(nap_idmap *m, uint64_t *id, void **value)
{
	if (m->count == 0)
		return 0;
	for (size_t i = 0; i < m->nbuckets; i++) {
		nap_idmap_entry *e = m->buckets[i];
		if (e) {
			m->buckets[i] = e->next;
			*id = e->id;
			*value = e->value;
			free(e);
			m->count--;
			return 1;
		}
	}
	return 0;
}

void nap_idmap_release(nap_idmap *m)
{
	for (size_t i = 0; i < m->nbuckets; i++) {
		nap_idmap_entry *e = m->buckets[i];
		while (e) {
			nap_idmap_entry *next = e->next;
			free(e);
			e = next;
		}
	}
	free(m->buckets);
	*m = (nap_idmap){0};
}
