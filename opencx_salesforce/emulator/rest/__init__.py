"""The REST API of the emulated org (``/services/data/...``)."""
