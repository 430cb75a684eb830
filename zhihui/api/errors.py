"""Map domain errors and bad input to clear JSON answers; never leak a bare 500."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from zhihui.core.errors import DomainError, InvalidInput

log = logging.getLogger("zhihui.api")


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_request: Request, exc: DomainError) -> JSONResponse:
        body: dict[str, object] = {"detail": exc.message, "code": exc.code}
        if exc.state is not None:
            body["state"] = exc.state
        if isinstance(exc, InvalidInput):
            body["detail"] = [{"loc": ["body", exc.field], "msg": exc.message, "type": exc.code}]
            body["field"] = exc.field
        return JSONResponse(body, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ())]
            errors.append({"loc": loc, "field": ".".join(loc[1:]) or ".".join(loc), "msg": err.get("msg"),
                           "type": err.get("type")})
        return JSONResponse({"detail": errors, "code": "invalid_input"}, status_code=422)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal error; it has been logged", "code": "internal"},
                            status_code=500)
