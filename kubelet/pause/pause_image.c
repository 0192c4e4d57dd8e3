/*
 * pause_image.c - the built-in sandbox image's root filesystem (see
 * pause_image.h).  The binary comes from pause_blob.c, which the build
 * generates with an .incbin of the static pause executable.
 */
#include "pause_image.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/xalloc.h"

#define TAR_BLOCK 512

extern const unsigned char kl_pause_bin_start[];
extern const unsigned char kl_pause_bin_end[];

const unsigned char *kl_pause_binary(size_t *len)
{
  *len = (size_t)(kl_pause_bin_end - kl_pause_bin_start);
  return kl_pause_bin_start;
}

static void octal(char *field, size_t width, uint64_t v)
{
  /* width-1 digits, then NUL */
  snprintf(field, width, "%0*llo", (int)(width - 1), (unsigned long long)v);
}

unsigned char *kl_tar_one_file(const char *name, unsigned mode, int64_t mtime, const void *data, size_t len,
                               size_t *out_len)
{
  size_t body = (len + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK;
  size_t total = TAR_BLOCK + body + 2 * TAR_BLOCK;
  unsigned char *t = xcalloc(1, total);
  if (!t || strlen(name) >= 100) {
    free(t);
    return NULL;
  }
  char *h = (char *)t;
  memcpy(h, name, strlen(name)); /* name[100] */
  octal(h + 100, 8, mode);       /* mode */
  octal(h + 108, 8, 0);          /* uid */
  octal(h + 116, 8, 0);          /* gid */
  octal(h + 124, 12, len);       /* size */
  octal(h + 136, 12, (uint64_t)(mtime > 0 ? mtime : 0));
  memset(h + 148, ' ', 8);     /* checksum, spaces while summing */
  h[156] = '0';                /* regular file */
  memcpy(h + 257, "ustar", 6); /* magic "ustar\0" */
  memcpy(h + 263, "00", 2);    /* version */
  memcpy(h + 265, "root", 4);  /* uname */
  memcpy(h + 297, "root", 4);  /* gname */
  unsigned sum = 0;
  for (size_t i = 0; i < TAR_BLOCK; i++) sum += t[i];
  snprintf(h + 148, 8, "%06o", sum); /* six digits, NUL, space */
  h[155] = ' ';
  if (len) memcpy(t + TAR_BLOCK, data, len);
  *out_len = total;
  return t;
}

unsigned char *kl_pause_rootfs_tar(size_t *out_len)
{
  size_t len;
  const unsigned char *bin = kl_pause_binary(&len);
  return kl_tar_one_file("pause", 0755, 0, bin, len, out_len);
}
