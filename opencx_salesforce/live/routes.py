"""The plugin's live routes: the JWKS of its identity keys, at
``{prefix}/live/jwks.json``, which the admin enters as the keyset's endpoint URL
in Setup → User Verification [MIAW.md §8.5]."""

from __future__ import annotations

from aiohttp import web

from opencx_salesforce.web.context import running


async def jwks(request: web.Request) -> web.Response:
    live = running(request).live
    document = live.jwks() if live is not None else None
    if document is None:
        raise web.HTTPNotFound(
            text='{"error": "no identity key: set [salesforce.live] identity_private_key"}',
            content_type="application/json",
        )
    # Public keys only; a short cache so a rotation is seen within minutes.
    return web.json_response(document, headers={"Cache-Control": "public, max-age=300"})


def add_live_routes(app: web.Application) -> None:
    app.router.add_get("/live/jwks.json", jwks)
