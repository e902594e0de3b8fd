/*
 * cap_write.c - onenet_cap_format: onenet.alert.Alert as a CAP 1.2
 * document, built with libxml2's tree API by walking the model of cap.c
 * (see cap_internal.h). The alert is validated first, by the rules the
 * reader applies, so nothing is written that CAP 1.2 does not allow; the
 * tables list elements in the schema's order, and so does the output.
 */
#include "cap_internal.h"
#include "sdk_internal.h"

#include <libxml/tree.h>
#include <stdlib.h>
#include <string.h>

static int
write_type (xmlNode *node, xmlNs *ns, const cap_type_t *type, const ProtobufCMessage *msg)
{
    for (size_t i = 0; i < type->n_fields; i++) {
        const cap_field_t *field = &type->fields[i];
        const ProtobufCFieldDescriptor *fd = cap_field_of (type, field);
        const xmlChar *name = (const xmlChar *)field->element;
        if (fd == NULL)
            return -1;
        if (fd->label != PROTOBUF_C_LABEL_REPEATED) {
            const char *value = *(char *const *)CONST_MEMBER (msg, fd->offset);
            if (!cap_is_empty (value) &&
                xmlNewTextChild (node, ns, name, (const xmlChar *)value) == NULL)
                return -1;
            continue;
        }
        size_t count = *(const size_t *)CONST_MEMBER (msg, fd->quantifier_offset);
        for (size_t k = 0; k < count; k++) {
            if (field->kind == KIND_MESSAGE) {
                const ProtobufCMessage *child =
                    (*(const ProtobufCMessage *const *const *)CONST_MEMBER (msg, fd->offset))[k];
                xmlNode *element = xmlNewChild (node, ns, name, NULL);
                if (element == NULL || write_type (element, ns, field->type, child) < 0)
                    return -1;
            } else {
                const char *value = (*(char *const *const *)CONST_MEMBER (msg, fd->offset))[k];
                if (xmlNewTextChild (node, ns, name, (const xmlChar *)value) == NULL)
                    return -1;
            }
        }
    }
    return 0;
}

char *
onenet_cap_format (const Onenet__Alert__Alert *alert, char *err, size_t err_size)
{
    if (onenet_cap_validate (alert, err, err_size) < 0)
        return NULL;
    cap_libxml_init ();
    char *result = NULL;
    xmlDocPtr doc = xmlNewDoc ((const xmlChar *)"1.0");
    xmlNode *root = doc ? xmlNewDocNode (doc, NULL, (const xmlChar *)"alert", NULL) : NULL;
    xmlNs *ns = root ? xmlNewNs (root, (const xmlChar *)ONENET_CAP_NAMESPACE, NULL) : NULL;
    if (ns != NULL) {
        xmlSetNs (root, ns);
        xmlDocSetRootElement (doc, root);
        root = NULL; /* owned by doc now */
        if (write_type (xmlDocGetRootElement (doc), ns, &cap_alert_type, &alert->base) == 0) {
            xmlChar *text = NULL;
            int len = 0;
            xmlDocDumpFormatMemoryEnc (doc, &text, &len, "UTF-8", 1);
            if (text != NULL && len >= 0) {
                result = malloc ((size_t)len + 1);
                if (result != NULL) {
                    memcpy (result, text, (size_t)len);
                    result[len] = '\0';
                }
            }
            xmlFree (text);
        }
    }
    xmlFreeNode (root);
    xmlFreeDoc (doc);
    if (result == NULL)
        sdk_set_error (err, err_size, "out of memory writing CAP XML");
    return result;
}
