from cadenza.core.errors import CadenzaError, PermissionDenied, Unauthenticated


class InvalidCredentials(Unauthenticated):
    title = "Invalid credentials"
    type_slug = "invalid-credentials"


class InvalidApiKey(Unauthenticated):
    title = "Invalid API key"
    type_slug = "invalid-api-key"


class SignInThrottled(CadenzaError):
    """Too many failed sign-ins for an email address or from a network: try again at `retry_at`."""

    status = 429
    title = "Too many sign-in attempts"
    type_slug = "sign-in-throttled"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, retry_after=retry_after)
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class CsrfFailed(PermissionDenied):
    title = "CSRF check failed"
    type_slug = "csrf-failed"


class LastOwner(CadenzaError):
    status = 409
    title = "A workspace keeps at least one owner"
    type_slug = "last-owner"


__all__ = ["CsrfFailed", "InvalidApiKey", "InvalidCredentials", "LastOwner", "PermissionDenied", "SignInThrottled"]
