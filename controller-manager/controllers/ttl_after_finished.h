/*
 * ttl_after_finished.h - the TTL-after-finished controller's pure step.
 */
#ifndef CM_TTL_AFTER_FINISHED_H
#define CM_TTL_AFTER_FINISHED_H

#include <stdint.h>
#include <jansson.h>

struct cm_actions;

/* When job finished (its Complete/Failed condition's lastTransitionTime), -1 if not. */
int64_t ttl_finish_time(const json_t *job);
/* Appends the Job's DELETE when its TTL expired; otherwise returns the ms
 * until it does (-1: nothing to wait for). */
int64_t ttl_compute(const json_t *job, int64_t now, struct cm_actions *acts);

#endif
