/*
 * stream_portforward.h - the kubelet's port-forward session (protocol
 * portforward.k8s.io), independent of the container runtime.
 *
 * kl_portforward_accept() answers the upgrade of /portForward (or the API
 * server's pods/NAME/portforward relayed to it) in either form kubectl 1.32
 * uses: a WebSocket with subprotocol SPDY/3.1+portforward.k8s.io whose
 * binary messages carry a SPDY session (its default), or a plain
 * "Upgrade: SPDY/3.1" with X-Stream-Protocol-Version portforward.k8s.io
 * (its fallback).  Inside, each forwarded connection is a pair of streams
 * opened by the client with headers `streamType` (error, data), `port` and
 * `requestID` (pairs match by requestID; a client without it pairs by
 * stream id as upstream does).  When both arrived, the session asks the
 * caller to dial the port inside the pod; on failure the message is
 * written on the error stream (kubectl prints it) and both streams end;
 * on success bytes are relayed both ways, half-closes included (the
 * client's FIN shuts down the socket's write side once its queue is sent;
 * the socket's EOF ends the data stream).  Reading from pod sockets pauses
 * while more than KL_PF_HIGH_WATER_BYTES wait on the client connection.
 *
 * on_close fires once when the client connection is gone; every pod socket
 * is closed before that, and the session is freed after it returns.
 */
#ifndef KL_STREAM_PORTFORWARD_H
#define KL_STREAM_PORTFORWARD_H

#include <stddef.h>
#include <stdint.h>

struct http_request;
struct kl_portforward;

#define KL_PF_PROTOCOL "portforward.k8s.io"
#define KL_PF_WS_PROTOCOL "SPDY/3.1+portforward.k8s.io"
#define KL_PF_HIGH_WATER_BYTES (1u << 20)

struct kl_portforward_callbacks {
  /* A connected or connecting non-blocking socket to `port` in the pod,
   * handed to the session; or -errno with the message for kubectl in err. */
  int (*dial)(uint16_t port, char *err, size_t errlen, void *arg);
  void (*on_close)(struct kl_portforward *pf, void *arg);
};

/* Answers the upgrade (or a 400/403 Status, then NULL). */
struct kl_portforward *kl_portforward_accept(struct http_request *req, const struct kl_portforward_callbacks *cb,
                                             void *arg);
/* Forwarded connections open now (for tests). */
size_t kl_portforward_active(const struct kl_portforward *pf);
/* "websocket" or "spdy". */
const char *kl_portforward_transport(const struct kl_portforward *pf);

#endif
