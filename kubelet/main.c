/*
 * main.c - kubelet entry point; the program is app.c.
 */
#include "app.h"

int main(int argc, char **argv) { return kl_main(argc, argv); }
