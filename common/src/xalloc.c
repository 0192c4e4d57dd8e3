/* xalloc.c - allocation that never returns NULL (see kube/xalloc.h). */
#define _GNU_SOURCE
#include "kube/xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void xalloc_oom(size_t bytes)
{
  /* No allocation from here on: a fixed buffer and write(2). */
  char msg[96];
  int n = snprintf(msg, sizeof msg, "F out of memory allocating %zu bytes\n", bytes);
  if (n > 0 && write(STDERR_FILENO, msg, (size_t)n) < 0) { /* nothing left to report to */
  }
  abort();
}

void *xmalloc(size_t n)
{
  void *p = malloc(n ? n : 1);
  if (!p) xalloc_oom(n);
  return p;
}

void *xcalloc(size_t count, size_t size)
{
  void *p = calloc(count ? count : 1, size ? size : 1);
  if (!p) xalloc_oom(count * size);
  return p;
}

void *xrealloc(void *p, size_t n)
{
  void *q = realloc(p, n ? n : 1);
  if (!q) xalloc_oom(n);
  return q;
}

char *xstrdup(const char *s)
{
  char *p = strdup(s);
  if (!p) xalloc_oom(strlen(s) + 1);
  return p;
}

char *xstrndup(const char *s, size_t n)
{
  char *p = strndup(s, n);
  if (!p) xalloc_oom(n + 1);
  return p;
}

char *xasprintf(const char *fmt, ...)
{
  va_list ap;
  char *out = NULL;
  va_start(ap, fmt);
  int n = vasprintf(&out, fmt, ap);
  va_end(ap);
  if (n < 0) xalloc_oom(strlen(fmt));
  return out;
}
