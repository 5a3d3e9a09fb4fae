"""The PostgreSQL backend (psycopg 3, the `leadshare[postgres]` extra)."""
