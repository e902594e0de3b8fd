/*
 * cap_read.c - onenet_cap_parse: CAP 1.2 XML into onenet.alert.Alert,
 * walking the model of cap.c (see cap_internal.h) element by element.
 *
 * The reader uses libxml2's tree parser, hardened for input from outside:
 * a DOCTYPE stops the parser from its SAX callback before any declaration
 * in it is read, so no entity is ever defined, expanded or fetched; the
 * network is off (XML_PARSE_NONET); no DTD is loaded; errors go to our
 * handler, never to stderr. Values are then checked with the element's line
 * (xmlGetLineNo) at hand for the message.
 *
 * Messages are built as protobuf_c_message_unpack would build them with the
 * default allocator (every string, array and submessage malloc'd), so
 * onenet__alert__alert__free_unpacked releases them, half-built ones too.
 */
#include "cap_internal.h"
#include "sdk_internal.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- building messages --- */

/* Appends value (taken over) to a repeated string field. */
static int
append_string (ProtobufCMessage *msg, const ProtobufCFieldDescriptor *fd, char *value)
{
    size_t *count = (size_t *)MEMBER (msg, fd->quantifier_offset);
    char ***array = (char ***)MEMBER (msg, fd->offset);
    char **grown = realloc (*array, (*count + 1) * sizeof (char *));
    if (grown == NULL) {
        free (value);
        return -1;
    }
    grown[*count] = value;
    *array = grown;
    (*count)++;
    return 0;
}

/* Appends a new, initialised submessage to a repeated message field. */
static ProtobufCMessage *
append_message (ProtobufCMessage *msg, const ProtobufCFieldDescriptor *fd)
{
    const ProtobufCMessageDescriptor *desc = fd->descriptor;
    size_t *count = (size_t *)MEMBER (msg, fd->quantifier_offset);
    ProtobufCMessage ***array = (ProtobufCMessage ***)MEMBER (msg, fd->offset);
    ProtobufCMessage *child = malloc (desc->sizeof_message);
    if (child == NULL)
        return NULL;
    protobuf_c_message_init (desc, child);
    ProtobufCMessage **grown = realloc (*array, (*count + 1) * sizeof (ProtobufCMessage *));
    if (grown == NULL) {
        free (child);
        return NULL;
    }
    grown[*count] = child;
    *array = grown;
    (*count)++;
    return child;
}

/* --- reading XML --- */

typedef struct {
    char *err;
    size_t err_size;
    bool doctype; /* the document has a DOCTYPE: parsing was stopped */
    long doctype_line;
    bool syntax_error; /* first libxml2 error, kept for the message */
    int syntax_line;
    char syntax_message[200];
} parse_t;

static void node_error (parse_t *p, long line, const char *path, const char *format, ...)
    __attribute__ ((format (printf, 4, 5)));

static void
node_error (parse_t *p, long line, const char *path, const char *format, ...)
{
    char reason[400];
    va_list args;
    va_start (args, format);
    vsnprintf (reason, sizeof reason, format, args);
    va_end (args);
    sdk_set_error (p->err, p->err_size, "line %ld: %s: %s", line, path, reason);
}

static void
on_internal_subset (void *ctx, const xmlChar *name, const xmlChar *external_id,
                    const xmlChar *system_id)
{
    xmlParserCtxtPtr ctxt = ctx;
    parse_t *p = ctxt->_private;
    p->doctype = true;
    p->doctype_line = xmlSAX2GetLineNumber (ctxt);
    xmlStopParser (ctxt);
}

static void
on_xml_error (void *user_data, xmlErrorPtr error)
{
    xmlParserCtxtPtr ctxt = user_data;
    parse_t *p = ctxt ? ctxt->_private : NULL;
    if (p == NULL || error == NULL || p->syntax_error || error->level < XML_ERR_ERROR)
        return;
    p->syntax_error = true;
    p->syntax_line = error->line;
    snprintf (p->syntax_message, sizeof p->syntax_message, "%s",
              error->message ? error->message : "not well-formed");
    size_t len = strlen (p->syntax_message);
    while (len > 0 && cap_is_xml_space (p->syntax_message[len - 1]))
        p->syntax_message[--len] = '\0';
}

