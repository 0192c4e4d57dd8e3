/*
 * arena.c - bump allocator (see arena.h).  Blocks are chained newest
 * first; a request larger than a block gets a block of its own.  Blocks
 * are mapped pages, not heap: a sync's hundreds of MiB go back to the
 * system when the ruleset is freed instead of raising the heap that the
 * long-lived caches then pin.
 */
#include "kube/xalloc.h"
#include "arena.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define KP_ARENA_BLOCK_BYTES (256 * 1024)

struct kp_arena_block {
  struct kp_arena_block *next;
  size_t size, used, mapped;
  char data[];
};

void kp_arena_init(struct kp_arena *a) { memset(a, 0, sizeof *a); }

void kp_arena_free(struct kp_arena *a)
{
  struct kp_arena_block *b = a->head;
  while (b) {
    struct kp_arena_block *n = b->next;
#ifdef KUBE_SANITIZE
    free(b);
#else
    munmap(b, b->mapped);
#endif
    b = n;
  }
  a->head = NULL;
  a->used_bytes = 0;
}

void *kp_arena_alloc(struct kp_arena *a, size_t n)
{
  n = (n + 7) & ~(size_t)7;
  struct kp_arena_block *b = a->head;
  if (!b || b->size - b->used < n) {
    size_t size = n > KP_ARENA_BLOCK_BYTES ? n : KP_ARENA_BLOCK_BYTES;
    size_t mapped = (sizeof *b + size + 4095) & ~(size_t)4095;
#ifdef KUBE_SANITIZE /* the sanitizers watch heap blocks, not pages */
    b = calloc(1, mapped);
    if (!b) b = MAP_FAILED;
#else
    b = mmap(NULL, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
#endif
    if (b == MAP_FAILED) xalloc_oom(mapped);
    b->mapped = mapped;
    b->size = size;
    b->used = 0;
    b->next = a->head;
    a->head = b;
  }
  void *p = b->data + b->used; /* fresh mapped pages are zero */
  b->used += n;
  a->used_bytes += n;
  return p;
}

char *kp_arena_strdup(struct kp_arena *a, const char *s)
{
  size_t n = strlen(s) + 1;
  char *p = kp_arena_alloc(a, n);
  memcpy(p, s, n);
  return p;
}

char *kp_arena_printf(struct kp_arena *a, const char *fmt, ...)
{
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0) n = 0;
  if ((size_t)n < sizeof buf) return kp_arena_strdup(a, buf);
  char *p = kp_arena_alloc(a, (size_t)n + 1);
  va_start(ap, fmt);
  vsnprintf(p, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return p;
}
