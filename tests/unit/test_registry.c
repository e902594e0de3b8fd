/*
 * test_registry.c - unit tests of broker/registry.h (adapters, services,
 * instance selection, the waiting queue and in-flight lists) and of
 * broker/hashmap.h, which both registries are built on.
 *
 * Requests here are plain request_t structs on the test's side, zeroed
 * with their messages initialised: the registry only links them into
 * lists, it never owns them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hashmap.h"
#include "registry.h"

/* --- helpers --- */

static void
id_init (zmq_msg_t *id, const char *text)
{
    size_t size = strlen (text);
    assert_int_equal (zmq_msg_init_size (id, size), 0);
    memcpy (zmq_msg_data (id), text, size);
}

/* Adds an adapter whose routing id is its instance name. */
static adapter_t *
add (registry_t *registry, const char *department, const char *instance, unsigned credit,
     const offer_info_t *offers, size_t offer_count)
{
    zmq_msg_t id;
    id_init (&id, instance);
    adapter_t *adapter = registry_add_adapter (registry, &id, department, instance, credit, 1000,
                                               offers, offer_count, 5000);
    /* The registry keeps its own copy of the id. */
    zmq_msg_close (&id);
    assert_non_null (adapter);
    return adapter;
}

static adapter_t *
find (registry_t *registry, const char *instance)
{
    zmq_msg_t id;
    id_init (&id, instance);
    adapter_t *adapter = registry_adapter (registry, &id);
    zmq_msg_close (&id);
    return adapter;
}

/* What every registry test starts from and what teardown frees, so a
 * failed assertion leaks nothing and ASan stays quiet about it. */
#define REQUESTS 16

typedef struct {
    registry_t *registry;
    request_t requests[REQUESTS];
} fixture_t;

static int
setup (void **state)
{
    fixture_t *f = calloc (1, sizeof *f);
    if (!f)
        return -1;
    f->registry = registry_new ();
    if (!f->registry) {
        free (f);
        return -1;
    }
    for (size_t i = 0; i < REQUESTS; i++) {
        zmq_msg_init (&f->requests[i].client);
        zmq_msg_init (&f->requests[i].body);
        f->requests[i].id = i + 1;
    }
    *state = f;
    return 0;
}

static int
teardown (void **state)
{
    fixture_t *f = *state;
    registry_destroy (&f->registry);
    if (f->registry)
        return -1;
    for (size_t i = 0; i < REQUESTS; i++) {
        zmq_msg_close (&f->requests[i].client);
        zmq_msg_close (&f->requests[i].body);
    }
    free (f);
    return 0;
}

/* Puts n of the given requests in flight at the adapter. */
static void
load (adapter_t *adapter, request_t *requests, size_t n)
{
    for (size_t i = 0; i < n; i++)
        adapter_track (adapter, &requests[i]);
}

static void
unload (adapter_t *adapter)
{
    while (adapter->in_flight_head)
        adapter_untrack (adapter, adapter->in_flight_head);
}

static const offer_info_t s_person_get
    = { "ps.person.get", "ps.PersonRequest", "ps.Person", "Get a person by id", true };
static const offer_info_t s_person_list
    = { "ps.person.list", "ps.ListRequest", "ps.PersonList", "List people", false };

/* --- adapters and services --- */