static bool
is_cap_element (const xmlNode *node)
{
    return node->ns != NULL && node->ns->href != NULL &&
           strcmp ((const char *)node->ns->href, ONENET_CAP_NAMESPACE) == 0;
}

/* The text of a leaf element as a new malloc'd string; NULL (with the
 * error set) when it holds elements or other markup. */
static char *
leaf_text (parse_t *p, const xmlNode *node, const char *path)
{
    size_t len = 0;
    for (const xmlNode *c = node->children; c; c = c->next) {
        if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
            len += c->content ? strlen ((const char *)c->content) : 0;
        } else if (c->type == XML_ELEMENT_NODE) {
            node_error (p, xmlGetLineNo (c), path, "unexpected element <%s> inside a value",
                        (const char *)c->name);
            return NULL;
        } else if (c->type != XML_COMMENT_NODE && c->type != XML_PI_NODE) {
            node_error (p, xmlGetLineNo (node), path, "unexpected markup inside a value");
            return NULL;
        }
    }
    char *text = malloc (len + 1);
    if (text == NULL) {
        node_error (p, xmlGetLineNo (node), path, "out of memory");
        return NULL;
    }
    size_t used = 0;
    for (const xmlNode *c = node->children; c; c = c->next)
        if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) && c->content) {
            size_t n = strlen ((const char *)c->content);
            memcpy (text + used, c->content, n);
            used += n;
        }
    text[used] = '\0';
    return text;
}

/* Drops leading and trailing XML whitespace in place. */
static void
trim (char *s)
{
    size_t len = strlen (s), start = 0;
    while (start < len && cap_is_xml_space (s[start]))
        start++;
    while (len > start && cap_is_xml_space (s[len - 1]))
        len--;
    memmove (s, s + start, len - start);
    s[len - start] = '\0';
}

static const cap_field_t *
find_field (const cap_type_t *type, const char *element, size_t *index)
{
    for (size_t i = 0; i < type->n_fields; i++)
        if (strcmp (type->fields[i].element, element) == 0) {
            *index = i;
            return &type->fields[i];
        }
    return NULL;
}

/* Reads the children of node (a CAP element of the given type) into msg.
 * self is node's path for messages about node itself ("<alert>",
 * "<info><area>"); prefix is what its children's paths start with. */
