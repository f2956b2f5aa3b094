""" "Retry all" on dead letters: a revived job starts its clock anew, so its
give-up window starts over and it is not buried again on its first wait."""

from __future__ import annotations

from opencx_salesforce.devhost.waiting import wait_for
from opencx_salesforce.errors import RetryLater
from opencx_salesforce.outbox import Job, Outbox, OutboxSettings
from opencx_salesforce.store.base import ItemState
from opencx_salesforce.store.memory import MemoryStore

APPENDS = 8
GIVE_UP = 0.5  # dead_letter_after, seconds


async def test_revived_appends_do_not_dead_letter_on_their_first_wait() -> None:
    store = MemoryStore()
    case_exists = False
    tries: dict[str, int] = {}

    async def append(job: Job) -> None:
        tries[job.item_id] = tries.get(job.item_id, 0) + 1
        if not case_exists:
            raise RetryLater("the session's Case is not created yet", delay=0.05)

    settings = OutboxSettings(dead_letter_after=GIVE_UP, concurrency=4, idle_wait=0.5)
    outbox = Outbox(store, queue="revive.test", handlers={"append": append}, settings=settings)
    outbox.start()
    try:
        for n in range(APPENDS):
            await outbox.submit("append", f"append:s1:m{n}", {"n": n})

        async def all_dead() -> bool:
            return len(await outbox.items(ItemState.DEAD)) == APPENDS

        await wait_for(all_dead, timeout=10, what="every append to give up")

        # The admin clicks "Retry all": each job waits again, once at least.
        before = dict(tries)
        assert await outbox.retry_dead() == APPENDS

        async def each_waited_again() -> bool:
            return all(tries[item] > before[item] for item in before)

        await wait_for(each_waited_again, timeout=10, what="each revived append to run")
        buried_again = [item.item_id for item in await outbox.items(ItemState.DEAD)]
        assert buried_again == [], f"{len(buried_again)} of {APPENDS} buried on their first wait"

        case_exists = True

        async def all_done() -> bool:
            return await outbox.items() == []

        await wait_for(all_done, timeout=10, what="the revived appends to land")
    finally:
        await outbox.stop()
