"""The emulator's Describe Global, read by ``org_has_email_message``: the default org
has Email-to-Case, so EmailMessage is listed. [src: api_rest dome_describeGlobal.htm]"""

from __future__ import annotations

from emulator_support import RestCaller

from opencx_salesforce.apex.org_features import org_has_email_message


async def test_the_emulators_describe_global_lists_email_message(rest: RestCaller) -> None:
    reply = await rest.get("sobjects/")
    assert reply.status == 200, reply.body
    assert org_has_email_message(reply.text) is True
