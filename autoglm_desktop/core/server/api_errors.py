"""Errors as the OpenAI API reports them: ``{"error": {message, type, param, code}}``."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

from autoglm_desktop.core.common import errors

INVALID_REQUEST = "invalid_request_error"
SERVER_ERROR = "server_error"
RETRY_AFTER_S = 1


class ApiError(Exception):
    """An error reply: HTTP status and OpenAI's error fields."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = INVALID_REQUEST,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_
        self.param = param
        self.code = code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def from_core_error(error: errors.AutoGLMError) -> ApiError:
    """The API error for a typed error of the core (the engine's, the queue's)."""
    message = str(error)
    if isinstance(error, errors.PromptTooLongError):
        return ApiError(400, message, param="messages", code="context_length_exceeded")
    if isinstance(error, errors.RequestError):
        return ApiError(400, message, param="response_format", code="invalid_value")
    if isinstance(error, errors.ServerBusyError):
        headers = {"Retry-After": str(RETRY_AFTER_S)}
        return ApiError(429, message, type_="rate_limit_error", code="queue_full", headers=headers)
    unavailable = (
        errors.EngineCrashedError,
        errors.EngineHungError,
        errors.NoModelLoadedError,
        errors.ModelLoadError,
        errors.ModelFileError,
    )
    if isinstance(error, unavailable):
        return ApiError(503, message, type_=SERVER_ERROR, code="engine_unavailable")
    return ApiError(500, message, type_=SERVER_ERROR, code="engine_error")
