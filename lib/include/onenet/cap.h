/*
 * onenet/cap.h - CAP 1.2 (OASIS Common Alerting Protocol) XML to and from
 * the alert message of the shared schema (proto/alert.proto).
 *
 * `onenet alert publish` reads a department's CAP document with
 * onenet_cap_parse; `onenet alerts --format cap` and anything else that
 * hands alerts to CAP systems writes them with onenet_cap_format. Every
 * element and value the CAP 1.2 schema defines survives a round trip:
 * values are kept as text (see alert.proto), only whitespace between
 * elements and the order of elements may change (the output follows the
 * schema's order).
 *
 * What the parser accepts (and the reasons it gives otherwise):
 *   - the root must be <alert> in namespace urn:oasis:names:tc:emergency:cap:1.2
 *     (CAP 1.0 and 1.1 documents are refused, naming their version);
 *   - required: identifier, sender, sent, status, msgType, scope; in each
 *     <info>: category (one or more), event, urgency, severity, certainty;
 *     in <resource>: resourceDesc, mimeType; in <area>: areaDesc; in
 *     eventCode, parameter, geocode: valueName and value;
 *   - restriction is required when scope is Restricted, addresses when
 *     scope is Private; ceiling only together with altitude;
 *   - enumerations exactly as CAP 1.2 spells them. "Very Likely" (CAP 1.0's
 *     certainty) is refused: CAP 1.2 has no such value, and turning it into
 *     "Likely" would change what the sender said;
 *   - dateTimes as the CAP 1.2 schema's pattern: "2002-05-24T16:49:00-07:00",
 *     a numeric offset always ("Z" is refused: CAP writes UTC as -00:00), no
 *     fractional seconds, and a real calendar date and time;
 *   - identifier and sender without whitespace, ',', '<' or '&';
 *     references as whitespace-separated "sender,identifier,sent" with a
 *     valid sent; addresses and incidents with balanced double quotes;
 *   - polygon: at least 4 "lat,lon" pairs, first equal to last; circle:
 *     "lat,lon radius"; latitudes in [-90, 90], longitudes in [-180, 180],
 *     radius >= 0; altitude, ceiling and size are decimal numbers;
 *   - language an RFC 3066 tag ("en-US", "zh-CN");
 *   - elements in any order (the CAP schema fixes one; many senders do not
 *     follow it), but each single element at most once; an unknown element
 *     in the CAP namespace, an attribute in no namespace (CAP defines
 *     none), or text where only elements belong is an error; elements of
 *     other namespaces directly under <alert> (an XML-DSig <Signature>)
 *     and namespaced attributes (xsi:schemaLocation) are skipped: OneNet
 *     does not verify signatures, and a re-written document could not
 *     carry one validly;
 *   - an empty (or all-whitespace) optional element counts as absent; an
 *     empty required element is an error;
 *   - a DOCTYPE is refused before any of it is read, so no entity is ever
 *     expanded (no "billion laughs") or fetched (no XXE); the network is
 *     never used; documents larger than ONENET_CAP_MAX_SIZE are refused.
 *
 * Errors name the line and the element path below <alert>:
 *   line 12: <info><severity>: "Bad" is not one of Extreme, Severe, Moderate, Minor, Unknown
 *   line 2: <alert>: missing required element <identifier>
 * onenet_cap_validate, for messages that did not come from XML, names the
 * field path instead: "info[0].area[1].polygon[0]: first and last
 * coordinate pairs differ".
 *
 * Thread-safe: no state is shared between calls.
 */
#ifndef ONENET_CAP_H
#define ONENET_CAP_H

#include <stddef.h>
#include "onenet/proto/alert.pb-c.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ONENET_CAP_NAMESPACE "urn:oasis:names:tc:emergency:cap:1.2"
/* Larger documents are refused without being parsed (8 MiB). */
#define ONENET_CAP_MAX_SIZE (8u * 1024u * 1024u)

/* Parses and validates a CAP 1.2 document: the first size bytes of xml,
 * which need not be NUL-terminated (any encoding the XML declaration
 * names; UTF-8 by default). Returns a new alert, which the caller frees
 * with onenet__alert__alert__free_unpacked (alert, NULL); all its strings
 * are UTF-8. Returns NULL on any invalid input, with the reason in err
 * ("line N: <path>: what is wrong", see above); err may be NULL, and a
 * longer reason is truncated to err_size. */
Onenet__Alert__Alert *onenet_cap_parse (const char *xml, size_t size, char *err, size_t err_size);

/* Checks an alert message against the same rules as onenet_cap_parse
 * (required fields, enumerations, dateTimes, geometry, valid UTF-8 with
 * no character XML cannot carry). Returns 0 if it is a valid CAP 1.2
 * alert, -1 otherwise with the reason in err, prefixed by the field path
 * ("info[1].severity: ..."); err may be NULL. Allocates nothing. */
int onenet_cap_validate (const Onenet__Alert__Alert *alert, char *err, size_t err_size);

/* Writes alert as a CAP 1.2 document: UTF-8, with XML declaration and the
 * CAP namespace as default namespace, elements in the schema's order,
 * indented two spaces, free text exactly as in the message. The alert is
 * validated first (onenet_cap_validate). Returns a new NUL-terminated
 * string that the caller frees with free (); NULL with the reason in err
 * when the alert is invalid or memory runs out. */
char *onenet_cap_format (const Onenet__Alert__Alert *alert, char *err, size_t err_size);

/* Rank of a CAP severity for comparisons and routing thresholds:
 * Extreme 4, Severe 3, Moderate 2, Minor 1, Unknown 0; -1 for NULL or any
 * other text (case matters, as in CAP). An alert's severity is that of
 * its most severe <info>; an alert without <info> has none. */
int onenet_cap_severity_rank (const char *severity);

/* The geocodes of an alert, for routing by area: every <geocode> of every
 * <area> of every <info>, in document order, each (valueName, value) pair
 * once (a bilingual alert repeats its areas in each language). With
 * value_name non-NULL, only geocodes of that scheme ("GB/T 2260", "SAME").
 * Stores up to max pointers in out (out may be NULL when max is 0) and
 * returns how many geocodes there are in all, which may exceed max (call
 * again with a larger array then). The pointers are borrowed from alert:
 * valid while it lives; nothing to free. */
size_t onenet_cap_geocodes (const Onenet__Alert__Alert *alert, const char *value_name,
                            const Onenet__Alert__ValuePair **out, size_t max);

#ifdef __cplusplus
}
#endif
#endif
