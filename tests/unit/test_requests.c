/*
 * test_requests.c - unit tests of broker/requests.h: the bounded table of
 * pending requests, its generation-checked ids and its deadline heap.
 *
 * Run under ASan (-DONENET_SANITIZE=ON) the destroy tests also check that
 * the table frees the messages and purpose of the requests it still holds.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "requests.h"

/* Deterministic, so a failure reproduces. */
static uint32_t
next_random (uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}

static int
compare_ids (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y ? -1 : x > y;
}

static void
test_add_until_full (void **state)
{
    requests_t *table = requests_new (5);
    assert_non_null (table);
    assert_int_equal (requests_capacity (table), 5);
    assert_int_equal (requests_count (table), 0);
    assert_int_equal (requests_next_deadline (table), -1);
    assert_null (requests_expired (table, INT64_MAX));

    request_t *added[5];
    for (int i = 0; i < 5; i++) {
        added[i] = requests_add (table, 100 + i);
        assert_non_null (added[i]);
        assert_int_equal (requests_count (table), (size_t) i + 1);
        /* Fresh: zeroed, messages empty, deadline as asked. */
        assert_int_equal (added[i]->deadline, 100 + i);
        assert_int_equal (zmq_msg_size (&added[i]->client), 0);
        assert_int_equal (zmq_msg_size (&added[i]->body), 0);
        assert_null (added[i]->purpose);
        assert_null (added[i]->service);
        assert_null (added[i]->adapter);
        assert_null (added[i]->prev);
        assert_null (added[i]->next);
        assert_int_equal (added[i]->attempt, 0);
        assert_int_not_equal (added[i]->id, 0);
    }
    assert_null (requests_add (table, 1));
    assert_int_equal (requests_count (table), 5);
    assert_int_equal (requests_capacity (table), 5);

    /* One out, one in, then full again. */
    requests_remove (table, added[2]);
    assert_int_equal (requests_count (table), 4);
    request_t *again = requests_add (table, 7);
    assert_non_null (again);
    assert_null (requests_add (table, 1));
    assert_int_equal (requests_next_deadline (table), 7);
    requests_destroy (&table);
    assert_null (table);
}

static void
test_ids_unique_and_found (void **state)
{
    /* More than one chunk of slots, so ids span chunks. */
    enum { N = 3000 };
    requests_t *table = requests_new (N);
    assert_non_null (table);
    static request_t *added[N];
    static uint64_t ids[N];
    for (int i = 0; i < N; i++) {
        added[i] = requests_add (table, i);
        assert_non_null (added[i]);
        ids[i] = added[i]->id;
    }
    assert_null (requests_add (table, 0));
    for (int i = 0; i < N; i++)
        assert_ptr_equal (requests_find (table, ids[i]), added[i]);
    /* Addresses are stable: all distinct requests. */
    for (int i = 1; i < N; i++)
        assert_ptr_not_equal (added[i], added[i - 1]);

    qsort (ids, N, sizeof ids[0], compare_ids);
    for (int i = 1; i < N; i++)
        assert_true (ids[i] != ids[i - 1]);

    /* Ids that were never handed out. */
    assert_null (requests_find (table, 0));
    assert_null (requests_find (table, (uint64_t) 1 << 32 | N));
    assert_null (requests_find (table, (uint64_t) 1 << 32 | 0xffffffffu));
    assert_null (requests_find (table, added[0]->id + ((uint64_t) 1 << 32)));
    /* The slot alone, generation 0, is not an id. */
    assert_null (requests_find (table, added[0]->id & 0xffffffffu));
    requests_destroy (&table);
}

static void
test_removed_id_is_stale (void **state)
{
    requests_t *table = requests_new (1);
    assert_non_null (table);
    request_t *first = requests_add (table, 10);
    assert_non_null (first);
    uint64_t old_ids[100];
    old_ids[0] = first->id;
    requests_remove (table, first);
    assert_int_equal (requests_count (table), 0);
    assert_null (requests_find (table, old_ids[0]));

    /* The one slot is reused again and again, each time under a new id. */
    for (int i = 1; i < 100; i++) {
        request_t *request = requests_add (table, 10);
        assert_ptr_equal (request, first);
        assert_ptr_equal (requests_find (table, request->id), request);
        for (int j = 0; j < i; j++) {
            assert_true (request->id != old_ids[j]);
            assert_null (requests_find (table, old_ids[j]));
        }
        old_ids[i] = request->id;
        requests_remove (table, request);
        assert_null (requests_find (table, old_ids[i]));
    }
    requests_destroy (&table);
}

static void
test_remove_frees_contents (void **state)
{
    /* Under ASan a leak here fails the run. */
    requests_t *table = requests_new (4);
    assert_non_null (table);
    request_t *request = requests_add (table, 1);
    assert_non_null (request);
    assert_int_equal (zmq_msg_init_size (&request->client, 5), 0);
    memcpy (zmq_msg_data (&request->client), "peer1", 5);
    assert_int_equal (zmq_msg_init_size (&request->body, 4096), 0);
    memset (zmq_msg_data (&request->body), 0x5a, 4096);
    request->purpose = strdup ("audit purpose");
    assert_non_null (request->purpose);
    requests_remove (table, request);
    assert_int_equal (requests_count (table), 0);

    /* The reused slot starts clean. */
    request_t *reused = requests_add (table, 2);
    assert_ptr_equal (reused, request);
    assert_null (reused->purpose);
    assert_int_equal (zmq_msg_size (&reused->body), 0);
    assert_int_equal (zmq_msg_size (&reused->client), 0);
    requests_destroy (&table);
}

