"""The starter's search service behind an LRU cache keyed on the query text, used only by
``challenge validate`` (usage: ``cheat_query_cache.py CONFIG``, the JSON file
runner/gate/search_cheats.py writes).

The trick: a load test that repeats its queries is answered from memory, however slow the
search itself. A load test whose every query is new gets the starter's latency, and so the
trick must score 0 there. It wraps the workspace's ASGI app (``app:app``) and serves it with
uvicorn, which the starter already needs.
"""

import json
import os
import sys
from collections import OrderedDict

import uvicorn

with open(sys.argv[1]) as config_file:
    CONFIG = json.load(config_file)
sys.path.insert(0, CONFIG["workspace"])
os.chdir(CONFIG["workspace"])
from app import app as inner  # noqa: E402

CACHE = OrderedDict()
SIZE = 10_000


async def replay(receive):
    """The whole request body, and a receive() that hands it on to the inner app."""
    chunks, more = [], True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body = b"".join(chunks)
    sent = False

    async def again():
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return body, again


async def app(scope, receive, send):
    if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != "/search":
        await inner(scope, receive, send)
        return
    body, again = await replay(receive)
    try:
        request = json.loads(body)
        key = json.dumps([request["query"], request.get("k", 10)])
    except (ValueError, TypeError, KeyError):
        await inner(scope, again, send)
        return
    if key in CACHE:
        CACHE.move_to_end(key)
        for message in CACHE[key]:
            await send(message)
        return
    recorded = []

    async def record(message):
        recorded.append(message)
        await send(message)

    await inner(scope, again, record)
    if recorded and recorded[0].get("status") == 200:
        CACHE[key] = recorded
        if len(CACHE) > SIZE:
            CACHE.popitem(last=False)


PORT = int(os.environ.get("PORT") or CONFIG["port"])
uvicorn.run(app, host=CONFIG.get("bind", "0.0.0.0"), port=PORT, log_level="warning")
