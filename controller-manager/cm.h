/*
 * cm.h - program-level pieces of kube-controller-manager: the controller
 * table, configuration defaults and the program entry point.  The
 * controller framework every controller is built on is framework.h.
 */
#ifndef CM_CM_H
#define CM_CM_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "controller.h"
#include "framework.h"

/* Every controller this build has, NULL-terminated (controllers/registry.c). */
extern const struct controller_def *const cm_all_controllers[];

void cm_config_defaults(struct cm_config *c);
int cm_main(int argc, char **argv);

#endif
