/*
 * handlers.h - the actions probes and lifecycle hooks run against a
 * container: exec (through the runtime), httpGet, tcpSocket, grpc (the
 * standard grpc.health.v1 health check over HTTP/2) and sleep.  Network
 * handlers connect to the pod's IP (or handler.host) from the kubelet's
 * network namespace; named ports resolve through the container's ports.
 * Results come back through the callback from the loop: 0 success,
 * 1 failure (output says why, in upstream's words), -1 when the check
 * could not be made at all.
 */
#ifndef KL_HANDLERS_H
#define KL_HANDLERS_H

#include <stdint.h>
#include <jansson.h>

struct kubelet;
struct kl_pod;
struct kl_handlers;

typedef void (*kl_handler_done)(void *arg, int result, const char *output);

struct kl_handlers *kl_handlers_new(struct kubelet *k);
void kl_handlers_free(struct kl_handlers *h);
/* Actions still running. */
int kl_handlers_inflight(const struct kl_handlers *h);
/* handler: an object with one of exec, httpGet, tcpSocket, grpc, sleep. */
void kl_handler_run(struct kl_handlers *h, struct kl_pod *p, const json_t *container, const char *cid,
                    const json_t *handler, int64_t timeout_s, kl_handler_done done, void *arg);
/* A port (number or the name of one of the container's ports) or -1. */
int kl_handler_port(const json_t *container, const json_t *port);

#endif
