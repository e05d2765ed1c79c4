"""Optional `/metrics` (Prometheus text format) and `/healthz` for `newswatch run --metrics-port`.

A tiny HTTP/1.0 server on the service's own asyncio loop: no extra dependency, no thread.
Figures come from the database (source health, delivery ledger) and from the service's
in-process counters.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from sqlalchemy import text

from newswatch.cluster.processes import queue_depth
from newswatch.core.models import utcnow
from newswatch.health import delivery_counts, source_health

if TYPE_CHECKING:
    from newswatch.service import Service

log = logging.getLogger("newswatch.metrics")


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def render_metrics(service: Service) -> str:
    """Return the Prometheus exposition text for the service's current state."""
    now = utcnow()
    lines = ["# HELP newswatch_up 1 while the service runs.", "# TYPE newswatch_up gauge", "newswatch_up 1"]
    with service.sessions() as session:
        sources = source_health(session, service.config, now)
        deliveries = delivery_counts(session)
        queues = queue_depth(session) if service.cluster is not None else {}
    gauges = {
        "newswatch_source_consecutive_failures": ("Failed polls in a row.", lambda s: s.consecutive_failures),
        "newswatch_source_new_articles_24h": ("New articles in the last 24 hours.", lambda s: s.new_24h),
        "newswatch_source_last_success_timestamp_seconds": (
            "Unix time of the last successful poll (0: never).",
            lambda s: s.last_success_at.timestamp() if s.last_success_at else 0,
        ),
        "newswatch_source_healthy": (
            "1 when the source is neither failing nor silent.",
            lambda s: int(s.problem is None),
        ),
    }
    for name, (help_text, value) in gauges.items():
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
        lines += [f'{name}{{source="{_label(s.name)}"}} {value(s)}' for s in sources]
    lines += [
        "# HELP newswatch_deliveries Deliveries in the ledger by status.",
        "# TYPE newswatch_deliveries gauge",
    ]
    lines += [f'newswatch_deliveries{{status="{status}"}} {count}' for status, count in deliveries.items()]
    lines += [
        "# HELP newswatch_polls_total Polls since start by source and outcome.",
        "# TYPE newswatch_polls_total counter",
    ]
    for key, count in sorted(service.counters.items()):
        if key.startswith("polls:"):
            _, source, outcome = key.split(":", 2)
            lines.append(f'newswatch_polls_total{{source="{_label(source)}",outcome="{outcome}"}} {count}')
    for key, help_text in (
        ("articles_new", "New articles stored since start."),
        ("articles_matched", "Articles run through the matcher since start."),
        ("deliveries_attempted", "Delivery attempts since start."),
    ):
        lines += [
            f"# HELP newswatch_{key}_total {help_text}",
            f"# TYPE newswatch_{key}_total counter",
            f"newswatch_{key}_total {service.counters.get(key, 0)}",
        ]
    if service.cluster is not None:
        lines += _cluster_lines(service, queues)
    return "\n".join(lines) + "\n"


def _cluster_lines(service: Service, queues: dict[str, dict[str, float]]) -> list[str]:
    """This process's part in a multi-process deployment, and the engine's queues."""
    node = service.cluster
    report = node.report()
    lines = [
        "# HELP newswatch_process_role 1 for each role this process runs.",
        "# TYPE newswatch_process_role gauge",
    ]
    lines += [f'newswatch_process_role{{role="{role}"}} 1' for role in sorted(node.roles)]
    lines += [
        "# HELP newswatch_scheduler_active 1 while this process is the active scheduler.",
        "# TYPE newswatch_scheduler_active gauge",
        f"newswatch_scheduler_active {int(report.leader)}",
        "# HELP newswatch_polls_in_flight Polls this process is running now.",
        "# TYPE newswatch_polls_in_flight gauge",
        f"newswatch_polls_in_flight {len(report.polls_in_flight)}",
        "# HELP newswatch_polls_run_total Poll jobs this process ran since start.",
        "# TYPE newswatch_polls_run_total counter",
        f"newswatch_polls_run_total {report.polls_done}",
        "# HELP newswatch_scheduling_lag_seconds How late this process's last polls started against their schedule.",
        "# TYPE newswatch_scheduling_lag_seconds summary",
    ]
    for quantile, value in (("0.5", report.lag_p50), ("0.95", report.lag_p95)):
        if value is not None:
            lines.append(f'newswatch_scheduling_lag_seconds{{quantile="{quantile}"}} {value:.3f}')
    lines += [
        "# HELP newswatch_queue_jobs Jobs in the engine's queues by state.",
        "# TYPE newswatch_queue_jobs gauge",
    ]
    for queue, depth in sorted(queues.items()):
        lines.append(f'newswatch_queue_jobs{{queue="{queue}",state="waiting"}} {depth["waiting"]}')
        lines.append(f'newswatch_queue_jobs{{queue="{queue}",state="running"}} {depth["running"]}')
    lines += [
        "# HELP newswatch_queue_oldest_lag_seconds How late the longest-waiting poll already is.",
        "# TYPE newswatch_queue_oldest_lag_seconds gauge",
        f"newswatch_queue_oldest_lag_seconds {queues.get('polls', {}).get('oldest_wait_s', 0.0):.3f}",
    ]
    return lines


async def start_metrics_server(service: Service, host: str, port: int) -> asyncio.base_events.Server:
    """Start serving /metrics and /healthz on host:port; return the server."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), timeout=5)
            # Drain headers (bounded).
            for _ in range(100):
                line = await asyncio.wait_for(reader.readline(), timeout=5)
                if line in (b"\r\n", b"\n", b""):
                    break
            parts = request.decode("latin-1").split()
            path = parts[1].split("?", 1)[0] if len(parts) >= 2 else "/"
            if path == "/metrics":
                body = await asyncio.get_running_loop().run_in_executor(None, render_metrics, service)
                status, ctype = "200 OK", "text/plain; version=0.0.4; charset=utf-8"
            elif path == "/healthz":
                try:
                    await asyncio.get_running_loop().run_in_executor(None, _database_ok, service)
                    status, ctype, body = "200 OK", "text/plain; charset=utf-8", "ok\n"
                except Exception as exc:  # noqa: BLE001 - report, don't crash
                    # The driver's text (host, port, user) goes to the log, masked; not to the
                    # unauthenticated answer.
                    log.warning(
                        "healthz: database unreachable: %s", str(exc).splitlines()[0] if str(exc) else exc
                    )
                    status, ctype, body = (
                        "503 Service Unavailable",
                        "text/plain; charset=utf-8",
                        "database unreachable\n",
                    )
            else:
                status, ctype, body = (
                    "404 Not Found",
                    "text/plain; charset=utf-8",
                    "try /metrics or /healthz\n",
                )
            data = body.encode()
            writer.write(
                f"HTTP/1.0 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(data)}\r\n"
                f"Connection: close\r\n\r\n".encode()
                + data
            )
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        except Exception:
            log.exception("metrics request failed")
        finally:
            writer.close()

    server = await asyncio.start_server(handle, host, port)
    log.info("metrics on http://%s:%d/metrics", host, port)
    return server


def _database_ok(service: Service) -> None:
    with service.app.engine.connect() as connection:
        connection.execute(text("SELECT 1"))
