/*
 * main.c - kube-scheduler entry point; the program is app.c, the
 * scheduling loop scheduler.c, the framework framework.c and plugins/.
 */
#include "scheduler.h"

int main(int argc, char **argv) { return sched_main(argc, argv); }
