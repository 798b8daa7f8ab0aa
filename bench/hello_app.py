"""A bare Flask hello-world: the baseline that bench/load.py runs under the same gunicorn
settings (gunicorn.conf.py), so the app's figures can be given as a machine-independent ratio.

    gunicorn -c gunicorn.conf.py bench.hello_app:app
"""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello() -> str:
    return "Hello, World!"
