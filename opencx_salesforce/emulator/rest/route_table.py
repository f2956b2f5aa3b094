"""The REST API's route table: which handler serves which path after the
version. :func:`~opencx_salesforce.emulator.rest.dispatch.dispatch` matches a
request against an org's own routes first, then against this table, which
:class:`~opencx_salesforce.emulator.state.EmulatorState` holds.

It lives apart from ``dispatch``: the handlers import ``dispatch`` (their request
and response types, and the composite resources run their subrequests through
it), so the table that imports the handlers cannot be ``dispatch``'s.
"""

from __future__ import annotations

from opencx_salesforce.emulator.rest import (
    composite,
    composite_collections,
    composite_collections_retrieve,
    composite_graph,
    composite_tree,
    describe,
    limits,
    query,
    sobjects,
    tooling,
    unsupported,
    updated_deleted,
    versions,
)
from opencx_salesforce.emulator.rest.dispatch import Route

# The composite family, each module contributing its ``ROUTES`` (patterns
# relative to the version like the core ones, e.g. ``composite/graph``).
COMPOSITE_FAMILY = (
    composite,
    composite_collections,
    composite_collections_retrieve,
    composite_graph,
    composite_tree,
)

CORE_ROUTES: tuple[Route, ...] = (
    Route.of("", GET=versions.resources),
    Route.of("limits", GET=limits.get_limits),
    Route.of("sobjects", GET=describe.describe_global),
    Route.of("sobjects/(?P<sobject>[^/]+)/describe", GET=describe.describe_sobject),
    Route.of(
        "sobjects/(?P<sobject>[^/]+)",
        GET=describe.basic_info,
        POST=sobjects.create,
    ),
    # Before the record routes, which would read "updated" as an Id.
    Route.of("sobjects/(?P<sobject>[^/]+)/updated", GET=updated_deleted.get_updated),
    Route.of("sobjects/(?P<sobject>[^/]+)/deleted", GET=updated_deleted.get_deleted),
    Route.of(
        "sobjects/(?P<sobject>[^/]+)/(?P<record_id>[^/]+)",
        GET=sobjects.retrieve,
        PATCH=sobjects.update,
        DELETE=sobjects.delete,
        POST=sobjects.create_by_id_path,
    ),
    Route.of(
        "sobjects/(?P<sobject>[^/]+)/(?P<ext_field>[^/]+)/(?P<ext_value>.+)",
        GET=sobjects.retrieve_by_external_id,
        PATCH=sobjects.upsert,
        DELETE=sobjects.delete_by_external_id,
    ),
    Route.of("query", GET=query.query),
    Route.of("queryAll", GET=query.query_all),
    Route.of("(?:query|queryAll)/(?P<locator>[^/]+)", GET=query.query_more),
    Route.of("tooling/query", GET=tooling.query),
    Route.of("tooling/query/(?P<locator>[^/]+)", GET=query.query_more),
    Route.of("tooling/sobjects", GET=tooling.describe_global),
    Route.of("tooling/sobjects/(?P<sobject>[^/]+)/describe", GET=tooling.describe_sobject),
    Route.of("tooling/sobjects/(?P<sobject>[^/]+)/(?P<record_id>[^/]+)", GET=tooling.retrieve),
    *unsupported.ROUTES,
    *(route for module in COMPOSITE_FAMILY for route in module.ROUTES),
)
