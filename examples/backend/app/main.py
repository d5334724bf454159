"""A small backend that needs what crashed ours: numpy 1.x, scipy, libmagic, bcrypt."""

import magic
import numpy as np
from fastapi import FastAPI
from passlib.context import CryptContext
from scipy import stats

app = FastAPI()
pwd = CryptContext(schemes=["bcrypt"], deprecated="auto")


@app.get("/health")
def health() -> dict[str, object]:
    sample = np.array([1.0, 2.0, 3.0, 4.0])
    return {
        "numpy": np.__version__,
        "mean": float(stats.tmean(sample)),
        "magic": magic.from_buffer(b"%PDF-1.4", mime=True),
        "bcrypt": pwd.verify("secret", pwd.hash("secret")),
    }
