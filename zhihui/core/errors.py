"""Domain errors; the API maps them to HTTP statuses."""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the domain was broken; maps to 409 Conflict."""

    status_code = 409

    def __init__(self, message: str, *, state: str | None = None, code: str = "conflict") -> None:
        super().__init__(message)
        self.message = message
        self.state = state
        self.code = code


class IllegalTransition(DomainError):
    def __init__(self, entity: str, state: str, target: str) -> None:
        super().__init__(
            f"{entity} in state '{state}' cannot go to '{target}'",
            state=state,
            code="illegal_transition",
        )
        self.target = target


class NotFound(DomainError):
    status_code = 404

    def __init__(self, entity: str, ident: object) -> None:
        super().__init__(f"{entity} {ident} not found", code="not_found")


class Forbidden(DomainError):
    status_code = 403

    def __init__(self, message: str) -> None:
        super().__init__(message, code="forbidden")


class InvalidInput(DomainError):
    """Semantically wrong input detected below the schema layer; maps to 422 naming the field."""

    status_code = 422

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, code="invalid_input")
        self.field = field
