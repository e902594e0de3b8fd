/*
 * onenet/onenet.h - the OneNet SDK: everything an adapter or client needs.
 *
 * Build against the installed SDK with `pkg-config --cflags --libs onenet`.
 * docs/PROTOCOL.md describes the wire protocol these functions speak.
 */
#ifndef ONENET_H
#define ONENET_H

#include "onenet/status.h"
#include "onenet/wire.h"
#include "onenet/log.h"
#include "onenet/client.h"
#include "onenet/adapter.h"
#include "onenet/json.h"
#include "onenet/security.h"

/* The SDK's version, "MAJOR.MINOR.PATCH". Static string. */
const char *onenet_version (void);

#endif