static int
read_type (parse_t *p, const xmlNode *node, const cap_type_t *type, ProtobufCMessage *msg,
           const char *self, const char *prefix)
{
    long seen_line[MAX_FIELDS] = {0};
    bool seen[MAX_FIELDS] = {false};
    bool is_root = type == &cap_alert_type;
    char path[200], show[80];

    for (const xmlAttr *a = node->properties; a; a = a->next)
        if (a->ns == NULL) {
            node_error (p, xmlGetLineNo (node), self,
                        "attribute \"%s\" is not allowed (CAP elements have none)",
                        (const char *)a->name);
            return -1;
        }

    for (const xmlNode *c = node->children; c; c = c->next) {
        if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
            const char *text = c->content ? (const char *)c->content : "";
            if (!cap_all_space (text)) {
                char *copy = strdup (text);
                if (copy)
                    trim (copy);
                node_error (p, xmlGetLineNo (c->prev ? c->prev : node), self,
                            "unexpected text \"%s\" between elements",
                            copy ? cap_shown (copy, strlen (copy), show, sizeof show) : "");
                free (copy);
                return -1;
            }
            continue;
        }
        if (c->type == XML_COMMENT_NODE || c->type == XML_PI_NODE)
            continue;
        if (c->type != XML_ELEMENT_NODE) {
            node_error (p, xmlGetLineNo (node), self, "unexpected markup");
            return -1;
        }
        long line = xmlGetLineNo (c);
        snprintf (path, sizeof path, "%s<%s>", prefix, (const char *)c->name);
        if (!is_cap_element (c)) {
            /* xs:any ##other at the end of <alert>: a signature, say. */
            if (is_root && c->ns != NULL)
                continue;
            node_error (p, line, path, "element %s%s%s is not part of CAP 1.2 here",
                        c->ns ? "of namespace \"" : "in no namespace",
                        c->ns ? (const char *)c->ns->href : "", c->ns ? "\"" : "");
            return -1;
        }
        size_t index = 0;
        const cap_field_t *field = find_field (type, (const char *)c->name, &index);
        if (field == NULL) {
            node_error (p, line, path, "<%s> is not an element of %s", (const char *)c->name, self);
            return -1;
        }
        const ProtobufCFieldDescriptor *fd = cap_field_of (type, field);
        if (fd == NULL) {
            node_error (p, line, path, "internal error: no field %s", field->field);
            return -1;
        }
        bool repeated = fd->label == PROTOBUF_C_LABEL_REPEATED;
        if (!repeated && seen[index]) {
            node_error (p, line, path, "given twice (first on line %ld)", seen_line[index]);
            return -1;
        }
        if (!seen[index]) {
            seen[index] = true;
            seen_line[index] = line;
        }
        if (field->kind == KIND_MESSAGE) {
            ProtobufCMessage *child = append_message (msg, fd);
            if (child == NULL) {
                node_error (p, line, path, "out of memory");
                return -1;
            }
            char child_prefix[200];
            snprintf (child_prefix, sizeof child_prefix, "%s", path);
            if (read_type (p, c, field->type, child, path, child_prefix) < 0)
                return -1;
            continue;
        }
        for (const xmlAttr *a = c->properties; a; a = a->next)
            if (a->ns == NULL) {
                node_error (p, line, path,
                            "attribute \"%s\" is not allowed (CAP elements have none)",
                            (const char *)a->name);
                return -1;
            }
        char *text = leaf_text (p, c, path);
        if (text == NULL)
            return -1;
        if (cap_is_trimmed_kind (field->kind))
            trim (text);
        if (cap_all_space (text)) {
            free (text);
            if (field->required && !repeated) {
                node_error (p, line, path, "is empty");
                return -1;
            }
            continue; /* an empty optional element is absent */
        }
        char why[300];
        if (!cap_check_value (field, text, why, sizeof why)) {
            node_error (p, line, path, "%s", why);
            free (text);
            return -1;
        }
        if (repeated) {
            if (append_string (msg, fd, text) < 0) {
                node_error (p, line, path, "out of memory");
                return -1;
            }
        } else {
            *(char **)MEMBER (msg, fd->offset) = text;
        }
    }

    for (size_t i = 0; i < type->n_fields; i++) {
        const cap_field_t *field = &type->fields[i];
        if (!field->required)
            continue;
        const ProtobufCFieldDescriptor *fd = cap_field_of (type, field);
        bool present = false;
        if (fd == NULL) {
            node_error (p, xmlGetLineNo (node), self, "internal error: no field %s", field->field);
            return -1;
        }
        if (fd->label == PROTOBUF_C_LABEL_REPEATED)
            present = *(const size_t *)CONST_MEMBER (msg, fd->quantifier_offset) > 0;
        else
            present = !cap_is_empty (*(char *const *)CONST_MEMBER (msg, fd->offset));
        if (!present) {
            node_error (p, xmlGetLineNo (node), self, "missing required element <%s>",
                        field->element);
            return -1;
        }
    }
    rule_error_t broken = {NULL, ""};
    if (type->rules != NULL && !type->rules (msg, &broken)) {
        size_t index = 0;
        const cap_field_t *field = NULL;
        for (size_t i = 0; i < type->n_fields; i++)
            if (strcmp (type->fields[i].field, broken.field) == 0) {
                field = &type->fields[i];
                index = i;
            }
        snprintf (path, sizeof path, "%s<%s>", prefix, field ? field->element : "?");
        node_error (p, seen[index] ? seen_line[index] : xmlGetLineNo (node), path, "%s",
                    broken.reason);
        return -1;
    }
    return 0;
}

