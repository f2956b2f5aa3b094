"""A batch's Contact lookup answers for many people at once: each person gets
the record their own query would have found (the most recently changed one
with their email, ignoring case; without an email, with their phone as Phone
or MobilePhone)."""

from __future__ import annotations

from opencx_salesforce.cases.plan import contacts_query, match_contacts
from opencx_salesforce.models import Contact

# As the query answers them: most recently changed first.
RECORDS = [
    {"Id": "003A", "Email": "Jane@Example.com", "Phone": None, "MobilePhone": None},
    {"Id": "003B", "Email": "jane@example.com", "Phone": "+1 555 0100", "MobilePhone": None},
    {"Id": "003C", "Email": None, "Phone": None, "MobilePhone": "+1 555 0199"},
    {"Id": "003D", "Email": None, "Phone": "+1 555 0199", "MobilePhone": None},
]


def test_each_person_gets_the_most_recent_record_of_their_own() -> None:
    people = [
        Contact(name="Jane", email=" JANE@example.com "),  # case and spaces ignored
        Contact(name="Mo", phone="+1 555 0199"),  # 003C's mobile is more recent than 003D
        Contact(name="Pat", phone="+1 555 0100"),  # a Phone of a record with an email
        Contact(name="Nobody", email="nobody@example.com"),
        Contact(name="Jane's twin", email="jane@example.com", phone="+1 555 0199"),
    ]
    assert match_contacts(people, RECORDS) == ["003A", "003C", "003B", None, "003A"]


def test_the_batch_query_asks_by_email_and_else_by_phone() -> None:
    query = contacts_query(
        [Contact(name="Jane", email="jane@example.com"), Contact(name="Mo", phone="555")]
    )
    assert "Email IN ('jane@example.com')" in query
    assert "Phone IN ('555') OR MobilePhone IN ('555')" in query
    assert query.endswith("ORDER BY LastModifiedDate DESC")


def test_no_records_no_matches() -> None:
    assert match_contacts([Contact(name="Jane", email="jane@example.com")], []) == [None]
