"""opencx-salesforce: hand AI helpdesk conversations to Salesforce Service Cloud.

The public surface is small: the ``hookimpl`` marker that extension plugins use,
and the models the host and the hooks exchange. Everything else is internal.
"""

from opencx_salesforce.hookspecs import PROJECT_NAME, hookimpl, hookspec
from opencx_salesforce.models import Contact, HandoffReason, Message, Role, Session

__version__ = "0.1.0"

__all__ = [
    "PROJECT_NAME",
    "Contact",
    "HandoffReason",
    "Message",
    "Role",
    "Session",
    "__version__",
    "hookimpl",
    "hookspec",
]
