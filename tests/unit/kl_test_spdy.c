/*
 * kl_test_spdy.c - SPDY/3.1 sessions (kubelet/server/spdy.h): a client and
 * a server session wired back to back, and table-driven bad input fed to a
 * server session (truncated, oversized, wrong version, undecodable header
 * blocks, frames on streams that do not exist), byte by byte and whole.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "spdy.h"

struct wire {
  unsigned char buf[1 << 20];
  size_t len;
};

struct side {
  struct wire out; /* what this side sent */
  int streams, replies, fins, resets, goaways;
  uint32_t last_id, last_status;
  char last_type[64], last_port[16], last_rid[32];
  size_t data_len;
  unsigned char data[1 << 20];
  struct kl_spdy *s;
  bool reply_on_stream;
};

static int capture(const void *data, size_t len, void *arg)
{
  struct side *sd = arg;
  assert_true(sd->out.len + len <= sizeof sd->out.buf);
  memcpy(sd->out.buf + sd->out.len, data, len);
  sd->out.len += len;
  return 0;
}

static void on_stream(struct kl_spdy *s, uint32_t id, const struct kl_spdy_header *h, size_t n, bool fin, void *arg)
{
  struct side *sd = arg;
  sd->streams++;
  sd->last_id = id;
  const char *t = kl_spdy_header_get(h, n, "streamType");
  const char *p = kl_spdy_header_get(h, n, "port");
  const char *r = kl_spdy_header_get(h, n, "requestid");
  snprintf(sd->last_type, sizeof sd->last_type, "%s", t ? t : "");
  snprintf(sd->last_port, sizeof sd->last_port, "%s", p ? p : "");
  snprintf(sd->last_rid, sizeof sd->last_rid, "%s", r ? r : "");
  if (sd->reply_on_stream) assert_int_equal(kl_spdy_reply(s, id, NULL, 0, false), 0);
}

static void on_reply(struct kl_spdy *s, uint32_t id, const struct kl_spdy_header *h, size_t n, bool fin, void *arg)
{
  ((struct side *)arg)->replies++;
}

static void on_data(struct kl_spdy *s, uint32_t id, const void *data, size_t len, void *arg)
{
  struct side *sd = arg;
  memcpy(sd->data + sd->data_len, data, len);
  sd->data_len += len;
}

static void on_fin(struct kl_spdy *s, uint32_t id, void *arg) { ((struct side *)arg)->fins++; }

static void on_reset(struct kl_spdy *s, uint32_t id, uint32_t status, void *arg)
{
  struct side *sd = arg;
  sd->resets++;
  sd->last_status = status;
}

static void on_goaway(struct kl_spdy *s, uint32_t last, uint32_t status, void *arg) { ((struct side *)arg)->goaways++; }

static const struct kl_spdy_callbacks CB = {capture, on_stream, on_reply, on_data, on_fin, on_reset, on_goaway};

/* Moves what `from` sent into `to`'s session. */
static int deliver(struct side *from, struct side *to)
{
  int rc = kl_spdy_feed(to->s, from->out.buf, from->out.len);
  from->out.len = 0;
  return rc;
}

static void test_dictionary(void **state)
{
  size_t len;
  const unsigned char *d = kl_spdy_dictionary(&len);
  assert_int_equal(len, 1423);
  assert_memory_equal(d, "\0\0\0\7options\0\0\0\4head", 15);
  assert_memory_equal(d + len - 6, "enq=0.", 6);
  assert_int_equal(adler32(adler32(0, NULL, 0), d, (uInt)len), 0xe3c6a7c2);
}

