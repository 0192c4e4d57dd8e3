/*
 * recorder.h - records core/v1 Events about objects, like client-go's
 * EventRecorder with its EventCorrelator: repeats of the same event are
 * folded into one Event whose count and lastTimestamp grow (PATCH), more
 * than 10 different messages for the same object and reason within 10
 * minutes become one "(combined from similar events): ..." Event, and a
 * per-object token bucket (burst 25, one more every 5 minutes) drops
 * event storms.  Recording never blocks and never fails the caller: the
 * writes are asynchronous and errors are only logged.
 */
#ifndef KUBE_RECORDER_H
#define KUBE_RECORDER_H

#include <stdint.h>
#include <jansson.h>

struct event_base;
struct rest_client;
struct event_recorder;

#define RECORDER_EVENT_NORMAL "Normal"
#define RECORDER_EVENT_WARNING "Warning"

/* component: source.component and reportingComponent ("kube-scheduler",
 * "replicaset-controller"); host: source.host and reportingInstance
 * (may be NULL). */
struct event_recorder *recorder_new(struct event_base *base, struct rest_client *client, const char *component,
                                    const char *host);
/* Outstanding writes are abandoned. */
void recorder_free(struct event_recorder *r);

/*
 * Records an event about obj: a full API object (kind, apiVersion and
 * metadata are read) or an ObjectReference ({kind, namespace, name, uid,
 * apiVersion, resourceVersion}); borrowed.  type is "Normal" or "Warning".
 */
void recorder_eventf(struct event_recorder *r, const json_t *obj, const char *type, const char *reason, const char *fmt,
                     ...) __attribute__((format(printf, 5, 6)));

/* Tuning, mainly for tests: spam filter burst and refill interval (one
 * token per refill_ms), aggregation window, cache size. */
void recorder_set_limits(struct event_recorder *r, int burst, int64_t refill_ms, int64_t window_ms, size_t cache_size);
/* Counters: events posted, patched, dropped by the spam filter. */
void recorder_stats(const struct event_recorder *r, int *created, int *patched, int *dropped);

#endif
