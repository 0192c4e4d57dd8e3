/*
 * spdy_conn.h - a SPDY session (spdy.h) bound to a connection: either the
 * raw connection after "101 Switching Protocols / Upgrade: SPDY/3.1", or a
 * WebSocket whose binary messages carry the SPDY byte stream (kubectl's
 * port-forward tunnel, subprotocol SPDY/3.1+portforward.k8s.io: each
 * message is a chunk of the stream, with no channel byte).
 *
 * Lifetime as in stream_ws.h: on_close fires once when the connection is
 * over (peer gone, SPDY protocol error, or kl_spdy_conn_close() flushed),
 * and the object and its session are freed after it returns.  The session
 * callbacks (cb->spdy) receive `arg`; they may use the session and call
 * kl_spdy_conn_close(), whose teardown is deferred until they return.
 */
#ifndef KL_SPDY_CONN_H
#define KL_SPDY_CONN_H

#include <stdbool.h>
#include <stddef.h>

#include "spdy.h"

struct bufferevent;
struct kl_spdy_conn;

struct kl_spdy_conn_callbacks {
  struct kl_spdy_callbacks spdy;                       /* `send` is filled in by the connection */
  void (*on_drain)(struct kl_spdy_conn *c, void *arg); /* output queue emptied */
  void (*on_close)(struct kl_spdy_conn *c, void *arg);
};

/* Takes ownership of bev.  NULL on allocation failure (bev freed). */
struct kl_spdy_conn *kl_spdy_conn_new(struct bufferevent *bev, bool websocket, bool server,
                                      const struct kl_spdy_conn_callbacks *cb, void *arg);
struct kl_spdy *kl_spdy_conn_session(struct kl_spdy_conn *c);
size_t kl_spdy_conn_pending(const struct kl_spdy_conn *c);
/* Sends GOAWAY, flushes, closes. */
void kl_spdy_conn_close(struct kl_spdy_conn *c);
/* Our side is done: wait for the peer to close the connection (it does so
 * once it has read everything, which a GOAWAY or an early close could cut
 * short), and close after timeout_ms if it does not. */
void kl_spdy_conn_linger(struct kl_spdy_conn *c, int timeout_ms);

#endif
