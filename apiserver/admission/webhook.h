/*
 * webhook.h - the MutatingAdmissionWebhook and ValidatingAdmissionWebhook
 * plugins (admissionregistration.k8s.io/v1), as upstream's
 * k8s.io/apiserver/pkg/admission/plugin/webhook.
 *
 * webhook.c keeps an in-memory index of the stored
 * Mutating/ValidatingWebhookConfigurations (listed once, then kept current
 * by storage watches, as the RBAC indexes are) and calls the webhooks that
 * match a write: the mutating ones one after the other (their JSONPatch
 * answers applied in turn; `reinvocationPolicy: IfNeeded` webhooks called
 * once more when a later one changed the object), the validating ones all
 * at once.  Calls are HTTPS POSTs of an AdmissionReview made with the
 * common REST client on the API server's event loop: nothing blocks, and
 * the write resumes in the completion callback.
 * webhook_match.c decides which webhooks a request reaches (rules,
 * namespaceSelector, objectSelector); webhook_review.c builds the
 * AdmissionReview and checks the answer.  Both are pure and unit tested.
 */
#ifndef APISERVER_WEBHOOK_H
#define APISERVER_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

struct apiserver;
struct auth_user;

/* What the write is, in upstream's admission.Attributes terms.  Every
 * pointer is borrowed for the duration of the call that takes it. */
struct webhook_attrs {
  const char *operation;   /* "CREATE", "UPDATE", "DELETE", "CONNECT" */
  const char *group;       /* "" for core */
  const char *version;
  const char *resource;    /* plural: "pods" */
  const char *subresource; /* NULL or "" for the main resource */
  const char *kind;        /* "Pod" */
  bool namespaced;         /* the resource's scope */
  /* The request's namespace; for a Namespace object, its own name (as
   * upstream's RequestInfo has it). */
  const char *namespace_;
  const char *name;
  const json_t *object;     /* NULL on delete */
  const json_t *old_object; /* NULL on create */
  const json_t *options;    /* CreateOptions / UpdateOptions / DeleteOptions, or NULL */
  /* The version the client wrote in when it differs from version (the
   * webhook matched another version: requestKind/requestResource), or NULL */
  const char *request_version;
  bool dry_run;
  const struct auth_user *user; /* NULL: the insecure port */
};

/* ---- matching (webhook_match.c) ---- */

/* True when one of `rules` (a RuleWithOperations array) covers the
 * request: operation, group, version, resource[/subresource] with `*`,
 * `* / *`, `pods/ *`, `* /status`, and scope. */
bool webhook_rules_match(const json_t *rules, const struct webhook_attrs *a);
/* True for the kinds upstream never sends to webhooks: the webhook
 * configurations themselves. */
bool webhook_is_exempt(const struct webhook_attrs *a);
/* Whether namespaceSelector applies: to namespaced resources and to
 * Namespace objects; every other cluster-scoped resource matches it. */
bool webhook_namespace_selector_applies(const struct webhook_attrs *a);
/* The labels namespaceSelector is matched against: for a Namespace
 * object its own (the old object's on delete), else ns_obj's (the
 * request's namespace read from storage, may be NULL).  Borrowed. */
const json_t *webhook_namespace_labels(const struct webhook_attrs *a, const json_t *ns_obj);
/* objectSelector: matches when the new or the old object's labels do. */
bool webhook_object_selector_matches(const json_t *selector, const struct webhook_attrs *a);
/* A LabelSelector against labels (NULL: none); absent selector matches. */
bool webhook_selector_matches(const json_t *selector, const json_t *labels);

/* ---- AdmissionReview (webhook_review.c) ---- */

/* The AdmissionReview to send: review_version "v1" or "v1beta1", uid the
 * request's uid.  New reference. */
json_t *webhook_review_new(const struct webhook_attrs *a, const char *review_version, const char *uid);
/* The AdmissionReview version to send for admissionReviewVersions: the
 * first of them this server speaks ("v1", "v1beta1"), or NULL. */