static void
test_add_adapter_with_offers (void **state)
{
    fixture_t *f = *state;
    registry_t *registry = f->registry;
    const offer_info_t offers[] = { s_person_get, s_person_list };
    adapter_t *a1 = add (registry, "social_security", "a1", 4, offers, 2);

    assert_string_equal (a1->department, "social_security");
    assert_string_equal (a1->instance, "a1");
    assert_string_equal (a1->label, "social_security/a1");
    assert_int_equal (a1->credit, 4);
    assert_int_equal (a1->in_flight, 0);
    assert_int_equal (a1->heartbeat_ms, 1000);
    assert_int_equal (a1->last_seen, 5000);
    assert_int_equal (a1->registered_at, 5000);
    assert_null (a1->in_flight_head);
    assert_int_equal (a1->service_count, 2);
    assert_int_equal (zmq_msg_size (&a1->routing_id), 2);
    assert_memory_equal (zmq_msg_data (&a1->routing_id), "a1", 2);

    assert_ptr_equal (find (registry, "a1"), a1);
    assert_null (find (registry, "a2"));
    assert_null (find (registry, "a"));
    assert_int_equal (registry_adapter_count (registry), 1);

    service_t *get = registry_service (registry, "ps.person.get");
    assert_non_null (get);
    assert_string_equal (get->name, "ps.person.get");
    assert_string_equal (get->department, "social_security");
    assert_string_equal (get->request_type, "ps.PersonRequest");
    assert_string_equal (get->reply_type, "ps.Person");
    assert_string_equal (get->description, "Get a person by id");
    assert_true (get->idempotent);
    assert_true (get->known);
    assert_int_equal (get->instance_count, 1);
    assert_ptr_equal (get->instances[0], a1);

    service_t *list = registry_service (registry, "ps.person.list");
    assert_non_null (list);
    assert_string_equal (list->description, "List people");
    assert_false (list->idempotent);
    assert_true (list->known);
    assert_ptr_equal (a1->services[0], get);
    assert_ptr_equal (a1->services[1], list);
    assert_null (registry_service (registry, "ps.person"));

    /* A second instance joins the same services; the first description stays. */
    offer_info_t other = s_person_get;
    other.description = "another text";
    adapter_t *a2 = add (registry, "social_security", "a2", 2, &other, 1);
    assert_ptr_equal (registry_service (registry, "ps.person.get"), get);
    assert_int_equal (get->instance_count, 2);
    assert_ptr_equal (get->instances[1], a2);
    assert_string_equal (get->description, "Get a person by id");
    assert_int_equal (list->instance_count, 1);
    assert_int_equal (registry_adapter_count (registry), 2);
}

static void
test_offer_fills_missing_description (void **state)
{
    fixture_t *f = *state;
    registry_t *registry = f->registry;
    const offer_info_t bare = { "tax.return.get", NULL, NULL, NULL, false };
    add (registry, "tax", "t1", 1, &bare, 1);
    service_t *service = registry_service (registry, "tax.return.get");
    assert_non_null (service);
    assert_string_equal (service->request_type, "");
    assert_string_equal (service->reply_type, "");
    assert_string_equal (service->description, "");

    const offer_info_t full = { "tax.return.get", "tax.Req", "tax.Rep", "A tax return", true };
    add (registry, "tax", "t2", 1, &full, 1);
    assert_string_equal (service->request_type, "tax.Req");
    assert_string_equal (service->reply_type, "tax.Rep");
    assert_string_equal (service->description, "A tax return");
    assert_int_equal (service->instance_count, 2);
}

static void
test_ensure_service (void **state)
{
    fixture_t *f = *state;
    registry_t *registry = f->registry;
    service_t *service = registry_ensure_service (registry, "ps.person.get");
    assert_non_null (service);
    assert_string_equal (service->name, "ps.person.get");
    assert_false (service->known);
    assert_int_equal (service->instance_count, 0);
    assert_null (service->department);
    assert_ptr_equal (registry_ensure_service (registry, "ps.person.get"), service);
    assert_ptr_equal (registry_service (registry, "ps.person.get"), service);

    /* An offer makes the same entry known. */
    adapter_t *a1 = add (registry, "social_security", "a1", 1, &s_person_get, 1);
    assert_ptr_equal (registry_service (registry, "ps.person.get"), service);
    assert_true (service->known);
    assert_string_equal (service->department, "social_security");
    assert_string_equal (service->request_type, "ps.PersonRequest");
    assert_ptr_equal (service->instances[0], a1);
}

