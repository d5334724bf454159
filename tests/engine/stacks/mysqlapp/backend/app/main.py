"""The service: checks the database at start, then answers /health."""

import time
from http.server import BaseHTTPRequestHandler, HTTPServer

from sqlalchemy import text

from app.db import engine


def check_database() -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


class Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        check_database()
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok\n")


def serve() -> None:
    for _ in range(30):
        try:
            check_database()
            break
        except Exception:  # noqa: BLE001 (the database is still starting)
            time.sleep(1)
    HTTPServer(("0.0.0.0", 8000), Health).serve_forever()  # noqa: S104 (in its container)


if __name__ == "__main__":
    serve()
