/*
 * json_alloc.c - the allocator behind jansson's small objects.
 *
 * Parsed trees are made of many small blocks (values, hashtable buckets,
 * keys, short strings) that live briefly and die together.  glibc's malloc
 * handles that pattern poorly: each larger request merges its fast bins
 * back into the unsorted bin, and the next small requests sort them again.
 * Here blocks up to KJA_MAX_SMALL bytes come from 64 KiB chunks, one size
 * class per chunk, with a free list per chunk; larger ones go to malloc.
 * A chunk whose blocks are all free is kept for reuse by any class, up
 * to KJA_SPARE_CHUNKS of them, and goes back to malloc beyond that
 * (never the last one with room in its class).  The spares matter:
 * glibc serves a 64 KiB-aligned 64 KiB block with mmap, so without them
 * every chunk a large document needed was mapped and unmapped again
 * (bench_json: parsing a 3.4 MB PodList ran at 9 MB/s instead of 100+).
 * KJA_SPARE_CHUNKS = 128 caps what a burst leaves resident at 8 MiB; a
 * document whose blocks need more chunks than that (about 1 MB of JSON
 * and up) still maps the rest.
 *
 * Why this allocator and not another one linked into the whole program
 * (CMake option KUBE_ALLOCATOR=chunks|malloc|jemalloc|mimalloc, Debian's
 * libjemalloc/libmimalloc), measured on the 2-core machine of CI, load
 * from other work varying (tests/bench/bench_json.c, CPU time, MB/s of
 * the fast parser on a 500-pod PodList; tests/bench/bench_apiserver.sh,
 * server CPU per request, interleaved runs):
 *   - bench_json fast parse: chunks 267, mimalloc ~145 (2000 pods),
 *     glibc malloc 46, jemalloc 30; serialize: chunks 400-510,
 *     mimalloc 290, malloc 230, jemalloc 150.
 *   - kube-apiserver, CPU per request, chunks / mimalloc: durable
 *     creates at 50 clients 92 and 71 us / 86 and 78 us; GETs at 50
 *     clients 21.1 and 20.6 us / 24.3 and 22.1 us.  RSS with 10,000
 *     pods 61.0 MiB / 63.7 MiB; after 1,000 watchers 47.4 / 50.7 MiB.
 *   - mimalloc was ahead on a 10,000-pod LIST (21-51 ms against 62-81 ms)
 *     and watch fan-out latency, both measured before the spare chunks.
 * Chunks keep the lower CPU per request and RSS; mimalloc would add a
 * dependency for no clear gain.
 *
 * A block's chunk is found by masking its address; a small hash set of
 * chunk addresses tells our blocks from malloc's.  jansson is used from
 * one thread per program (the event loop's), so there are no locks.  The
 * sanitizer build keeps jansson on malloc so that ASan sees every block.
 * json.c installs the pair (json.c is in every program, this file is
 * linked because json.c refers to it).
 * Memory jansson hands out (json_dumps) must not be passed to free():
 * use the kj_dumps* functions, which return malloc'd strings.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "kube/json.h"
#include "json_internal.h"

#define KJA_CHUNK_BYTES ((size_t)65536)
#define KJA_GRAIN 16
#define KJA_MAX_SMALL 256
#define KJA_CLASSES (KJA_MAX_SMALL / KJA_GRAIN)

struct kja_free {
  struct kja_free *next;
};

struct kja_chunk {
  struct kja_chunk *prev, *next; /* in its class's partial or full list */
  struct kja_free *free;         /* freed blocks */
  uint32_t live;                 /* blocks handed out */
  uint32_t bump;                 /* offset of the first never-used block */
  uint16_t cls;
  uint16_t partial; /* on the partial list */
  uint32_t pad;
};

#define KJA_HEADER ((sizeof(struct kja_chunk) + KJA_GRAIN - 1) / KJA_GRAIN * KJA_GRAIN)

struct kja_class {
  struct kja_chunk *partial; /* chunks with room */
  struct kja_chunk *full;    /* the others, listed so that they stay reachable */
  size_t npartial;
};

static struct kja_class classes[KJA_CLASSES];

/* Chunk addresses: open addressing with linear probing, 0 = empty. */
static uintptr_t *set;
static size_t set_cap, set_len;

static size_t set_slot(uintptr_t a, size_t cap) { return (size_t)((a >> 16) * 0x9E3779B97F4A7C15ULL) & (cap - 1); }

static bool set_has(uintptr_t a)
{
  if (!set_cap) return false;
  for (size_t i = set_slot(a, set_cap);; i = (i + 1) & (set_cap - 1)) {
    if (set[i] == a) return true;
    if (set[i] == 0) return false;
  }
}

