"""The Salesforce package an admin deploys: templates, the renderer, the webhook
contract both sides share, and the checks that run here without an org.

::

    render_package(out_dir, webhook_url=..., signing_secret=...,
                   include_email=True, legacy_named_credential=False)  -> the files written
    org_has_email_message(describe_global)   whether to generate the EmailMessage parts
    contract                                 the webhook contract
    names                                    component names in the org
"""

from opencx_salesforce.apex.org_features import org_has_email_message
from opencx_salesforce.apex.render import apex_string_literal, render_package

__all__ = ["apex_string_literal", "org_has_email_message", "render_package"]
