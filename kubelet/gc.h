/*
 * gc.h - garbage collection of dead containers and unused images
 * (upstream's container GC and image GC).
 *
 * Containers, every GC_CONTAINER_PERIOD_MS: of each container of a pod,
 * the newest exited instance is kept (`kubectl logs --previous`, and the
 * restart count continues from it), older exited ones are removed; a
 * sandbox that is not ready, not the pod's newest and not used by a kept
 * container is removed too.  Pods that are gone are cleaned up by their
 * worker, not here.
 *
 * Images, every GC_IMAGE_PERIOD_MS: when the image file system is used
 * beyond imageGCHighThresholdPercent, unused images (no container of this
 * node uses them, not the sandbox image, first seen at least
 * imageMinimumGCAge ago) are removed oldest first until usage is back at
 * imageGCLowThresholdPercent.  The runtime refuses to remove an image any
 * container still uses.
 */
#ifndef KL_GC_H
#define KL_GC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct kubelet;
struct kl_gc;

struct kl_gc *kl_gc_new(struct kubelet *k);
void kl_gc_start(struct kl_gc *g);
void kl_gc_stop(struct kl_gc *g);
void kl_gc_free(struct kl_gc *g);
/* Runs container GC now, and image GC when images is true (disk pressure). */
void kl_gc_now(struct kubelet *k, bool images);

/* Pure helpers (unit-tested). */
/* Which runtime containers of one pod to remove: containers and sandboxes
 * as the PLEG keeps them (newest first); returns a new array of ids. */
json_t *kl_gc_pod_containers(const json_t *containers, const json_t *sandboxes);
/* Which images to remove to free `bytes`: images {"id","size"}, in_use
 * (id -> true), first_seen (id -> ms), now and min_age in ms, the sandbox
 * image's id.  A new array of ids, oldest first. */
json_t *kl_gc_images(const json_t *images, const json_t *in_use, const json_t *first_seen, int64_t now_ms,
                     int64_t min_age_ms, const char *keep_id, int64_t bytes);

#endif
