"""Users, organisations, roles, login, registration, verification and API tokens."""
