"""Small pieces several apps use: who is calling (clients), the admin's
paginators, and the audit trail's transaction context. It imports no app."""
