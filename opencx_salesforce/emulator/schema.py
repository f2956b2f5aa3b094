"""The objects and fields of an emulated org, as describe reports them.

Standard objects follow Salesforce's object and field references (names, types,
lengths, which fields can be created or updated); custom fields come from the
org's seed, so an org built without a custom field lacks it everywhere (describe,
create, SOQL).
[src: developer.salesforce.com sfFieldRef salesforce_field_reference_Case.htm,
 _CaseComment, _EmailMessage; object_reference sforce_api_objects_*.htm]
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from opencx_salesforce.emulator.ids import KEY_PREFIXES
from opencx_salesforce.emulator.seed import CustomFieldSeed, OrgSeed

# Field types whose values are text, and so have a length limit.
TEXT_TYPES = frozenset(
    {"string", "textarea", "email", "phone", "url", "picklist", "multipicklist", "combobox"}
)
ID_TYPES = frozenset({"id", "reference"})


@dataclass(frozen=True)
class PicklistValue:
    value: str
    label: str
    default: bool = False
    active: bool = True

    def describe(self) -> dict[str, Any]:
        return {
            "active": self.active,
            "defaultValue": self.default,
            "label": self.label,
            "validFor": None,
            "value": self.value,
        }


@dataclass(frozen=True)
class FieldDef:
    name: str
    label: str
    type: str  # describe type: id, string, textarea, email, phone, url, picklist,
    # boolean, datetime, date, double, int, reference
    length: int = 0
    # CaseComment.CommentBody: "maximum size of the comment body is 4,000 bytes".
    # [src: sforce_api_objects_casecomment.htm; Salesforce Help article 000382141]
    limit_in_bytes: bool = False
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    defaulted_on_create: bool = False
    default_value: Any = None
    custom: bool = False
    external_id: bool = False
    unique: bool = False
    case_sensitive: bool = False
    id_lookup: bool = False
    auto_number: bool = False
    calculated: bool = False
    name_field: bool = False
    picklist_values: tuple[PicklistValue, ...] = ()
    restricted_picklist: bool = False
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    precision: int = 0
    scale: int = 0

    @property
    def is_text(self) -> bool:
        return self.type in TEXT_TYPES

    @property
    def required_on_create(self) -> bool:
        """Describe's rule for a required field: not nillable, createable, and not
        defaulted by the platform."""
        return (
            not self.nillable
            and self.createable
            and not self.defaulted_on_create
            and self.type != "boolean"
        )

    def picklist_default(self) -> str | None:
        for value in self.picklist_values:
            if value.default:
                return value.value
        return None

    def describe(self) -> dict[str, Any]:
        """The field as ``sobjects/{Type}/describe`` reports it.
        [src: api_rest dome_sobject_describe.htm; SOAP DescribeSObjectResult Field]"""
        text = self.is_text or self.type in ID_TYPES
        length = self.length if self.is_text else (18 if self.type in ID_TYPES else 0)
        filterable = self.type != "textarea" or self.length <= 255
        return {
            "aggregatable": self.type not in {"textarea", "boolean"},
            "autoNumber": self.auto_number,
            # Salesforce stores text as up to 3 bytes a character.
            "byteLength": length * 3 if text else 0,
            "calculated": self.calculated,
            "caseSensitive": self.case_sensitive,
            "createable": self.createable,
            "custom": self.custom,
            "defaultValue": self.default_value if self.type == "boolean" else None,
            "defaultedOnCreate": self.defaulted_on_create,
            "digits": 0,
            "externalId": self.external_id,
            "filterable": filterable,
            "groupable": self.type not in {"textarea", "double", "datetime"},
            "htmlFormatted": False,
            "idLookup": self.id_lookup,
            "label": self.label,
            "length": length,
            "name": self.name,
            "nameField": self.name_field,
            "nillable": self.nillable,
            "picklistValues": [value.describe() for value in self.picklist_values],
            "precision": self.precision,
            "referenceTo": list(self.reference_to),
            "relationshipName": self.relationship_name,
            "restrictedPicklist": self.restricted_picklist,
            "scale": self.scale,
            "soapType": _SOAP_TYPES.get(self.type, "xsd:string"),
            "sortable": self.type != "textarea" or self.length <= 255,
            "type": self.type,
            "unique": self.unique,
            "updateable": self.updateable,
        }


_SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "datetime": "xsd:dateTime",
    "date": "xsd:date",
    "double": "xsd:double",
    "int": "xsd:int",
}


@dataclass(frozen=True)
class ChildRelationship:
    child_sobject: str
    field: str
    relationship_name: str | None
    cascade_delete: bool = False

    def describe(self) -> dict[str, Any]:
        return {
            "cascadeDelete": self.cascade_delete,
            "childSObject": self.child_sobject,
            "deprecatedAndHidden": False,
            "field": self.field,
            "junctionIdListNames": [],
            "junctionReferenceTo": [],
            "relationshipName": self.relationship_name,
            "restrictedDelete": False,
        }


class FieldMap(Mapping[str, FieldDef]):
    """Fields in describe order, looked up case-insensitively (Salesforce API
    names are case-insensitive)."""

    def __init__(self, fields: Iterable[FieldDef]) -> None:
        self._fields: dict[str, FieldDef] = {}
        self._lower: dict[str, str] = {}
        for item in fields:
            self._fields[item.name] = item
            self._lower[item.name.lower()] = item.name

    def __getitem__(self, name: str) -> FieldDef:
        return self._fields[self._lower[name.lower()]]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._lower

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def get_field(self, name: str) -> FieldDef | None:
        canonical = self._lower.get(name.lower())
        return None if canonical is None else self._fields[canonical]


@dataclass
class SObjectDef:
    name: str
    label: str
    label_plural: str
    key_prefix: str
    fields: FieldMap
    createable: bool = True
    updateable: bool = True
    deletable: bool = True
    queryable: bool = True
    custom: bool = False
    # Served by /services/data/vXX.X/ (data API) and/or /tooling/.
    data_api: bool = True
    tooling_api: bool = False
    child_relationships: list[ChildRelationship] = field(default_factory=list)

    def field(self, name: str) -> FieldDef | None:
        return self.fields.get_field(name)

    def urls(self, version: str, *, tooling: bool = False) -> dict[str, str]:
        base = f"/services/data/v{version}/{'tooling/' if tooling else ''}sobjects/{self.name}"
        return {
            "sobject": base,
            "describe": f"{base}/describe",
            "rowTemplate": f"{base}/{{ID}}",
        }

    def summary(self, version: str, *, tooling: bool = False) -> dict[str, Any]:
        """The object as describeGlobal lists it. [src: api_rest resources_describeGlobal.htm]"""
        return {
            "activateable": False,
            "createable": self.createable,
            "custom": self.custom,
            "customSetting": False,
            "deletable": self.deletable,
            "deprecatedAndHidden": False,
            "feedEnabled": self.name == "Case",
            "keyPrefix": self.key_prefix,
            "label": self.label,
            "labelPlural": self.label_plural,
            "layoutable": self.data_api,
            "mergeable": False,
            "mruEnabled": self.name in {"Case", "Contact", "Account"},
            "name": self.name,
            "queryable": self.queryable,
            "replicateable": True,
            "retrieveable": True,
            "searchable": self.name in {"Case", "Contact", "Account", "User"},
            "triggerable": self.name in _TRIGGERABLE,
            "undeletable": self.deletable,
            "updateable": self.updateable,
            "urls": self.urls(version, tooling=tooling),
        }

    def describe(self, version: str, *, tooling: bool = False) -> dict[str, Any]:
        """``sobjects/{Type}/describe``. [src: api_rest dome_sobject_describe.htm]"""
        result = self.summary(version, tooling=tooling)
        result.update(
            {
                "childRelationships": [rel.describe() for rel in self.child_relationships],
                "fields": [item.describe() for item in self.fields.values()],
                "recordTypeInfos": [],
                "supportedScopes": [{"label": "All", "name": "everything"}],
            }
        )
        return result


_TRIGGERABLE = frozenset({"Case", "CaseComment", "EmailMessage", "Contact", "Account", "User"})


class Schema:
    """Every object of one org, looked up case-insensitively."""

    def __init__(self, objects: Iterable[SObjectDef]) -> None:
        self.objects: dict[str, SObjectDef] = {}
        self._lower: dict[str, str] = {}
        self._by_prefix: dict[str, str] = {}
        for obj in objects:
            self.objects[obj.name] = obj
            self._lower[obj.name.lower()] = obj.name
            self._by_prefix[obj.key_prefix] = obj.name
        self._link_children()

    def get(self, name: str) -> SObjectDef | None:
        canonical = self._lower.get(name.lower())
        return None if canonical is None else self.objects[canonical]

    def object_of_id(self, record_id: str) -> str | None:
        return self._by_prefix.get(record_id[:3])

    def _link_children(self) -> None:
        for obj in self.objects.values():
            obj.child_relationships.clear()
        for child in self.objects.values():
            for item in child.fields.values():
                if item.type != "reference":
                    continue
                for target in item.reference_to:
                    parent = self.objects.get(target)
                    if parent is None:
                        continue
                    name = _CHILD_RELATIONSHIP_NAMES.get((child.name, item.name))
                    parent.child_relationships.append(
                        ChildRelationship(
                            child_sobject=child.name,
                            field=item.name,
                            relationship_name=name,
                            cascade_delete=(child.name, item.name) in _CASCADE_DELETE,
                        )
                    )


# Child relationship names on the parent; the ones the query engine can follow.
# [src: SALESFORCE.md §6 — CaseComments, EmailMessages on Case; Contacts, Cases on
#  Account; Cases on Contact; standard relationship names of these lookups]
_CHILD_RELATIONSHIP_NAMES: dict[tuple[str, str], str] = {
    ("CaseComment", "ParentId"): "CaseComments",
    ("EmailMessage", "ParentId"): "EmailMessages",
    ("Case", "ParentId"): "Cases",
    ("Case", "ContactId"): "Cases",
    ("Case", "AccountId"): "Cases",
    ("Contact", "AccountId"): "Contacts",
}
# Deleting a Case deletes its comments and email messages (master-detail style).
_CASCADE_DELETE = frozenset({("CaseComment", "ParentId"), ("EmailMessage", "ParentId")})


# --- field builders -------------------------------------------------------------------


def _text(name: str, label: str, length: int, **kw: Any) -> FieldDef:
    return FieldDef(name, label, "string", length, **kw)


def _textarea(name: str, label: str, length: int, **kw: Any) -> FieldDef:
    return FieldDef(name, label, "textarea", length, **kw)


def _bool(name: str, label: str, default: bool = False, **kw: Any) -> FieldDef:
    return FieldDef(
        name,
        label,
        "boolean",
        nillable=False,
        defaulted_on_create=True,
        default_value=default,
        **kw,
    )


def _ref(
    name: str,
    label: str,
    targets: tuple[str, ...],
    relationship: str | None,
    **kw: Any,
) -> FieldDef:
    return FieldDef(
        name,
        label,
        "reference",
        18,
        reference_to=targets,
        relationship_name=relationship,
        **kw,
    )


def _picklist(
    name: str,
    label: str,
    values: Iterable[str],
    default: str | None = None,
    *,
    length: int = 255,
    **kw: Any,
) -> FieldDef:
    options = tuple(PicklistValue(v, v, default=(v == default)) for v in values)
    return FieldDef(
        name,
        label,
        "picklist",
        length,
        picklist_values=options,
        defaulted_on_create=default is not None,
        **kw,
    )


def _read_only(item: FieldDef) -> FieldDef:
    return replace(item, createable=False, updateable=False)


def _id_field() -> FieldDef:
    return FieldDef(
        "Id",
        "Record ID",
        "id",
        18,
        nillable=False,
        createable=False,
        updateable=False,
        defaulted_on_create=True,
        id_lookup=True,
    )


def _audit_fields() -> list[FieldDef]:
    """On every record; set by the platform. [src: object_reference system fields]"""
    return [
        _read_only(_bool("IsDeleted", "Deleted")),
        FieldDef(
            "CreatedDate",
            "Created Date",
            "datetime",
            nillable=False,
            createable=False,
            updateable=False,
            defaulted_on_create=True,
        ),
        _read_only(
            _ref(
                "CreatedById",
                "Created By ID",
                ("User",),
                "CreatedBy",
                nillable=False,
                defaulted_on_create=True,
            )
        ),
        FieldDef(
            "LastModifiedDate",
            "Last Modified Date",
            "datetime",
            nillable=False,
            createable=False,
            updateable=False,
            defaulted_on_create=True,
        ),
        _read_only(
            _ref(
                "LastModifiedById",
                "Last Modified By ID",
                ("User",),
                "LastModifiedBy",
                nillable=False,
                defaulted_on_create=True,
            )
        ),
        FieldDef(
            "SystemModstamp",
            "System Modstamp",
            "datetime",
            nillable=False,
            createable=False,
            updateable=False,
            defaulted_on_create=True,
        ),
    ]


def _object(
    name: str,
    label: str,
    plural: str,
    fields: list[FieldDef],
    *,
    audit: bool = True,
    **kw: Any,
) -> SObjectDef:
    every = [_id_field(), *fields, *(_audit_fields() if audit else [])]
    prefix = KEY_PREFIXES.get(name) or _MORE_KEY_PREFIXES[name]
    return SObjectDef(name, label, plural, prefix, FieldMap(every), **kw)


# Standard key prefixes not (yet) in ids.KEY_PREFIXES.
_MORE_KEY_PREFIXES = {
    "Profile": "00e",
    "Group": "00G",
    "Task": "00T",
    # MessagingSession Ids start 0Mw (seen in public records; UNCONFIRMED).
    "MessagingSession": "0Mw",
}


# --- the standard objects -------------------------------------------------------------

# Default values of a new org's standard Case picklists (treat as "default org"
# values; describe is authoritative). Standard picklists are not restricted.
# [src: SALESFORCE.md §6 Case Status/Priority/Origin defaults]
CASE_PRIORITIES = ("High", "Medium", "Low")
CASE_ORIGINS = ("Phone", "Email", "Web")
# Case Reason / Type values a new org ships with (UNCONFIRMED in the docs read;
# the values of Salesforce's sample data).
CASE_REASONS = (
    "Installation",
    "Equipment Complexity",
    "Performance",
    "Breakdown",
    "Equipment Design",
    "Feedback",
    "Other",
)
CASE_TYPES = ("Mechanical", "Electrical", "Electronic", "Structural", "Other")
# EmailMessage.Status codes: 0 New, 1 Read, 2 Replied, 3 Sent, 4 Forwarded, 5 Draft.
# [src: SALESFORCE.md §6 EmailMessage Status — numeric codes UNCONFIRMED]
EMAIL_STATUSES = (
    ("0", "New"),
    ("1", "Read"),
    ("2", "Replied"),
    ("3", "Sent"),
    ("4", "Forwarded"),
    ("5", "Draft"),
)


def _case(seed: OrgSeed) -> SObjectDef:
    statuses = [name for name, _closed in seed.case_statuses]
    default_status = statuses[0] if statuses else None
    return _object(
        "Case",
        "Case",
        "Cases",
        [
            FieldDef(
                "CaseNumber",
                "Case Number",
                "string",
                30,
                nillable=False,
                createable=False,
                updateable=False,
                defaulted_on_create=True,
                auto_number=True,
                id_lookup=True,
                name_field=True,
            ),
            _ref("ContactId", "Contact ID", ("Contact",), "Contact"),
            _ref("AccountId", "Account ID", ("Account",), "Account"),
            _ref("ParentId", "Parent Case ID", ("Case",), "Parent"),
            _text("SuppliedName", "Name", 80),
            FieldDef("SuppliedEmail", "Email Address", "email", 80),
            FieldDef("SuppliedPhone", "Phone", "phone", 40),
            _text("SuppliedCompany", "Company", 80),
            _picklist("Type", "Case Type", CASE_TYPES),
            _picklist("Status", "Status", statuses, default_status),
            _picklist("Reason", "Case Reason", CASE_REASONS),
            _picklist("Origin", "Case Origin", CASE_ORIGINS),
            _text("Subject", "Subject", 255),
            _picklist("Priority", "Priority", CASE_PRIORITIES, "Medium"),
            _textarea("Description", "Description", 32000),
            _read_only(_bool("IsClosed", "Closed")),
            _read_only(FieldDef("ClosedDate", "Closed Date", "datetime")),
            _bool("IsEscalated", "Escalated"),
            _read_only(_bool("IsClosedOnCreate", "Closed When Created")),
            _ref(
                "OwnerId",
                "Owner ID",
                ("Group", "User"),
                "Owner",
                nillable=False,
                defaulted_on_create=True,
            ),
            # "Internal Comments": writing it adds a private CaseComment.
            _textarea("Comments", "Internal Comments", 4000),
            _read_only(FieldDef("ContactPhone", "Contact Phone", "phone", 40)),
            _read_only(FieldDef("ContactMobile", "Contact Mobile", "phone", 40)),
            _read_only(FieldDef("ContactEmail", "Contact Email", "email", 80)),
            _read_only(FieldDef("ContactFax", "Contact Fax", "phone", 40)),
            # Set on a Case deleted by losing a merge: the surviving Case's Id.
            # [src: apexcode apex_triggers_merge_statements.htm; api
            #  sforce_api_calls_merge.htm "queryAll() ... masterRecordId != null"]
            _read_only(_ref("MasterRecordId", "Master Record ID", ("Case",), "MasterRecord")),
        ],
    )


def _case_comment() -> SObjectDef:
    return _object(
        "CaseComment",
        "Case Comment",
        "Case Comments",
        [
            _ref(
                "ParentId",
                "Parent ID",
                ("Case",),
                "Parent",
                nillable=False,
                updateable=False,
            ),
            _bool("IsPublished", "Public"),
            _textarea("CommentBody", "Body", 4000, limit_in_bytes=True),
            _bool("IsNotificationSelected", "Notification Selected"),
        ],
    )


def _email_message() -> SObjectDef:
    # Lengths from the current field reference. [src: SALESFORCE.md §6 EmailMessage]
    return _object(
        "EmailMessage",
        "Email Message",
        "Email Messages",
        [
            _ref("ParentId", "Parent Case ID", ("Case",), "Parent", updateable=False),
            _ref("ActivityId", "Activity ID", ("Task",), "Activity", updateable=False),
            _textarea("TextBody", "Text Body", 131072),
            _textarea("HtmlBody", "HTML Body", 131072),
            _textarea("Headers", "Headers", 32000),
            _text("Subject", "Subject", 3000),
            _text("FromName", "From Name", 1000),
            FieldDef("FromAddress", "From Address", "email", 1000),
            _text("ToAddress", "To Address", 4000),
            _text("CcAddress", "CC Address", 4000),
            _text("BccAddress", "BCC Address", 4000),
            _bool("Incoming", "Is Incoming", updateable=False),
            _read_only(_bool("HasAttachment", "Has Attachment")),
            FieldDef(
                "Status",
                "Status",
                "picklist",
                40,
                picklist_values=tuple(PicklistValue(code, label) for code, label in EMAIL_STATUSES),
                restricted_picklist=True,
            ),
            FieldDef("MessageDate", "Message Date", "datetime"),
            _ref(
                "ReplyToEmailMessageId",
                "Email Message ID",
                ("EmailMessage",),
                "ReplyToEmailMessage",
            ),
            _ref("RelatedToId", "Related To ID", ("Account", "Case", "Contact"), "RelatedTo"),
            _text("MessageIdentifier", "Message ID", 255),
            _text("ThreadIdentifier", "Thread ID", 255),
            _bool("IsExternallyVisible", "Is Externally Visible"),
        ],
    )


def _contact() -> SObjectDef:
    return _object(
        "Contact",
        "Contact",
        "Contacts",
        [
            _ref("AccountId", "Account ID", ("Account",), "Account"),
            _text("LastName", "Last Name", 80, nillable=False),
            _text("FirstName", "First Name", 40),
            _read_only(_text("Name", "Full Name", 121, name_field=True)),
            _text("Title", "Title", 128),
            FieldDef("Phone", "Business Phone", "phone", 40),
            FieldDef("MobilePhone", "Mobile Phone", "phone", 40),
            FieldDef("Email", "Email", "email", 80, id_lookup=True),
            _textarea("Description", "Contact Description", 32000),
            _ref(
                "OwnerId",
                "Owner ID",
                ("User",),
                "Owner",
                nillable=False,
                defaulted_on_create=True,
            ),
        ],
    )


def _account() -> SObjectDef:
    return _object(
        "Account",
        "Account",
        "Accounts",
        [
            _text("Name", "Account Name", 255, nillable=False, name_field=True),
            FieldDef("Phone", "Account Phone", "phone", 40),
            FieldDef("Website", "Website", "url", 255),
            _textarea("Description", "Account Description", 32000),
            _ref(
                "OwnerId",
                "Owner ID",
                ("User",),
                "Owner",
                nillable=False,
                defaulted_on_create=True,
            ),
        ],
    )


USER_TYPES = (
    "Standard",
    "PowerPartner",
    "PowerCustomerSuccess",
    "CustomerSuccess",
    "CspLitePortal",
    "Guest",
    "AutomatedProcess",
)


def _user() -> SObjectDef:
    # Users are provisioned by the org's seed, not through this API.
    return _object(
        "User",
        "User",
        "Users",
        [
            _read_only(item)
            for item in (
                _text("Username", "Username", 80, nillable=False, id_lookup=True, unique=True),
                _text("LastName", "Last Name", 80, nillable=False),
                _text("FirstName", "First Name", 40),
                _text("Name", "Full Name", 121, name_field=True),
                FieldDef("Email", "Email", "email", 128, nillable=False),
                _text("Alias", "Alias", 8, nillable=False),
                _bool("IsActive", "Active", True),
                _picklist("UserType", "User Type", USER_TYPES),
                _ref("ProfileId", "Profile ID", ("Profile",), "Profile", nillable=False),
                _text("TimeZoneSidKey", "Time Zone", 40),
            )
        ],
        createable=False,
        updateable=False,
        deletable=False,
    )


def _profile() -> SObjectDef:
    return _object(
        "Profile",
        "Profile",
        "Profiles",
        [_read_only(_text("Name", "Name", 255, nillable=False, name_field=True))],
        createable=False,
        updateable=False,
        deletable=False,
    )


def _organization() -> SObjectDef:
    return _object(
        "Organization",
        "Organization",
        "Organizations",
        [
            _read_only(item)
            for item in (
                _text("Name", "Name", 80, nillable=False, name_field=True),
                _bool("IsSandbox", "Is Sandbox"),
                _text("OrganizationType", "Edition", 40),
                _text("InstanceName", "Instance Name", 5),
                _text("NamespacePrefix", "Namespace Prefix", 15),
                _text("LanguageLocaleKey", "Language", 40),
                _text("TimeZoneSidKey", "Time Zone", 40),
            )
        ],
        createable=False,
        updateable=False,
        deletable=False,
    )


def _case_status() -> SObjectDef:
    # Supports describeSObjects, query and retrieve only.
    # [src: object_reference sforce_api_objects_casestatus.htm]
    return _object(
        "CaseStatus",
        "Case Status Value",
        "Case Status Values",
        [
            _read_only(item)
            for item in (
                _text("MasterLabel", "Master Label", 255, name_field=True),
                _text("ApiName", "Api Name", 255),
                FieldDef("SortOrder", "Sort Order", "int", precision=9),
                _bool("IsDefault", "Is Default"),
                _bool("IsClosed", "Is Closed"),
            )
        ],
        createable=False,
        updateable=False,
        deletable=False,
    )


def _messaging_session() -> SObjectDef:
    # "Represents a session on a Messaging channel", API 47.0+; the fields the
    # package and doctor need. Its records are made by the platform as chats
    # start (the emulator's Messaging side keeps its sessions apart).
    # [src: object_reference sforce_api_objects_messagingsession.htm]
    return _object(
        "MessagingSession",
        "Messaging Session",
        "Messaging Sessions",
        [
            _read_only(_text("Name", "Messaging Session Name", 255, name_field=True)),
            # Waiting → Active → Ended as the stream reports them (MIAW.md §4); the
            # full value set is UNCONFIRMED.
            _picklist("Status", "Status", ("New", "Waiting", "Active", "Paused", "Ended")),
            _ref("CaseId", "Case ID", ("Case",), "Case"),
            _text("ChannelIntent", "Intent", 255),
            FieldDef("StartTime", "Start Time", "datetime"),
            FieldDef("EndTime", "End Time", "datetime"),
        ],
    )


def _apex_class() -> SObjectDef:
    # Apex is deployed (Metadata API / sf CLI), not written through the data API.
    # [src: SALESFORCE.md §8; object_reference sforce_api_objects_apexclass.htm]
    return _object(
        "ApexClass",
        "Apex Class",
        "Apex Classes",
        [
            _read_only(item)
            for item in (
                _text("NamespacePrefix", "Namespace Prefix", 15),
                _text("Name", "Name", 255, nillable=False, id_lookup=True, name_field=True),
                FieldDef("ApiVersion", "Api Version", "double", precision=18, scale=1),
                _picklist("Status", "Status", ("Active", "Deleted")),
                _bool("IsValid", "Is Valid"),
                FieldDef("BodyCrc", "Body CRC", "double", precision=18),
                _textarea("Body", "Body", 1000000),
                FieldDef("LengthWithoutComments", "Size Without Comments", "int", precision=9),
            )
        ],
        createable=False,
        updateable=False,
        deletable=False,
        tooling_api=True,
    )


_TRIGGER_USAGES = (
    ("UsageBeforeInsert", "before insert"),
    ("UsageAfterInsert", "after insert"),
    ("UsageBeforeUpdate", "before update"),
    ("UsageAfterUpdate", "after update"),
    ("UsageBeforeDelete", "before delete"),
    ("UsageAfterDelete", "after delete"),
    ("UsageAfterUndelete", "after undelete"),
)
TRIGGER_USAGES = _TRIGGER_USAGES


def _apex_trigger() -> SObjectDef:
    # [src: tooling-apextrigger.html; object_reference sforce_api_objects_apextrigger.htm]
    return _object(
        "ApexTrigger",
        "Apex Trigger",
        "Apex Triggers",
        [
            _read_only(item)
            for item in (
                _text("NamespacePrefix", "Namespace Prefix", 15),
                _text("Name", "Name", 255, nillable=False, id_lookup=True, name_field=True),
                _picklist("TableEnumOrId", "Custom Object Definition ID", (), length=40),
                *(_bool(name, label.title()) for name, label in _TRIGGER_USAGES),
                _bool("UsageIsBulk", "Bulk"),
                FieldDef("ApiVersion", "Api Version", "double", precision=18, scale=1),
                _picklist("Status", "Status", ("Inactive", "Active", "Deleted")),
                _bool("IsValid", "Is Valid"),
                FieldDef("BodyCrc", "Body CRC", "double", precision=18),
                _textarea("Body", "Body", 1000000),
                FieldDef("LengthWithoutComments", "Size Without Comments", "int", precision=9),
            )
        ],
        createable=False,
        updateable=False,
        deletable=False,
        tooling_api=True,
    )


def _named_credential() -> SObjectDef:
    # Read-only through the API (describeSObjects, query, retrieve).
    # [src: object_reference sforce_api_objects_namedcredential.htm]
    return _object(
        "NamedCredential",
        "Named Credential",
        "Named Credentials",
        [
            _read_only(item)
            for item in (
                _text("DeveloperName", "Name", 80, nillable=False),
                _text("Language", "Master Language", 40),
                _text("MasterLabel", "Label", 80, nillable=False, name_field=True),
                _text("NamespacePrefix", "Namespace Prefix", 15),
                _textarea("Endpoint", "URL", 1000),
                _picklist(
                    "PrincipalType",
                    "Identity Type",
                    ("Anonymous", "PerUser", "NamedUser"),
                ),
                _text("Description", "Description", 255),
            )
        ],
        createable=False,
        updateable=False,
        deletable=False,
        tooling_api=True,
    )


def custom_field(seed: CustomFieldSeed) -> FieldDef:
    """A field declared by the org's seed. New custom picklists are restricted to
    their value set by default. [src: help.salesforce.com "Restrict picklist to the
    values defined in the value set" — selected by default for new picklists]"""
    label = seed.label or seed.name.removesuffix("__c").replace("_", " ")
    kind = seed.type
    if kind == "boolean":
        return _bool(seed.name, label, custom=True)
    length = seed.length if kind in TEXT_TYPES else 0
    return FieldDef(
        seed.name,
        label,
        kind,
        length,
        custom=True,
        external_id=seed.external_id,
        unique=seed.unique,
        case_sensitive=seed.case_sensitive,
        # External IDs and unique text fields can identify a record.
        id_lookup=seed.external_id or seed.unique,
        picklist_values=tuple(PicklistValue(v, v) for v in seed.picklist_values),
        restricted_picklist=kind == "picklist",
        precision=18 if kind == "double" else 0,
    )


def build_schema(seed: OrgSeed) -> Schema:
    """All objects of an org made from ``seed``; unknown custom-field objects are
    an error in the seed."""
    objects = [
        _case(seed),
        _case_comment(),
        *([_email_message()] if seed.email_messages else []),
        *([_messaging_session()] if seed.messaging else []),
        _contact(),
        _account(),
        _user(),
        _profile(),
        _organization(),
        _case_status(),
        _apex_class(),
        _apex_trigger(),
        _named_credential(),
    ]
    by_name = {obj.name: obj for obj in objects}
    extra: dict[str, list[FieldDef]] = {}
    for custom in seed.custom_fields:
        if custom.sobject not in by_name:
            raise ValueError(f"custom field {custom.name} on unknown object {custom.sobject}")
        if not custom.name.endswith("__c"):
            raise ValueError(f"custom field API names end in __c: {custom.name}")
        extra.setdefault(custom.sobject, []).append(custom_field(custom))
    for name, fields in extra.items():
        obj = by_name[name]
        obj.fields = FieldMap([*obj.fields.values(), *fields])
    return Schema(objects)
