/*
 * arena.h - bump allocation for one sync's rules.
 *
 * A sync builds a few hundred thousand small rules and strings and drops
 * them all at once when the commit is done; an arena gives each its bytes
 * from 256 KiB blocks (one malloc per block, one free per block) instead
 * of one malloc per rule.  Pointers stay valid until kp_arena_free.
 */
#ifndef KP_ARENA_H
#define KP_ARENA_H

#include <stdarg.h>
#include <stddef.h>

struct kp_arena {
  struct kp_arena_block *head;
  size_t used_bytes; /* handed out, for figures */
};

void kp_arena_init(struct kp_arena *a);
void kp_arena_free(struct kp_arena *a);
/* Zeroed, 8-byte aligned; aborts on out-of-memory like the rest of the
 * program's allocation in the sync path would have to. */
void *kp_arena_alloc(struct kp_arena *a, size_t n);
char *kp_arena_strdup(struct kp_arena *a, const char *s);
char *kp_arena_printf(struct kp_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
