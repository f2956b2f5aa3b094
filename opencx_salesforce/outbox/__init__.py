"""The durable queue of outgoing work and its retry policy.

:mod:`.queue` holds jobs in the host store and runs the workers; each area
(:mod:`opencx_salesforce.cases`, :mod:`opencx_salesforce.replies`) registers the
job kinds it handles.
"""
