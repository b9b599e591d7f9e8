from cadenza.core.errors import CadenzaError, PermissionDenied, Unauthenticated


class InvalidCredentials(Unauthenticated):
    title = "Invalid credentials"
    type_slug = "invalid-credentials"


class InvalidApiKey(Unauthenticated):
    title = "Invalid API key"
    type_slug = "invalid-api-key"


class CsrfFailed(PermissionDenied):
    title = "CSRF check failed"
    type_slug = "csrf-failed"


class LastOwner(CadenzaError):
    status = 409
    title = "A workspace keeps at least one owner"
    type_slug = "last-owner"


__all__ = ["CsrfFailed", "InvalidApiKey", "InvalidCredentials", "LastOwner", "PermissionDenied"]
