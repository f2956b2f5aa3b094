"""The Limits resource: ``GET /services/data/vXX.X/limits/`` (v29.0+).

``DailyApiRequests`` is the org's real usage; the other limits are reported at
a Developer Edition's maximum, untouched (the emulator does not spend them).
[src: api_rest resources_limits.htm; SALESFORCE.md §10 captured /limits sample]
"""

from __future__ import annotations

from typing import Any

from opencx_salesforce.emulator.rest.dispatch import RestRequest, RestResponse
from opencx_salesforce.emulator.rest.errors import not_found

LIMITS_MIN_VERSION = 29.0

# Maxima of a Developer Edition org (captured /limits responses, public code).
_UNSPENT: dict[str, int] = {
    "ConcurrentAsyncGetReportInstances": 200,
    "ConcurrentSyncReportRuns": 20,
    "DailyAsyncApexExecutions": 250000,
    "DailyBulkApiBatches": 15000,
    "DailyBulkV2QueryFileStorageMB": 976562,
    "DailyBulkV2QueryJobs": 10000,
    "DailyDurableGenericStreamingApiEvents": 10000,
    "DailyDurableStreamingApiEvents": 10000,
    "DailyGenericStreamingApiEvents": 10000,
    "DailyStandardVolumePlatformEvents": 10000,
    "DailyStreamingApiEvents": 10000,
    "DailyWorkflowEmails": 15,
    "DataStorageMB": 5,
    "FileStorageMB": 20,
    "HourlyAsyncReportRuns": 1200,
    "HourlyDashboardRefreshes": 200,
    "HourlyDashboardResults": 5000,
    "HourlyDashboardStatuses": 999999999,
    "HourlyODataCallout": 10000,
    "HourlySyncReportRuns": 500,
    "HourlyTimeBasedWorkflow": 50,
    "MassEmail": 10,
    "SingleEmail": 15,
    "StreamingApiConcurrentClients": 20,
}


async def get_limits(request: RestRequest) -> RestResponse:
    if request.api_version < LIMITS_MIN_VERSION:
        raise not_found()
    org = request.org
    body: dict[str, Any] = {
        name: {"Max": maximum, "Remaining": maximum} for name, maximum in _UNSPENT.items()
    }
    body["DailyApiRequests"] = {
        "Max": org.api_calls.limit,
        "Remaining": org.api_calls.remaining,
    }
    return RestResponse(200, dict(sorted(body.items())))
