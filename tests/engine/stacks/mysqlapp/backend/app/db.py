"""The database URL from the compose service's variables (MYSQL_HOST, MYSQL_USER ...)."""

import os
from urllib.parse import quote

from sqlalchemy import create_engine


def url() -> str:
    user = quote(os.environ["MYSQL_USER"], safe="")
    password = quote(os.environ.get("MYSQL_PASSWORD", ""), safe="")
    host = os.environ.get("MYSQL_HOST", "db")
    return f"mysql+pymysql://{user}:{password}@{host}/{os.environ['MYSQL_DATABASE']}"


engine = create_engine(url(), pool_pre_ping=True)
