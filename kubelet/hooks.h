/*
 * hooks.h - container lifecycle hooks (postStart, preStop) through the
 * probe/hook handlers, with upstream's failure messages; the caller
 * records FailedPostStartHook / FailedPreStopHook.
 */
#ifndef KL_HOOKS_H
#define KL_HOOKS_H

#include <stdint.h>
#include <jansson.h>

struct kl_pod;

/* which: "PostStart" or "PreStop".  done(arg, 0, "") on success, else
 * (arg, -1, message).  timeout_s <= 0: no limit. */
void kl_hook_run(struct kl_pod *p, const json_t *container, const char *cid, const json_t *hook, const char *which,
                 void (*done)(void *arg, int rc, const char *msg), void *arg);
void kl_hook_run_timeout(struct kl_pod *p, const json_t *container, const char *cid, const json_t *hook,
                         const char *which, int64_t timeout_s, void (*done)(void *arg, int rc, const char *msg),
                         void *arg);

#endif