static void test_round_trip(void **state)
{
  static struct side cl, sv;
  memset(&cl, 0, sizeof cl);
  memset(&sv, 0, sizeof sv);
  cl.s = kl_spdy_new(false, &CB, &cl);
  sv.s = kl_spdy_new(true, &CB, &sv);
  sv.reply_on_stream = true;
  struct kl_spdy_header h[] = {{"streamType", "data"}, {"port", "8080"}, {"requestID", "0"}};
  uint32_t id, id2;
  assert_int_equal(kl_spdy_feed(sv.s, NULL, 0), 0); /* an empty WebSocket message has no data pointer */
  assert_int_equal(kl_spdy_open(cl.s, h, 3, false, &id), 0);
  assert_int_equal(id, 1);
  assert_int_equal(kl_spdy_open(cl.s, h, 2, false, &id2), 0); /* the shared zlib stream keeps working */
  assert_int_equal(id2, 3);
  assert_int_equal(deliver(&cl, &sv), 0);
  assert_int_equal(sv.streams, 2);
  assert_string_equal(sv.last_type, "data");
  assert_string_equal(sv.last_port, "8080");
  assert_string_equal(sv.last_rid, ""); /* not sent on the second */
  assert_int_equal(deliver(&sv, &cl), 0);
  assert_int_equal(cl.replies, 2);

  /* 100 KB each way, split into frames, then FIN. */
  static unsigned char big[100000];
  for (size_t i = 0; i < sizeof big; i++) big[i] = (unsigned char)(i * 7);
  assert_int_equal(kl_spdy_data(cl.s, id, big, sizeof big, true), 0);
  assert_int_equal(kl_spdy_data(cl.s, id, "x", 1, false), -ENOENT); /* our side is closed */
  assert_int_equal(deliver(&cl, &sv), 0);
  assert_int_equal(sv.data_len, sizeof big);
  assert_memory_equal(sv.data, big, sizeof big);
  assert_int_equal(sv.fins, 1);
  assert_int_equal(kl_spdy_data(sv.s, id, "pong", 4, true), 0);
  assert_int_equal(deliver(&sv, &cl), 0);
  assert_int_equal(cl.data_len, 4);
  assert_int_equal(cl.fins, 1);
  assert_int_equal(kl_spdy_streams(sv.s), 1); /* stream 1 closed both ways and forgotten */
  assert_int_equal(kl_spdy_streams(cl.s), 1);

  /* PING from the client is echoed; the echo is not echoed again. */
  assert_int_equal(kl_spdy_ping(cl.s, 1), 0);
  assert_int_equal(deliver(&cl, &sv), 0);
  assert_int_equal(sv.out.len, 12);
  assert_int_equal(deliver(&sv, &cl), 0);
  assert_int_equal(cl.out.len, 0);

  /* RST and GOAWAY reach the other side. */
  assert_int_equal(kl_spdy_reset(cl.s, id2, KL_SPDY_CANCEL), 0);
  assert_int_equal(deliver(&cl, &sv), 0);
  assert_int_equal(sv.resets, 1);
  assert_int_equal(sv.last_status, KL_SPDY_CANCEL);
  assert_int_equal(kl_spdy_streams(sv.s), 0);
  assert_int_equal(kl_spdy_goaway(sv.s, 0), 0);
  assert_int_equal(deliver(&sv, &cl), 0);
  assert_int_equal(cl.goaways, 1);
  kl_spdy_free(cl.s);
  kl_spdy_free(sv.s);
}

static void test_byte_at_a_time(void **state)
{
  static struct side cl, sv;
  memset(&cl, 0, sizeof cl);
  memset(&sv, 0, sizeof sv);
  cl.s = kl_spdy_new(false, &CB, &cl);
  sv.s = kl_spdy_new(true, &CB, &sv);
  struct kl_spdy_header h[] = {{"streamtype", "error"}, {"port", "80"}, {"requestid", "7"}};
  uint32_t id;
  assert_int_equal(kl_spdy_open(cl.s, h, 3, false, &id), 0);
  assert_int_equal(kl_spdy_data(cl.s, id, "hello", 5, true), 0);
  for (size_t i = 0; i < cl.out.len; i++) {
    assert_int_equal(kl_spdy_feed(sv.s, cl.out.buf + i, 1), 0);
    if (i + 1 < 8) assert_int_equal(sv.streams, 0); /* nothing before a whole frame */
  }
  assert_int_equal(sv.streams, 1);
  assert_string_equal(sv.last_rid, "7");
  assert_int_equal(sv.data_len, 5);
  assert_int_equal(sv.fins, 1);
  kl_spdy_free(cl.s);
  kl_spdy_free(sv.s);
}

/* --- bad input: each frame is fed to a fresh server session --- */

struct bad_case {
  const char *name;
  unsigned char bytes[64];
  size_t len;
  int rc;       /* kl_spdy_feed's result */
  int goaway;   /* a GOAWAY went out */
  uint32_t rst; /* RST_STREAM status that went out, 0 for none */
};

