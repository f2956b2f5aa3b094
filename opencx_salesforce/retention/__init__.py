"""Retention: the keys of a Case closed longer than ``retention_days`` removed,
so the store stops growing with every conversation ever handed off.

* :mod:`.status`: what the passes did (the log, the metrics);
* :mod:`.purge`: one pass over the days that came due
  (:mod:`opencx_salesforce.cases.closed_days`), Case by Case, never one that
  is open, being read, or whose conversation still has work in the outbox;
* :mod:`.runner`: the background task, four passes a day shared by the host
  instances on one store, and the once-only step for a store written before
  closings were kept.
"""
