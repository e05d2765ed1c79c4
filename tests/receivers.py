"""Real message receivers on loopback for delivery tests (reusable by the end-to-end tests).

- `SmtpReceiver`: an aiosmtpd SMTP server with AUTH over plain text (Apprise's
  `mailto://user:pass@127.0.0.1:PORT?mode=insecure&from=…&to=…`), keeping every message.
- `WebhookReceiver`: an HTTP server for `json://` / `form://` (and `xml://`) that can answer
  500 for its first N requests, or answer slowly, and keeps every request.
- `MqttListener`: subscribes on the local broker (127.0.0.1:1883) for `mqtt://`.
- `closed_port()`: a loopback port nothing listens on (an unreachable endpoint).

Every wait is bounded: `wait_for(count, timeout)` returns False instead of hanging.
"""

from __future__ import annotations

import email
import email.policy
import json
import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

LOOPBACK = "127.0.0.1"
MQTT_PORT = 1883


def wait_until(condition, seconds: float, every: float = 0.1) -> bool:
    """Poll `condition` until it holds or `seconds` pass; return whether it held (bounded)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return bool(condition())


def free_port() -> int:
    """Return a loopback TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def closed_port() -> int:
    """Return a loopback port with nothing listening (connections are refused)."""
    return free_port()


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class _Recorder:
    """A thread-safe list of received things with a bounded wait."""

    def __init__(self) -> None:
        self._items: list = []
        self._cond = threading.Condition()

    def add(self, item) -> None:
        with self._cond:
            self._items.append(item)
            self._cond.notify_all()

    def items(self) -> list:
        with self._cond:
            return list(self._items)

    def wait_for(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._items) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True


# ---------------------------------------------------------------------------- SMTP


@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    login: str | None

    @property
    def subject(self) -> str:
        return str(self.message["Subject"] or "")

    def text(self) -> str:
        """Return the message's bodies (all parts) as one string."""
        parts = [p.get_content() for p in self.message.walk() if p.get_content_maintype() == "text"]
        return "\n".join(str(p) for p in parts)


class SmtpReceiver:
    """An SMTP server on 127.0.0.1 accepting one user/password; use as a context manager.
    `ReceivedMail.login` tells whether the client authenticated."""

    def __init__(self, user: str = "alerts", password: str = "s3cret-smtp-pass") -> None:
        self.user, self.password = user, password
        self.port = free_port()
        self._recorder = _Recorder()
        self.logins: list[str] = []
        self._controller = None

    @property
    def messages(self) -> list[ReceivedMail]:
        return self._recorder.items()

    def wait_for(self, count: int, timeout: float = 10.0) -> bool:
        return self._recorder.wait_for(count, timeout)

    def url(
        self, to: str = "desk@example.org", sender: str = "newswatch@example.org", extra: str = ""
    ) -> str:
        """Return the Apprise mailto:// URL for this server (TLS off, AUTH with the password)."""
        return (
            f"mailto://{self.user}:{self.password}@{LOOPBACK}:{self.port}"
            f"?mode=insecure&from={sender}&to={to}{extra}"
        )

    def __enter__(self) -> SmtpReceiver:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        receiver = self
        logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd's chatter in test output

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # aiosmtpd hook name
                message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
                login = (
                    session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
                )
                receiver._recorder.add(
                    ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), message, login)  # type: ignore[arg-type]
                )
                return "250 Message accepted for delivery"

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (
                isinstance(auth_data, LoginPassword)
                and auth_data.login.decode() == receiver.user
                and auth_data.password.decode() == receiver.password
            )
            if ok:
                receiver.logins.append(auth_data.login.decode())
            return AuthResult(success=ok, auth_data=auth_data if ok else None)

        # AUTH is offered without TLS (loopback); it is not required, so tests check `login`.
        self._controller = Controller(
            Handler(),
            hostname=LOOPBACK,
            port=self.port,
            authenticator=authenticator,
            auth_require_tls=False,
            auth_required=False,
        )
        self._controller.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._controller is not None:
            self._controller.stop()


