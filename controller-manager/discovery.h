/*
 * discovery.h - what the API server serves, as controllers discover it
 * (client-go's ServerPreferredResources): GET /api/v1 and GET /apis, then
 * each group's preferred version; the APIResourceLists that answered go
 * to the callback together, with a summary of the group versions that
 * failed (left out, as upstream's partial discovery errors).
 */
#ifndef CM_DISCOVERY_H
#define CM_DISCOVERY_H

#include <stdbool.h>
#include <jansson.h>

struct rest_client;
struct cm_discovery;

/* lists: new array of APIResourceList objects (the callee owns it);
 * failed: NULL, or "GROUP/VERSION: message, ..." (borrowed). */
typedef void (*cm_discovery_fn)(void *arg, json_t *lists, const char *failed);

/* Starts one pass; done runs once, from the loop.  NULL if nothing could
 * be sent. */
struct cm_discovery *cm_discovery_start(struct rest_client *c, cm_discovery_fn done, void *arg);
/* Abandons a pass in flight: done will not run. */
void cm_discovery_cancel(struct cm_discovery *d);

/* The path of each group's preferred version in an APIGroupList
 * ("/apis/GROUP/VERSION"), appended to out (an array of strings). */
void cm_discovery_preferred(const json_t *group_list, json_t *out);

/* One resource of the lists with every verb of the comma-separated verbs,
 * subresources left out: {path "/apis/G/V/PLURAL" (or /api/v1/PLURAL),
 * apiVersion, kind, namespaced} appended to out.  skip (may be NULL) is a
 * comma-separated list of "PLURAL.GROUP" (core: "PLURAL.") left out. */
void cm_discovery_resources(const json_t *lists, const char *verbs, const char *skip, json_t *out);

#endif