static void
test_iteration (void **state)
{
    fixture_t *f = *state;
    registry_t *registry = f->registry;
    const offer_info_t offers[] = { s_person_get, s_person_list };
    adapter_t *adapters[3];
    adapters[0] = add (registry, "social_security", "a1", 1, offers, 2);
    adapters[1] = add (registry, "social_security", "a2", 1, offers, 1);
    adapters[2] = add (registry, "tax", "t1", 1, NULL, 0);
    assert_int_equal (adapters[2]->service_count, 0);
    registry_ensure_service (registry, "unknown.service");

    int seen[3] = { 0 };
    size_t cursor = 0;
    adapter_t *adapter;
    while ((adapter = registry_next_adapter (registry, &cursor)))
        for (int i = 0; i < 3; i++)
            if (adapter == adapters[i])
                seen[i]++;
    for (int i = 0; i < 3; i++)
        assert_int_equal (seen[i], 1);

    size_t services = 0;
    cursor = 0;
    while (registry_next_service (registry, &cursor))
        services++;
    assert_int_equal (services, 3);
}

static void
test_remove_adapter_unlinks (void **state)
{
    fixture_t *f = *state;
    registry_t *registry = f->registry;
    const offer_info_t offers[] = { s_person_get, s_person_list };
    adapter_t *a1 = add (registry, "social_security", "a1", 2, offers, 2);
    adapter_t *a2 = add (registry, "social_security", "a2", 2, offers, 1);
    adapter_t *a3 = add (registry, "social_security", "a3", 2, offers, 1);
    service_t *get = registry_service (registry, "ps.person.get");
    service_t *list = registry_service (registry, "ps.person.list");
    assert_int_equal (get->instance_count, 3);
    assert_int_equal (list->instance_count, 1);

    registry_remove_adapter (registry, a1);
    assert_null (find (registry, "a1"));
    assert_int_equal (registry_adapter_count (registry), 2);
    assert_int_equal (get->instance_count, 2);
    assert_int_equal (list->instance_count, 0);
    for (size_t i = 0; i < get->instance_count; i++)
        assert_true (get->instances[i] == a2 || get->instances[i] == a3);
    assert_true (get->instances[0] != get->instances[1]);
    /* Services outlive their last instance: they were offered, so known. */
    assert_ptr_equal (registry_service (registry, "ps.person.list"), list);
    assert_null (registry_select (list));
    adapter_t *selected = registry_select (get);
    assert_true (selected == a2 || selected == a3);

    registry_remove_adapter (registry, a3);
    assert_int_equal (get->instance_count, 1);
    assert_ptr_equal (get->instances[0], a2);
    assert_ptr_equal (registry_select (get), a2);
    assert_ptr_equal (find (registry, "a2"), a2);
    registry_remove_adapter (registry, a2);
    assert_int_equal (get->instance_count, 0);
    assert_int_equal (registry_adapter_count (registry), 0);
}

static void
test_forget_if_unused (void **state)
{
    fixture_t *f = *state;
    registry_t *registry = f->registry;

    /* Unknown and unused: forgotten. */
    service_t *ghost = registry_ensure_service (registry, "ghost");
    assert_non_null (ghost);
    registry_forget_if_unused (registry, ghost);
    assert_null (registry_service (registry, "ghost"));

    /* Unknown but someone waits for it: kept until the queue empties. */
    request_t *requests = f->requests;
    service_t *awaited = registry_ensure_service (registry, "awaited");
    service_enqueue (awaited, &requests[0]);
    registry_forget_if_unused (registry, awaited);
    assert_ptr_equal (registry_service (registry, "awaited"), awaited);
    assert_ptr_equal (service_dequeue (awaited), &requests[0]);
    registry_forget_if_unused (registry, awaited);
    assert_null (registry_service (registry, "awaited"));

    /* Known (offered once) with no instance left: kept. */
    adapter_t *a1 = add (registry, "social_security", "a1", 1, &s_person_get, 1);
    service_t *get = registry_service (registry, "ps.person.get");
    registry_remove_adapter (registry, a1);
    registry_forget_if_unused (registry, get);
    assert_ptr_equal (registry_service (registry, "ps.person.get"), get);

    /* Not known but with an instance: kept. */
    add (registry, "social_security", "a2", 1, &s_person_list, 1);
    service_t *list = registry_service (registry, "ps.person.list");
    list->known = false;
    registry_forget_if_unused (registry, list);
    assert_ptr_equal (registry_service (registry, "ps.person.list"), list);
}

/* --- selection --- */

