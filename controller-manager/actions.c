/*
 * actions.c - the typed writes a sync produces (struct cm_action), the
 * list that holds them, and the rule that says which answers leave an
 * action done (framework.h).  The list is a plain growable array: a sync
 * appends, the executor (framework.c) takes the actions over, tests read
 * the fields.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framework.h"
#include "kube/json.h"
#include "kube/log.h"
#include "kube/recorder.h"
#include "kube/restclient.h"
#include "kube/xalloc.h"

static const char *const verb_names[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "EVENT"};

const char *cm_verb_name(enum cm_verb v) { return verb_names[v]; }

void cm_actions_init(struct cm_actions *a) { memset(a, 0, sizeof *a); }

size_t cm_actions_len(const struct cm_actions *a) { return a->n; }

/* Frees what an action owns (not the action itself). */
void cm_action_release(struct cm_action *act)
{
  free(act->path);
  json_decref(act->body);
  json_decref(act->evobj);
  free(act->ok_message);
  free(act->fail_message);
  if (act->answer_free) act->answer_free(act->answer_arg);
  memset(act, 0, sizeof *act);
}

void cm_actions_clear(struct cm_actions *a)
{
  for (size_t i = 0; i < a->n; i++) cm_action_release(&a->v[i]);
  free(a->v);
  memset(a, 0, sizeof *a);
}

struct cm_action *cm_act(struct cm_actions *a, enum cm_verb verb, const char *path, json_t *body)
{
  if (a->n == a->cap) {
    size_t cap = a->cap ? a->cap * 2 : 8;
    a->v = xrealloc(a->v, cap * sizeof *a->v);
    a->cap = cap;
  }
  struct cm_action *act = &a->v[a->n++];
  memset(act, 0, sizeof *act);
  act->verb = verb;
  act->path = xstrdup(path ? path : "");
  act->body = body;
  act->ok_type = RECORDER_EVENT_NORMAL;
  return act;
}

void cm_act_events(struct cm_action *act, const json_t *evobj, const char *ok_reason, const char *ok_msg,
                   const char *fail_reason, const char *fail_msg)
{
  if (evobj && !act->evobj) act->evobj = json_incref((json_t *)evobj);
  if (ok_reason && ok_msg) {
    act->ok_reason = ok_reason;
    free(act->ok_message);
    act->ok_message = xstrdup(ok_msg);
  }
  if (fail_reason && fail_msg) {
    act->fail_reason = fail_reason;
    free(act->fail_message);
    act->fail_message = xstrdup(fail_msg);
  }
}

void cm_act_event(struct cm_actions *a, const json_t *evobj, const char *type, const char *reason, const char *fmt, ...)
{
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  struct cm_action *act = cm_act(a, CM_EVENT, "", NULL);
  cm_act_events(act, evobj, reason, msg, NULL, NULL);
  act->ok_type = type;
}

void cm_act_on_answer(struct cm_action *act, cm_answer_fn fn, void *arg, void (*free_fn)(void *))
{
  act->on_answer = fn;
  act->answer_arg = arg;
  act->answer_free = free_fn;
}

size_t cm_actions_count(const struct cm_actions *a, enum cm_verb verb, const char *path_prefix)
{
  size_t n = 0;
  for (size_t i = 0; i < a->n; i++)
    n += a->v[i].verb == verb && (!path_prefix || !strncmp(a->v[i].path, path_prefix, strlen(path_prefix)));
  return n;
}

struct cm_action *cm_actions_find(const struct cm_actions *a, enum cm_verb verb, const char *path_prefix)
{
  for (size_t i = 0; i < a->n; i++)
    if (a->v[i].verb == verb && (!path_prefix || !strncmp(a->v[i].path, path_prefix, strlen(path_prefix))))
      return &a->v[i];
  return NULL;
}

static bool reason_is(const struct rest_status *err, const char *reason)
{
  return err->reason && !strcmp(err->reason, reason);
}

bool cm_answer_done(const struct cm_action *act, int code, const struct rest_status *err)
{
  if (!err) return true;
  if (code == 404 && reason_is(err, "NotFound"))
    return act->verb == CM_DELETE || act->verb == CM_GET || (act->done_if & CM_DONE_IF_GONE);
  if (code == 409 && reason_is(err, "AlreadyExists")) return act->verb == CM_POST && (act->done_if & CM_DONE_IF_EXISTS);
  return false;
}
