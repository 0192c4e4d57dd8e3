/*
 * static_pods.h - static pods from the manifest directory and their
 * mirror pods in the API (static_pods.c).
 */
#ifndef KL_STATIC_PODS_H
#define KL_STATIC_PODS_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

struct kl_pods;
struct kl_static;

struct kl_static *kl_static_new(struct kl_pods *m);
void kl_static_start(struct kl_static *s);
void kl_static_free(struct kl_static *s);
/* Rescans the directory now. */
void kl_static_check(struct kl_static *s);
/* The manifests were read once (or there is no static pod path). */
bool kl_static_scanned(const struct kl_static *s);
/* A mirror pod seen (or deleted) in the API. */
void kl_static_mirror_seen(struct kl_static *s, const json_t *mirror, bool deleted);
/* The static pod of a manifest (new reference), NULL with a message. */
json_t *kl_static_pod_from_manifest(const json_t *doc, const char *node, const char *path, char *err, size_t errlen);

#endif