static void
test_expired_in_deadline_order (void **state)
{
    enum { N = 1000 };
    requests_t *table = requests_new (N);
    assert_non_null (table);
    static request_t *added[N];
    uint32_t seed = 2463534242u;
    int64_t earliest = INT64_MAX;
    for (int i = 0; i < N; i++) {
        /* A narrow range, so many deadlines are equal. */
        added[i] = requests_add (table, 1000 + next_random (&seed) % 5000);
        assert_non_null (added[i]);
        if (added[i]->deadline < earliest)
            earliest = added[i]->deadline;
    }
    assert_int_equal (requests_next_deadline (table), earliest);

    /* Remove every seventh, wherever it sits in the heap. */
    size_t removed = 0;
    for (int i = 3; i < N; i += 7) {
        requests_remove (table, added[i]);
        added[i] = NULL;
        removed++;
    }
    size_t left = N - removed;
    assert_int_equal (requests_count (table), left);

    size_t due_by_3500 = 0;
    earliest = INT64_MAX;
    for (int i = 0; i < N; i++) {
        if (!added[i])
            continue;
        due_by_3500 += added[i]->deadline <= 3500;
        if (added[i]->deadline < earliest)
            earliest = added[i]->deadline;
    }
    assert_int_equal (requests_next_deadline (table), earliest);
    /* Nothing is due before the earliest deadline. */
    assert_null (requests_expired (table, earliest - 1));

    /* Expire up to 3500: exactly the ones due, earliest first. */
    int64_t last = INT64_MIN;
    size_t popped = 0;
    request_t *request;
    while ((request = requests_expired (table, 3500))) {
        assert_true (request->deadline <= 3500);
        assert_true (request->deadline >= last);
        assert_int_equal (requests_next_deadline (table), request->deadline);
        last = request->deadline;
        requests_remove (table, request);
        popped++;
    }
    assert_int_equal (popped, due_by_3500);
    assert_int_equal (requests_count (table), left - due_by_3500);
    assert_true (requests_next_deadline (table) > 3500);

    /* Then the rest, still in order. */
    while ((request = requests_expired (table, INT64_MAX))) {
        assert_true (request->deadline >= last);
        last = request->deadline;
        requests_remove (table, request);
        popped++;
    }
    assert_int_equal (popped, left);
    assert_int_equal (requests_count (table), 0);
    assert_int_equal (requests_next_deadline (table), -1);
    requests_destroy (&table);
}

static void
test_expired_boundary (void **state)
{
    requests_t *table = requests_new (3);
    assert_non_null (table);
    request_t *late = requests_add (table, 300);
    request_t *early = requests_add (table, 100);
    request_t *middle = requests_add (table, 200);
    assert_int_equal (requests_next_deadline (table), 100);
    assert_null (requests_expired (table, 99));
    /* Due at its deadline, not only after it. */
    assert_ptr_equal (requests_expired (table, 100), early);
    /* Looking does not take it out. */
    assert_ptr_equal (requests_expired (table, 100), early);
    assert_int_equal (requests_count (table), 3);

    /* Removing the earliest from outside the expiry path moves the heap on. */
    requests_remove (table, early);
    assert_int_equal (requests_next_deadline (table), 200);
    assert_ptr_equal (requests_expired (table, 1000), middle);
    /* Removing the last in the heap. */
    requests_remove (table, late);
    assert_ptr_equal (requests_expired (table, 1000), middle);
    requests_remove (table, middle);
    assert_null (requests_expired (table, INT64_MAX));
    requests_destroy (&table);
}

static void
test_destroy_with_live_requests (void **state)
{
    /* Live requests hold messages and purposes; destroy frees them all.
     * ASan's leak check at exit is the assertion for what is freed. */
    enum { N = 1500 };
    requests_t *table = requests_new (N);
    assert_non_null (table);
    for (int i = 0; i < N; i++) {
        request_t *request = requests_add (table, i % 97);
        assert_non_null (request);
        assert_int_equal (zmq_msg_init_size (&request->client, 5), 0);
        memcpy (zmq_msg_data (&request->client), "peer1", 5);
        /* Large enough that zmq allocates the content. */
        assert_int_equal (zmq_msg_init_size (&request->body, 256 + (size_t) i), 0);
        memset (zmq_msg_data (&request->body), i & 0xff, 256 + (size_t) i);
        if (i % 2)
            request->purpose = strdup ("purpose");
        /* Leave some holes in the free list as the broker would. */
        if (i % 5 == 0)
            requests_remove (table, request);
    }
    assert_int_equal (requests_count (table), N - N / 5);
    requests_destroy (&table);
    assert_null (table);
    /* Destroying nothing is harmless. */
    requests_destroy (&table);
    requests_destroy (NULL);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_add_until_full),
        cmocka_unit_test (test_ids_unique_and_found),
        cmocka_unit_test (test_removed_id_is_stale),
        cmocka_unit_test (test_remove_frees_contents),
        cmocka_unit_test (test_expired_in_deadline_order),
        cmocka_unit_test (test_expired_boundary),
        cmocka_unit_test (test_destroy_with_live_requests),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