# ---------------------------------------------------------------------------- HTTP


@dataclass
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    at: float = field(default_factory=time.monotonic)

    def json(self) -> dict:
        return json.loads(self.body.decode("utf-8"))

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode("utf-8"), keep_blank_values=True).items()}


class WebhookReceiver:
    """An HTTP server on 127.0.0.1 that records requests.

    `fail_first=N` answers the first N requests with `fail_status` (500); `delay` seconds are
    spent before answering (a slow endpoint). Both can be changed while it runs."""

    def __init__(self, fail_first: int = 0, fail_status: int = 500, delay: float = 0.0) -> None:
        self.fail_first, self.fail_status, self.delay = fail_first, fail_status, delay
        self._recorder = _Recorder()
        self._arrivals = _Recorder()
        self._lock = threading.Lock()
        self._count = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_address[1]

    @property
    def requests(self) -> list[ReceivedRequest]:
        """Requests answered so far (in arrival order)."""
        return self._recorder.items()

    @property
    def successes(self) -> list[ReceivedRequest]:
        return [r for r in self.requests if r.status < 300]

    def wait_for(self, count: int, timeout: float = 10.0) -> bool:
        """Wait until `count` requests were answered."""
        return self._recorder.wait_for(count, timeout)

    def wait_for_arrival(self, count: int, timeout: float = 10.0) -> bool:
        """Wait until `count` requests arrived (before their answer, which may be slow)."""
        return self._arrivals.wait_for(count, timeout)

    def url(self, scheme: str = "json", path: str = "/hook", query: str = "") -> str:
        return f"{scheme}://{LOOPBACK}:{self.port}{path}{'?' + query if query else ''}"

    def __enter__(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with receiver._lock:
                    receiver._count += 1
                    number = receiver._count
                receiver._arrivals.add(number)
                started = time.monotonic()
                while time.monotonic() - started < receiver.delay:  # lowering `delay` releases it
                    time.sleep(0.01)
                status = receiver.fail_status if number <= receiver.fail_first else 200
                receiver._recorder.add(
                    ReceivedRequest(self.command, self.path, dict(self.headers.items()), body, status)
                )
                payload = b'{"ok": true}' if status < 300 else b'{"error": "test failure"}'
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client went away (a killed dispatcher)

            do_POST = do_PUT = do_GET = _handle

        self._server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.daemon = True
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


# ---------------------------------------------------------------------------- MQTT


def mqtt_broker_available(host: str = LOOPBACK, port: int = MQTT_PORT) -> bool:
    return port_open(host, port)


class MqttListener:
    """Subscribes to `topic` on the local broker and keeps every payload (as text)."""

    def __init__(self, topic: str, host: str = LOOPBACK, port: int = MQTT_PORT) -> None:
        self.topic, self.host, self.port = topic, host, port
        self._recorder = _Recorder()
        self._subscribed = threading.Event()
        self._client = None

    @property
    def messages(self) -> list[str]:
        return self._recorder.items()

    def wait_for(self, count: int, timeout: float = 10.0) -> bool:
        return self._recorder.wait_for(count, timeout)

    def __enter__(self) -> MqttListener:
        import paho.mqtt.client as mqtt

        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"nw-test-{time.monotonic_ns()}")

        def on_connect(client, userdata, flags, reason_code, properties):
            client.subscribe(self.topic, qos=1)

        def on_subscribe(client, userdata, mid, reason_codes, properties):
            self._subscribed.set()

        def on_message(client, userdata, message):
            self._recorder.add(message.payload.decode("utf-8", "replace"))

        client.on_connect, client.on_subscribe, client.on_message = on_connect, on_subscribe, on_message
        client.connect(self.host, self.port, keepalive=30)
        client.loop_start()
        self._client = client
        if not self._subscribed.wait(10):
            raise RuntimeError(f"could not subscribe to {self.topic} on {self.host}:{self.port}")
        return self

    def __exit__(self, *exc) -> None:
        if self._client is not None:
            self._client.loop_stop()
            self._client.disconnect()
