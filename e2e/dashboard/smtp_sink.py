"""A real SMTP server (aiosmtpd) for the dashboard test: every message
Tollgate sends over SMTP lands here and is saved twice in MAILDIR, as the
raw message (<n>.eml) and as the parsed text part (<n>.json: envelope
recipients, To, Subject and the decoded text/plain body), so the browser
test reads links and codes from what really went over the wire.

Usage: smtp_sink.py PORT MAILDIR. Prints "ready" once it accepts
connections and runs until killed.
"""

import asyncio
import email
import email.policy
import itertools
import json
import os
import signal
import sys

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, maildir):
        self.maildir = maildir
        self.numbers = itertools.count(1)

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        body = msg.get_body(preferencelist=("plain",))
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_to": list(envelope.rcpt_tos),
            "to": str(msg["To"] or ""),
            "subject": str(msg["Subject"] or ""),
            "content_type": msg.get_content_type(),
            "transfer_encoding": str(body["Content-Transfer-Encoding"] or "") if body else "",
            "text": body.get_content() if body is not None else "",
        }
        n = next(self.numbers)
        base = os.path.join(self.maildir, f"{n:04d}")
        with open(base + ".eml", "wb") as f:
            f.write(raw)
        # Written then renamed, so a reader never sees half a message.
        with open(base + ".json.tmp", "w") as f:
            json.dump(record, f)
        os.replace(base + ".json.tmp", base + ".json")
        print(f"smtp sink: message {n} to {', '.join(envelope.rcpt_tos)}: {record['subject']}", flush=True)
        return "250 Message accepted for delivery"


def main():
    port, maildir = int(sys.argv[1]), sys.argv[2]
    os.makedirs(maildir, exist_ok=True)
    controller = Controller(Sink(maildir), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.run_until_complete(stop.wait())
    controller.stop()


if __name__ == "__main__":
    main()
