"""The emulator's Messaging side: Messaging for In-App and Web, which Salesforce now
calls the Enhanced Chat API, served the way a Custom Client deployment meets it.

- the SCRT endpoints (``/iamessage/api/v2/...``: access tokens, conversations,
  messages, entries, close) and the server-sent events stream
  (``/eventrouter/v1/sse``), on the emulator's own host, which stands for the
  deployment's SCRT URL;
- Omni-Channel routing of each new messaging session to a queue, where a rep
  accepts the work;
- the rep's hands (an HTTP API and an agent console page) and fault knobs, under
  ``/_emulator/``.

Facts come from /work/shared/MIAW.md (sources cited next to the code); what the
documentation does not state is marked UNCONFIRMED where it is used.
"""
