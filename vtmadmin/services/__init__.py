"""Business logic of the admin side: everything with a side effect lives here."""
