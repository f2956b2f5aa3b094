"""The Salesforce package an admin deploys: templates, the renderer, the webhook
contract both sides share, and the checks that run here without an org.

::

    render_package(out_dir, webhook_url=..., signing_secret=...)  -> the files written
    contract                                                       the webhook contract
    names                                                          component names in the org
"""

from opencx_salesforce.apex.render import apex_string_literal, render_package

__all__ = ["apex_string_literal", "render_package"]
