/*
 * status.c - names of the typed status codes, as they appear on the wire
 * (proto/onenet.proto) and to people.
 */
#include <strings.h>
#include "onenet/status.h"
#include "onenet/proto/onenet.pb-c.h"

/* The public enum is the wire enum: keep them in step. */
_Static_assert ((int) ONENET_NOT_FOUND == (int) ONENET__STATUS__NOT_FOUND, "status enum out of step with proto");
_Static_assert ((int) ONENET_UNSUPPORTED_VERSION == (int) ONENET__STATUS__UNSUPPORTED_VERSION,
                "status enum out of step with proto");

static const char *const status_names[ONENET_STATUS_COUNT] = {
    [ONENET_OK] = "OK",
    [ONENET_BAD_REQUEST] = "BAD_REQUEST",
    [ONENET_UNKNOWN_SERVICE] = "UNKNOWN_SERVICE",
    [ONENET_NO_ADAPTER] = "NO_ADAPTER",
    [ONENET_TIMEOUT] = "TIMEOUT",
    [ONENET_DENIED] = "DENIED",
    [ONENET_UNAVAILABLE] = "UNAVAILABLE",
    [ONENET_RESOURCE_EXHAUSTED] = "RESOURCE_EXHAUSTED",
    [ONENET_INTERNAL] = "INTERNAL",
    [ONENET_UNSUPPORTED_VERSION] = "UNSUPPORTED_VERSION",
    [ONENET_NOT_FOUND] = "NOT_FOUND",
};

const char *
onenet_status_name (int status)
{
    if (status < 0 || status >= ONENET_STATUS_COUNT)
        return "UNKNOWN";
    return status_names[status];
}

int
onenet_status_from_name (const char *name)
{
    for (int i = 0; name && i < ONENET_STATUS_COUNT; i++)
        if (strcasecmp (name, status_names[i]) == 0)
            return i;
    return -1;
}
