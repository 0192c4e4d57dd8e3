/*
 * json_internal.h - jansson's allocator (json_alloc.c), installed by
 * json.c; not part of libkube's API.
 */
#ifndef KUBE_JSON_INTERNAL_H
#define KUBE_JSON_INTERNAL_H

#include <stddef.h>

void *kj_alloc_malloc(size_t n);
void kj_alloc_free(void *p);

#endif
