"""Access control: workspaces, users and roles, sessions, API keys, the audit log."""

from cadenza.auth.audit import record_audit
from cadenza.auth.roles import Permission, Principal, Role, Scope
from cadenza.auth.service import AccessControl
from cadenza.auth.sign_in import SignedIn

__all__ = ["AccessControl", "Permission", "Principal", "Role", "Scope", "SignedIn", "record_audit"]
