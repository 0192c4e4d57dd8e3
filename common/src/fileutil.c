/*
 * fileutil.c - whole-file reads (see kube/fileutil.h).
 */
#include "kube/fileutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "kube/xalloc.h"

char *kfile_read(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 8192, n = 0;
  char *buf = xmalloc(cap);
  for (;;) {
    if (n + 1 == cap) buf = xrealloc(buf, cap *= 2);
    size_t got = fread(buf + n, 1, cap - n - 1, f);
    n += got;
    if (got == 0) break;
  }
  int e = ferror(f) ? (errno ? errno : EIO) : 0;
  fclose(f);
  if (e) {
    free(buf);
    errno = e;
    return NULL;
  }
  buf[n] = 0;
  if (len) *len = n;
  return buf;
}