static void
test_select_most_free_credit (void **state)
{
    fixture_t *f = *state;
    registry_t *registry = f->registry;
    adapter_t *a = add (registry, "ss", "a", 4, &s_person_get, 1);
    adapter_t *b = add (registry, "ss", "b", 8, &s_person_get, 1);
    adapter_t *c = add (registry, "ss", "c", 2, &s_person_get, 1);
    service_t *service = registry_service (registry, "ps.person.get");
    request_t *requests = f->requests;

    /* Free credit: a 4 - 1 = 3, b 8 - 6 = 2, c 2 - 0 = 2. */
    load (a, requests, 1);
    load (b, requests + 1, 6);
    assert_int_equal (a->in_flight, 1);
    assert_int_equal (b->in_flight, 6);
    /* The most free wins wherever the round-robin cursor stands. */
    for (int i = 0; i < 6; i++)
        assert_ptr_equal (registry_select (service), a);

    /* Now a has 1 free, b and c 2 each: a is never picked. */
    load (a, requests + 7, 2);
    int picked_b = 0, picked_c = 0;
    for (int i = 0; i < 10; i++) {
        adapter_t *selected = registry_select (service);
        assert_true (selected == b || selected == c);
        picked_b += selected == b;
        picked_c += selected == c;
    }
    assert_true (picked_b > 0);
    assert_true (picked_c > 0);

    /* Selection follows in_flight as requests complete. */
    unload (b);
    assert_int_equal (b->in_flight, 0);
    assert_ptr_equal (registry_select (service), b);

    unload (a);
}

static void
test_select_ties_round_robin (void **state)
{
    fixture_t *f = *state;
    registry_t *registry = f->registry;
    adapter_t *a = add (registry, "ss", "a", 3, &s_person_get, 1);
    adapter_t *b = add (registry, "ss", "b", 3, &s_person_get, 1);
    service_t *service = registry_service (registry, "ps.person.get");

    /* Two tied instances alternate. */
    adapter_t *previous = registry_select (service);
    assert_true (previous == a || previous == b);
    for (int i = 0; i < 9; i++) {
        adapter_t *selected = registry_select (service);
        assert_true (selected == a || selected == b);
        assert_ptr_not_equal (selected, previous);
        previous = selected;
    }

    /* Three tied instances share evenly. */
    adapter_t *c = add (registry, "ss", "c", 3, &s_person_get, 1);
    int picks[3] = { 0 };
    for (int i = 0; i < 30; i++) {
        adapter_t *selected = registry_select (service);
        picks[0] += selected == a;
        picks[1] += selected == b;
        picks[2] += selected == c;
    }
    assert_int_equal (picks[0], 10);
    assert_int_equal (picks[1], 10);
    assert_int_equal (picks[2], 10);
}

static void
test_select_ties_round_robin_past_full_instance (void **state)
{
    /* a and b tie, c is full. The header promises ties broken
     * round-robin, so a and b must alternate: one each per two picks. */
    fixture_t *f = *state;
    registry_t *registry = f->registry;
    adapter_t *a = add (registry, "ss", "a", 4, &s_person_get, 1);
    adapter_t *b = add (registry, "ss", "b", 4, &s_person_get, 1);
    adapter_t *c = add (registry, "ss", "c", 1, &s_person_get, 1);
    service_t *service = registry_service (registry, "ps.person.get");
    request_t *requests = f->requests;
    load (c, requests, 1);

    /* Requests complete before the next one comes, so free credit stays
     * tied: the light-load case. */
    int picks_a = 0, picks_b = 0, repeats = 0;
    adapter_t *previous = NULL;
    for (int i = 0; i < 30; i++) {
        adapter_t *selected = registry_select (service);
        assert_true (selected == a || selected == b);
        picks_a += selected == a;
        picks_b += selected == b;
        repeats += selected == previous;
        previous = selected;
    }
    assert_int_equal (picks_a, 15);
    assert_int_equal (picks_b, 15);
    assert_int_equal (repeats, 0);

    unload (c);
}

