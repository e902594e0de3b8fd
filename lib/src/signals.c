/*
 * signals.c - SIGINT/SIGTERM turned into a flag every OneNet loop checks,
 * so adapters and CLI streams stop cleanly (send DISCONNECT, free all).
 */
#include <signal.h>
#include <string.h>
#include "onenet/onenet.h"

static volatile sig_atomic_t s_interrupted = 0;

static void
on_signal (int signum)
{
    (void) signum;
    if (s_interrupted < 100)
        s_interrupted++;
}

void
onenet_signals_catch (void)
{
    struct sigaction action;
    memset (&action, 0, sizeof action);
    action.sa_handler = on_signal;
    sigemptyset (&action.sa_mask);
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);
}

bool
onenet_interrupted (void)
{
    return s_interrupted != 0;
}

int
onenet_interrupt_count (void)
{
    return s_interrupted;
}

const char *
onenet_version (void)
{
    return ONENET_VERSION;
}
