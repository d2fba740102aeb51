"""How a request to the homeserver failed: the one failure contract of the bot's services.

`bot.matrix` raises these; `Services` methods that change something on the homeserver
(`send_state`, `invite`, `leave`, `create_space`) let them through to the families, after
retrying what is transient. Sends (`send`, `notice`, `redact`) never raise them: they retry
until delivered and return None when definitely refused (see `bot.contract.registry`)::

    MatrixError            the homeserver definitely refused; `errcode` says why (M_FORBIDDEN, ...)
    +-- MatrixUnavailable  transient: not reached, timed out, 5xx (M_UNKNOWN included), 408
    +-- RateLimited        the homeserver asked us to wait `retry_after_ms`
    +-- LoginFailed        the credentials or the stored session were refused
"""

from __future__ import annotations


class MatrixError(Exception):
    def __init__(self, message: str, *, errcode: str | None = None) -> None:
        super().__init__(message)
        self.errcode = errcode


class MatrixUnavailable(MatrixError):
    pass


class RateLimited(MatrixError):
    def __init__(self, retry_after_ms: int) -> None:
        super().__init__(f"rate limited for {retry_after_ms} ms", errcode="M_LIMIT_EXCEEDED")
        self.retry_after_ms = retry_after_ms


class LoginFailed(MatrixError):
    pass