static void
test_select_never_full (void **state)
{
    fixture_t *f = *state;
    registry_t *registry = f->registry;
    service_t *service = registry_ensure_service (registry, "ps.person.get");
    /* No instance at all. */
    assert_null (registry_select (service));

    adapter_t *a = add (registry, "ss", "a", 2, &s_person_get, 1);
    adapter_t *b = add (registry, "ss", "b", 1, &s_person_get, 1);
    adapter_t *zero = add (registry, "ss", "zero", 0, &s_person_get, 1);
    request_t *requests = f->requests;

    load (a, requests, 2);
    /* Only b has room. */
    for (int i = 0; i < 5; i++)
        assert_ptr_equal (registry_select (service), b);
    load (b, requests + 2, 1);
    /* Everyone is full (zero never had credit). */
    for (int i = 0; i < 5; i++)
        assert_null (registry_select (service));

    /* More in flight than credit (credit lowered) counts as full, not as a
     * huge unsigned free credit. */
    load (a, requests + 3, 1);
    assert_int_equal (a->in_flight, 3);
    assert_null (registry_select (service));

    adapter_untrack (b, b->in_flight_head);
    assert_ptr_equal (registry_select (service), b);
    assert_int_equal (zero->in_flight, 0);

    unload (a);
}

/* --- lists --- */

/* Checks the queue holds exactly these requests, in order, both ways. */
static void
assert_queue (const service_t *service, request_t **expected, size_t n)
{
    assert_int_equal (service->waiting, n);
    request_t *r = service->queue_head;
    for (size_t i = 0; i < n; i++, r = r->next)
        assert_ptr_equal (r, expected[i]);
    assert_null (r);
    r = service->queue_tail;
    for (size_t i = n; i > 0; i--, r = r->prev)
        assert_ptr_equal (r, expected[i - 1]);
    assert_null (r);
    if (n == 0) {
        assert_null (service->queue_head);
        assert_null (service->queue_tail);
    }
}

static void
test_service_queue (void **state)
{
    fixture_t *f = *state;
    registry_t *registry = f->registry;
    service_t *service = registry_ensure_service (registry, "s");
    request_t *r = f->requests;
    assert_queue (service, NULL, 0);
    assert_null (service_dequeue (service));

    service_enqueue (service, &r[0]);
    service_enqueue (service, &r[1]);
    service_enqueue (service, &r[2]);
    assert_queue (service, (request_t *[]) { &r[0], &r[1], &r[2] }, 3);

    /* A re-queued request goes first. */
    service_enqueue_front (service, &r[3]);
    assert_queue (service, (request_t *[]) { &r[3], &r[0], &r[1], &r[2] }, 4);

    /* Unlink from the middle, the tail and the head. */
    service_unlink (service, &r[0]);
    assert_queue (service, (request_t *[]) { &r[3], &r[1], &r[2] }, 3);
    assert_null (r[0].prev);
    assert_null (r[0].next);
    service_unlink (service, &r[2]);
    assert_queue (service, (request_t *[]) { &r[3], &r[1] }, 2);
    service_unlink (service, &r[3]);
    assert_queue (service, (request_t *[]) { &r[1] }, 1);

    service_enqueue (service, &r[4]);
    assert_ptr_equal (service_dequeue (service), &r[1]);
    assert_ptr_equal (service_dequeue (service), &r[4]);
    assert_null (service_dequeue (service));
    assert_queue (service, NULL, 0);

    /* Front of an empty queue is also its tail. */
    service_enqueue_front (service, &r[5]);
    assert_queue (service, (request_t *[]) { &r[5] }, 1);
    service_enqueue (service, &r[0]);
    assert_queue (service, (request_t *[]) { &r[5], &r[0] }, 2);
    assert_ptr_equal (service_dequeue (service), &r[5]);
    assert_ptr_equal (service_dequeue (service), &r[0]);
    assert_queue (service, NULL, 0);
}