static int set_add(uintptr_t a)
{
  if ((set_len + 1) * 2 > set_cap) {
    size_t cap = set_cap ? set_cap * 2 : 64;
    uintptr_t *t = calloc(cap, sizeof *t);
    if (!t) return -ENOMEM;
    for (size_t i = 0; i < set_cap; i++) {
      if (!set[i]) continue;
      size_t j = set_slot(set[i], cap);
      while (t[j]) j = (j + 1) & (cap - 1);
      t[j] = set[i];
    }
    free(set);
    set = t;
    set_cap = cap;
  }
  size_t i = set_slot(a, set_cap);
  while (set[i]) i = (i + 1) & (set_cap - 1);
  set[i] = a;
  set_len++;
  return 0;
}

static void set_del(uintptr_t a)
{
  size_t i = set_slot(a, set_cap);
  while (set[i] != a) i = (i + 1) & (set_cap - 1);
  set[i] = 0;
  set_len--;
  /* Backward shift: move later entries of the run into the hole. */
  for (size_t j = (i + 1) & (set_cap - 1); set[j]; j = (j + 1) & (set_cap - 1)) {
    size_t home = set_slot(set[j], set_cap);
    bool movable = i <= j ? (home <= i || home > j) : (home <= i && home > j);
    if (movable) {
      set[i] = set[j];
      set[j] = 0;
      i = j;
    }
  }
}

static void list_del(struct kja_chunk **head, struct kja_chunk *c)
{
  if (c->prev) c->prev->next = c->next;
  else *head = c->next;
  if (c->next) c->next->prev = c->prev;
  c->prev = c->next = NULL;
}

static void list_push(struct kja_chunk **head, struct kja_chunk *c)
{
  c->prev = NULL;
  c->next = *head;
  if (*head) (*head)->prev = c;
  *head = c;
}

static size_t class_size(unsigned cls) { return (size_t)(cls + 1) * KJA_GRAIN; }

/* Empty chunks kept for reuse (linked through next; still in the set). */
#define KJA_SPARE_CHUNKS 128
static struct kja_chunk *spares;
static size_t nspares;

static struct kja_chunk *chunk_new(unsigned cls)
{
  struct kja_chunk *c = spares;
  if (c) {
    spares = c->next;
    nspares--;
  } else {
    c = aligned_alloc(KJA_CHUNK_BYTES, KJA_CHUNK_BYTES);
    if (!c) return NULL;
    if (set_add((uintptr_t)c) < 0) {
      free(c);
      return NULL;
    }
  }
  memset(c, 0, sizeof *c);
  c->cls = (uint16_t)cls;
  c->bump = (uint32_t)KJA_HEADER;
  c->partial = 1;
  list_push(&classes[cls].partial, c);
  classes[cls].npartial++;
  return c;
}

void *kj_alloc_malloc(size_t n)
{
  if (n == 0) n = 1;
  if (n > KJA_MAX_SMALL) return malloc(n);
  unsigned cls = (unsigned)((n - 1) / KJA_GRAIN);
  struct kja_class *k = &classes[cls];
  struct kja_chunk *c = k->partial;
  if (!c && !(c = chunk_new(cls))) return NULL;
  void *p;
  if (c->free) {
    p = c->free;
    c->free = c->free->next;
  } else {
    p = (char *)c + c->bump;
    c->bump += (uint32_t)class_size(cls);
  }
  c->live++;
  if (!c->free && c->bump + class_size(cls) > KJA_CHUNK_BYTES) {
    list_del(&k->partial, c);
    k->npartial--;
    c->partial = 0;
    list_push(&k->full, c);
  }
  return p;
}

void kj_alloc_free(void *p)
{
  if (!p) return;
  uintptr_t base = (uintptr_t)p & ~(uintptr_t)(KJA_CHUNK_BYTES - 1);
  if ((uintptr_t)p - base < KJA_HEADER || !set_has(base)) {
    free(p);
    return;
  }
  struct kja_chunk *c = (struct kja_chunk *)base;
  struct kja_class *k = &classes[c->cls];
  struct kja_free *f = p;
  f->next = c->free;
  c->free = f;
  c->live--;
  if (!c->partial) {
    list_del(&k->full, c);
    list_push(&k->partial, c);
    k->npartial++;
    c->partial = 1;
  }
  if (c->live == 0 && k->npartial > 1) {
    list_del(&k->partial, c);
    k->npartial--;
    if (nspares < KJA_SPARE_CHUNKS) {
      c->next = spares;
      spares = c;
      nspares++;
      return;
    }
    set_del(base);
    free(c);
  }
}

size_t kj_alloc_chunks(void) { return set_len; }
