/*
 * xalloc.h - the one out-of-memory policy of every program: an allocation
 * that fails logs "out of memory allocating N bytes" and aborts, as Redis
 * does.  Nothing here can return NULL, so callers never carry a failure
 * path for memory.  jansson allocates through the same policy (json.c
 * installs it), so json_pack, json_object and friends only return NULL for
 * a malformed format, never for memory.
 */
#ifndef KUBE_XALLOC_H
#define KUBE_XALLOC_H

#include <stddef.h>

/* Logs and aborts; for allocators that are not malloc (OpenSSL, libcurl
 * buffers) whose failure the caller detects itself. */
__attribute__((noreturn)) void xalloc_oom(size_t bytes);

void *xmalloc(size_t n) __attribute__((malloc, returns_nonnull));
void *xcalloc(size_t count, size_t size) __attribute__((malloc, returns_nonnull));
void *xrealloc(void *p, size_t n) __attribute__((returns_nonnull));
char *xstrdup(const char *s) __attribute__((malloc, returns_nonnull));
char *xstrndup(const char *s, size_t n) __attribute__((malloc, returns_nonnull));
/* asprintf into a new string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2), malloc, returns_nonnull));

#endif
