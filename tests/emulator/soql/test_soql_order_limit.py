"""ORDER BY (directions, nulls, several keys, parent paths), LIMIT and OFFSET."""

from __future__ import annotations

from soql_fake_org import FakeOrg


def subjects(org: FakeOrg, soql: str) -> list[str | None]:
    return [record["Subject"] for record in org.query(soql).records]


def make_org() -> FakeOrg:
    org = FakeOrg()
    acme = org.add("Account", Name="acme")
    zeta = org.add("Account", Name="Zeta")
    a = org.add("Contact", LastName="A", AccountId=zeta)
    b = org.add("Contact", LastName="B", AccountId=acme)
    org.add("Case", Subject="beta", Priority="High", Score__c=2, ContactId=a)
    org.add("Case", Subject="Alpha", Priority="Low", Score__c=None, ContactId=b)
    org.add("Case", Subject=None, Priority="High", Score__c=1)
    org.add("Case", Subject="gamma", Priority=None, Score__c=10)
    org.add("Case", Subject="Delta", Priority="Low", Score__c=2)
    return org


def test_ascending_is_the_default_and_text_sorts_case_insensitively() -> None:
    org = make_org()
    # Nulls first by default. [soql_sosl sforce_api_calls_soql_select_orderby.htm]
    assert subjects(org, "SELECT Subject FROM Case ORDER BY Subject") == [
        None,
        "Alpha",
        "beta",
        "Delta",
        "gamma",
    ]
    assert subjects(org, "SELECT Subject FROM Case ORDER BY Subject ASC NULLS LAST") == [
        "Alpha",
        "beta",
        "Delta",
        "gamma",
        None,
    ]


def test_descending_with_nulls_placed_either_way() -> None:
    org = make_org()
    assert subjects(org, "SELECT Subject FROM Case ORDER BY Subject DESC NULLS LAST") == [
        "gamma",
        "Delta",
        "beta",
        "Alpha",
        None,
    ]
    assert subjects(org, "SELECT Subject FROM Case ORDER BY Subject desc nulls first") == [
        None,
        "gamma",
        "Delta",
        "beta",
        "Alpha",
    ]


def test_numbers_sort_as_numbers() -> None:
    org = make_org()
    assert subjects(org, "SELECT Subject FROM Case ORDER BY Score__c DESC NULLS LAST") == [
        "gamma",
        "beta",
        "Delta",
        None,
        "Alpha",
    ]


def test_several_keys_each_with_its_own_direction_and_nulls() -> None:
    org = make_org()
    assert subjects(
        org,
        "SELECT Subject FROM Case ORDER BY Priority NULLS LAST, Score__c DESC NULLS LAST, Subject",
    ) == [
        "beta",  # High, 2
        None,  # High, 1
        "Delta",  # Low, 2
        "Alpha",  # Low, null
        "gamma",  # null priority, last
    ]
    # Nulls come first by default, descending too.
    assert subjects(org, "SELECT Subject FROM Case ORDER BY Priority DESC, Score__c DESC") == [
        "gamma",  # null priority
        "Alpha",  # Low, null
        "Delta",  # Low, 2
        "beta",  # High, 2
        None,  # High, 1
    ]


def test_order_by_a_parent_path_keeps_rows_without_a_parent() -> None:
    org = make_org()
    assert subjects(
        org, "SELECT Subject FROM Case ORDER BY Contact.Account.Name DESC NULLS LAST, Subject"
    ) == ["beta", "Alpha", None, "Delta", "gamma"]


def test_limit_and_offset() -> None:
    org = make_org()
    base = "SELECT Subject FROM Case ORDER BY Subject NULLS LAST"
    assert subjects(org, f"{base} LIMIT 2") == ["Alpha", "beta"]
    assert subjects(org, f"{base} LIMIT 2 OFFSET 1") == ["beta", "Delta"]
    assert subjects(org, f"{base} OFFSET 3") == ["gamma", None]
    assert subjects(org, f"{base} OFFSET 10") == []
    assert subjects(org, f"{base} LIMIT 0") == []
    assert org.query(f"{base} LIMIT 2").total_size == 2


def test_count_respects_limit() -> None:
    org = make_org()
    assert org.query("SELECT COUNT() FROM Case LIMIT 3").total_size == 3


def test_offset_in_a_subquery_needs_the_parent_limited_to_one_row() -> None:
    org = make_org()
    case_id = org.query("SELECT Id FROM Case WHERE Subject = 'beta'").records[0]["Id"]
    for body in ("one", "two", "three"):
        org.add("CaseComment", ParentId=case_id, CommentBody=body)
    record = org.query(
        "SELECT (SELECT CommentBody FROM CaseComments ORDER BY CreatedDate LIMIT 1 OFFSET 1) "
        "FROM Case WHERE Subject = 'beta' LIMIT 1"
    ).records[0]
    assert [c["CommentBody"] for c in record["CaseComments"]["records"]] == ["two"]


def test_picklists_sort_in_their_setup_order() -> None:
    # "Picklist sorting is defined by the picklist sort determined during setup."
    org = FakeOrg()
    for subject, status in (("a", "Closed"), ("b", "Legacy"), ("c", "New"), ("d", "working")):
        org.add("Case", Subject=subject, Status=status)
    assert subjects(org, "SELECT Subject FROM Case ORDER BY Status") == ["c", "d", "a", "b"]
    assert subjects(org, "SELECT Subject FROM Case ORDER BY Status DESC") == ["b", "a", "d", "c"]
