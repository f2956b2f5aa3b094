"""``demo --live``: a chat handed to a live agent. The Case is made with the
transcript, a Messaging conversation is routed with its Case Id, the rep accepts
it in the emulator's agent console, messages go both ways, the event stream is
cut and resumed without a message lost or doubled, and the rep ends the session:
the conversation resolves.

The rep acts through the emulator's agent console routes, the plugin through
the Enhanced Chat API over HTTP, as it would against a real org.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from opencx_salesforce.demo.scenario import Demo, DemoFailed, _until
from opencx_salesforce.emulator.messaging.deployment import DEFAULT_DEPLOYMENT
from opencx_salesforce.live.records import LiveChat
from opencx_salesforce.models import HandoffReason, Role, SessionStatus

LIVE_STEPS = "Bot hands off: a Case with the transcript, then a live chat routed with its Case Id"


class LiveDemo(Demo):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.conversation_id = ""

    def steps(self) -> list[tuple[str, Callable[[], Awaitable[list[str]]]]]:
        return [
            ("Start the local Salesforce (with Messaging) and the bot host", self.start),
            ("Admin connects the plugin (OAuth: log in, Allow)", self.connect),
            ("Admin deploys the generated Salesforce package", self.deploy),
            ("Contact writes in the chat, the bot answers", self.converse),
            (LIVE_STEPS, self.live_handoff),
            ("A rep accepts the chat in the console and writes", self.rep_accepts),
            ("Contact answers: it reaches the rep", self.contact_answers),
            ("The stream is cut: resumed, nothing lost or doubled", self.stream_cut),
            ("The rep ends the session: the conversation resolves", self.rep_ends),
        ]

    def plugin_section(self, base: str) -> dict[str, Any]:
        live = {
            "scrt_url": base,  # the emulator stands for the deployment's SCRT URL
            "org_id": self.org.id if self.org is not None else "",
            "deployment": DEFAULT_DEPLOYMENT,
            "channels": ["chat", "sms", "whatsapp"],
        }
        return {**super().plugin_section(base), "live": live}

    async def start(self) -> list[str]:
        lines = await super().start()
        lines[0] += f" (agent console: {self._console()})"
        return [
            *lines[:2],
            f"live channels: chat, sms, whatsapp → deployment {DEFAULT_DEPLOYMENT}",
        ]

    async def live_handoff(self) -> list[str]:
        assert self.host is not None
        await self.host.handoff(self.session_id, HandoffReason(code="requested"))
        chat = await self._chat("waiting")
        self.case_id = chat.case_id or ""
        self.conversation_id = chat.conversation_id
        conversation = await self._console_get(f"/conversations/{chat.conversation_id}")
        attributes = conversation["session"]["routingAttributes"]
        return [
            f"Case {self.case_id} with the transcript (one API call)",
            f"conversation {chat.conversation_id} in queue {conversation['session']['queue']}",
            "routing attributes: "
            + ", ".join(f"{k}={v}" for k, v in attributes.items() if k != "OpencxSummary"),
        ]

    async def rep_accepts(self) -> list[str]:
        async def routed() -> bool:
            found = await self._console_get(f"/conversations/{self.conversation_id}")
            return bool(found["session"]["routed"])

        await _until(routed, "the work routed to the queue")
        await self._console_post("accept", {})
        await self._chat("active")
        text = "Hi Jane, Riley here. I can see order #4711: let me check with the carrier."
        await self._console_post("message", {"text": text})
        [message] = await _until(lambda: self._agent_messages(1), "the rep's message")
        return [f"agent ({message.author}): {message.text}"]

    async def contact_answers(self) -> list[str]:
        assert self.host is not None
        text = "Thanks! I was home all day."
        await self.host.post_message(self.session_id, Role.CONTACT, text)

        async def reached() -> bool:
            found = await self._console_get(f"/conversations/{self.conversation_id}")
            return any(
                e["entryType"] == "Message"
                and e["entryPayload"]["abstractMessage"]["staticContent"]["text"] == text
                for e in found["entries"]
            )

        await _until(reached, "the contact's message in the console")
        return [f"contact → rep: {text}"]

    async def stream_cut(self) -> list[str]:
        await self._console_post_knob("/faults", {"duplicate_rate": 0.5})
        await self._console_post_knob("/streams/drop", {})
        for number in range(1, 4):
            await self._console_post("message", {"text": f"Update {number} of 3 from the carrier."})
        messages = await _until(lambda: self._agent_messages(4), "the messages after the cut")
        texts = [m.text for m in messages[1:]]
        if texts != [f"Update {n} of 3 from the carrier." for n in range(1, 4)]:
            raise DemoFailed(f"messages after the cut: {texts}")
        await self._console_post_knob("/faults", {"reset": True})
        return ["stream cut; events sent twice; resumed from Last-Event-Id", *texts]

    async def rep_ends(self) -> list[str]:
        await self._console_post("end", {})

        async def resolved() -> bool:
            return (await self._session()).status == SessionStatus.RESOLVED

        await _until(resolved, "the conversation to resolve")
        return [f"session {self.session_id}: resolved; conversation closed"]

    # --- helpers -------------------------------------------------------------------------
    def _console(self, path: str = "/") -> str:
        org = self.org.id if self.org else ""
        return f"{self.emulator.base_url}/_emulator/orgs/{org}/messaging{path}"

    async def _chat(self, state: str) -> LiveChat:
        live = self._services.live
        if live is None:
            raise DemoFailed("the live path is not configured")

        async def reached() -> LiveChat | None:
            chat: LiveChat | None = await live.chats.get(self.session_id)
            if chat is not None and chat.state == "fallback":
                raise DemoFailed("the chat fell back to the Case")
            return chat if chat is not None and chat.state == state else None

        found: LiveChat = await _until(reached, f"the live chat {state}")
        return found

    async def _agent_messages(self, count: int) -> list[Any] | None:
        session = await self._session()
        agents = [m for m in session.messages if m.role == Role.AGENT]
        if len(agents) > count:
            raise DemoFailed(f"{len(agents)} agent messages, expected {count}")
        return agents if len(agents) == count else None

    async def _console_get(self, path: str) -> Any:
        async with aiohttp.ClientSession() as http, http.get(self._console(path)) as response:
            return await response.json()

    async def _console_post(self, action: str, body: dict[str, Any]) -> None:
        await self._console_post_knob(f"/conversations/{self.conversation_id}/{action}", body)

    async def _console_post_knob(self, path: str, body: dict[str, Any]) -> None:
        async with (
            aiohttp.ClientSession() as http,
            http.post(self._console(path), json=body) as response,
        ):
            if response.status >= 300:
                raise DemoFailed(f"console {path} failed: {await response.text()}")

    def urls(self) -> list[str]:
        return [
            f"Inbox (host):           {self.host_url}/inbox/{self.session_id}",
            f"  sign in with token:   {self.admin_token}  at {self.host_url}/admin/login",
            f"Agent console:          {self._console()}?c={self.conversation_id}",
        ]
