"""What the generated package's components are called in the org.

``doctor`` queries the org for these names (ApexClass, ApexTrigger, NamedCredential,
CustomField), the README names them, and the templates use them, so they live here once.
"""

from __future__ import annotations

from typing import Final

CALLOUT_CLASS: Final = "OpenSalesforceCaseManagement"
TEST_CLASS: Final = "OpenSalesforceCaseManagementTest"

# The digest (apex/digest_contract.py): a Schedulable that reschedules itself each
# minute under a name starting with DIGEST_JOB_PREFIX (CronJobDetail.Name).
DIGEST_CLASS: Final = "OpenCXDigest"
DIGEST_TEST_CLASS: Final = "OpenCXDigestTest"
DIGEST_JOB_PREFIX: Final = "OpenCX digest "
# The package's anonymous Apex that starts and stops the digest.
START_DIGEST_SCRIPT: Final = "scripts/apex/start-digest.apex"
STOP_DIGEST_SCRIPT: Final = "scripts/apex/stop-digest.apex"

CASE_COMMENT_TRIGGER: Final = "OpenCXCaseCommentTrigger"
EMAIL_MESSAGE_TRIGGER: Final = "OpenCXEmailMessageTrigger"
CASE_TRIGGER: Final = "OpenCXCaseTrigger"

# trigger name -> (sObject, trigger events)
TRIGGERS: Final = {
    CASE_COMMENT_TRIGGER: ("CaseComment", ("after insert", "after update")),
    EMAIL_MESSAGE_TRIGGER: ("EmailMessage", ("after insert", "after update")),
    CASE_TRIGGER: ("Case", ("after update", "after delete")),
}
# EmailMessage exists only in orgs with Email-to-Case or Enhanced Email; a package for
# another org leaves this trigger (and the class's EmailMessage code) out.
# [src: object_reference sforce_api_objects_emailmessage.htm "Special Access Rules"]
EMAIL_TRIGGERS: Final = frozenset({EMAIL_MESSAGE_TRIGGER})


def triggers(*, include_email: bool = True) -> dict[str, tuple[str, tuple[str, ...]]]:
    """The package's triggers, without the EmailMessage one when ``include_email`` is
    false."""
    return {
        name: spec for name, spec in TRIGGERS.items() if include_email or name not in EMAIL_TRIGGERS
    }


NAMED_CREDENTIAL: Final = "OpenCX_Integration"
# The current Named Credential model: an External Credential holds how to
# authenticate (here: nothing) and a principal users are granted through a permission
# set. [src: api_meta meta_externalcredential.htm, meta_namedcredential.htm]
EXTERNAL_CREDENTIAL: Final = "OpenCX_Webhook"
EXTERNAL_CREDENTIAL_PRINCIPAL: Final = "OpenCX_Webhook_Caller"
# The permission set every user whose save fires a trigger needs, so the Queueable
# running as them may use the External Credential's principal.
CALLOUT_PERMISSION_SET: Final = "OpenCX_Webhook_Callout"
# Apex calls the Named Credential as "callout:<DeveloperName>".
# [src: apex-dev apex-callouts-named-credentials.html "Named Credentials as Callout Endpoints"]
CALLOUT_ENDPOINT: Final = f"callout:{NAMED_CREDENTIAL}"

CASE_FROM_FIELD: Final = "Case_From__c"
CASE_FROM_LENGTH: Final = 40
DEFAULT_CASE_FROM_VALUE: Final = "opencx"
DEFAULT_SESSION_ID_FIELD: Final = "OpenCX_Session_Id__c"
SESSION_ID_LENGTH: Final = 255

# With live Messaging configured, the package adds the session-id field (same API
# name as the Case's) to MessagingSession, "a session on a Messaging channel"
# (API 47.0+) [src: object_reference sforce_api_objects_messagingsession.htm]. The
# object exists only in orgs with Messaging (UNCONFIRMED: by analogy with
# EmailMessage), so a package for other orgs leaves it out. The Omni-Channel flow
# copies the routing attribute below into it [src: messaging-byoc-ccaas guide
# add-custom-objects: "Use parameters, parameter mappings, and flows to route custom
# data to Salesforce objects"].
MESSAGING_SESSION: Final = "MessagingSession"
MESSAGING_SESSION_ID_PARAMETER: Final = "OpencxSessionId"

SETTINGS_TYPE: Final = "OpenCX_Settings__mdt"
SETTINGS_RECORD: Final = "Default"
SIGNING_SECRET_FIELD: Final = "Signing_Secret__c"
SIGNING_SECRET_LENGTH: Final = 255

PERMISSION_SET: Final = "OpenCX_Integration"

# A Custom Metadata record's file name is <type without __mdt>.<record>.
# [src: api_meta meta_custommetadata.htm "File Suffix and Directory Location"]
SETTINGS_RECORD_FULL_NAME: Final = f"{SETTINGS_TYPE.removesuffix('__mdt')}.{SETTINGS_RECORD}"
