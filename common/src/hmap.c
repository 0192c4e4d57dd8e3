/*
 * hmap.c - the string -> pointer hash map of kube/hmap.h.
 */
#include <kube/hmap.h>

#include <stdlib.h>
#include <string.h>

#include <kube/xalloc.h>

static uint64_t hash_str(const char *s)
{
  uint64_t h = 1469598103934665603ULL;
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 1099511628211ULL;
  }
  return h;
}

static struct khmap_ent *find(const struct khmap *m, const char *key)
{
  if (!m->nb) return NULL;
  uint64_t h = hash_str(key);
  for (struct khmap_ent *e = m->b[h & (m->nb - 1)]; e; e = e->next)
    if (e->h == h && strcmp(e->key, key) == 0) return e;
  return NULL;
}

void *khmap_get(const struct khmap *m, const char *key)
{
  struct khmap_ent *e = find(m, key);
  return e ? e->val : NULL;
}

static void grow(struct khmap *m)
{
  size_t nb = m->nb ? m->nb * 2 : 64;
  struct khmap_ent **b = xcalloc(nb, sizeof(*b));
  for (size_t i = 0; i < m->nb; i++)
    for (struct khmap_ent *e = m->b[i], *next; e; e = next) {
      next = e->next;
      e->next = b[e->h & (nb - 1)];
      b[e->h & (nb - 1)] = e;
    }
  free(m->b);
  m->b = b;
  m->nb = nb;
}

/* Inserts or replaces; returns the previous value (or NULL). */
void *khmap_put(struct khmap *m, const char *key, void *val)
{
  struct khmap_ent *e = find(m, key);
  if (e) {
    void *old = e->val;
    e->val = val;
    return old;
  }
  if (m->n >= m->nb) grow(m);
  e = xcalloc(1, sizeof(*e));
  e->h = hash_str(key);
  e->key = xstrdup(key);
  e->val = val;
  e->next = m->b[e->h & (m->nb - 1)];
  m->b[e->h & (m->nb - 1)] = e;
  m->n++;
  return NULL;
}

void *khmap_del(struct khmap *m, const char *key)
{
  if (!m->nb) return NULL;
  uint64_t h = hash_str(key);
  for (struct khmap_ent **pp = &m->b[h & (m->nb - 1)]; *pp; pp = &(*pp)->next) {
    struct khmap_ent *e = *pp;
    if (e->h != h || strcmp(e->key, key) != 0) continue;
    *pp = e->next;
    void *v = e->val;
    free(e->key);
    free(e);
    m->n--;
    return v;
  }
  return NULL;
}

void khmap_clear(struct khmap *m, void (*free_val)(void *))
{
  for (size_t i = 0; i < m->nb; i++)
    for (struct khmap_ent *e = m->b[i], *next; e; e = next) {
      next = e->next;
      if (free_val) free_val(e->val);
      free(e->key);
      free(e);
    }
  free(m->b);
  m->b = NULL;
  m->nb = m->n = 0;
}

void khmap_each(const struct khmap *m, void (*fn)(void *arg, const char *key, void *val), void *arg)
{
  for (size_t i = 0; i < m->nb; i++)
    for (struct khmap_ent *e = m->b[i]; e; e = e->next) fn(arg, e->key, e->val);
}
