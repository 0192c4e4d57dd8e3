/*
 * main.c - kube-controller-manager entry point; everything else is in
 * cm.c (program setup) and controllers/ (one file per controller).
 */
#include "cm.h"

int main(int argc, char **argv) { return cm_main(argc, argv); }
