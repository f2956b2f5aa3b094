"""A seeded fake org for the SOQL engine's tests."""

from __future__ import annotations

from dataclasses import dataclass

from soql_fake_org import FakeOrg


@dataclass
class World:
    """A seeded fake org and the Ids of its records."""

    org: FakeOrg
    rep: str
    portal: str
    manager: str
    queue: str
    acme: str
    alice: str
    bob: str
    printer: str  # open, Alice, owned by the rep, created today
    login: str  # open, Bob, owned by the queue, created yesterday
    closed: str  # closed child of ``printer``, no contact
    deleted_case: str
    first_reply: str
    internal_note: str
    thanks: str
    reset_link: str
    deleted_comment: str


def seed_world() -> World:
    org = FakeOrg()
    manager = org.add("User", Name="Mona Manager", UserType="Standard", IsActive=True)
    rep = org.add(
        "User",
        Name="Rita Rep",
        UserType="Standard",
        Email="rep@example.com",
        IsActive=True,
        ManagerId=manager,
    )
    portal = org.add("User", Name="Paul Portal", UserType="CspLitePortal", IsActive=True)
    queue = org.add("Group", Name="Support Queue", Type="Queue")
    acme = org.add("Account", Name="Acme")
    alice = org.add(
        "Contact", FirstName="Alice", LastName="Smith", Email="alice@example.com", AccountId=acme
    )
    bob = org.add("Contact", LastName="Jones")
    printer = org.add(
        "Case",
        CaseNumber="00001000",
        Subject="Printer on fire",
        Status="New",
        Priority="High",
        IsClosed=False,
        ContactId=alice,
        OwnerId=rep,
        CreatedById=rep,
        Case_From__c="opencx",
        CreatedDate="2024-05-15T08:00:00.000+0000",
        Due_Date__c="2024-05-20",
        Score__c=4.5,
        Attempts__c=3,
        Channels__c="Email;Chat",
    )
    login = org.add(
        "Case",
        CaseNumber="00001001",
        Subject="Login fails",
        Status="Working",
        Priority="Medium",
        IsClosed=False,
        ContactId=bob,
        OwnerId=queue,
        CreatedById=portal,
        Case_From__c="opencx",
        CreatedDate="2024-05-14T23:59:59.000+0000",
        Due_Date__c="2024-05-14",
        Attempts__c=0,
        Channels__c="Phone",
    )
    closed = org.add(
        "Case",
        CaseNumber="00001002",
        Subject="100% broken_thing",
        Status="Closed",
        Priority="Low",
        IsClosed=True,
        ClosedDate="2024-05-10T12:00:00.000+0000",
        OwnerId=rep,
        CreatedById=rep,
        ParentId=printer,
        CreatedDate="2024-04-01T09:00:00.000+0000",
        Score__c=1,
    )
    deleted_case = org.add(
        "Case",
        CaseNumber="00001003",
        Subject="Deleted case",
        Status="New",
        IsClosed=False,
        IsDeleted=True,
        CreatedDate="2024-05-15T01:00:00.000+0000",
    )

    def comment(
        parent: str, body: str, published: bool, author: str, at: str, **extra: object
    ) -> str:
        return org.add(
            "CaseComment",
            ParentId=parent,
            CommentBody=body,
            IsPublished=published,
            CreatedById=author,
            CreatedDate=f"2024-05-15T{at}.000+0000",
            **extra,
        )

    first_reply = comment(printer, "First reply", True, rep, "09:00:00")
    internal_note = comment(printer, "Internal note", False, rep, "09:05:00")
    thanks = comment(printer, "Customer says thanks", True, portal, "08:30:00")
    reset_link = comment(login, "Reset link sent", True, rep, "07:00:00")
    deleted_comment = comment(printer, "Removed", True, rep, "09:10:00", IsDeleted=True)
    return World(
        org=org,
        rep=rep,
        portal=portal,
        manager=manager,
        queue=queue,
        acme=acme,
        alice=alice,
        bob=bob,
        printer=printer,
        login=login,
        closed=closed,
        deleted_case=deleted_case,
        first_reply=first_reply,
        internal_note=internal_note,
        thanks=thanks,
        reset_link=reset_link,
        deleted_comment=deleted_comment,
    )