static const char *
cap_version_of (const char *href)
{
    if (strcmp (href, "urn:oasis:names:tc:emergency:cap:1.1") == 0)
        return "CAP 1.1";
    if (strcmp (href, "http://www.incident.com/cap/1.0") == 0)
        return "CAP 1.0";
    return NULL;
}

Onenet__Alert__Alert *
onenet_cap_parse (const char *xml, size_t size, char *err, size_t err_size)
{
    parse_t p = {.err = err, .err_size = err_size};
    if (xml == NULL || size == 0) {
        sdk_set_error (err, err_size, "line 1: empty document");
        return NULL;
    }
    if (size > ONENET_CAP_MAX_SIZE) {
        sdk_set_error (err, err_size, "document of %zu bytes is larger than the limit of %u", size,
                       (unsigned)ONENET_CAP_MAX_SIZE);
        return NULL;
    }
    cap_libxml_init ();
    xmlParserCtxtPtr ctxt = xmlNewParserCtxt ();
    if (ctxt == NULL || ctxt->sax == NULL) {
        xmlFreeParserCtxt (ctxt);
        sdk_set_error (err, err_size, "out of memory");
        return NULL;
    }
    ctxt->_private = &p;
    ctxt->sax->internalSubset = on_internal_subset;
    ctxt->sax->serror = on_xml_error;
    /* Deliberately absent: XML_PARSE_NOENT (substitutes entities),
     * XML_PARSE_DTDLOAD / DTDATTR / DTDVALID (read DTDs), XML_PARSE_HUGE
     * (lifts the parser's size and depth limits), XML_PARSE_XINCLUDE. */
    int options = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_BIG_LINES |
                  XML_PARSE_NOCDATA;
    xmlDocPtr doc = xmlCtxtReadMemory (ctxt, xml, (int)size, "cap.xml", NULL, options);
    Onenet__Alert__Alert *alert = NULL;
    xmlNode *root = doc ? xmlDocGetRootElement (doc) : NULL;

    if (p.doctype) {
        sdk_set_error (err, err_size,
                       "line %ld: <!DOCTYPE>: document type declarations are not accepted "
                       "(CAP has none; entities are never expanded or fetched)",
                       p.doctype_line);
    } else if (doc == NULL || root == NULL) {
        if (p.syntax_error)
            sdk_set_error (err, err_size, "line %d: not well-formed XML: %s", p.syntax_line,
                           p.syntax_message);
        else
            sdk_set_error (err, err_size, "line 1: not well-formed XML");
    } else if (strcmp ((const char *)root->name, "alert") != 0 || root->ns == NULL ||
               !is_cap_element (root)) {
        const char *href = root->ns && root->ns->href ? (const char *)root->ns->href : NULL;
        const char *version = href ? cap_version_of (href) : NULL;
        if (version != NULL)
            sdk_set_error (err, err_size,
                           "line %ld: <%s>: namespace %s is %s; only CAP 1.2 (" ONENET_CAP_NAMESPACE
                           ") is accepted",
                           xmlGetLineNo (root), (const char *)root->name, href, version);
        else if (strcmp ((const char *)root->name, "alert") == 0)
            sdk_set_error (
                err, err_size,
                "line %ld: <alert>: %s%s%s; CAP 1.2 requires namespace " ONENET_CAP_NAMESPACE,
                xmlGetLineNo (root), href ? "namespace \"" : "no namespace", href ? href : "",
                href ? "\"" : "");
        else
            sdk_set_error (err, err_size,
                           "line %ld: <%s>: not a CAP alert: the root element must be <alert> in "
                           "namespace " ONENET_CAP_NAMESPACE,
                           xmlGetLineNo (root), (const char *)root->name);
    } else {
        alert = malloc (sizeof *alert);
        if (alert == NULL) {
            sdk_set_error (err, err_size, "out of memory");
        } else {
            onenet__alert__alert__init (alert);
            if (read_type (&p, root, &cap_alert_type, &alert->base, "<alert>", "") < 0) {
                onenet__alert__alert__free_unpacked (alert, NULL);
                alert = NULL;
            }
        }
    }
    xmlFreeDoc (doc);
    xmlFreeParserCtxt (ctxt);
    return alert;
}
