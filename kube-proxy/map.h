/*
 * map.h - a string-keyed hash map (open addressing, linear probing,
 * power-of-two capacity kept at most 3/4 full, tombstones on delete).
 * Keys are copied and owned by the map; values are opaque pointers the
 * caller owns.  Iteration order is unspecified.
 */
#ifndef KP_MAP_H
#define KP_MAP_H

#include <stddef.h>

struct kp_map;

struct kp_map *kp_map_new(void);
/* free_val (may be NULL) is called on every value. */
void kp_map_free(struct kp_map *m, void (*free_val)(void *));
size_t kp_map_len(const struct kp_map *m);
void *kp_map_get(const struct kp_map *m, const char *key);
/* Stores val under key; returns the value it replaced, or NULL. */
void *kp_map_put(struct kp_map *m, const char *key, void *val);
/* Removes key; returns its value, or NULL. */
void *kp_map_del(struct kp_map *m, const char *key);
/* Iterates: start with *pos = 0; returns 0 at the end, else 1 with the
 * entry's key (borrowed) and value.  No puts or deletes while iterating. */
int kp_map_next(const struct kp_map *m, size_t *pos, const char **key, void **val);

#endif
