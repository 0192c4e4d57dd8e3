/*
 * map.c - string hash map (see map.h).
 */
#include "kube/xalloc.h"
#include "map.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAP_TOMBSTONE ((char *)1)

struct kp_map_slot {
  char *key; /* NULL empty, MAP_TOMBSTONE deleted */
  void *val;
  uint64_t hash;
};

struct kp_map {
  struct kp_map_slot *slots;
  size_t cap, len, used; /* used counts tombstones too */
};

static uint64_t hash_str(const char *s)
{
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 1099511628211ull;
  }
  return h ^ (h >> 29);
}

struct kp_map *kp_map_new(void)
{
  struct kp_map *m = xcalloc(1, sizeof *m);
  m->cap = 16;
  m->slots = xcalloc(m->cap, sizeof *m->slots);
  return m;
}

void kp_map_free(struct kp_map *m, void (*free_val)(void *))
{
  if (!m) return;
  for (size_t i = 0; i < m->cap; i++) {
    char *k = m->slots[i].key;
    if (!k || k == MAP_TOMBSTONE) continue;
    if (free_val) free_val(m->slots[i].val);
    free(k);
  }
  free(m->slots);
  free(m);
}

size_t kp_map_len(const struct kp_map *m) { return m->len; }

static struct kp_map_slot *find(const struct kp_map *m, const char *key, uint64_t h)
{
  size_t mask = m->cap - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    struct kp_map_slot *s = &m->slots[i];
    if (!s->key) return NULL;
    if (s->key != MAP_TOMBSTONE && s->hash == h && !strcmp(s->key, key)) return s;
  }
}

void *kp_map_get(const struct kp_map *m, const char *key)
{
  struct kp_map_slot *s = find(m, key, hash_str(key));
  return s ? s->val : NULL;
}

static void grow(struct kp_map *m)
{
  size_t ncap = m->len * 2 >= m->cap / 2 ? m->cap * 2 : m->cap; /* else just drop tombstones */
  struct kp_map_slot *ns = xcalloc(ncap, sizeof *ns);
  for (size_t i = 0; i < m->cap; i++) {
    struct kp_map_slot *s = &m->slots[i];
    if (!s->key || s->key == MAP_TOMBSTONE) continue;
    size_t j = s->hash & (ncap - 1);
    while (ns[j].key) j = (j + 1) & (ncap - 1);
    ns[j] = *s;
  }
  free(m->slots);
  m->slots = ns;
  m->cap = ncap;
  m->used = m->len;
}

void *kp_map_put(struct kp_map *m, const char *key, void *val)
{
  uint64_t h = hash_str(key);
  struct kp_map_slot *s = find(m, key, h);
  if (s) {
    void *old = s->val;
    s->val = val;
    return old;
  }
  if ((m->used + 1) * 4 > m->cap * 3) grow(m);
  size_t mask = m->cap - 1, i = h & mask;
  while (m->slots[i].key && m->slots[i].key != MAP_TOMBSTONE) i = (i + 1) & mask;
  if (!m->slots[i].key) m->used++;
  m->slots[i].key = xstrdup(key);
  m->slots[i].val = val;
  m->slots[i].hash = h;
  m->len++;
  return NULL;
}

void *kp_map_del(struct kp_map *m, const char *key)
{
  struct kp_map_slot *s = find(m, key, hash_str(key));
  if (!s) return NULL;
  void *v = s->val;
  free(s->key);
  s->key = MAP_TOMBSTONE;
  s->val = NULL;
  m->len--;
  return v;
}

int kp_map_next(const struct kp_map *m, size_t *pos, const char **key, void **val)
{
  for (size_t i = *pos; i < m->cap; i++) {
    char *k = m->slots[i].key;
    if (!k || k == MAP_TOMBSTONE) continue;
    *pos = i + 1;
    if (key) *key = k;
    if (val) *val = m->slots[i].val;
    return 1;
  }
  *pos = m->cap;
  return 0;
}
