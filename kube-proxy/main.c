/*
 * main.c - kube-proxy entry point; the program is in app.c, the proxier
 * in proxier.c, the cluster DNS in dns*.c.
 */
#include "app.h"

int main(int argc, char **argv) { return kp_main(argc, argv); }
