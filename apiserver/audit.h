/*
 * audit.h - the audit log (--audit-policy-file, --audit-log-*): one
 * audit.k8s.io/v1 Event per line for each request stage the policy asks
 * for (see audit.c).
 */
#ifndef APISERVER_AUDIT_H
#define APISERVER_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct apiserver;
struct api_req;

struct audit_config {
  const char *policy_file; /* --audit-policy-file */
  const char *log_path;    /* --audit-log-path ("-" = standard out) */
  int max_size_mb;         /* --audit-log-maxsize (0 = no rotation) */
  int max_backup;          /* --audit-log-maxbackup (0 = keep all) */
  int max_age_days;        /* --audit-log-maxage (0 = keep all) */
  const char *mode;        /* --audit-log-mode: blocking | batch */
};

struct audit;
/* Reads the policy and opens the log; NULL with a message naming the file
 * or flag in err (a config without both file and path audits nothing and
 * returns NULL with err empty). */
struct audit *audit_new(struct apiserver *srv, const struct audit_config *cfg, char *err, size_t errlen);
/* Writes what is queued and stops the writer. */
void audit_free(struct audit *a);

/* The request path: at the start (after authentication: ar->user set, or
 * NULL on the insecure port) and when the answer is recorded.  The
 * response body (may be NULL) is logged at level RequestResponse. */
void audit_request_received(struct api_req *ar);
struct authz_request_info;
/* The same with the request's attributes already parsed (the secure
 * port's authorization has them). */
void audit_request_received_info(struct api_req *ar, const struct authz_request_info *ri);
void audit_response_complete(struct api_req *ar, int code, const char *body, size_t len);
/* A long-running request (watch, proxied stream) has sent its headers. */
void audit_response_started(struct api_req *ar, int code);
/* True when the response body is to be logged (level RequestResponse). */
bool audit_wants_response(const struct api_req *ar);
/* Frees the request's audit state. */
void audit_req_free(struct api_req *ar);

#endif
