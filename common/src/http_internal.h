/*
 * http_internal.h - structures shared by the http_*.c files of libkube's
 * HTTP/1.1 server (see http_server.c for how the layer works).  Not a
 * public header: other modules use kube/http.h only.
 */
#ifndef KUBE_HTTP_INTERNAL_H
#define KUBE_HTTP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>
#include <time.h>

#include <http_parser.h>

#include "kube/http.h"

struct evconnlistener;
struct event;
struct evbuffer;

/* Bytes of URL and header text kept inside the request allocation; most
 * requests (kubectl, client-go) fit, so one malloc serves the request. */
#define HTTP_REQ_INLINE_ARENA_BYTES 2048
#define HTTP_REQ_INLINE_HEADERS 24

enum http_req_state {
  HTTP_REQ_READING,   /* headers/body still arriving */
  HTTP_REQ_HANDLING,  /* handler called, not answered yet */
  HTTP_REQ_STREAMING, /* chunked answer begun, not ended */
  HTTP_REQ_DONE,      /* answered (or upgraded); freed once nothing is on the stack */
};

struct http_hdr {
  uint32_t name_off, name_len, val_off, val_len;
  const char *name; /* NULL: merged into an earlier header of the same name */
  const char *value;
};

struct http_param {
  const char *key, *value;
};

struct http_request {
  struct http_conn *conn;
  enum http_req_state state;
  bool dead;     /* the connection closed before the answer; on_close fired */
  bool complete; /* message fully read */
  bool keep_alive;
  bool head;
  bool http10;
  bool chunked_out; /* streaming with Transfer-Encoding: chunked */
  bool params_parsed;
  const char *method;

  /* URL and header text, NUL-terminated strings addressed by offsets
   * while parsing (the arena may move), by pointers once complete. */
  char *arena;
  size_t arena_len, arena_cap;
  int last_cb;      /* which string is growing: HTTP_CB_* */
  uint32_t cur_off; /* start of that string */
  uint32_t url_off, url_len;
  size_t header_bytes;
  struct http_hdr *hdrs;
  unsigned nhdrs, hdrs_cap;

  const char *raw_path, *path, *query;

  char *body;
  size_t body_len, body_cap;

  char *qbuf;
  struct http_param *params;
  unsigned nparams;

  char **joined; /* values of repeated headers, joined with ", " */
  unsigned njoined;

  char *out_hdrs; /* "Name: value\r\n" lines added by http_add_header */
  size_t out_len, out_cap;

  void *data;
  http_close_fn on_close;
  void *on_close_arg;

  struct http_hdr inline_hdrs[HTTP_REQ_INLINE_HEADERS];
  char inline_arena[HTTP_REQ_INLINE_ARENA_BYTES];
};

struct http_conn {
  struct http_server *srv;
  struct http_conn *prev, *next;
  struct bufferevent *bev; /* NULL once closed or handed over */
  struct event *resume_ev; /* parses pipelined input after a late answer */
  http_parser parser;
  struct http_request *req; /* the one request being read or answered */
  int busy;                 /* frames of this layer on the stack */
  int err_status;           /* answer for a request the parser rejected */
  bool closed;
  bool close_after_write;
  bool lingering;
  bool eof;
  bool is_ssl;
  void *ssl; /* SSL * of an HTTPS connection (owned by bev) */
  bool read_timeout_off;
  char peer[64];
};

struct http_server {
  struct event_base *base;
  struct http_server_opts opts;
  http_handler_fn handler;
  void *arg;
  struct evconnlistener **listeners;
  size_t nlisteners;
  struct http_conn *conns;
  size_t nconns;
  http_parser_settings settings;
  struct timeval idle_tv;
  time_t date_sec;
  char date[40];
};

/* http_server.c */
void http_conn_enter(struct http_conn *c);
void http_conn_leave(struct http_conn *c);
void http_conn_close(struct http_conn *c);
/* The request is answered: close after the output drains if it asked to. */
void http_conn_request_done(struct http_conn *c, struct http_request *r);

/* http_request.c */
enum { HTTP_CB_NONE, HTTP_CB_URL, HTTP_CB_FIELD, HTTP_CB_VALUE };
/* Appends a piece of the URL, a header name or a value (HTTP_CB_*). */
int http_req_piece(struct http_request *r, int kind, const char *p, size_t n);
int http_req_arena_append(struct http_request *r, const char *p, size_t n);
void http_req_terminate_string(struct http_request *r);
int http_req_finalize_head(struct http_request *r);
struct http_request *http_req_new(struct http_conn *c);
void http_req_free(struct http_request *r);

/* http_response.c */
/* The connection's live bufferevent if r may still be answered, else NULL. */
struct http_conn *http_req_live_conn(const struct http_request *r);
/* Writes a complete response built by this layer (errors, 413...). */
void http_write_simple(struct http_conn *c, int status, bool keep_alive, const char *ctype, const char *body,
                       size_t len);

#endif
