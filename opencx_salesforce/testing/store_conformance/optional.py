"""The store's optional capabilities (``enqueue_leased``, ``get_many``): their
tests run on a store that offers one and are skipped, in this one place, for a
store that does not. The plugin works without them; the stores shipped here all
have them, which tests/store asserts, so a skip never hides one of ours."""

from __future__ import annotations

import pytest

from opencx_salesforce.store import Store


def require(store: Store, method: str) -> None:
    """Skip the test when ``store`` lacks the optional ``method``."""
    if not callable(getattr(store, method, None)):
        pytest.skip(f"this store does not offer {method} (optional)")