static void test_bad_input_table(void **state)
{
  static const struct bad_case cases[] = {
      {"wrong version", {0x80, 0x02, 0x00, 0x06, 0, 0, 0, 4, 0, 0, 0, 1}, 12, -EPROTO, 1, 0},
      {"ping with a bad length", {0x80, 0x03, 0x00, 0x06, 0, 0, 0, 3, 0, 0, 1}, 11, -EPROTO, 1, 0},
      {"rst with a bad length", {0x80, 0x03, 0x00, 0x03, 0, 0, 0, 4, 0, 0, 0, 1}, 12, -EPROTO, 1, 0},
      {"settings count larger than the frame", {0x80, 0x03, 0x00, 0x04, 0, 0, 0, 4, 0, 0, 0, 9}, 12, -EPROTO, 1, 0},
      {"syn_stream too short", {0x80, 0x03, 0x00, 0x01, 0, 0, 0, 4, 0, 0, 0, 1}, 12, -EPROTO, 1, 0},
      {"syn_stream whose header block is not zlib",
       {0x80, 0x03, 0x00, 0x01, 0, 0, 0, 14, 0, 0, 0, 1, 0, 0, 0, 0, 'g', 'a', 'r', 'b', 'a', 'g'},
       22,
       -EPROTO,
       1,
       0},
      {"goaway with a bad length", {0x80, 0x03, 0x00, 0x07, 0, 0, 0, 4, 0, 0, 0, 0}, 12, -EPROTO, 1, 0},
      {"data on stream 0", {0, 0, 0, 0, 0, 0, 0, 1, 'x'}, 9, -EPROTO, 1, 0},
      {"data on a stream never opened", {0, 0, 0, 5, 0, 0, 0, 1, 'x'}, 9, 0, 0, KL_SPDY_INVALID_STREAM},
      {"unknown control frame type is ignored", {0x80, 0x03, 0x00, 0x0a, 0, 0, 0, 2, 1, 2}, 10, 0, 0, 0},
      {"settings with one entry",
       {0x80, 0x03, 0x00, 0x04, 0, 0, 0, 12, 0, 0, 0, 1, 0, 0, 0, 7, 0, 1, 0, 0},
       20,
       0,
       0,
       0},
      {"window update", {0x80, 0x03, 0x00, 0x09, 0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 1, 0}, 16, 0, 0, 0},
      {"a partial frame waits", {0x80, 0x03, 0x00, 0x06, 0, 0, 0, 4, 0, 0}, 10, 0, 0, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    static struct side sv;
    memset(&sv, 0, sizeof sv);
    sv.s = kl_spdy_new(true, &CB, &sv);
    int rc = kl_spdy_feed(sv.s, cases[i].bytes, cases[i].len);
    if (rc != cases[i].rc) fail_msg("%s: rc %d, want %d", cases[i].name, rc, cases[i].rc);
    bool goaway = sv.out.len >= 16 && sv.out.buf[3] == KL_SPDY_GOAWAY;
    if (goaway != (cases[i].goaway != 0)) fail_msg("%s: goaway %d", cases[i].name, goaway);
    bool rst = sv.out.len == 16 && sv.out.buf[3] == KL_SPDY_RST_STREAM;
    if (rst != (cases[i].rst != 0) || (rst && sv.out.buf[15] != cases[i].rst))
      fail_msg("%s: rst %d", cases[i].name, rst);
    if (rc < 0) assert_int_equal(kl_spdy_feed(sv.s, "", 0), -EPROTO); /* the session stays failed */
    kl_spdy_free(sv.s);
  }
}

static void test_stream_rules(void **state)
{
  static struct side cl, sv;
  memset(&cl, 0, sizeof cl);
  memset(&sv, 0, sizeof sv);
  cl.s = kl_spdy_new(false, &CB, &cl);
  sv.s = kl_spdy_new(true, &CB, &sv);
  /* A server-side session refuses an even (server-parity) id from the peer. */
  struct side odd;
  memset(&odd, 0, sizeof odd);
  odd.s = kl_spdy_new(true, &CB, &odd); /* a "client" that wrongly uses server ids */
  uint32_t id;
  struct kl_spdy_header h[] = {{"streamtype", "data"}};
  assert_int_equal(kl_spdy_open(odd.s, h, 1, false, &id), 0);
  assert_int_equal(id, 2);
  assert_int_equal(kl_spdy_feed(sv.s, odd.out.buf, odd.out.len), 0);
  assert_int_equal(sv.streams, 0);
  assert_int_equal(sv.out.buf[3], KL_SPDY_RST_STREAM);
  assert_int_equal(sv.out.buf[15], KL_SPDY_PROTOCOL_ERROR);
  sv.out.len = 0;
  kl_spdy_free(odd.s);
  /* (the header stream of that peer was another zlib stream: a new session) */
  kl_spdy_free(sv.s);
  sv.s = kl_spdy_new(true, &CB, &sv);
  /* Data after the peer's FIN is answered with STREAM_ALREADY_CLOSED. */
  assert_int_equal(kl_spdy_open(cl.s, h, 1, true, &id), 0);
  assert_int_equal(deliver(&cl, &sv), 0);
  unsigned char late[] = {0, 0, 0, 1, 0, 0, 0, 1, 'x'};
  assert_int_equal(kl_spdy_feed(sv.s, late, sizeof late), 0);
  assert_int_equal(sv.out.buf[3], KL_SPDY_RST_STREAM);
  assert_int_equal(sv.out.buf[15], KL_SPDY_STREAM_ALREADY_CLOSED);
  assert_int_equal(sv.data_len, 0);
  /* Replying to a stream that does not exist is refused. */
  assert_int_equal(kl_spdy_reply(sv.s, 99, NULL, 0, false), -ENOENT);
  kl_spdy_free(cl.s);
  kl_spdy_free(sv.s);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dictionary),     cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_byte_at_a_time), cmocka_unit_test(test_bad_input_table),
      cmocka_unit_test(test_stream_rules),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
