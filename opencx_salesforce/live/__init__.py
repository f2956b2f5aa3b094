"""Live Messaging transport: the plugin's side of Messaging for In-App and Web (the
Enhanced Chat API). An HTTP client for the SCRT endpoints (:mod:`.client`), a
resuming reader of the event stream (:mod:`.stream`), the plugin's identity keys
for verified users (:mod:`.identity`) and the typed events (:mod:`.models`).

Transport only: which sessions go live, the store, the host contract and the
lease on each stream belong to the runtime that uses these pieces.
Facts and their sources: /work/shared/MIAW.md.
"""
