"""The store conformance suite, for any :class:`~opencx_salesforce.store.base.Store`.

Every backend shipped here (memory, SQLite, PostgreSQL, Redis) passes it; a
store you write for your own host should too. It checks the rules written in
:mod:`opencx_salesforce.store.base`: key/value reads, writes, TTLs and listing;
``set_many``; the queue's leases, retries and dead letters; the optional
``enqueue_leased`` and ``get_many`` (each skipped for a store without it);
``wait`` waking for work; and races of 50 store objects at once with exactly one winner.

Use it from a test module of yours (pytest, with an asyncio runner such as
pytest-aiohttp or pytest-asyncio in auto mode)::

    import pytest
    from opencx_salesforce.testing.store_conformance import *  # noqa: F403
    from opencx_salesforce.testing.store_conformance import Backend

    @pytest.fixture
    async def backend():
        # Each open() is a new store object (a new connection) on the same data.
        opened = Backend("mine", opener=lambda: MyStore.open(TEST_URL), cleanup=drop_test_data)
        yield opened
        await opened.close_all()

The star import brings the tests and the ``store`` fixture (a fresh store from
``backend``). If your store keeps its data when closed, also import ``*`` from
:mod:`.durability` and give it a ``durable_backend`` fixture of the same kind.
Nothing here imports a backend: the suite needs only pytest and your store.
"""

from __future__ import annotations

import pytest

from opencx_salesforce.store.base import Store
from opencx_salesforce.testing.store_conformance.backend import Backend
from opencx_salesforce.testing.store_conformance.kv import (
    test_a_key_expires_after_its_ttl,
    test_a_ttl_that_is_not_positive_is_refused,
    test_an_expired_key_counts_as_absent_for_atomic_writes,
    test_compare_and_set,
    test_delete_reports_whether_a_key_was_there,
    test_get_of_a_missing_key_is_none,
    test_keys_are_sorted_and_filtered_by_prefix,
    test_namespaces_do_not_share_keys,
    test_set_if_absent_stores_only_the_first_value,
    test_set_then_get_and_overwrite,
    test_ttl_belongs_to_the_value_written,
    test_values_are_bytes_round_tripped_exactly,
)
from opencx_salesforce.testing.store_conformance.leased import (
    test_an_enqueue_leased_item_is_leased_again_only_after_its_lease_runs_out,
    test_enqueue_leased_has_exactly_one_winner,
    test_enqueue_leased_on_a_taken_id_writes_nothing,
    test_enqueue_leased_returns_a_lease_and_shows_the_item_leased,
    test_enqueue_leased_wakes_no_waiter_until_its_lease_runs_out,
    test_its_lease_acks_retries_and_buries_like_any_other,
    test_its_timeout_is_checked,
)
from opencx_salesforce.testing.store_conformance.many import (
    test_set_many_is_never_seen_in_part,
    test_set_many_of_a_thousand_pairs,
    test_set_many_with_a_ttl,
    test_set_many_writes_every_pair_as_set_would,
)
from opencx_salesforce.testing.store_conformance.queue import (
    test_a_forged_or_foreign_lease_does_nothing,
    test_a_lapsed_lease_still_acts_until_another_worker_takes_the_item,
    test_a_stale_lease_cannot_ack_retry_or_bury,
    test_an_expired_lease_makes_the_item_ready_again,
    test_an_item_id_stays_taken_in_every_state,
    test_bury_keeps_the_item_dead_until_revived,
    test_enqueue_is_idempotent_on_item_id,
    test_hurry_makes_only_a_waiting_item_due_now,
    test_items_lists_each_state_oldest_first,
    test_lease_arguments_are_checked,
    test_lease_reports_the_age_and_revive_starts_it_anew,
    test_lease_takes_due_items_earliest_due_first,
    test_negative_delays_are_refused_and_write_nothing,
    test_queues_are_separate,
    test_retry_in_puts_the_item_back_for_later,
    test_revive_only_acts_on_dead_items,
)
from opencx_salesforce.testing.store_conformance.races import (
    test_compare_and_set_has_exactly_one_winner,
    test_compare_and_set_loses_no_increment,
    test_concurrent_workers_lease_each_item_exactly_once,
    test_set_if_absent_has_exactly_one_winner,
)
from opencx_salesforce.testing.store_conformance.read_many import (
    test_get_many_leaves_out_expired_keys,
    test_get_many_reads_each_key_as_get_does,
    test_get_many_reads_many_keys_at_once,
)
from opencx_salesforce.testing.store_conformance.wait import (
    test_a_retry_and_a_revive_on_another_store_wake_the_waiter,
    test_an_enqueue_on_another_store_wakes_the_waiter,
    test_hurrying_on_another_store_wakes_the_waiter,
    test_wait_returns_at_once_when_an_item_is_ready,
    test_wait_times_out_when_nothing_comes,
    test_wait_wakes_when_a_lease_runs_out,
    test_wait_wakes_when_a_retry_comes_due,
)

