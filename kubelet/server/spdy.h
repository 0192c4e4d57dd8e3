/*
 * spdy.h - SPDY/3.1 framing and sessions, as kubectl and the kubelet speak
 * it for exec/attach (the SPDY fallback) and port-forward.
 *
 * A session is a pure state machine over bytes: the transport feeds what
 * it read with kl_spdy_feed() and gets what to send through the `send`
 * callback (a raw upgraded connection, or binary WebSocket messages when
 * kubectl tunnels SPDY inside a WebSocket).  That keeps it independent of
 * sockets and fit for table-driven tests and fuzzing.
 *
 * Framing (draft 3.1): control frames carry C=1, version 3, a type, flags
 * and a 24-bit length; data frames a 31-bit stream id, flags (FIN) and a
 * 24-bit length.  Header blocks (SYN_STREAM, SYN_REPLY, HEADERS) are
 * {count, {len, name, len, value}...} with 32-bit big-endian lengths,
 * compressed by one zlib stream per direction per session, primed with the
 * SPDY/3 dictionary and flushed with Z_SYNC_FLUSH after each block.
 *
 * What is implemented: streams opened by the peer (SYN_STREAM) and by us,
 * SYN_REPLY, DATA with FIN, RST_STREAM, PING (answered), GOAWAY, HEADERS
 * and SETTINGS (parsed and ignored), WINDOW_UPDATE (parsed; like the Go
 * implementation kubectl uses, no flow-control window is enforced).  A
 * protocol error (bad version, truncated or oversized frame, undecodable
 * header block) makes kl_spdy_feed() return a negative errno after a GOAWAY
 * with PROTOCOL_ERROR was sent; the caller closes the transport.  Errors
 * confined to one stream (data on an unknown or half-closed stream) answer
 * RST_STREAM and the session goes on.
 *
 * Every callback may call back into the session (reply, data, reset), but
 * must not free it; kl_spdy_free() is for the transport's close path.
 */
#ifndef KL_SPDY_H
#define KL_SPDY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KL_SPDY_VERSION 3
#define KL_SPDY_MAX_FRAME_BYTES (1u << 24)      /* 24-bit length field */
#define KL_SPDY_MAX_HEADER_BYTES (256u * 1024u) /* decompressed header block */

enum kl_spdy_type {
  KL_SPDY_SYN_STREAM = 1,
  KL_SPDY_SYN_REPLY = 2,
  KL_SPDY_RST_STREAM = 3,
  KL_SPDY_SETTINGS = 4,
  KL_SPDY_PING = 6,
  KL_SPDY_GOAWAY = 7,
  KL_SPDY_HEADERS = 8,
  KL_SPDY_WINDOW_UPDATE = 9,
};

#define KL_SPDY_FLAG_FIN 0x01
#define KL_SPDY_FLAG_UNIDIRECTIONAL 0x02

enum kl_spdy_rst {
  KL_SPDY_PROTOCOL_ERROR = 1,
  KL_SPDY_INVALID_STREAM = 2,
  KL_SPDY_REFUSED_STREAM = 3,
  KL_SPDY_UNSUPPORTED_VERSION = 4,
  KL_SPDY_CANCEL = 5,
  KL_SPDY_INTERNAL_ERROR = 6,
  KL_SPDY_FLOW_CONTROL_ERROR = 7,
  KL_SPDY_STREAM_IN_USE = 8,
  KL_SPDY_STREAM_ALREADY_CLOSED = 9,
  KL_SPDY_FRAME_TOO_LARGE = 11,
};

struct kl_spdy_header {
  const char *name;  /* lower case */
  const char *value; /* first value when several were sent NUL-separated */
};

struct kl_spdy;

struct kl_spdy_callbacks {
  /* Bytes to put on the wire, in order.  Returns 0 or -1 (transport gone). */
  int (*send)(const void *data, size_t len, void *arg);
  /* The peer opened stream `id` (headers borrowed for the call only). */
  void (*on_stream)(struct kl_spdy *s, uint32_t id, const struct kl_spdy_header *h, size_t n, bool fin, void *arg);
  /* The peer answered a stream we opened. */
  void (*on_reply)(struct kl_spdy *s, uint32_t id, const struct kl_spdy_header *h, size_t n, bool fin, void *arg);
  void (*on_data)(struct kl_spdy *s, uint32_t id, const void *data, size_t len, void *arg);
  /* The peer will send no more on `id` (FIN). */
  void (*on_fin)(struct kl_spdy *s, uint32_t id, void *arg);
  /* The stream is gone (RST_STREAM from the peer). */
  void (*on_reset)(struct kl_spdy *s, uint32_t id, uint32_t status, void *arg);
  void (*on_goaway)(struct kl_spdy *s, uint32_t last_id, uint32_t status, void *arg);
};

/* server: true for the side that accepted the connection (even stream ids
 * of its own, odd ones from the peer).  NULL on allocation failure. */
struct kl_spdy *kl_spdy_new(bool server, const struct kl_spdy_callbacks *cb, void *arg);
void kl_spdy_free(struct kl_spdy *s);
/* Replaces the `send` callback and its argument (for a transport that
 * owns the session: the other callbacks keep the caller's arg). */
void kl_spdy_set_sender(struct kl_spdy *s, int (*send)(const void *data, size_t len, void *arg), void *send_arg);

/* Feeds bytes read from the transport; complete frames are handled at once,
 * a partial one is kept.  0, or -EPROTO / -EMSGSIZE / -ENOMEM on a session
 * error (a GOAWAY was sent; close the transport). */
int kl_spdy_feed(struct kl_spdy *s, const void *data, size_t len);

/* Opens a stream (SYN_STREAM); its id in *id. */
int kl_spdy_open(struct kl_spdy *s, const struct kl_spdy_header *h, size_t n, bool fin, uint32_t *id);
/* Answers a stream the peer opened (SYN_REPLY). */
int kl_spdy_reply(struct kl_spdy *s, uint32_t id, const struct kl_spdy_header *h, size_t n, bool fin);
/* DATA on a stream (split into frames as needed); fin closes our side.
 * -ENOENT for a stream that is unknown or already closed on our side. */
int kl_spdy_data(struct kl_spdy *s, uint32_t id, const void *data, size_t len, bool fin);
int kl_spdy_reset(struct kl_spdy *s, uint32_t id, uint32_t status);
int kl_spdy_ping(struct kl_spdy *s, uint32_t ping_id);
int kl_spdy_goaway(struct kl_spdy *s, uint32_t status);
/* Number of open streams (for tests and for closing when all are done). */
size_t kl_spdy_streams(const struct kl_spdy *s);

/* The value of `name` in a header list, or NULL. */
const char *kl_spdy_header_get(const struct kl_spdy_header *h, size_t n, const char *name);

/* The SPDY/3 header compression dictionary (1423 bytes). */
const unsigned char *kl_spdy_dictionary(size_t *len);

#endif
