/*
 * hmap.h - a chained hash map from strings (copied in) to pointers
 * (borrowed: the map never frees a value unless khmap_clear is given a
 * function), FNV-1a hashed, power-of-two buckets grown at load 1.
 * Zero-initialized is empty.
 */
#ifndef KUBE_HMAP_H
#define KUBE_HMAP_H

#include <stddef.h>
#include <stdint.h>

struct khmap_ent {
  struct khmap_ent *next;
  uint64_t h;
  char *key;
  void *val;
};

struct khmap {
  struct khmap_ent **b;
  size_t nb, n;
};

void *khmap_get(const struct khmap *m, const char *key);
/* Inserts or replaces; returns the previous value (or NULL). */
void *khmap_put(struct khmap *m, const char *key, void *val);
/* Removes key; returns its value (or NULL). */
void *khmap_del(struct khmap *m, const char *key);
/* Empties the map, calling free_val (if not NULL) on every value. */
void khmap_clear(struct khmap *m, void (*free_val)(void *));
/* Calls fn on every entry (in no order); fn must not change the map. */
void khmap_each(const struct khmap *m, void (*fn)(void *arg, const char *key, void *val), void *arg);

#endif