__all__ = [
    "Backend",
    "store",
    "test_a_forged_or_foreign_lease_does_nothing",
    "test_a_key_expires_after_its_ttl",
    "test_a_lapsed_lease_still_acts_until_another_worker_takes_the_item",
    "test_a_retry_and_a_revive_on_another_store_wake_the_waiter",
    "test_a_stale_lease_cannot_ack_retry_or_bury",
    "test_a_ttl_that_is_not_positive_is_refused",
    "test_an_enqueue_leased_item_is_leased_again_only_after_its_lease_runs_out",
    "test_an_enqueue_on_another_store_wakes_the_waiter",
    "test_an_expired_key_counts_as_absent_for_atomic_writes",
    "test_an_expired_lease_makes_the_item_ready_again",
    "test_an_item_id_stays_taken_in_every_state",
    "test_bury_keeps_the_item_dead_until_revived",
    "test_compare_and_set",
    "test_compare_and_set_has_exactly_one_winner",
    "test_compare_and_set_loses_no_increment",
    "test_concurrent_workers_lease_each_item_exactly_once",
    "test_delete_reports_whether_a_key_was_there",
    "test_enqueue_is_idempotent_on_item_id",
    "test_enqueue_leased_has_exactly_one_winner",
    "test_enqueue_leased_on_a_taken_id_writes_nothing",
    "test_enqueue_leased_returns_a_lease_and_shows_the_item_leased",
    "test_enqueue_leased_wakes_no_waiter_until_its_lease_runs_out",
    "test_get_many_leaves_out_expired_keys",
    "test_get_many_reads_each_key_as_get_does",
    "test_get_many_reads_many_keys_at_once",
    "test_get_of_a_missing_key_is_none",
    "test_hurry_makes_only_a_waiting_item_due_now",
    "test_hurrying_on_another_store_wakes_the_waiter",
    "test_items_lists_each_state_oldest_first",
    "test_its_lease_acks_retries_and_buries_like_any_other",
    "test_its_timeout_is_checked",
    "test_keys_are_sorted_and_filtered_by_prefix",
    "test_lease_arguments_are_checked",
    "test_lease_reports_the_age_and_revive_starts_it_anew",
    "test_lease_takes_due_items_earliest_due_first",
    "test_namespaces_do_not_share_keys",
    "test_negative_delays_are_refused_and_write_nothing",
    "test_queues_are_separate",
    "test_retry_in_puts_the_item_back_for_later",
    "test_revive_only_acts_on_dead_items",
    "test_set_if_absent_has_exactly_one_winner",
    "test_set_if_absent_stores_only_the_first_value",
    "test_set_many_is_never_seen_in_part",
    "test_set_many_of_a_thousand_pairs",
    "test_set_many_with_a_ttl",
    "test_set_many_writes_every_pair_as_set_would",
    "test_set_then_get_and_overwrite",
    "test_ttl_belongs_to_the_value_written",
    "test_values_are_bytes_round_tripped_exactly",
    "test_wait_returns_at_once_when_an_item_is_ready",
    "test_wait_times_out_when_nothing_comes",
    "test_wait_wakes_when_a_lease_runs_out",
    "test_wait_wakes_when_a_retry_comes_due",
]


@pytest.fixture
async def store(backend: Backend) -> Store:
    """A fresh, empty store of the backend under test."""
    return await backend.open()
