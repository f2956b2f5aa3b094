"""A local Salesforce, built from Salesforce's documentation.

The plugin, the demo, the tests and the benchmarks talk to it over real HTTP
exactly as they would to a real org. It follows the documented behaviour (status
codes, error bodies, field limits, OAuth, composite semantics, token expiry,
API-limit accounting) and is never shaped to the plugin's convenience: each
behaviour cites the document it follows.
"""
