"""What the generated package's components are called in the org.

``doctor`` queries the org for these names (ApexClass, ApexTrigger, NamedCredential,
CustomField), the README names them, and the templates use them, so they live here once.
"""

from __future__ import annotations

from typing import Final

CALLOUT_CLASS: Final = "OpenSalesforceCaseManagement"
TEST_CLASS: Final = "OpenSalesforceCaseManagementTest"

CASE_COMMENT_TRIGGER: Final = "OpenCXCaseCommentTrigger"
EMAIL_MESSAGE_TRIGGER: Final = "OpenCXEmailMessageTrigger"
CASE_TRIGGER: Final = "OpenCXCaseTrigger"

# trigger name -> (sObject, trigger events)
TRIGGERS: Final = {
    CASE_COMMENT_TRIGGER: ("CaseComment", ("after insert",)),
    EMAIL_MESSAGE_TRIGGER: ("EmailMessage", ("after insert",)),
    CASE_TRIGGER: ("Case", ("after update",)),
}

NAMED_CREDENTIAL: Final = "OpenCX_Integration"
# Apex calls the Named Credential as "callout:<DeveloperName>".
# [src: apex-dev apex-callouts-named-credentials.html "Named Credentials as Callout Endpoints"]
CALLOUT_ENDPOINT: Final = f"callout:{NAMED_CREDENTIAL}"

CASE_FROM_FIELD: Final = "Case_From__c"
CASE_FROM_LENGTH: Final = 40
DEFAULT_CASE_FROM_VALUE: Final = "opencx"
DEFAULT_SESSION_ID_FIELD: Final = "OpenCX_Session_Id__c"
SESSION_ID_LENGTH: Final = 255

SETTINGS_TYPE: Final = "OpenCX_Settings__mdt"
SETTINGS_RECORD: Final = "Default"
SIGNING_SECRET_FIELD: Final = "Signing_Secret__c"
SIGNING_SECRET_LENGTH: Final = 255

PERMISSION_SET: Final = "OpenCX_Integration"

# A Custom Metadata record's file name is <type without __mdt>.<record>.
# [src: api_meta meta_custommetadata.htm "File Suffix and Directory Location"]
SETTINGS_RECORD_FULL_NAME: Final = f"{SETTINGS_TYPE.removesuffix('__mdt')}.{SETTINGS_RECORD}"
