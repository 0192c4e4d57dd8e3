/*
 * controller.h - the Foo controller of the sample controller: Foo objects
 * (samplecontroller.k8s.io/v1alpha1) each own one Deployment, whose
 * replicas follow the Foo's spec and whose available replicas are copied
 * into the Foo's status.
 *
 * Built only on libkube's public headers: two informers (Foos and
 * Deployments), one rate-limited workqueue of "namespace/name" keys, the
 * REST client for writes and the Event recorder.  Everything runs on the
 * caller's libevent loop.
 */
#ifndef SAMPLE_CONTROLLER_H
#define SAMPLE_CONTROLLER_H

#include <stdbool.h>

struct event_base;
struct rest_client;
struct event_recorder;
struct metrics;
struct sample_controller;

#define SAMPLE_CONTROLLER_AGENT_NAME "sample-controller"
#define SAMPLE_FOO_GROUP "samplecontroller.k8s.io"
#define SAMPLE_FOO_VERSION "v1alpha1"
#define SAMPLE_FOO_KIND "Foo"

/* The client, recorder and metrics are borrowed and must outlive the
 * controller.  NULL on allocation failure. */
struct sample_controller *sample_controller_new(struct event_base *base, struct rest_client *client,
                                                struct event_recorder *recorder, struct metrics *metrics);
/* Starts both informers; the workers start by themselves once both caches
 * have synced.  0 or a negative errno. */
int sample_controller_run(struct sample_controller *c, int workers);
/* Stops taking work (the queue shuts down); syncs in flight are abandoned
 * when the controller is freed. */
void sample_controller_shutdown(struct sample_controller *c);
/* Frees everything, including syncs whose requests are still in flight:
 * free the controller before the REST client (whose free cancels them
 * without callbacks). */
void sample_controller_free(struct sample_controller *c);
/* For /metrics: sets the workqueue gauges to their current values. */
void sample_controller_update_gauges(struct sample_controller *c);
bool sample_controller_has_synced(const struct sample_controller *c);

#endif
