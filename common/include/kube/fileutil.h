/*
 * fileutil.h - whole-file reads for configuration files (kubeconfigs,
 * --config files, manifests): one place that reads a file into memory.
 */
#ifndef KUBE_FILEUTIL_H
#define KUBE_FILEUTIL_H

#include <stddef.h>

/* The whole file at path, NUL-terminated (new allocation, free() it), its
 * length in *len when len is not NULL.  NULL with errno set when it cannot
 * be opened or read.  Memory exhaustion aborts (xalloc.h). */
char *kfile_read(const char *path, size_t *len);

#endif
