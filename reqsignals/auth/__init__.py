"""The session-auth module: sessions, stores, backends, login/logout and their signals."""
