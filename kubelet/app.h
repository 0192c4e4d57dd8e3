/*
 * app.h - the kubelet program: configuration, the context struct, the
 * modules, signals (app.c).
 */
#ifndef KL_APP_H
#define KL_APP_H

int kl_main(int argc, char **argv);

#endif