const char *webhook_review_version(const json_t *versions);

struct webhook_result {
  bool allowed;
  json_t *status;   /* response.status (new reference) or NULL */
  json_t *patch;    /* the decoded JSONPatch operations (new reference) or NULL */
  json_t *warnings; /* array of strings (new reference) or NULL */
};
void webhook_result_clear(struct webhook_result *r);
/* Checks the webhook's answer as upstream's VerifyAdmissionResponse:
 * kind/apiVersion (v1), response present, the uid sent, patchType
 * JSONPatch only and only from a mutating webhook, patch base64 of a JSON
 * array.  0 with *out filled, or -1 with upstream's message in err. */
int webhook_review_parse(const json_t *body, const char *review_version, const char *uid, bool mutating,
                         struct webhook_result *out, char *err, size_t errlen);
/* A denial as upstream's ToStatusErr: `admission webhook "NAME" denied
 * the request: MSG` with the answer's code (403 when none) and reason,
 * prefixed `RESOURCE "NAME" is forbidden: ` (or `Internal error
 * occurred: ` for a 500).  New reference. */
json_t *webhook_denied_status(const struct webhook_attrs *a, const char *webhook, const json_t *result);
/* Upstream's error for a webhook that could not be called under
 * failurePolicy Fail: 500 InternalError `Internal error occurred: failed
 * calling webhook "NAME": DETAIL`.  New reference. */
json_t *webhook_call_error_status(const char *webhook, const char *detail);

/* ---- the plugins (webhook.c) ---- */

/* Where a webhook is called. */
struct webhook_target {
  char base[512];       /* scheme://authority */
  char path[2048];      /* path, with ?timeout=Ns (or &timeout=Ns) added as upstream's client does */
  char connect_to[600]; /* a Service: "NAME.NS.svc:PORT:ADDRESS:PORT" (curl's CONNECT_TO), else "" */
  char url[2600];       /* base + path, as errors print it */
};
/* A clientConfig's target: the url as given; for a service
 * https://NAME.NS.svc:PORT/PATH (TLS checks that name) connected to the
 * Service's ClusterIP, or with --enable-aggregator-routing to an endpoint
 * address and port serving the Service's port.  Reads storage.  0, or -1
 * with the reason in err. */
int webhook_target(struct apiserver *srv, const json_t *client_config, int timeout_s, struct webhook_target *t,
                   char *err, size_t errlen);

struct webhook_index;

/* Lists the configurations from storage and watches them.  NULL on a
 * storage error (logged). */
struct webhook_index *webhook_index_new(struct apiserver *srv);
/* Cancels the watches and every call in flight (their callbacks do not
 * run), frees the index. */
void webhook_index_free(struct webhook_index *ix);

/* Completion of webhook_admit: obj is the (possibly mutated) object (new
 * reference, NULL when none was given), status NULL to go on or a Status
 * (new reference) that fails the request; warnings an array of strings
 * (borrowed) for Warning headers. */
typedef void (*webhook_done_fn)(void *arg, json_t *obj, json_t *status, const json_t *warnings);

/* True when some webhook of the type is configured (and its plugin on):
 * callers skip building a request's attributes otherwise. */
bool webhook_configured(struct apiserver *srv, bool mutating);

/* Starts the mutating (mutating true) or validating webhooks that match
 * the write a describes, on obj (a->object is ignored; obj may be NULL on
 * delete).  False when none applies (the plugin is off, nothing matches):
 * obj stays the caller's and done is not called.  True: obj is taken and
 * done runs exactly once, later, from the event loop (never from inside
 * this call).  a->user must stay valid until done runs. */
bool webhook_admit(struct apiserver *srv, const struct webhook_attrs *a, bool mutating, json_t *obj,
                   webhook_done_fn done, void *arg);

#endif