static void
test_adapter_track_untrack (void **state)
{
    fixture_t *f = *state;
    registry_t *registry = f->registry;
    adapter_t *a = add (registry, "ss", "a", 5, &s_person_get, 1);
    request_t *r = f->requests;

    for (int i = 0; i < 4; i++) {
        adapter_track (a, &r[i]);
        assert_int_equal (a->in_flight, (unsigned) i + 1);
        assert_ptr_equal (r[i].adapter, a);
        assert_ptr_equal (a->in_flight_head, &r[i]);
    }
    /* Newest first: r3 r2 r1 r0. Untrack from the middle. */
    adapter_untrack (a, &r[1]);
    assert_int_equal (a->in_flight, 3);
    assert_null (r[1].adapter);
    assert_null (r[1].prev);
    assert_null (r[1].next);
    assert_ptr_equal (r[2].next, &r[0]);
    assert_ptr_equal (r[0].prev, &r[2]);

    /* The head, then the tail, then the last one. */
    adapter_untrack (a, &r[3]);
    assert_ptr_equal (a->in_flight_head, &r[2]);
    assert_null (r[2].prev);
    adapter_untrack (a, &r[0]);
    assert_null (r[2].next);
    assert_int_equal (a->in_flight, 1);
    adapter_untrack (a, &r[2]);
    assert_int_equal (a->in_flight, 0);
    assert_null (a->in_flight_head);
}

/* --- hashmap --- */

static int
setup_map (void **state)
{
    *state = hashmap_new ();
    return *state ? 0 : -1;
}

static int
teardown_map (void **state)
{
    hashmap_t *map = *state;
    hashmap_destroy (&map);
    return map ? -1 : 0;
}

static void
test_hashmap_basic (void **state)
{
    hashmap_t *map = *state;
    int one = 1, two = 2, three = 3;
    assert_int_equal (hashmap_size (map), 0);
    assert_null (hashmap_get (map, "a", 1));
    assert_null (hashmap_remove (map, "a", 1));

    assert_int_equal (hashmap_put (map, "a", 1, &one), 0);
    assert_int_equal (hashmap_put (map, "ab", 2, &two), 0);
    /* Keys are bytes, not strings: an embedded NUL makes another key. */
    assert_int_equal (hashmap_put (map, "ab\0", 3, &three), 0);
    assert_int_equal (hashmap_size (map), 3);
    assert_ptr_equal (hashmap_get (map, "a", 1), &one);
    assert_ptr_equal (hashmap_get (map, "ab", 2), &two);
    assert_ptr_equal (hashmap_get (map, "ab\0", 3), &three);
    assert_null (hashmap_get (map, "b", 1));

    /* Replace keeps the size. */
    assert_int_equal (hashmap_put (map, "a", 1, &three), 0);
    assert_int_equal (hashmap_size (map), 3);
    assert_ptr_equal (hashmap_get (map, "a", 1), &three);

    /* The key is copied: the caller's buffer may change. */
    char key[] = "zz";
    assert_int_equal (hashmap_put (map, key, 2, &one), 0);
    key[0] = 'y';
    assert_null (hashmap_get (map, key, 2));
    assert_ptr_equal (hashmap_get (map, "zz", 2), &one);

    /* The empty key is a key like any other. */
    assert_int_equal (hashmap_put (map, "", 0, &two), 0);
    assert_ptr_equal (hashmap_get (map, "", 0), &two);

    assert_ptr_equal (hashmap_remove (map, "ab", 2), &two);
    assert_null (hashmap_get (map, "ab", 2));
    assert_ptr_equal (hashmap_get (map, "ab\0", 3), &three);
    assert_null (hashmap_remove (map, "ab", 2));
    assert_int_equal (hashmap_size (map), 4);

    /* Destroying nothing is harmless. */
    hashmap_t *none = NULL;
    hashmap_destroy (&none);
    hashmap_destroy (NULL);
}

#define MANY 10000

static size_t
key_of (int i, char *key)
{
    return (size_t) sprintf (key, "key-%d", i);
}

