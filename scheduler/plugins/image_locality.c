/*
 * image_locality.c - ImageLocality: favours nodes that already have the
 * pod's images.  Each image present on the node counts its size scaled by
 * the share of nodes that have it (so an image on every node, which says
 * nothing about this one, does not dominate); the sum is clamped between
 * 23MB and 1000MB per container and mapped linearly onto 0..100.
 */
#include <stdlib.h>
#include <string.h>

#include "plugins.h"
#include "kube/xalloc.h"

#define MB (1024LL * 1024)
#define MIN_THRESHOLD (23 * MB)
#define MAX_CONTAINER_THRESHOLD (1000 * MB)

static int64_t image_size_on_node(const struct sched_node_info *ni, const char *want)
{
  json_t *size = json_object_get(ni->images, want);
  return size ? json_integer_value(size) : -1;
}

/* The pod's images, normalized once per cycle. */
struct images {
  int ncontainers;
  int n;
  char name[][256];
};

static enum sched_code pre_score(void *self, struct sched_cycle *c, struct sched_node_info *const *nodes, size_t n)
{
  const json_t *spec = json_object_get(c->pod, "spec");
  const json_t *lists[2] = {json_object_get(spec, "initContainers"), json_object_get(spec, "containers")};
  size_t total = json_array_size(lists[0]) + json_array_size(lists[1]);
  struct images *im = xcalloc(1, sizeof *im + (total ? total : 1) * sizeof im->name[0]);
  if (!im) return SCHED_ERROR;
  for (int l = 0; l < 2; l++) {
    size_t i;
    json_t *ct;
    json_array_foreach (lists[l], i, ct) {
      im->ncontainers++;
      const char *image = json_string_value(json_object_get(ct, "image"));
      if (!image) continue;
      sched_normalize_image(image, im->name[im->n], sizeof im->name[0]);
      /* An image no node has adds nothing anywhere: not looked up per node. */
      if (json_object_get(c->snap->image_nodes, im->name[im->n])) im->n++;
    }
  }
  if (im->n == 0) {
    /* Every node would score 0 (the sum stays under the minimum). */
    free(im);
    return SCHED_SKIP;
  }
  sched_cycle_set(c, im, free);
  return SCHED_SUCCESS;
}

static int64_t score(void *self, struct sched_cycle *c, const struct sched_node_info *ni)
{
  const struct images *im = sched_cycle_get(c);
  if (!im) return 0;
  int64_t sum = 0;
  for (int i = 0; i < im->n; i++) {
    int64_t size = image_size_on_node(ni, im->name[i]);
    if (size < 0) continue;
    double spread =
        (double)json_integer_value(json_object_get(c->snap->image_nodes, im->name[i])) / (double)c->snap->nnodes;
    sum += (int64_t)((double)size * spread);
  }
  int64_t max = MAX_CONTAINER_THRESHOLD * (im->ncontainers ? im->ncontainers : 1);
  if (sum < MIN_THRESHOLD) sum = MIN_THRESHOLD;
  else if (sum > max) sum = max;
  return SCHED_MAX_NODE_SCORE * (sum - MIN_THRESHOLD) / (max - MIN_THRESHOLD);
}

const struct sched_plugin sched_plugin_image_locality = {
    .name = "ImageLocality",
    .pre_score = pre_score,
    .score = score,
};
