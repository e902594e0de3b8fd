/*
 * contribution.c - a builder for onenet.view.Contribution, shared by every
 * department adapter so each one only says which fields it holds. The
 * builder owns copies of every string and of the packed detail; the
 * protobuf message handed out points into them.
 */
#include <stdlib.h>
#include <string.h>
#include "onenet/contribution.h"
#include "onenet/proto/view.pb-c.h"

struct onenet_contribution_t {
    Onenet__View__Contribution message;
    Onenet__View__Field **fields;   /* message.fields, grown by doubling */
    size_t capacity;
    char *detail_type;
};

/* Labels of the canonical names of proto/view.proto, Chinese then English. */
static const struct {
    const char *name;
    const char *label;
} s_labels[] = {
    { "name", "姓名 Name" },
    { "birth_date", "出生日期 Date of birth" },
    { "sex", "性别 Sex" },
    { "address", "地址 Address" },
    { "phone", "电话 Phone" },
    { "household_id", "户号 Household" },
};

const char *
onenet_contribution_label (const char *name)
{
    for (size_t i = 0; name && i < sizeof s_labels / sizeof s_labels[0]; i++)
        if (strcmp (s_labels[i].name, name) == 0)
            return s_labels[i].label;
    return NULL;
}

onenet_contribution_t *
onenet_contribution_new (bool found)
{
    onenet_contribution_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    onenet__view__contribution__init (&self->message);
    self->message.found = found;
    return self;
}

static void
field_free (Onenet__View__Field *field)
{
    if (!field)
        return;
    free (field->name);
    free (field->value);
    free (field->label);
    free (field);
}

void
onenet_contribution_destroy (onenet_contribution_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    onenet_contribution_t *self = *self_p;
    for (size_t i = 0; i < self->message.n_fields; i++)
        field_free (self->fields[i]);
    free (self->fields);
    free (self->message.detail.data);
    free (self->detail_type);
    free (self);
    *self_p = NULL;
}

int
onenet_contribution_add (onenet_contribution_t *self, const char *name, const char *value,
                         const char *label)
{
    if (!name || !*name)
        return -1;
    if (!value || !*value)
        return 0;
    if (!label)
        label = onenet_contribution_label (name);
    if (self->message.n_fields == self->capacity) {
        size_t capacity = self->capacity ? self->capacity * 2 : 16;
        Onenet__View__Field **fields = realloc (self->fields, capacity * sizeof *fields);
        if (!fields)
            return -1;
        self->fields = fields;
        self->capacity = capacity;
        self->message.fields = fields;
    }
    Onenet__View__Field *field = calloc (1, sizeof *field);
    if (!field)
        return -1;
    onenet__view__field__init (field);
    field->name = strdup (name);
    field->value = strdup (value);
    field->label = strdup (label ? label : name);
    if (!field->name || !field->value || !field->label) {
        field_free (field);
        return -1;
    }
    self->fields[self->message.n_fields++] = field;
    return 0;
}

int
onenet_contribution_set_detail (onenet_contribution_t *self, const ProtobufCMessage *detail)
{
    size_t size = protobuf_c_message_get_packed_size (detail);
    uint8_t *data = malloc (size ? size : 1);
    char *type = strdup (detail->descriptor->name);
    if (!data || !type) {
        free (data);
        free (type);
        return -1;
    }
    protobuf_c_message_pack (detail, data);
    free (self->message.detail.data);
    free (self->detail_type);
    self->message.detail.data = data;
    self->message.detail.len = size;
    self->detail_type = type;
    self->message.detail_type = type;
    return 0;
}

void
onenet_contribution_set_updated_at (onenet_contribution_t *self, int64_t updated_at_ms)
{
    self->message.updated_at_ms = updated_at_ms;
}

size_t
onenet_contribution_field_count (const onenet_contribution_t *self)
{
    return self->message.n_fields;
}

const char *
onenet_contribution_get (const onenet_contribution_t *self, const char *name)
{
    for (size_t i = 0; name && i < self->message.n_fields; i++)
        if (strcmp (self->fields[i]->name, name) == 0)
            return self->fields[i]->value;
    return NULL;
}

const ProtobufCMessage *
onenet_contribution_message (onenet_contribution_t *self)
{
    return &self->message.base;
}

int
onenet_contribution_reply (onenet_contribution_t *self, onenet_adapter_t *adapter,
                           onenet_request_t **request_p)
{
    return onenet_adapter_reply_message (adapter, request_p, &self->message.base);
}