static void
test_hashmap_many (void **state)
{
    hashmap_t *map = *state;
    static int values[MANY];
    char key[32];
    for (int i = 0; i < MANY; i++) {
        values[i] = i;
        assert_int_equal (hashmap_put (map, key, key_of (i, key), &values[i]), 0);
    }
    assert_int_equal (hashmap_size (map), MANY);
    for (int i = 0; i < MANY; i++)
        assert_ptr_equal (hashmap_get (map, key, key_of (i, key)), &values[i]);

    /* Remove half in a scrambled order, so holes open inside probe runs
     * and at their ends; every key left must still be found. */
    static int order[MANY / 2];
    for (int i = 0; i < MANY / 2; i++)
        order[i] = 2 * i;
    uint32_t seed = 12345;
    for (int i = MANY / 2 - 1; i > 0; i--) {
        seed = seed * 1103515245u + 12345u;
        int j = (int) ((seed >> 8) % (uint32_t) (i + 1));
        int tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
    for (int i = 0; i < MANY / 2; i++) {
        int k = order[i];
        assert_ptr_equal (hashmap_remove (map, key, key_of (k, key)), &values[k]);
    }
    assert_int_equal (hashmap_size (map), MANY / 2);
    for (int i = 0; i < MANY; i++) {
        void *found = hashmap_get (map, key, key_of (i, key));
        if (i % 2)
            assert_ptr_equal (found, &values[i]);
        else
            assert_null (found);
    }

    /* Put the removed ones back and replace the others. */
    for (int i = 0; i < MANY; i++)
        assert_int_equal (hashmap_put (map, key, key_of (i, key), &values[MANY - 1 - i]), 0);
    assert_int_equal (hashmap_size (map), MANY);
    for (int i = 0; i < MANY; i++)
        assert_ptr_equal (hashmap_get (map, key, key_of (i, key)), &values[MANY - 1 - i]);

    /* Remove everything, in order this time. */
    for (int i = 0; i < MANY; i++)
        assert_non_null (hashmap_remove (map, key, key_of (i, key)));
    assert_int_equal (hashmap_size (map), 0);
    size_t cursor = 0;
    assert_null (hashmap_next (map, &cursor));
}

static void
test_hashmap_iteration (void **state)
{
    hashmap_t *map = *state;
    enum { N = 1000 };
    static int values[N];
    static int seen[N];
    char key[32];
    for (int i = 0; i < N; i++) {
        values[i] = i;
        assert_int_equal (hashmap_put (map, key, key_of (i, key), &values[i]), 0);
    }
    for (int round = 0; round < 2; round++) {
        memset (seen, 0, sizeof seen);
        size_t cursor = 0, visited = 0;
        int *value;
        while ((value = hashmap_next (map, &cursor))) {
            assert_true (value >= values && value < values + N);
            seen[value - values]++;
            visited++;
        }
        assert_int_equal (visited, hashmap_size (map));
        for (int i = 0; i < N; i++)
            assert_int_equal (seen[i], round == 0 || i % 3 ? 1 : 0);
        /* Second round: without every third key. */
        for (int i = 0; round == 0 && i < N; i += 3)
            assert_ptr_equal (hashmap_remove (map, key, key_of (i, key)), &values[i]);
    }
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_add_adapter_with_offers, setup, teardown),
        cmocka_unit_test_setup_teardown (test_offer_fills_missing_description, setup, teardown),
        cmocka_unit_test_setup_teardown (test_ensure_service, setup, teardown),
        cmocka_unit_test_setup_teardown (test_iteration, setup, teardown),
        cmocka_unit_test_setup_teardown (test_remove_adapter_unlinks, setup, teardown),
        cmocka_unit_test_setup_teardown (test_forget_if_unused, setup, teardown),
        cmocka_unit_test_setup_teardown (test_select_most_free_credit, setup, teardown),
        cmocka_unit_test_setup_teardown (test_select_ties_round_robin, setup, teardown),
        cmocka_unit_test_setup_teardown (test_select_ties_round_robin_past_full_instance, setup, teardown),
        cmocka_unit_test_setup_teardown (test_select_never_full, setup, teardown),
        cmocka_unit_test_setup_teardown (test_service_queue, setup, teardown),
        cmocka_unit_test_setup_teardown (test_adapter_track_untrack, setup, teardown),
        cmocka_unit_test_setup_teardown (test_hashmap_basic, setup_map, teardown_map),
        cmocka_unit_test_setup_teardown (test_hashmap_many, setup_map, teardown_map),
        cmocka_unit_test_setup_teardown (test_hashmap_iteration, setup_map, teardown_map),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
