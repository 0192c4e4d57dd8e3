/*
 * hooks.c - lifecycle hooks (see hooks.h).
 */
#define _GNU_SOURCE
#include "hooks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"
#include "kube/json.h"
#include "kube/xalloc.h"
#include "pods_internal.h"

#define HOOK_NO_TIMEOUT_S (24 * 3600)

struct hook_call {
  char desc[1200];
  bool exec;
  void (*done)(void *arg, int rc, const char *msg);
  void *arg;
};

static void hook_done(void *arg, int result, const char *out)
{
  struct hook_call *h = arg;
  if (result == 0) {
    h->done(h->arg, 0, "");
  } else {
    char msg[2600];
    snprintf(msg, sizeof msg, "%s failed - error: %s, message: \"%s\"", h->desc, out && *out ? out : "unknown error",
             h->exec ? (out ? out : "") : "");
    h->done(h->arg, -1, msg);
  }
  free(h);
}

void kl_hook_run_timeout(struct kl_pod *p, const json_t *c, const char *cid, const json_t *hook, const char *which,
                         int64_t timeout_s, void (*done)(void *arg, int rc, const char *msg), void *arg)
{
  struct hook_call *h = xcalloc(1, sizeof *h);
  h->done = done;
  h->arg = arg;
  char what[600] = "";
  if (kj_get(hook, "exec")) {
    h->exec = true;
    size_t i;
    json_t *a;
    json_array_foreach (kj_get(hook, "exec.command"), i, a)
      snprintf(what + strlen(what), sizeof what - strlen(what), "%s%s", i ? " " : "", json_string_value(a) ?: "");
    snprintf(h->desc, sizeof h->desc, "Exec lifecycle hook ([%s]) for Container \"%s\" in Pod \"%s_%s(%s)\"", what,
             kj_get_str(c, "name") ?: "", p->name, p->ns, p->uid);
  } else if (kj_get(hook, "httpGet")) {
    snprintf(h->desc, sizeof h->desc, "HTTP lifecycle hook (%s) for Container \"%s\" in Pod \"%s_%s(%s)\"",
             kj_get_str(hook, "httpGet.path") ?: "/", kj_get_str(c, "name") ?: "", p->name, p->ns, p->uid);
  } else {
    snprintf(h->desc, sizeof h->desc, "%s lifecycle hook for Container \"%s\" in Pod \"%s_%s(%s)\"", which,
             kj_get_str(c, "name") ?: "", p->name, p->ns, p->uid);
  }
  kl_handler_run(p->mgr->handlers, p, c, cid, hook, timeout_s > 0 ? timeout_s : HOOK_NO_TIMEOUT_S, hook_done, h);
}

void kl_hook_run(struct kl_pod *p, const json_t *c, const char *cid, const json_t *hook, const char *which,
                 void (*done)(void *arg, int rc, const char *msg), void *arg)
{
  kl_hook_run_timeout(p, c, cid, hook, which, 0, done, arg);
}
