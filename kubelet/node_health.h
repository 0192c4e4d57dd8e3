/*
 * node_health.h - what the Node's conditions and status say about this
 * kubelet: Ready (runtime up, relist healthy, pod network ready, as
 * upstream's runtime, PLEG and network checks), the pressure conditions,
 * the runtime version and the images, all read from struct kubelet.
 */
#ifndef KL_NODE_HEALTH_H
#define KL_NODE_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

struct kubelet;

/* Upstream's threshold for "PLEG is not healthy". */
#define KL_RELIST_THRESHOLD_MS (3 * 60 * 1000)

/* true when ready; else false with upstream's message in msg. */
bool kl_health_ready(struct kubelet *k, char *msg, size_t len);
/* cond: "MemoryPressure", "DiskPressure", "PIDPressure". */
bool kl_health_pressure(struct kubelet *k, const char *cond);
void kl_health_runtime_version(struct kubelet *k, char *out, size_t len);
/* status.images, at most max entries (new reference) or NULL. */
json_t *kl_health_node_images(struct kubelet *k, int max);

#endif
