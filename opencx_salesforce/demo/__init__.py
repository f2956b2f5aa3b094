"""``opencx-salesforce demo``: the whole product, end to end, on this machine."""
